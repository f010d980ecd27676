// The layout of panels, all in device pixels once placed (sizes in CSS px before).
//
// The panels are laid out left to right in one row, their cells as large as the row allows: the row must fit
// the player's width (a scene never scrolls sideways). A row whose cells would be too small is wrapped into
// rows of panels; what still does not fit is scaled down as a whole (the player's build). No DOM.

import {
  CMAX, CMIN, FLOW_GRID_H, FLOW_TITLE_W, HL_M, LABEL_H, MAX_SCENE_H, MIN_ROW_CELL, NOTE_H, NUM_MIN_CELL, OP_W, PAD,
  ROW_GAP, SLICE_GAP, SLICE_GAP_X, SMALL_PANEL_W, TITLE_H,
} from "./constants.js";
import { fmtTick } from "./format.js";
import { clamp } from "./math.js";

/**
 * The words written under a panel: its own colour scale (a diverging panel with a vmax of its own).
 */
export function panelNote(p) {
  return p.cmap !== "grey" && p.vmax > 0 ? `scale ±${fmtTick(p.vmax)}` : "";
}

/**
 * Sizes (CSS px) of one row of panels for given slice columns per panel: the largest shared cell for which the
 * row fits maxW (small panels, a kernel, get bigger cells; tall ones the cell their height allows).
 */
export function rowSizes(panels, ncols, maxW, K) {
  const ts = K.ts, small = SMALL_PANEL_W * ts, cmax = Math.round(CMAX * ts);
  const rows = panels.map((p, i) => Math.ceil(p.ps / ncols[i]));
  const hcap = panels.map((p, i) => Math.floor(
    (K.gridH - rows[i] * (K.labelH + K.colLabH[i]) - (rows[i] - 1) * SLICE_GAP) / (rows[i] * p.H)));
  const cols = panels.map((p, i) => p.W * ncols[i]);
  // a small panel (a kernel, a column of scores: a few columns) is kept at least SMALL_PANEL_W wide
  const isSmall = cols.map((n) => n * CMAX < 2.5 * SMALL_PANEL_W);
  const cellsFor = (c) => panels.map((p, i) => {
    const want = isSmall[i] && cols[i] * c < small ? Math.max(c, Math.floor(small / cols[i])) : c;
    return clamp(Math.min(want, hcap[i]), CMIN, cmax);
  });
  const widthOf = (cell) => 2 * PAD + panels.reduce((a, p, i) => a + K.opW[K.first + i] + Math.max(
    2 * HL_M + ncols[i] * (K.rowLabW[K.first + i] + p.W * cell[i]) + (ncols[i] - 1) * SLICE_GAP_X,
    K.titleW[K.first + i] + 8, K.noteW[K.first + i] + 6), 0);
  let c = cmax, cell = cellsFor(c), width = widthOf(cell);
  while (width > maxW && c > CMIN) { c--; cell = cellsFor(c); width = widthOf(cell); }
  let worst = Infinity;
  panels.forEach((p, i) => { if (!isSmall[i]) worst = Math.min(worst, cell[i]); });
  const height = TITLE_H * ts + Math.max(...panels.map((p, i) => 2 * HL_M + rows[i] * (K.labelH + K.colLabH[i] + p.H * cell[i])
    + (rows[i] - 1) * SLICE_GAP)) + (panels.some((p, i) => K.noteW[K.first + i]) ? NOTE_H * ts : 0);
  return { cell, rows, ncols: ncols.slice(), width, height, fits: width <= maxW, worst: worst === Infinity ? cmax : worst,
    worstAll: Math.min(...cell) };
}

// Most choices of slice columns a row tries one by one; a row with more is searched panel by panel.
export const MAX_ROW_CHOICES = 256;

/**
 * The best sizes of panels [first, last) as one row: every choice of slice columns per panel tried (or, for many
 * panels, a search that stays linear in their number).
 */
