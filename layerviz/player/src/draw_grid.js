// Drawing one page of a panel: its slices' labels, row and column labels, every cell in its colour (or empty,
// or hatched padding), and the cells' numbers where they fit.

import { EMPTY_EDGE, EMPTY_FILL, FONT, NUM_MIN_CELL, PAD_FILL, PAD_HATCH, ROWLAB_GAP } from "./constants.js";
import { fitText, makeCanvas } from "./canvas.js";
import { formatValue } from "./format.js";
import { cellX, cellY } from "./layout_panels.js";
import { clamp } from "./math.js";
import { cellRgb } from "./palette.js";

/**
 * The largest font and most decimals with which every value of the panel fits its cell
 * (one format per panel, so a grid reads evenly); null if numbers do not fit at all.
 */
export function numberStyle(ctx, p, R) {
  if (R.css < NUM_MIN_CELL) return null;
  const dpr = R.dpr;
  const room = R.cd - R.g - 3 * dpr;
  let lo = 0, hi = 0;
  for (let i = 0; i < p.values.length; i++) {
    const v = p.values[i];
    if (p.padding && p.padding[i]) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const ts = R.ts || 1;
  const maxF = Math.round(clamp(R.css * 0.34, 9, 13 * ts));
  for (const [dec, minF] of [[2, 10], [1, 9], [0, 9]]) {
    for (let f = maxF; f >= minF; f--) {
      ctx.font = `${Math.round(f * dpr)}px ${FONT}`;
      if (ctx.measureText(formatValue(lo, dec)).width <= room && ctx.measureText(formatValue(hi, dec)).width <= room) {
        return { font: ctx.font, dec };
      }
    }
  }
  return null;
}

/** The hatched fill of padding cells. */
export function hatchPattern(ctx, dpr) {
  const s = Math.max(4, Math.round(6 * dpr));
  const t = makeCanvas(s, s);
  const g = t.getContext("2d");
  g.fillStyle = PAD_FILL;
  g.fillRect(0, 0, s, s);
  g.strokeStyle = PAD_HATCH;
  g.lineWidth = Math.max(1, dpr);
  g.beginPath();
  g.moveTo(0, s); g.lineTo(s, 0);
  g.moveTo(-s / 2, s / 2); g.lineTo(s / 2, -s / 2);
  g.moveTo(s / 2, s * 1.5); g.lineTo(s * 1.5, s / 2);
  g.stroke();
  return ctx.createPattern(t, "repeat");
}

/**
 * Draws one page of a panel: labels, slice borders, and every cell (full values or empty).
 */
export function renderPage(scene, p, R, page, full) {
  const dpr = R.dpr, ts = R.ts || 1;
  const cv = makeCanvas(R.w, R.h);
  const ctx = cv.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, R.w, R.h);
  const { cd, g } = R;
  const num = full ? numberStyle(ctx, p, R) : null;
  const showNum = num !== null;
  const numFont = showNum ? num.font : "";
  const pattern = hatchPattern(ctx, dpr);
  const HW = p.H * p.W;
  const labFont = `${Math.round(11 * ts * dpr)}px ${FONT}`;
  for (let sl = 0; sl < p.ps; sl++) {
    const s = page * p.ps + sl;
    const x0 = cellX(R, p, sl, 0), y0 = cellY(R, p, sl, 0);
    // label
    ctx.font = `${Math.round(12 * ts * dpr)}px ${FONT}`;
    ctx.fillStyle = "#444";
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "left";
    const label = String(p.labels[s] ?? "");
    const fitted = fitText(ctx, label, p.W * cd + R.mD + R.rowLabD);
    // a label cut to a letter or two says nothing (Flatten's one column): left out
    if (fitted === label || fitted.length > 3) ctx.fillText(fitted, x0 - R.rowLabD, y0 - R.colLabD - Math.round(4 * dpr));
    // row labels (left of the rows) and column labels (above the columns), where the cells are tall / wide enough
    ctx.font = labFont;
    ctx.fillStyle = "#333";
    if (p.rowLabels.length && cd >= Math.round(9 * dpr)) {
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      for (let r = 0; r < p.H; r++) ctx.fillText(p.rowLabels[r], x0 - Math.round(ROWLAB_GAP * ts * dpr), y0 + r * cd + (cd - g) / 2);
    }
    if (p.colLabels.length) {
      ctx.textAlign = "center";
      ctx.textBaseline = "alphabetic";
      for (let c = 0; c < p.W; c++) {
        const t = fitText(ctx, p.colLabels[c], cd + Math.round(2 * dpr));
        if (t !== "…") ctx.fillText(t, x0 + c * cd + (cd - g) / 2, y0 - Math.round(3 * dpr));
      }
    }
    // cells
    ctx.font = numFont;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let r = 0; r < p.H; r++) {
      for (let c = 0; c < p.W; c++) {
        const i = s * HW + r * p.W + c;
        const x = x0 + c * cd, y = y0 + r * cd;
        if (!full) {
          ctx.fillStyle = EMPTY_EDGE;
          ctx.fillRect(x, y, cd - g, cd - g);
          if (cd - g > 2 * Math.max(1, Math.round(dpr))) {
            const e = Math.max(1, Math.round(dpr));
            ctx.fillStyle = EMPTY_FILL;
            ctx.fillRect(x + e, y + e, cd - g - 2 * e, cd - g - 2 * e);
          }
          continue;
        }
        if (p.padding && p.padding[i]) {
          ctx.fillStyle = pattern;
          ctx.fillRect(x, y, cd - g, cd - g);
          if (showNum) {
            ctx.fillStyle = "#555";
            ctx.fillText("0", x + (cd - g) / 2, y + (cd - g) / 2 + dpr * 0.5);
          }
          continue;
        }
        const v = p.values[i];
        const [rr, gg, bb] = cellRgb(scene, p, v);
        ctx.fillStyle = `rgb(${rr},${gg},${bb})`;
        ctx.fillRect(x, y, cd - g, cd - g);
        if (showNum) {
          const s2 = formatValue(v, num.dec);
          if (s2) {
            const lum = 0.2126 * rr + 0.7152 * gg + 0.0722 * bb;
            ctx.fillStyle = lum > 140 ? "#111" : "#fff";
            ctx.fillText(s2, x + (cd - g) / 2, y + (cd - g) / 2 + dpr * 0.5);
          }
        }
      }
    }
    // slice border
    ctx.strokeStyle = "#8c8c8c";
    const lw = Math.max(1, Math.round(dpr));
    ctx.lineWidth = lw;
    ctx.strokeRect(x0 - lw / 2, y0 - lw / 2, p.W * cd - g + lw, p.H * cd - g + lw);
  }
  return cv;
}
