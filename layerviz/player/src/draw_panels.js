// A panel as drawn frame after frame: its page images (pre-rendered once, "full" with values and "empty") and a
// "current" canvas brought from one frame to the next by copying only the cells whose `reveal` lies between them.

import { makeCanvas } from "./canvas.js";
import { numberStyle, renderPage } from "./draw_grid.js";
import { cellX, cellY } from "./layout_panels.js";
import { clamp } from "./math.js";

/**
 * The drawing state of one slot (a panel in a set of panels, laid out at R): its own page images, for its own
 * cell size.
 */
export function panelState(scene, p, R) {
  return { scene, p, R, full: [], empty: [], order: [], cur: null, curPage: -1, curK: -1, hadHl: false, numbers: null };
}

/** The page of panel p shown at frame k. */
export function pageAt(p, k) {
  return p.page && k < p.page.length ? clamp(p.page[k], 0, p.nPages - 1) : 0;
}

/** The full image of a page (and its empty one, for a panel that fills up), rendered the first time it is asked. */
export function pageImages(st, page) {
  if (!st.full[page]) {
    st.full[page] = renderPage(st.scene, st.p, st.R, page, true);
    if (st.p.reveal) st.empty[page] = renderPage(st.scene, st.p, st.R, page, false);
  }
  return st.full[page];
}

// Cells of a page sorted by reveal (local index ((sl * H) + r) * W + c).
function revealOrder(st, page) {
  if (st.order[page]) return st.order[page];
  const p = st.p, HW = p.H * p.W, cnt = p.ps * HW, base = page * p.ps * HW;
  const rv = p.reveal;
  const idx = new Int32Array(cnt);
  for (let i = 0; i < cnt; i++) idx[i] = i;
  const sorted = Array.from(idx).sort((a, b) => rv[base + a] - rv[base + b]);
  const ord = Int32Array.from(sorted);
  const rs = new Int32Array(cnt);
  for (let i = 0; i < cnt; i++) rs[i] = rv[base + ord[i]];
  return (st.order[page] = { ord, rs });
}

function upper(rs, k) {
  let lo = 0, hi = rs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rs[mid] <= k) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// Copy cells ord[a..b) from src to dst canvas, merging horizontal runs.
function copyCells(st, src, dst, ord, a, b) {
  if (b <= a) return;
  const p = st.p, R = st.R, W = p.W, H = p.H;
  const cells = ord.slice(a, b).sort();
  const g = dst.getContext("2d");
  let i = 0;
  while (i < cells.length) {
    let j = i + 1;
    const row = Math.floor(cells[i] / W);
    while (j < cells.length && cells[j] === cells[j - 1] + 1 && Math.floor(cells[j] / W) === row) j++;
    const sl = Math.floor(row / H), r = row % H, c = cells[i] % W;
    const x = cellX(R, p, sl, c), y = cellY(R, p, sl, r);
    const w = (j - i) * R.cd, h = R.cd;
    g.drawImage(src, x, y, w, h, x, y, w, h);
    i = j;
  }
}

/** Brings the panel's current image to frame k. Returns true if it changed. */
export function updatePanel(st, k) {
  const p = st.p;
  const page = pageAt(p, k);
  if (page === st.curPage && (k === st.curK || !p.reveal)) return false;
  const full = pageImages(st, page);
  if (!p.reveal) {
    st.cur = full; // nothing to fill in: the page image itself
  } else {
    if (!st.cur) st.cur = makeCanvas(st.R.w, st.R.h);
    const g = st.cur.getContext("2d");
    const { ord, rs } = revealOrder(st, page);
    const empty = st.empty[page];
    if (page !== st.curPage) {
      const u = upper(rs, k);
      if (u * 2 <= rs.length) {
        g.drawImage(empty, 0, 0);
        copyCells(st, full, st.cur, ord, 0, u);
      } else {
        g.drawImage(full, 0, 0);
        copyCells(st, empty, st.cur, ord, u, rs.length);
      }
    } else if (k > st.curK) {
      copyCells(st, full, st.cur, ord, upper(rs, st.curK), upper(rs, k));
    } else {
      copyCells(st, empty, st.cur, ord, upper(rs, k), upper(rs, st.curK));
    }
  }
  st.curPage = page;
  st.curK = k;
  return true;
}

/** Whether a panel prints its numbers in its cells (decided once, as its pages are drawn). */
export function printsNumbers(st) {
  if (st.numbers === null) st.numbers = numberStyle(makeCanvas(1, 1).getContext("2d"), st.p, st.R) !== null;
  return st.numbers;
}
