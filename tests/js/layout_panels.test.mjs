// The layout of panels: every scene the course's explorers make at their defaults fits the player of a 1366 px
// window (no panel, network or graph box wider than its player, laid out to fit rather than scaled down).

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeScene } from "../../layerviz/player/src/decode.js";
import { panelSets } from "../../layerviz/player/src/layout_panels.js";
import { layoutScene } from "../../layerviz/player/src/layout_scene.js";
import { fixture, measure, needsFixtures, reviveWire } from "./helpers.mjs";

// The player's stage in a 1366 x 768 window, in Voilà with the course's template (measured in Chromium: every
// player of the course's pages, the explorers' and the lessons', is 1014 CSS px wide there).
const STAGE_1366 = 1014;

/** Every way the scene's layout could be wider than `width` (CSS px), as messages. */
function overflows(scene, L, width) {
  const out = [], right = L.width / L.dpr;
  if (right > width) out.push(`the scene is ${right} px wide, its player ${width}`);
  L.slots.forEach(({ panel, R }) => {
    const p = scene.panels[panel], left = R.x - (R.slot - R.w) / 2;
    if (left < 0 || left + R.slot > L.width) out.push(`panel ${p.name} spans ${left}..${left + R.slot} of ${L.width}`);
    if (R.w <= 0 || R.h <= 0) out.push(`panel ${p.name} is ${R.w} x ${R.h}`);
  });
  L.networks.forEach((r, i) => {
    if (r.x < 0 || r.x + r.w > L.width) out.push(`network ${i} spans ${r.x}..${r.x + r.w}`);
  });
  L.graphs.forEach((G, g) => G.boxes.forEach((B, i) => {
    if (B.x < 0 || B.x + B.w > L.width) out.push(`graph ${g} box ${i} spans ${B.x}..${B.x + B.w}`);
  }));
  return out;
}

const explorers = fixture("explorers.json") || [];

test("every explorer's scene at its defaults fits the player of a 1366 px window", needsFixtures, () => {
  assert.ok(explorers.length >= 10, `${explorers.length} explorer scenes`);
  const problems = [];
  for (const { name, wire } of explorers) {
    const scene = decodeScene(reviveWire(wire));
    for (const dpr of [1, 2]) {
      const L = layoutScene(scene, STAGE_1366, dpr, measure, 1);
      problems.push(...overflows(scene, L, STAGE_1366).map((m) => `${name} (dpr ${dpr}): ${m}`));
    }
  }
  assert.deepEqual(problems, []);
});

test("the cells of the explorers' panels stay drawable at 1366 px (4 px at least)", needsFixtures, () => {
  for (const { name, wire } of explorers) {
    const L = layoutScene(decodeScene(reviveWire(wire)), STAGE_1366, 1, measure, 1);
    for (const { R } of L.slots) assert.ok(R.css >= 4, `${name}: a ${R.css} px cell`);
  }
});

test("a flow's panels are laid out in sets, one per combination of panels shown together", needsFixtures, () => {
  const flow = explorers.find((e) => e.wire.graphs.length && e.wire.panels.some((p) => p.shown));
  assert.ok(flow, "an explorer with a model's flow");
  const scene = decodeScene(reviveWire(flow.wire));
  const { sets, frameSet } = panelSets(scene);
  assert.equal(frameSet.length, scene.n);
  for (let k = 0; k < scene.n; k++) {
    const shown = scene.panels.filter((p) => !p.shown || p.shown[k]).map((p) => p.index);
    assert.deepEqual(sets[frameSet[k]], shown, `frame ${k}`);
  }
});

test("a scene without `shown` is one set of every panel", () => {
  const panel = (name) => ({ name, shown: null });
  assert.deepEqual(panelSets({ panels: [panel("a"), panel("b")], n: 3 }), { sets: [[0, 1]], frameSet: null });
});
