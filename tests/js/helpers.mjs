// What the JavaScript tests share: the fixtures tests/test_javascript.py writes (LAYERVIZ_JS_FIXTURES), the
// scene's bytes made into DataViews as the browser receives them, and a text measure for layouts without a canvas.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";

/** The fixture `name` (JSON) from the folder LAYERVIZ_JS_FIXTURES, or null when the tests run without it. */
export function fixture(name) {
  const folder = process.env.LAYERVIZ_JS_FIXTURES;
  if (!folder) return null;
  return JSON.parse(readFileSync(path.join(folder, name), "utf8"));
}

/** Whether a test needs the Python-written fixtures (run `python -m pytest tests/test_javascript.py`). */
export const needsFixtures = process.env.LAYERVIZ_JS_FIXTURES ? {} : { skip: "LAYERVIZ_JS_FIXTURES is not set" };

/**
 * The synced `_scene` as the widget receives it: every {"$bytes": base64} a DataView. With `offset`, each buffer
 * starts that many bytes into a larger ArrayBuffer (a websocket message's buffers start anywhere), so typed arrays
 * of 4-byte values are copied rather than viewed.
 */
export function reviveWire(value, offset = 0) {
  if (Array.isArray(value)) return value.map((v) => reviveWire(v, offset));
  if (value && typeof value === "object") {
    if (typeof value.$bytes === "string") {
      const bytes = Buffer.from(value.$bytes, "base64");
      const buf = new ArrayBuffer(bytes.length + offset);
      new Uint8Array(buf, offset).set(bytes);
      return new DataView(buf, offset, bytes.length);
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reviveWire(v, offset)]));
  }
  return value;
}

// Per-character widths (in em) of the measure below, chosen from Chromium on Debian (its system-ui font is DejaVu
// Sans, wider than most): every text the layout measures for the course's explorers and the zoo's flows, drawn in
// the player's font, is at most this wide per character (0.636 em at weight 400 and 0.716 at 600, the widest seen:
// digits, "ReLU"), so a layout that fits with this measure fits with the real one there, and with narrower fonts.
const EM_PER_CHAR = { 400: 0.64, 600: 0.72 };

/** measure(text, weight, px): a text's width in CSS px, never less than Chromium's for the course's texts. */
export function measure(text, weight, px) {
  return [...String(text)].length * px * (EM_PER_CHAR[weight] ?? EM_PER_CHAR[600]);
}

/** Asserts a typed array holds what Python said: every value, or {length, head, tail, sum} of a long array. */
export function assertArray(actual, want, Ctor, what) {
  if (want === null) {
    assert.equal(actual, null, `${what}: null expected`);
    return;
  }
  assert.ok(actual instanceof Ctor, `${what}: a ${Ctor.name} expected, got ${actual && actual.constructor.name}`);
  const same = (a, b, i) => {
    if (b === null) assert.ok(Number.isNaN(a), `${what}[${i}]: NaN expected, got ${a}`);
    else assert.equal(a, b, `${what}[${i}]`);
  };
  if (Array.isArray(want)) {
    assert.equal(actual.length, want.length, `${what}: length`);
    want.forEach((b, i) => same(actual[i], b, i));
    return;
  }
  assert.equal(actual.length, want.length, `${what}: length`);
  want.head.forEach((b, i) => same(actual[i], b, i));
  const tail = actual.length - want.tail.length;
  want.tail.forEach((b, i) => same(actual[tail + i], b, tail + i));
  let sum = 0, size = 0;
  for (const v of actual) if (Number.isFinite(v)) { sum += v; size += Math.abs(v); }
  // float64 sums of float32 values, in another order than numpy's: equal but for rounding
  assert.ok(Math.abs(sum - want.sum) <= 1e-9 * (size + 1), `${what}: sum ${sum}, expected ${want.sum}`);
}
