// Which frames an animation export holds, and the file's name.

import assert from "node:assert/strict";
import { test } from "node:test";
import { EXPORT_MAX_FRAMES, exportName, exportRange } from "../../layerviz/player/src/export_range.js";

test("a scene of at most EXPORT_MAX_FRAMES frames is exported whole, from any frame shown", () => {
  assert.equal(EXPORT_MAX_FRAMES, 600);
  for (const cur of [0, 17, 35, 99]) assert.deepEqual(exportRange(36, cur), [0, 36]);
  assert.deepEqual(exportRange(600, 599), [0, 600]);
  assert.deepEqual(exportRange(1, 0), [0, 1]);
});

test("a longer scene: EXPORT_MAX_FRAMES frames from the one shown, or the last ones", () => {
  assert.deepEqual(exportRange(4096, 0), [0, 600]);
  assert.deepEqual(exportRange(4096, 1000), [1000, 1600]);
  assert.deepEqual(exportRange(4096, 3496), [3496, 4096]);
  assert.deepEqual(exportRange(4096, 3497), [3496, 4096]); // 599 left: the last 600 rather
  assert.deepEqual(exportRange(4096, 3900), [3496, 4096]);
  assert.deepEqual(exportRange(4096, 5000), [3496, 4096]); // a frame beyond the end: the last ones
  assert.deepEqual(exportRange(4096, -3), [0, 600]);
  assert.deepEqual(exportRange(601, 1), [1, 601]);
});

test("an empty scene exports nothing", () => {
  assert.deepEqual(exportRange(0, 0), [0, 0]);
});

test("the file is named by the title's first word and the frames, counted from 1", () => {
  const scene = (title) => ({ title });
  assert.equal(exportName(scene("Conv2d(1, 1, 3): 36 steps"), 0, 36, "gif"), "layerviz-conv2d-1-36.gif");
  assert.equal(exportName(scene("LSTM"), 999, 1599, "webm"), "layerviz-lstm-1000-1599.webm");
  assert.equal(exportName(scene("Sequential, 2 layers"), 41, 42, "png"), "layerviz-sequential-42.png");
  assert.equal(exportName(scene("∗ no word first"), 0, 5, "gif"), "layerviz-animation-1-5.gif");
  assert.equal(exportName(scene(""), 0, 5, "gif"), "layerviz-animation-1-5.gif");
});
