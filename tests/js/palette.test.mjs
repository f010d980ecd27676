// The colours of values: the scene's diverging LUT (from Python, scenes.json) on the panel's or the scene's scale,
// greys for pictures.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeScene } from "../../layerviz/player/src/decode.js";
import { cellRgb, greyRgb, lutColor, lutRgb } from "../../layerviz/player/src/palette.js";
import { fixture, needsFixtures, reviveWire } from "./helpers.mjs";

const scene = fixture("scenes.json") ? decodeScene(reviveWire(fixture("scenes.json")[0].wire)) : null;
const row = (i) => [scene.lut[3 * i], scene.lut[3 * i + 1], scene.lut[3 * i + 2]];

test("the diverging map runs from the LUT's first row at -vmax to its last at +vmax, clamped", needsFixtures, () => {
  assert.equal(scene.lutN, 256);
  const p = { cmap: "diverging", vmax: 0 }; // on the scene's scale (3.0)
  assert.deepEqual(cellRgb(scene, p, -3), row(0));
  assert.deepEqual(cellRgb(scene, p, 3), row(255));
  assert.deepEqual(cellRgb(scene, p, 0), row(128));
  assert.deepEqual(cellRgb(scene, p, -1e9), row(0));
  assert.deepEqual(cellRgb(scene, p, 1e9), row(255));
  assert.deepEqual(cellRgb(scene, { cmap: "diverging", vmax: 1 }, 1), row(255)); // a panel's own scale
  assert.deepEqual(cellRgb(scene, p, NaN), [230, 230, 230]);
  assert.equal(lutColor(scene, 1.5, 1.5), `rgb(${row(255).join(",")})`);
  assert.equal(lutColor(scene, 0, 1.5), `rgb(${row(128).join(",")})`); // 127.5 rounds up
  assert.equal(lutColor(scene, -0.9, 1.5), `rgb(${row(51).join(",")})`); // 51.0: the LUT's row 51
  assert.deepEqual(cellRgb(scene, p, 0.6), row(153));
  assert.equal(lutColor(scene, NaN, 1.5), "rgb(230,230,230)");
  assert.deepEqual(lutRgb(scene, 0), row(0));
  assert.deepEqual(lutRgb(scene, 1), row(255));
});

test("the map's low end is not its high end, and the middle is light", needsFixtures, () => {
  const lum = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
  assert.notDeepEqual(row(0), row(255));
  assert.ok(lum(row(128)) > lum(row(0)) && lum(row(128)) > lum(row(255)));
});

test("a picture is drawn in greys: 0 black, its vmax (or 1) white", () => {
  const none = { lutN: 0 };
  assert.deepEqual(cellRgb(none, { cmap: "grey", vmax: 0 }, 0), [0, 0, 0]);
  assert.deepEqual(cellRgb(none, { cmap: "grey", vmax: 0 }, 1), [255, 255, 255]);
  assert.deepEqual(cellRgb(none, { cmap: "grey", vmax: 255 }, 51), [51, 51, 51]);
  assert.deepEqual(cellRgb(none, { cmap: "grey", vmax: 0 }, 2), [255, 255, 255]);
  assert.deepEqual(cellRgb(none, { cmap: "grey", vmax: 0 }, -1), [0, 0, 0]);
  assert.deepEqual(greyRgb(0.5), [128, 128, 128]);
  assert.deepEqual(cellRgb(none, { cmap: "diverging", vmax: 0 }, 0.5), [230, 230, 230]); // no LUT
});
