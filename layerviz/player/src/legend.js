// The legend under a scene: which entries it has (colour bars, the key of outlines and special cells) and where
// each goes, in lines no wider than the scene. No DOM: text widths come from a measure function.

import { fmtTick } from "./format.js";

/**
 * The text of a scene's legend, in order: colour bars, then the key of outlines and special cells.
 */
export function legendEntries(scene) {
  const out = [];
  const diverging = scene.panels.some((p) => p.cmap !== "grey") || scene.networks.length > 0;
  if (diverging) {
    // every diverging panel on a scale of its own (written under it): the bar shows the scale's shape only
    const own = scene.networks.length === 0 && scene.panels.every((p) => p.cmap === "grey" || p.vmax > 0);
    out.push({ kind: "bar", ticks: own ? ["−scale", "0", "+scale"] : [fmtTick(-scene.vmax), "0", "+" + fmtTick(scene.vmax)] });
  }
  const greys = scene.panels.filter((p) => p.cmap === "grey");
  if (greys.length) {
    const top = Math.max(...greys.map((p) => p.vmax || 1));
    out.push({ kind: "grey", ticks: ["0", fmtTick(top)], label: "picture (greys)" });
  }
  const seen = new Set();
  scene.highlights.forEach((h) => {
    const key = `${h.role}\u0000${h.label}`;
    if (seen.has(key) || !everShown(h)) return;
    seen.add(key);
    out.push({ kind: "outline", label: h.label, color: h.color, dash: h.dash });
  });
  if (scene.panels.some((p) => p.padding && p.padding.some((v) => v))) out.push({ kind: "padding", label: "padding" });
  if (scene.networks.some((w) => w.active)) out.push({ kind: "neuron", label: "neuron being computed" });
  if (scene.graphs.some((g) => g.active)) out.push({ kind: "box", label: "node being computed" });
  if (scene.panels.some((p) => p.reveal) || scene.networks.some((w) => w.reveal)) out.push({ kind: "empty", label: "not computed yet" });
  if (scene.graphs.some((g) => g.reveal)) out.push({ kind: "faded", label: "node not computed yet" });
  return out;
}

/**
 * Whether a highlight outlines a cell of its panel at some frame (one never shown has no place in the legend:
 * a scene hides a highlight by moving its origin off the grid).
 */
export function everShown(h) {
  const p = h.panel, n = Math.floor(h.origin.length / 3);
  let rowLo = Infinity, rowHi = -Infinity, colLo = Infinity, colHi = -Infinity;
  for (let j = 0; j < h.m; j++) {
    rowLo = Math.min(rowLo, h.stencil[3 * j + 1]); rowHi = Math.max(rowHi, h.stencil[3 * j + 1]);
    colLo = Math.min(colLo, h.stencil[3 * j + 2]); colHi = Math.max(colHi, h.stencil[3 * j + 2]);
  }
  for (let k = 0; k < n; k++) {
    const r = h.origin[3 * k + 1], c = h.origin[3 * k + 2];
    if (r + rowHi >= 0 && r + rowLo < p.H && c + colHi >= 0 && c + colLo < p.W) return true;
  }
  return false;
}

/**
 * Legend entries placed in lines no wider than `width` (CSS px): [{entry, x, line}], and the number of lines.
 */
export function legendLayout(scene, width, ts, measure) {
  const sw = 14 * ts, barW = 180 * ts, greyW = 110 * ts;
  let x = 0, line = 0;
  const placed = legendEntries(scene).map((e) => {
    let w;
    if (e.kind === "bar") w = barW + 28 * ts;
    else if (e.kind === "grey") w = greyW + 6 * ts + measure(e.label, 400, 12 * ts) + 28 * ts;
    else w = sw + 6 * ts + measure(e.label, 400, 12 * ts) + 18 * ts;
    if (x > 0 && x + w > width) { x = 0; line++; }
    const at = { entry: e, x, line };
    x += w;
    return at;
  });
  return { placed, lines: placed.length ? line + 1 : 1, sw, barW, greyW };
}
