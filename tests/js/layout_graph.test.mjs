// The layout of a model's graph: for each ready model of the zoo (its flow forward and backward), no two boxes
// overlap, every box is inside the scene, each arrow leaves its source's right side and enters its target's left
// side, and each box's words fit it.

import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeScene } from "../../layerviz/player/src/decode.js";
import { boxText, graphGeometry } from "../../layerviz/player/src/layout_graph.js";
import { fixture, measure, needsFixtures, reviveWire } from "./helpers.mjs";

const graphs = fixture("graphs.json") || [];
// the player of a 1366 px window, a narrow one (a phone held sideways, a split screen), a projector's
const WIDTHS = [[1014, 1, 1], [600, 1, 1], [1014, 2, 1], [1880, 1, 1.4]];

// Least room between two columns of boxes (an arrow and its shape) and between two rows, CSS px
// (layerviz/player/src/constants.js: GCOL_GAP and GROW_GAP).
const COLUMN_GAP = 60, ROW_GAP = 22;

// Whether two boxes overlap, or come closer than the room an arrow needs between them.
function crowded(a, b, gapX, gapY) {
  return a.x < b.x + b.w + gapX && b.x < a.x + a.w + gapX && a.y < b.y + b.h + gapY && b.y < a.y + a.h + gapY;
}

test("no two boxes of a zoo model's graph overlap (nor crowd an arrow out), at any width", needsFixtures, () => {
  assert.equal(graphs.length, 8);
  for (const { name, wire } of graphs) {
    const scene = decodeScene(reviveWire(wire));
    assert.equal(scene.graphs.length, 1, name);
    const graph = scene.graphs[0];
    for (const [width, dpr, ts] of WIDTHS) {
      const G = graphGeometry(graph, 0, width, dpr, ts, measure);
      const where = `${name} at ${width} px (dpr ${dpr}, text x${ts})`;
      assert.equal(G.boxes.length, graph.N, where);
      for (let i = 0; i < G.boxes.length; i++) {
        for (let j = i + 1; j < G.boxes.length; j++) {
          const gapX = COLUMN_GAP * ts * dpr - 1, gapY = ROW_GAP * ts * dpr - 1;
          assert.ok(!crowded(G.boxes[i], G.boxes[j], gapX, gapY),
            `${where}: boxes ${graph.nodes[i]} and ${graph.nodes[j]} overlap or leave no room for an arrow`);
        }
      }
      for (const [i, B] of G.boxes.entries()) {
        const inside = B.x >= 0 && B.x + B.w <= G.w && B.y >= G.y && B.y + B.h <= G.y + G.h;
        assert.ok(inside, `${where}: box ${graph.nodes[i]} outside`);
      }
      assert.ok(G.w <= Math.max(width, 600) * dpr, `${where}: ${G.w} px wide`);
    }
  }
});

test("each arrow runs from its source's right side to its target's left side", needsFixtures, () => {
  for (const { name, wire } of graphs) {
    const graph = decodeScene(reviveWire(wire)).graphs[0];
    const G = graphGeometry(graph, 0, 1014, 1, 1, measure);
    for (let e = 0; e < graph.E; e++) {
      const s = G.boxes[graph.edges[2 * e]], t = G.boxes[graph.edges[2 * e + 1]], pts = G.arrows[e].pts;
      const [x0, y0] = pts[0], [x1, y1] = pts[pts.length - 1];
      assert.ok(Math.abs(x0 - (s.x + s.w)) <= 1 && y0 > s.y && y0 < s.y + s.h, `${name}: arrow ${e} leaves its source`);
      assert.ok(Math.abs(x1 - t.x) <= 1 && y1 > t.y && y1 < t.y + t.h, `${name}: arrow ${e} enters its target`);
      // orthogonal segments only
      for (let j = 1; j < pts.length; j++) {
        assert.ok(pts[j][0] === pts[j - 1][0] || pts[j][1] === pts[j - 1][1], `${name}: arrow ${e} segment ${j}`);
      }
    }
  }
});

test("a box's words fit it: one line, or two split at ' · ', in 9 to 12 px", () => {
  const w = 88, h = 36;
  assert.deepEqual(boxText("relu", w, h, 1, measure), { lines: ["relu"], px: 12 });
  const two = boxText("conv1 · Conv2d(3, 6)", w, h, 1, measure);
  assert.deepEqual(two.lines, ["conv1", "Conv2d(3, 6)"]);
  assert.equal(two.cutToFit, undefined);
  for (const line of two.lines) assert.ok(measure(line, 600, two.px) <= w, line);
  const long = boxText("a_very_long_node_name_that_cannot_fit", w, h, 1, measure);
  assert.equal(long.px, 9);
  assert.equal(long.cutToFit, true);
});
