// Numbers as the player writes them: a cell's number as the narrations print it (layerviz/_format.py's fixed,
// the cases written by tests/test_javascript.py), a colour bar's ticks, a file's size.

import assert from "node:assert/strict";
import { test } from "node:test";
import { fmtTick, formatValue, sizeText } from "../../layerviz/player/src/format.js";
import { fixture, needsFixtures } from "./helpers.mjs";

test("a cell's number reads as the narration prints it", needsFixtures, () => {
  const cases = fixture("numbers.json");
  assert.ok(cases.length > 1000);
  const wrong = cases.filter(([v, dec, text]) => formatValue(v, dec) !== text)
    .map(([v, dec, text]) => `${v} at ${dec}: ${formatValue(v, dec)}, the narration ${text}`);
  assert.deepEqual(wrong, []);
});

test("a cell's number: ties away from zero, no negative zero, nothing for NaN", () => {
  assert.equal(formatValue(0.125, 2), "0.13");
  assert.equal(formatValue(-0.125, 2), "-0.13");
  assert.equal(formatValue(-0.001, 2), "0.00");
  assert.equal(formatValue(-0, 0), "0");
  assert.equal(formatValue(-0.4, 0), "0");
  assert.equal(formatValue(-1.5, 0), "-2");
  assert.equal(formatValue(NaN, 2), "");
});

test("a colour bar's ticks", () => {
  assert.deepEqual([0, 150, -150, 12.34, 2.5, -0.25, 0.004, -0.0012].map(fmtTick),
    ["0", "150", "-150", "12.3", "2.50", "-0.25", "0.0040", "-0.0012"]);
});

test("a file's size", () => {
  assert.deepEqual([1, 499, 12_345, 999_999, 1_000_000, 3_456_789].map(sizeText),
    ["1 kB", "1 kB", "12 kB", "1000 kB", "1.0 MB", "3.5 MB"]);
});