export function bestRow(panels, first, last, maxW, K) {
  const part = panels.slice(first, last);
  const options = part.map((p) => {
    const o = [];
    for (let n = 1; n <= Math.min(p.ps, 4); n++) if (n === 1 || Math.ceil(p.ps / n) < Math.ceil(p.ps / (n - 1))) o.push(n);
    return o;
  });
  const KK = { ...K, first, colLabH: K.colLabH.slice(first, last) };
  let best = null;
  const consider = (ncols) => {
    const r = rowSizes(part, ncols, maxW, KK);
    // K.preferLow (a flow's preview): among rows of equal cells, the lowest (slices side by side, not stacked)
    const low = K.preferLow ? r.height / 40 : 0;
    const worst = K.preferLow ? r.worstAll : r.worst; // and a narrow stack of slices is no small panel there
    const score = r.fits ? Math.min(worst, 16 * K.ts) * 1000 - ncols.reduce((a, b) => a + b, 0) - low : -1e9 - r.width;
    if (!best || score > best.score) { best = { ...r, score, first, last }; return true; }
    return false;
  };
  const choices = options.reduce((a, o) => a * o.length, 1);
  if (choices <= MAX_ROW_CHOICES) {
    const visit = (i, ncols) => {
      if (i === part.length) { consider(ncols); return; }
      for (const n of options[i]) { ncols.push(n); visit(i + 1, ncols); ncols.pop(); }
    };
    visit(0, []);
    return best;
  }
  // Too many panels to try every choice (a model's flow: 4^20 of them): the same number of columns for every
  // panel, then each panel's columns changed one at a time while that improves the row.
  for (let u = 1; u <= 4; u++) consider(options.map((o) => o.filter((n) => n <= u).pop()));
  for (let pass = 0, better = true; pass < 3 && better; pass++) {
    better = false;
    for (let i = 0; i < part.length; i++) {
      for (const n of options[i]) {
        if (n === best.ncols[i]) continue;
        const ncols = best.ncols.slice();
        ncols[i] = n;
        if (consider(ncols)) better = true;
      }
    }
  }
  return best;
}

/**
 * Rows of panels: one row if its cells are big enough for their numbers; else two or three rows if that makes them
 * so within a height a screen shows; else one row if its cells stay readable; else the rows with the largest cells.
 */
export function panelRows(panels, maxW, K) {
  const one = bestRow(panels, 0, panels.length, maxW, K);
  const numbers = NUM_MIN_CELL * K.ts;
  if (panels.length < 2 || (one.fits && one.worst >= numbers)) return [one];
  const candidates = [];
  const splits = (n, k) => { // increasing cut points: k - 1 cuts in 1..n-1
    const out = [];
    const rec = (start, left, acc) => {
      if (left === 0) { out.push(acc.slice()); return; }
      for (let c = start; c <= n - left; c++) { acc.push(c); rec(c + 1, left - 1, acc); acc.pop(); }
    };
    rec(1, k - 1, []);
    return out;
  };
  for (let k = 2; k <= Math.min(3, panels.length); k++) {
    for (const cuts of splits(panels.length, k)) {
      const bounds = [0, ...cuts, panels.length];
      const rows = [];
      for (let r = 0; r < k; r++) rows.push(bestRow(panels, bounds[r], bounds[r + 1], maxW, K));
      if (!rows.every((r) => r.fits)) continue;
      candidates.push({ rows, worst: Math.min(...rows.map((r) => r.worst)),
        height: rows.reduce((a, r) => a + r.height, 0) + (k - 1) * ROW_GAP });
    }
  }
  // the fewest rows, then the lowest, that print numbers and fit the screen's height
  const readable = candidates.filter((c) => c.worst >= numbers && c.height <= MAX_SCENE_H * K.ts);
  if (readable.length) {
    readable.sort((a, b) => a.rows.length - b.rows.length || a.height - b.height);
    return readable[0].rows;
  }
  if (one.fits && one.worst >= MIN_ROW_CELL) return [one];
  candidates.sort((a, b) => b.worst - a.worst || a.height - b.height);
  if (candidates.length) return !one.fits || candidates[0].worst > one.worst + 1 ? candidates[0].rows : [one];
  // many panels (a backward pass, titles and all): as many panels a row as fit with readable cells, row after row
  const rows = [];
  for (let start = 0; start < panels.length;) {
    let end = start + 1, row = bestRow(panels, start, end, maxW, K);
    while (end < panels.length) {
      const wider = bestRow(panels, start, end + 1, maxW, K);
      if (!wider.fits || wider.worst < Math.min(MIN_ROW_CELL, row.worst)) break;
      row = wider;
      end++;
    }
    rows.push(row);
    start = end;
  }
  // many rows share the height a screen shows: each row's panels a little lower
  const KK = { ...K, gridH: Math.max(220 * K.ts, K.gridH / rows.length) };
  return rows.map((r) => bestRow(panels, r.first, r.last, maxW, KK));
}

/**
 * The sets of panels drawn together: a panel with `shown` is drawn on those frames only (a model's flow shows the
 * node being computed). Returns { sets: arrays of panel indices, frameSet: the set of each frame (null: one set,
 * every panel, at every frame) }. Linear in frames x panels; a panel never shown gets a set of its own.
 */
export function panelSets(scene) {
  const all = scene.panels.map((p, i) => i);
  if (!scene.panels.some((p) => p.shown)) return { sets: [all], frameSet: null };
  const sets = [], bySignature = new Map(), frameSet = new Int32Array(scene.n);
  const used = new Uint8Array(scene.panels.length);
  for (let k = 0; k < scene.n; k++) {
    const set = all.filter((i) => { const s = scene.panels[i].shown; return !s || (k < s.length && s[k]); });
    const key = set.join(",");
    if (!bySignature.has(key)) { bySignature.set(key, sets.length); sets.push(set); }
    frameSet[k] = bySignature.get(key);
    set.forEach((i) => { used[i] = 1; });
  }
  all.forEach((i) => { if (!used[i]) sets.push([i]); });
  return { sets, frameSet };
}

