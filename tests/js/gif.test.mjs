// The GIF encoder's parts (tests/test_javascript.py decodes whole GIFs with Pillow): the box of changed pixels,
// palettes kept exact when the colours fit, the nearest colour otherwise, and the file's header.

import assert from "node:assert/strict";
import { test } from "node:test";
import { buildPalette, changedBox, countColours, GifWriter, Quantizer, rgbKey } from "../../layerviz/player/src/gif.js";

const rgba = (r, g, b) => ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0; // as a Uint32Array over ImageData reads

test("the changed box is the smallest holding every changed pixel, null for equal frames", () => {
  const w = 8, h = 6, a = new Uint32Array(w * h).fill(rgba(255, 255, 255)), b = a.slice();
  assert.equal(changedBox(a, b, w, h), null);
  b[2 * w + 3] = rgba(1, 2, 3);
  assert.deepEqual(changedBox(a, b, w, h), { x: 3, y: 2, w: 1, h: 1 });
  b[4 * w + 6] = rgba(1, 2, 3);
  b[3 * w + 1] = rgba(1, 2, 3);
  assert.deepEqual(changedBox(a, b, w, h), { x: 1, y: 2, w: 6, h: 3 });
});

test("colours are counted and kept exact when at most 255 of them", () => {
  const pixels = new Uint32Array([rgba(1, 2, 3), rgba(1, 2, 3), rgba(9, 9, 9), rgba(1, 2, 3)]);
  const histogram = countColours(pixels, new Map());
  assert.deepEqual([...histogram.entries()], [[rgbKey(rgba(1, 2, 3)), 3], [rgbKey(rgba(9, 9, 9)), 1]]);
  assert.deepEqual(buildPalette(histogram), [rgbKey(rgba(1, 2, 3)), rgbKey(rgba(9, 9, 9))]);
});

test("more colours than the palette holds: the frequent ones exact, the rest summarised", () => {
  const histogram = new Map();
  for (let i = 0; i < 1000; i++) histogram.set(rgbKey(rgba(i % 256, (i * 7) % 256, (i * 13) % 256)), 1000 - i);
  const palette = buildPalette(histogram, 255);
  assert.equal(palette.length, 255);
  const byCount = [...histogram.entries()].sort((a, b) => b[1] - a[1]);
  const frequent = byCount.slice(0, Math.floor(255 * 0.75)).map(([c]) => c);
  assert.deepEqual(palette.slice(0, frequent.length), frequent);
});

test("a colour not in the palette gets its nearest; unchanged pixels the transparent index", () => {
  const palette = [rgbKey(rgba(0, 0, 0)), rgbKey(rgba(250, 250, 250)), rgbKey(rgba(200, 0, 0))];
  const q = new Quantizer(palette);
  assert.equal(q.transparent, 3);
  assert.equal(q.index(rgbKey(rgba(190, 10, 5))), 2);
  assert.equal(q.index(rgbKey(rgba(240, 255, 250))), 1);
  const prev = new Uint32Array([rgba(0, 0, 0), rgba(0, 0, 0), rgba(0, 0, 0), rgba(0, 0, 0)]);
  const next = new Uint32Array([rgba(0, 0, 0), rgba(250, 250, 250), rgba(0, 0, 0), rgba(200, 0, 0)]);
  assert.deepEqual(Array.from(q.indices(next, 2, { x: 0, y: 0, w: 2, h: 2 }, prev)), [3, 1, 3, 2]);
  assert.deepEqual(Array.from(q.indices(next, 2, { x: 1, y: 0, w: 1, h: 2 })), [1, 2]);
});

test("the file: GIF89a, the size, a looping application block, a trailer", async () => {
  const gif = new GifWriter(3, 2, [rgbKey(rgba(0, 0, 0)), rgbKey(rgba(255, 0, 0))], { delayCs: 5, transparent: 2 });
  gif.addFrame(new Uint8Array([0, 1, 0, 1, 0, 1]));
  const bytes = new Uint8Array(await gif.finish().arrayBuffer());
  assert.equal(String.fromCharCode(...bytes.slice(0, 6)), "GIF89a");
  assert.deepEqual(Array.from(bytes.slice(6, 10)), [3, 0, 2, 0]);
  assert.ok(String.fromCharCode(...bytes).includes("NETSCAPE2.0"));
  assert.equal(bytes[bytes.length - 1], 0x3b);
});
