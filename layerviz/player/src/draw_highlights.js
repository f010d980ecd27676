// Highlights: the cells an outline marks at a frame (its origin plus its stencil), the outlines stroked over
// the panels, and the readout of the lit cells' numbers for panels too small to print them.

import { printsNumbers, pageAt } from "./draw_panels.js";
import { formatValue } from "./format.js";
import { cellX, cellY } from "./layout_panels.js";
import { clamp } from "./math.js";

const READOUT_MAX = 8; // values of one outline listed under the canvas

/**
 * The cells [slice, row, col] highlight h outlines at frame k on its panel's current page.
 */
export function highlightCells(h, k, st) {
  const p = st.p;
  if (k * 3 + 2 >= h.origin.length) return [];
  const o0 = h.origin[3 * k], o1 = h.origin[3 * k + 1], o2 = h.origin[3 * k + 2];
  const s0 = pageAt(p, k) * p.ps;
  const out = [];
  for (let j = 0; j < h.m; j++) {
    const s = o0 + h.stencil[3 * j], r = o1 + h.stencil[3 * j + 1], c = o2 + h.stencil[3 * j + 2];
    if (s < s0 || s >= s0 + p.ps || r < 0 || r >= p.H || c < 0 || c >= p.W) continue;
    out.push([s, r, c]);
  }
  return out;
}

/**
 * The numbers at frame k of the lit cells of panels too small to print them, as text for the readout under the canvas:
 * "values read from x[3,0] (0, 0): 3.22, 3.15, … (64 values)  ·  output written at out[3,0] (3, 3): 0.05";
 * "" if every lit panel prints its own numbers. states: the slots' panelState; slotAt(i, k): panel i's slot at frame k.
 */
export function litText(scene, states, slotAt, k) {
  const parts = [];
  scene.highlights.forEach((h) => {
    const st = states[slotAt(h.panel.index, k)];
    if (st === undefined || printsNumbers(st)) return;
    const cells = highlightCells(h, k, st);
    if (!cells.length) return;
    const p = st.p, HW = p.H * p.W;
    const values = cells.slice(0, READOUT_MAX).map(([s, r, c]) => {
      const i = s * HW + r * p.W + c;
      if (p.padding && p.padding[i]) return "pad";
      if (p.reveal && p.reveal[i] > k) return "…";
      return formatValue(p.values[i], 2);
    });
    const more = cells.length > READOUT_MAX ? `, … (${cells.length} values)` : "";
    const [s, r, c] = cells[0];
    const where = `${p.labels[s] ?? p.name}${p.H * p.W > 1 ? ` (${r}, ${c})` : ""}`;
    parts.push(`${h.label} ${cells.length > 1 ? "from" : "at"} ${where}: ${values.join(", ")}${more}`);
  });
  return parts.join("  ·  ");
}

/**
 * The top-left corners (device px, on the canvas) of the cells highlight h outlines at frame k on slot st.
 */
export function highlightRects(h, k, st) {
  const p = st.p, R = st.R;
  if (k * 3 + 2 >= h.origin.length) return [];
  const o0 = h.origin[3 * k], o1 = h.origin[3 * k + 1], o2 = h.origin[3 * k + 2];
  const page = pageAt(p, k);
  const s0 = page * p.ps;
  const out = [];
  for (let j = 0; j < h.m; j++) {
    const s = o0 + h.stencil[3 * j], r = o1 + h.stencil[3 * j + 1], c = o2 + h.stencil[3 * j + 2];
    if (s < s0 || s >= s0 + p.ps || r < 0 || r >= p.H || c < 0 || c >= p.W) continue;
    out.push([R.x + cellX(R, p, s - s0, c) - R.g / 2, R.y + cellY(R, p, s - s0, r) - R.g / 2]);
  }
  return out;
}

/** Strokes highlight h's cells `rects` (highlightRects) on ctx: a white halo, then its colour and dashes. */
export function strokeHighlight(ctx, h, st, rects, dpr) {
  const cd = st.R.cd;
  const lw = Math.max(2, Math.round(clamp(st.R.css * 0.12, 2, 3.5) * dpr));
  ctx.beginPath();
  rects.forEach(([x, y]) => ctx.rect(x, y, cd, cd));
  ctx.lineJoin = "miter";
  ctx.strokeStyle = "rgba(255,255,255,0.9)";
  ctx.lineWidth = lw + 2 * Math.max(1, Math.round(dpr));
  ctx.stroke();
  ctx.strokeStyle = h.color;
  ctx.lineWidth = lw;
  ctx.setLineDash(h.dash.map((v) => v * dpr));
  ctx.stroke();
  ctx.setLineDash([]);
}