/**
 * Panels `set` (indices into scene.panels) laid out in rows from the top y (device px), left to right. K holds the
 * measures of every panel of the scene; an operator is drawn between panels, also before the first of a set
 * unless `dropFirstOp` (a set of a flow: what comes before it is not on screen). Returns the panels' rectangles
 * (in the set's order), the operators, the rows, the bottom and the right edge (device px).
 */
export function placePanels(scene, set, K, maxW, top0, dpr, ts, dropFirstOp) {
  const panels = set.map((i) => scene.panels[i]);
  const opAt = (i, j) => (dropFirstOp && j === 0 ? 0 : K.opW[i]);
  const titleCap = Math.max(FLOW_TITLE_W * ts, (maxW - 2 * PAD) / Math.max(1, set.length) - OP_W * ts);
  const KS = {
    ...K,
    // a set of a flow: a long title is cut rather than widen its panel's slot (the panels stay on one row)
    opW: set.map(opAt), titleW: set.map((i) => (dropFirstOp ? Math.min(K.titleW[i], titleCap) : K.titleW[i])), noteW: set.map((i) => K.noteW[i]),
    rowLabW: set.map((i) => K.rowLabW[i]), colLabH: set.map((i) => K.colLabH[i]),
  };
  let rowsFit = [];
  if (panels.length && dropFirstOp) {
    // a set of a flow is a preview under its map: one row, lower panels, unless that cannot fit the width
    KS.gridH = FLOW_GRID_H * ts;
    KS.preferLow = true;
    const one = bestRow(panels, 0, panels.length, maxW, KS);
    rowsFit = one.fits ? [one] : panelRows(panels, maxW, KS);
  } else if (panels.length) {
    rowsFit = panelRows(panels, maxW, KS);
  }
  const d = (v) => Math.round(v * dpr);
  const out = { panels: [], ops: [], rows: [], bottom: top0, right: 0 };
  const labelD = d(LABEL_H * ts), gapD = d(SLICE_GAP), colGapD = d(SLICE_GAP_X), mD = d(HL_M);
  let y = top0;
  rowsFit.forEach((row, ri) => {
    const top = y + d(TITLE_H * ts);
    let x = d(PAD);
    let maxH = 0;
    const start = out.panels.length;
    for (let j = 0; j < row.last - row.first; j++) {
      const i = row.first + j, p = panels[i];
      const css = row.cell[j], ncol = row.ncols[j], rows = row.rows[j];
      const cd = Math.max(1, d(css));
      const g = css >= 8 ? Math.max(1, Math.round(dpr)) : 0; // gap between cells
      const rowLabD = d(KS.rowLabW[i]), colLabD = d(KS.colLabH[i]);
      const w = 2 * mD + ncol * (rowLabD + p.W * cd) + (ncol - 1) * colGapD;
      const h = 2 * mD + rows * (labelD + colLabD + p.H * cd) + (rows - 1) * gapD;
      if (KS.opW[i]) {
        out.ops.push({ x: x + d(KS.opW[i]) / 2, row: ri, text: p.op });
        x += d(KS.opW[i]);
      }
      const slot = Math.max(w, d(KS.titleW[i] + 8), d(KS.noteW[i] + 6));
      out.panels.push({ x: x + Math.round((slot - w) / 2), y: top, w, h, slot, css, cd, g, labelD, gapD, colGapD, mD,
        rows, ncol, rowLabD, colLabD, row: ri, note: panelNote(p) });
      x += slot;
      maxH = Math.max(maxH, h);
    }
    const noteH = out.panels.slice(start).some((r) => r.note) ? d(NOTE_H * ts) : 0;
    // big panels share a top line; small ones (a kernel) are centred on the operators
    out.panels.slice(start).forEach((r) => { r.y = top + (r.h >= 0.6 * maxH ? 0 : Math.round((maxH - r.h) / 2)); });
    out.rows.push({ top, maxH });
    y = top + maxH + noteH + (ri + 1 < rowsFit.length ? d(ROW_GAP) : 0);
    out.right = Math.max(out.right, x + d(PAD));
  });
  out.bottom = y;
  return out;
}

/**
 * Top-left of cell (sl = slice within page, r, c) inside a panel page image.
 * Slices are placed in reading order: left to right, then top to bottom.
 */
export function cellX(R, p, sl, c) {
  return R.mD + (sl % R.ncol) * (R.rowLabD + p.W * R.cd + R.colGapD) + R.rowLabD + c * R.cd;
}
export function cellY(R, p, sl, r) {
  return R.mD + Math.floor(sl / R.ncol) * (R.labelD + R.colLabD + p.H * R.cd + R.gapD) + R.labelD + R.colLabD + r * R.cd;
}
