// The layout of a model's graph (a GraphLayout): boxes in columns, wrapped into bands when the columns do not fit
// the width, and the arrows between them as orthogonal segments. No DOM: text widths come from a measure function.

import {
  GBAND_GAP, GBOX_H, GBOX_W, GCOL_GAP, GCOL_MAX, GLABEL_SHIFT, GNOTE_H, GROW_GAP, GSIDE, PAD, TITLE_H,
} from "./constants.js";
import { clamp } from "./math.js";

/**
 * A GraphLayout's boxes and arrows, in device px, from the top y: columns spread over the width maxW (CSS px) and,
 * when they do not all fit, wrapped into bands of columns, one under the other; each band as tall as the rows it
 * uses. An arrow is a list of points (orthogonal segments): out of its source's right side, along its own row
 * through the columns it skips, into its target's left side; from one band to the next it goes round by the
 * margins. Linear in boxes + arrows + their bends.
 */
export function graphGeometry(graph, top0, maxW, dpr, ts, measure) {
  const d = (v) => Math.round(v * dpr);
  const boxW = GBOX_W * ts, boxH = GBOX_H * ts, minGap = GCOL_GAP * ts, rowPitch = boxH + GROW_GAP * ts;
  const side = GSIDE * ts; // room left and right of the bands for the arrows going round
  const C = graph.nColumns;
  const room = maxW - 2 * PAD - 2 * side;
  const perBand = clamp(Math.floor((room + minGap) / (boxW + minGap)), 1, C);
  const bands = Math.ceil(C / perBand);
  // columns spread over the room (a small graph: at most GCOL_MAX apart)
  const pitch = perBand > 1 ? Math.min((room - boxW) / (perBand - 1), (boxW + GCOL_MAX * ts)) : 0;
  const bandRows = new Array(bands).fill(1);
  const useRow = (c, r) => { const b = Math.floor(c / perBand); bandRows[b] = Math.max(bandRows[b], r + 1); };
  for (let i = 0; i < graph.N; i++) useRow(graph.column[i], graph.row[i]);
  graph.bendStart.forEach((start, e) => {
    const c0 = graph.column[graph.edges[2 * e]];
    for (let j = 0; j < graph.bendCount[e]; j++) useRow(c0 + 1 + j, graph.bendRows[start + j]);
  });
  const titleH = TITLE_H * ts, bandGap = GBAND_GAP * ts;
  const bandTop = [];
  let y = top0 / dpr + titleH;
  for (let b = 0; b < bands; b++) {
    bandTop.push(y);
    y += bandRows[b] * rowPitch - (rowPitch - boxH) + (b + 1 < bands ? bandGap : 0);
  }
  const noteH = graph.note ? GNOTE_H * ts : 0;
  const bottomCss = y + noteH + 6 * ts;
  const left = PAD + side;
  const colX = (c) => left + (c % perBand) * pitch; // a column's left side (CSS px)
  const rowY = (c, r) => bandTop[Math.floor(c / perBand)] + r * rowPitch + boxH / 2; // a row's middle line
  const boxes = [];
  for (let i = 0; i < graph.N; i++) {
    const c = graph.column[i], r = graph.row[i];
    boxes.push({ x: d(colX(c)), y: d(rowY(c, r) - boxH / 2), w: d(boxW), h: d(boxH) });
  }
  const rightEdge = left + (perBand - 1) * pitch + boxW;
  const arrows = [];
  for (let e = 0; e < graph.E; e++) {
    const s = graph.edges[2 * e], t = graph.edges[2 * e + 1];
    const stops = [[graph.column[s], graph.row[s]]];
    for (let j = 0; j < graph.bendCount[e]; j++) stops.push([graph.column[s] + 1 + j, graph.bendRows[graph.bendStart[e] + j]]);
    stops.push([graph.column[t], graph.row[t]]);
    const pts = [];
    // where the shape is written: a run {x0, x1, y} (CSS px) of the arrow; the first column it skips (its own
    // row), else its gap between neighbours (on the target's row), else its lane under a band (shifted by row)
    let label = null, rank = 9;
    const run = (r, x0, x1, yy) => { if (r < rank) { rank = r; label = { x0, x1, y: yy }; } };
    for (let j = 0; j < stops.length; j++) {
      const [c, r] = stops[j], yy = rowY(c, r);
      const inX = colX(c), outX = colX(c) + boxW;
      if (j > 0) {
        const [pc, pr] = stops[j - 1], py = rowY(pc, pr), px = colX(pc) + boxW;
        if (Math.floor(pc / perBand) === Math.floor(c / perBand)) {
          const mid = (px + inX) / 2;
          if (py !== yy) pts.push([mid, py], [mid, yy]);
          run(1, py !== yy ? mid : px, inX, yy);
        } else {
          // round by the right margin, the gap under the band (each row its own lane), the left margin
          const b = Math.floor(pc / perBand);
          const lane = bandTop[b] + bandRows[b] * rowPitch - (rowPitch - boxH) + bandGap / 2 + (pr - 1) * 5 * ts;
          const xr = rightEdge + side * 0.5 + pr * 4 * ts, xl = left - side * 0.5 - pr * 4 * ts;
          pts.push([xr, py], [xr, lane], [xl, lane], [xl, yy]);
          const shift = pr * (GLABEL_SHIFT * ts);
          run(2, left + shift, rightEdge + shift, lane);
        }
        pts.push([inX, yy]);
      }
      if (j > 0 && j < stops.length - 1) run(0, inX, outX, yy); // through a column it skips, on its own row
      if (j < stops.length - 1) pts.push([outX, yy]);
    }
    arrows.push({ pts: pts.map(([x, yy]) => [d(x), d(yy)]), label: { x0: d(label.x0), x1: d(label.x1), y: d(label.y) } });
  }
  // each box's words, fitted once: one line, or two split at " · ", in the largest font that fits (9 to 12 px)
  const texts = graph.labels.map((text) => boxText(text, boxW - 8 * ts, boxH, ts, measure));
  const width = d(Math.max(rightEdge + side + PAD, Math.min(600, maxW)));
  return { x: 0, y: top0, w: width, h: d(bottomCss) - top0, boxes, arrows, texts, titleY: d(top0 / dpr + titleH - 8 * ts),
    noteY: d(y + 4 * ts), perBand, bands };
}

/**
 * The lines of a box's words and their font size (CSS px) for a box `width` wide.
 */
export function boxText(text, width, height, ts, measure) {
  const cut = text.indexOf(" · ");
  for (let px = Math.round(12 * ts); px >= Math.round(9 * ts); px--) {
    if (measure(text, 600, px) <= width) return { lines: [text], px };
    if (cut > 0) {
      const two = [text.slice(0, cut), text.slice(cut + 3)];
      if (two.every((t) => measure(t, 600, px) <= width) && 2 * px * 1.25 <= height) return { lines: two, px };
    }
  }
  const px = Math.round(9 * ts);
  return { lines: cut > 0 && 2 * px * 1.25 <= height ? [text.slice(0, cut), text.slice(cut + 3)] : [text], px, cutToFit: true };
}

// Layout: cell sizes and positions, all in device pixels. Slices are stacked vertically; a panel whose stack
// would force tiny cells is wrapped into a few columns of slices. measure(text, weight, px) is a text's width in
// CSS px: a narrow panel (Flatten's one column) gets a slot as wide as its title, its grid centred in it.
