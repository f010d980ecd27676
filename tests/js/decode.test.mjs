// Decoding the wire format: scenes encode_scene wrote (tests/test_javascript.py), decoded as the browser decodes
// them, hold what the Python scene held.

import assert from "node:assert/strict";
import { test } from "node:test";
import { captionOf, decodeScene, typed } from "../../layerviz/player/src/decode.js";
import { assertArray, fixture, needsFixtures, reviveWire } from "./helpers.mjs";

function assertScene(scene, want, where) {
  assert.equal(scene.title, want.title, `${where}: title`);
  assert.equal(scene.n, want.n, `${where}: n`);
  assert.equal(scene.vmax, want.vmax, `${where}: vmax`);
  assert.equal(scene.lutN, want.lutN, `${where}: lutN`);
  assertArray(scene.lut, want.lut, Uint8Array, `${where}: lut`);
  assert.deepEqual(Array.from({ length: scene.n }, (_, k) => captionOf(scene, k)), want.captions, `${where}: captions`);
  assert.equal(scene.panels.length, want.panels.length, `${where}: panels`);
  scene.panels.forEach((p, i) => {
    const w = want.panels[i], at = `${where}: panel ${w.name}`;
    for (const key of ["name", "title", "op", "S", "H", "W", "ps", "nPages", "vmax", "cmap"]) {
      assert.equal(p[key], w[key], `${at}: ${key}`);
    }
    assert.equal(p.index, i);
    for (const key of ["labels", "rowLabels", "colLabels"]) assert.deepEqual(p[key], w[key], `${at}: ${key}`);
    assertArray(p.values, w.values, Float32Array, `${at}: values`);
    assertArray(p.padding, w.padding, Uint8Array, `${at}: padding`);
    assertArray(p.reveal, w.reveal, Int32Array, `${at}: reveal`);
    assertArray(p.page, w.page, Int32Array, `${at}: page`);
    assertArray(p.shown, w.shown, Uint8Array, `${at}: shown`);
  });
  assert.equal(scene.highlights.length, want.highlights.length, `${where}: highlights`);
  scene.highlights.forEach((h, i) => {
    const w = want.highlights[i], at = `${where}: highlight ${i}`;
    assert.equal(h.panel.name, w.panel, `${at}: panel`);
    assert.equal(h.role, w.role, `${at}: role`);
    assert.equal(h.label, w.label, `${at}: label`);
    assert.equal(h.m, w.m, `${at}: m`);
    assert.match(h.color, /^#[0-9a-f]{6}$/i, `${at}: color`);
    assertArray(h.origin, w.origin, Int32Array, `${at}: origin`);
    assertArray(h.stencil, w.stencil, Int32Array, `${at}: stencil`);
  });
  assert.equal(scene.networks.length, want.networks.length, `${where}: networks`);
  scene.networks.forEach((net, i) => {
    const w = want.networks[i], at = `${where}: network ${i}`;
    for (const key of ["title", "T", "nPages", "note"]) assert.equal(net[key], w[key], `${at}: ${key}`);
    assert.ok(Math.abs(net.maxW - w.maxW) <= 1e-12 * w.maxW, `${at}: maxW`);
    assert.deepEqual(net.sizes, w.sizes, `${at}: sizes`);
    assert.deepEqual(net.labels, w.labels, `${at}: labels`);
    assertArray(net.values, w.values, Float32Array, `${at}: values`);
    assertArray(net.weights, w.weights, Float32Array, `${at}: weights`);
    for (const key of ["reveal", "page", "active"]) assertArray(net[key], w[key], Int32Array, `${at}: ${key}`);
    // the weight matrices one after the other: wOff[l] is where matrix l starts
    assert.equal(net.wOff[net.wOff.length - 1], net.weights.length, `${at}: wOff`);
  });
  assert.equal(scene.graphs.length, want.graphs.length, `${where}: graphs`);
  scene.graphs.forEach((g, i) => {
    const w = want.graphs[i], at = `${where}: graph ${i}`;
    for (const key of ["title", "N", "E", "nColumns", "note"]) assert.equal(g[key], w[key], `${at}: ${key}`);
    for (const key of ["nodes", "labels", "edgeLabels"]) assert.deepEqual(g[key], w[key], `${at}: ${key}`);
    for (const key of ["column", "row", "edges", "bendRows", "reveal", "active"]) {
      assertArray(g[key], w[key], Int32Array, `${at}: ${key}`);
    }
    // each arrow's bends: one row per column it skips, in bendRows from bendStart
    const spans = Array.from({ length: g.E }, (_, e) => g.column[g.edges[2 * e + 1]] - g.column[g.edges[2 * e]] - 1);
    assert.deepEqual(g.bendCount, spans, `${at}: bendCount`);
    const bends = g.bendStart.length ? g.bendStart[g.E - 1] + g.bendCount[g.E - 1] : 0;
    assert.equal(bends, g.bendRows.length, `${at}: bendStart`);
  });
}

const scenes = fixture("scenes.json") || [];

test("scenes encode_scene wrote decode to what the Python scene held", needsFixtures, () => {
  assert.ok(scenes.length >= 4);
  for (const { name, wire, expect } of scenes) assertScene(decodeScene(reviveWire(wire)), expect, name);
});

test("buffers that start at any byte of the message decode the same (copied where misaligned)", needsFixtures, () => {
  for (const { name, wire, expect } of scenes) {
    for (const offset of [1, 2, 3, 4]) {
      assertScene(decodeScene(reviveWire(wire, offset)), expect, `${name} at +${offset}`);
    }
  }
});

test("every explorer's and flow's scene decodes", needsFixtures, () => {
  for (const file of ["explorers.json", "graphs.json"]) {
    for (const { name, wire, expect } of fixture(file)) assertScene(decodeScene(reviveWire(wire, 1)), expect, name);
  }
});

test("no scene, or one without panels, decodes to null", () => {
  assert.equal(decodeScene(null), null);
  assert.equal(decodeScene({}), null);
});

test("typed views share aligned bytes and copy misaligned ones", () => {
  const buf = new ArrayBuffer(12);
  new Float32Array(buf).set([1.5, -2, 3]);
  const aligned = typed(new DataView(buf, 4, 8), Float32Array);
  assert.deepEqual(Array.from(aligned), [-2, 3]);
  assert.equal(aligned.buffer, buf);
  const bytes = new Uint8Array(13);
  bytes.set(new Uint8Array(buf), 1);
  const copied = typed(new DataView(bytes.buffer, 1, 12), Float32Array);
  assert.deepEqual(Array.from(copied), [1.5, -2, 3]);
  assert.notEqual(copied.buffer, bytes.buffer);
  assert.equal(typed(null, Int32Array), null);
  assert.equal(typed(undefined, Int32Array), null);
  assert.equal(typed("not bytes", Int32Array), null);
});
