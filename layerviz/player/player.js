// layerviz player: animates a layerviz Scene in the browser.
//
// A generic renderer of the scene primitives (grids, highlights, captions): it knows
// nothing about any layer. The scene arrives once (binary buffers); the clock runs
// here (requestAnimationFrame). The kernel hears the current frame only when Python may
// need it: on pause (and at the end), step, first / last, scrub release and keyboard steps;
// never while playing or while the slider is dragged. Exports (GIF, WebM, PNG) are drawn
// and encoded here too (gif.js), without the kernel.
//
// Per frame the work is tiny: each panel page is pre-rendered once to offscreen
// canvases ("full" with values, "empty"), a per-panel "current" canvas is updated
// incrementally for cells whose `reveal` lies between the previous and the new frame,
// then the panels are blitted and the highlights stroked.

const PAD = 12; // canvas margin (CSS px)
const TITLE_H = 26; // panel title line
const LABEL_H = 17; // slice label line
const SLICE_GAP = 10; // between stacked slices
const HL_M = 4; // margin around a panel's grids, room for highlight outlines
const OP_W = 52; // room for an operator between panels
const GAP_W = 28; // between panels without operator
const LEGEND_GAP = 14;
const LEGEND_H = 44;
const MAX_W = 1000; // widest canvas (CSS px)
const MAX_GRID_H = 440; // tallest panel (CSS px) before cells shrink (fits 1280x720)
const SLICE_GAP_X = 12; // between columns of slices
const CMIN = 4; // smallest cell
const CMAX = 40; // largest cell
const SMALL_PANEL_W = 112; // small panels (e.g. a 3x3 kernel) are drawn at least this wide
const NUM_MIN_CELL = 22; // print numbers in cells at least this big
const SYNC_MS = 250; // steps faster than this (a held arrow key) reach the kernel once per period
const FPS_CHOICES = [1, 2, 4, 8, 12, 16, 24, 30, 60];
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif';
const EMPTY_FILL = "#fbfbfb";
const EMPTY_EDGE = "#d5d5d5";
const PAD_FILL = "#dedede";
const PAD_HATCH = "#b4b4b4";

const ICONS = {
  first: '<path d="M4 3h2v10H4zM13 3v10L6.5 8z"/>',
  back: '<path d="M12 3v10L5 8z"/>',
  play: '<path d="M4 2.5v11L13.5 8z"/>',
  pause: '<path d="M4 3h3v10H4zM9 3h3v10H9z"/>',
  forward: '<path d="M4 3v10l7-5z"/>',
  last: '<path d="M10 3h2v10h-2zM3 3v10l6.5-5z"/>',
};

function svgIcon(name) {
  return `<svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true" focusable="false" fill="currentColor">${ICONS[name]}</svg>`;
}

// A typed array over a DataView / ArrayBuffer / typed array (copying if misaligned).
function typed(x, Ctor) {
  if (x === null || x === undefined) return null;
  if (x instanceof Ctor) return x;
  let buf, off, len;
  if (x instanceof ArrayBuffer) {
    buf = x; off = 0; len = x.byteLength;
  } else if (ArrayBuffer.isView(x)) {
    buf = x.buffer; off = x.byteOffset; len = x.byteLength;
  } else {
    return null;
  }
  const bpe = Ctor.BYTES_PER_ELEMENT;
  if (off % bpe === 0) return new Ctor(buf, off, Math.floor(len / bpe));
  return new Ctor(buf.slice(off, off + len));
}

function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

function fmtTick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.01 ? v.toFixed(2) : v.toPrecision(2);
  return s;
}

function decodeScene(raw) {
  if (!raw || !raw.panels) return null;
  const n = raw.n_frames | 0;
  const lut = typed(raw.lut, Uint8Array);
  const panels = raw.panels.map((p, index) => {
    const [S, H, W] = p.shape;
    const ps = p.page_size || S;
    return {
      index, name: p.name, title: p.title || "", op: p.op || "",
      labels: p.labels || [], S, H, W, ps, nPages: Math.max(1, Math.floor(S / ps)),
      values: typed(p.values, Float32Array),
      padding: typed(p.padding, Uint8Array),
      reveal: typed(p.reveal, Int32Array),
      page: typed(p.page, Int32Array),
      vmax: p.vmax > 0 ? p.vmax : 0,
    };
  });
  const byName = new Map(panels.map((p) => [p.name, p]));
  const highlights = (raw.highlights || []).map((h) => {
    const stencil = typed(h.stencil, Int32Array) || new Int32Array(0);
    return {
      panel: byName.get(h.panel) || panels[h.panel_index],
      role: h.role, color: h.color || "#000", dash: Array.isArray(h.dash) ? h.dash : [],
      origin: typed(h.origin, Int32Array) || new Int32Array(0),
      stencil, m: Math.floor(stencil.length / 3),
    };
  }).filter((h) => h.panel);
  return {
    title: raw.title || "", n, vmax: raw.vmax > 0 ? raw.vmax : 1,
    lut, lutN: lut ? Math.floor(lut.length / 3) : 0,
    panels, highlights,
    capBlob: typed(raw.captions, Uint8Array) || new Uint8Array(0),
    capOff: typed(raw.caption_offsets, Int32Array) || new Int32Array(n + 1),
    colors: raw.colors || {},
    networks: (raw.networks || []).map(decodeNetwork),
  };
}

// A Network: columns of neurons (sizes), values per page, weight matrices flattened one after the other.
function decodeNetwork(w) {
  const sizes = w.sizes.map((v) => v | 0);
  const offsets = [0];
  sizes.forEach((v) => offsets.push(offsets[offsets.length - 1] + v));
  const wOff = [0];
  for (let l = 0; l + 1 < sizes.length; l++) wOff.push(wOff[l] + sizes[l] * sizes[l + 1]);
  return {
    title: w.title || "", sizes, offsets, T: offsets[offsets.length - 1], wOff,
    nPages: Math.max(1, w.n_pages | 0),
    values: typed(w.values, Float32Array) || new Float32Array(0),
    weights: typed(w.weights, Float32Array) || new Float32Array(0),
    maxW: w.max_weight > 0 ? w.max_weight : 1,
    labels: w.column_labels || [],
    reveal: typed(w.reveal, Int32Array),
    page: typed(w.page, Int32Array),
    active: typed(w.active, Int32Array),
    note: w.note || "",
  };
}

// Neuron centres and radius (device px) of a network drawn in the box R.
function networkGeometry(net, R, dpr) {
  const d = (v) => Math.round(v * dpr);
  const top = R.y + d(28), bottom = R.y + R.h - d(net.note ? 44 : 26);
  const left = R.x + d(70), right = R.x + R.w - d(70);
  const L = net.sizes.length;
  const maxN = Math.max(...net.sizes);
  const step = Math.min((bottom - top) / maxN, d(46));
  const radius = clamp(step * 0.38, Math.max(1.5, dpr * 1.5), d(17));
  const xs = [], ys = [];
  net.sizes.forEach((n, c) => {
    const x = L === 1 ? (left + right) / 2 : left + (c * (right - left)) / (L - 1);
    const y0 = (top + bottom) / 2 - ((n - 1) * step) / 2;
    for (let j = 0; j < n; j++) { xs.push(x); ys.push(y0 + j * step); }
  });
  return { xs, ys, radius, bottom };
}

function lutColor(scene, v, vmax) {
  if (!scene.lutN || Number.isNaN(v)) return "rgb(230,230,230)";
  const t = clamp((v + vmax) / (2 * vmax), 0, 1);
  const li = Math.round(t * (scene.lutN - 1)) * 3;
  return `rgb(${scene.lut[li]},${scene.lut[li + 1]},${scene.lut[li + 2]})`;
}

// ---------------------------------------------------------------------------------
// Layout: cell sizes and positions, all in device pixels.

// Cell sizes (CSS px) for given slice columns per panel.
function cellSizes(panels, ncols, maxW, opW) {
  const rows = panels.map((p, i) => Math.ceil(p.ps / ncols[i]));
  const fixed = 2 * PAD + opW.reduce((a, b) => a + b, 0) + panels.length * 2 * HL_M
    + panels.reduce((a, p, i) => a + (ncols[i] - 1) * SLICE_GAP_X, 0);
  // Height cap per panel.
  const hcap = panels.map((p, i) => Math.floor(
    (MAX_GRID_H - rows[i] * LABEL_H - (rows[i] - 1) * SLICE_GAP) / (rows[i] * p.H)));
  const cols = panels.map((p, i) => p.W * ncols[i]);
  const fit = (n, budget) => (n > 0 ? Math.floor(budget / n) : CMAX);
  const c = clamp(fit(cols.reduce((a, b) => a + b, 0), maxW - fixed), CMIN, CMAX);
  const cell = panels.map(() => 0);
  // Small panels (a kernel) get bigger cells so they stay readable.
  let budget = maxW - fixed, rest = 0;
  panels.forEach((p, i) => {
    if (cols[i] * c < SMALL_PANEL_W) {
      cell[i] = clamp(Math.min(hcap[i], Math.max(c, Math.floor(SMALL_PANEL_W / cols[i]))), CMIN, CMAX);
      budget -= cell[i] * cols[i];
    } else {
      rest += cols[i];
    }
  });
  const c2 = clamp(fit(rest, budget), CMIN, CMAX);
  let worst = Infinity;
  panels.forEach((p, i) => {
    if (!cell[i]) {
      cell[i] = clamp(Math.min(c2, hcap[i]), CMIN, CMAX);
      worst = Math.min(worst, Math.min(c2, hcap[i]));
    }
  });
  const width = fixed + cell.reduce((a, ci, i) => a + ci * cols[i], 0);
  return { cell, rows, worst: worst === Infinity ? CMAX : worst, width };
}

// Layout: cell sizes and positions, all in device pixels. Slices are stacked vertically;
// a panel whose stack would force tiny cells is wrapped into a few columns of slices.
// titleWidth(text) is a panel title's width in CSS px: a narrow panel (Flatten's one column)
// gets a slot as wide as its title, its grid centred in it.
function layoutScene(scene, cssWidth, dpr, titleWidth = () => 0) {
  const panels = scene.panels;
  const maxW = Math.max(240, Math.min(MAX_W, cssWidth));
  const opW = panels.map((p, i) => (p.op ? OP_W : i === 0 ? 0 : GAP_W));
  const options = panels.map((p) => {
    const o = [];
    for (let n = 1; n <= Math.min(p.ps, 4); n++) if (n === 1 || Math.ceil(p.ps / n) < Math.ceil(p.ps / (n - 1))) o.push(n);
    return o;
  });
  let best = null;
  const visit = (i, ncols) => {
    if (i === panels.length) {
      const r = cellSizes(panels, ncols, maxW, opW);
      const score = Math.min(r.worst, 16) * 1000 - (r.width > maxW ? 500 : 0) - ncols.reduce((a, b) => a + b, 0);
      if (!best || score > best.score) best = { ...r, ncols: ncols.slice(), score };
      return;
    }
    for (const n of options[i]) { ncols.push(n); visit(i + 1, ncols); ncols.pop(); }
  };
  visit(0, []);

  const d = (v) => Math.round(v * dpr);
  const L = { dpr, panels: [], ops: [] };
  const labelD = d(LABEL_H), gapD = d(SLICE_GAP), colGapD = d(SLICE_GAP_X), mD = d(HL_M);
  let x = d(PAD);
  let maxH = 0;
  panels.forEach((p, i) => {
    const css = best.cell[i], ncol = best.ncols[i], rows = best.rows[i];
    const cd = Math.max(1, d(css));
    const g = css >= 8 ? Math.max(1, Math.round(dpr)) : 0; // gap between cells
    const w = 2 * mD + ncol * p.W * cd + (ncol - 1) * colGapD;
    const h = 2 * mD + rows * (labelD + p.H * cd) + (rows - 1) * gapD;
    if (opW[i]) {
      L.ops.push({ x: x + d(opW[i]) / 2, text: p.op });
      x += d(opW[i]);
    }
    const slot = Math.max(w, d(titleWidth(p.title || "") + 8));
    L.panels.push({ x: x + Math.round((slot - w) / 2), y: 0, w, h, slot, css, cd, g, labelD, gapD, colGapD, mD, rows, ncol });
    x += slot;
    maxH = Math.max(maxH, h);
  });
  const top = panels.length ? d(PAD + TITLE_H) : d(PAD);
  // Big panels share a top line; small ones (a kernel) are centred on the operators.
  L.panels.forEach((r) => { r.y = top + (r.h >= 0.6 * maxH ? 0 : Math.round((maxH - r.h) / 2)); });
  L.top = top;
  L.maxH = maxH;
  let y = top + maxH + (panels.length ? d(LEGEND_GAP) : 0);
  let netRight = 0;
  L.networks = (scene.networks || []).map((net) => {
    const maxN = Math.max(...net.sizes);
    const hCss = clamp(maxN * 30 + 90, 220, 460);
    const wCss = clamp(180 + net.sizes.length * 190, 420, maxW - 2 * PAD);
    const r = { x: d(PAD), y, w: d(wCss), h: d(hCss) };
    y += r.h + d(LEGEND_GAP);
    netRight = Math.max(netRight, r.x + r.w + d(PAD));
    return r;
  });
  L.legendY = L.networks.length ? y : top + maxH + d(LEGEND_GAP);
  L.width = Math.max(x + d(PAD), netRight, d(600));
  L.height = L.legendY + d(LEGEND_H);
  return L;
}

// Top-left of cell (sl = slice within page, r, c) inside a panel page image.
// Slices are placed in reading order: left to right, then top to bottom.
function cellX(R, p, sl, c) {
  return R.mD + (sl % R.ncol) * (p.W * R.cd + R.colGapD) + c * R.cd;
}
function cellY(R, p, sl, r) {
  return R.mD + Math.floor(sl / R.ncol) * (R.labelD + p.H * R.cd + R.gapD) + R.labelD + r * R.cd;
}

// ---------------------------------------------------------------------------------

function fitText(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxWidth) s = s.slice(0, -1);
  return s + "…";
}

function formatValue(v, dec) {
  if (Number.isNaN(v)) return "";
  const s = v.toFixed(dec);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

// The largest font and most decimals with which every value of the panel fits its cell
// (one format per panel, so a grid reads evenly); null if numbers do not fit at all.
function numberStyle(ctx, p, R) {
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
  const maxF = Math.round(clamp(R.css * 0.34, 9, 13));
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

function makeCanvas(w, h) {
  const c = document.createElement("canvas");
  c.width = Math.max(1, w);
  c.height = Math.max(1, h);
  return c;
}

function hatchPattern(ctx, dpr) {
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

// Draws one page of a panel: labels, slice borders, and every cell (full values or empty).
function renderPage(scene, p, R, page, full) {
  const dpr = R.dpr;
  const cv = makeCanvas(R.w, R.h);
  const ctx = cv.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, R.w, R.h);
  const { cd, g } = R;
  const num = full ? numberStyle(ctx, p, R) : null;
  const showNum = num !== null;
  const numFont = showNum ? num.font : "";
  const lut = scene.lut, lutN = scene.lutN, vmax = p.vmax || scene.vmax;
  const pattern = hatchPattern(ctx, dpr);
  const HW = p.H * p.W;
  for (let sl = 0; sl < p.ps; sl++) {
    const s = page * p.ps + sl;
    const x0 = cellX(R, p, sl, 0), y0 = cellY(R, p, sl, 0);
    // label
    ctx.font = `${Math.round(12 * dpr)}px ${FONT}`;
    ctx.fillStyle = "#444";
    ctx.textBaseline = "alphabetic";
    ctx.textAlign = "left";
    ctx.fillText(fitText(ctx, String(p.labels[s] ?? ""), p.W * cd + R.mD), x0, y0 - Math.round(4 * dpr));
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
        let rr = 230, gg = 230, bb = 230;
        if (!Number.isNaN(v) && lutN) {
          const t = clamp((v + vmax) / (2 * vmax), 0, 1);
          const li = Math.round(t * (lutN - 1)) * 3;
          rr = lut[li]; gg = lut[li + 1]; bb = lut[li + 2];
        }
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

// ---------------------------------------------------------------------------------

// A panel title's width in CSS px (layoutScene's titleWidth), measured in the titles' font (drawStatic).
function titleWidth(ctx) {
  return (text) => {
    ctx.font = `600 14px ${FONT}`;
    return ctx.measureText(text).width;
  };
}

// ---------------------------------------------------------------------------------
// A renderer draws the frames of a scene, laid out by L, on one canvas. The visible player has
// one; an export draws on an offscreen canvas with another, so it never disturbs what is shown.
// Each keeps its own page images and incremental state (the panels' "current" canvases).
function createRenderer(scene, L, canvas) {
  const ctx = canvas.getContext("2d");
  const N = scene.networks.map((net, i) => ({ net, R: L.networks[i], geo: networkGeometry(net, L.networks[i], L.dpr), bg: null }));
  const P = scene.panels.map((p, i) => ({
    p, R: { ...L.panels[i], dpr: L.dpr }, full: [], empty: [], order: [],
    cur: null, curPage: -1, curK: -1, hadHl: false,
  }));
  let needRedraw = true;

  function pageAt(p, k) {
    return p.page && k < p.page.length ? clamp(p.page[k], 0, p.nPages - 1) : 0;
  }

  function pageImages(st, page) {
    if (!st.full[page]) {
      st.full[page] = renderPage(scene, st.p, st.R, page, true);
      if (st.p.reveal) st.empty[page] = renderPage(scene, st.p, st.R, page, false);
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

  // Bring the panel's current image to frame k. Returns true if it changed.
  function updatePanel(st, k) {
    const p = st.p;
    const page = pageAt(p, k);
    if (page === st.curPage && (k === st.curK || !p.reveal)) return false;
    const full = pageImages(st, page);
    if (!st.cur) st.cur = makeCanvas(st.R.w, st.R.h);
    const g = st.cur.getContext("2d");
    if (!p.reveal) {
      g.drawImage(full, 0, 0);
    } else {
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

  // The parts of a network that never change: title, every line (faded), column labels, note.
  function networkBackground(st) {
    const { net, R, geo } = st;
    const dpr = L.dpr, d = (v) => Math.round(v * dpr);
    const cv = makeCanvas(R.w, R.h);
    const g = cv.getContext("2d");
    g.translate(-R.x, -R.y);
    g.fillStyle = "#fff";
    g.fillRect(R.x, R.y, R.w, R.h);
    g.fillStyle = "#222";
    g.font = `600 ${d(14)}px ${FONT}`;
    g.textAlign = "center";
    g.textBaseline = "top";
    g.fillText(fitText(g, net.title, R.w), R.x + R.w / 2, R.y + d(4));
    g.globalAlpha = 0.35;
    g.lineCap = "round";
    for (let l = 0; l + 1 < net.sizes.length; l++) {
      const nIn = net.sizes[l], nOut = net.sizes[l + 1];
      for (let j = 0; j < nOut; j++) {
        for (let i = 0; i < nIn; i++) {
          const w = net.weights[net.wOff[l] + j * nIn + i];
          if (Number.isNaN(w)) continue;
          const a = net.offsets[l] + i, b = net.offsets[l + 1] + j;
          g.strokeStyle = lutColor(scene, w, net.maxW);
          g.lineWidth = Math.max(0.5, (0.4 + 2.6 * Math.abs(w) / net.maxW) * dpr);
          g.beginPath();
          g.moveTo(geo.xs[a], geo.ys[a]);
          g.lineTo(geo.xs[b], geo.ys[b]);
          g.stroke();
        }
      }
    }
    g.globalAlpha = 1;
    g.fillStyle = "#333";
    g.font = `${d(12)}px ${FONT}`;
    g.textBaseline = "top";
    const L1 = net.sizes.length;
    const colW = L1 > 1 ? (geo.xs[net.offsets[1]] - geo.xs[0]) : R.w;
    net.sizes.forEach((n, c) => {
      g.fillText(fitText(g, String(net.labels[c] ?? ""), colW - d(6)), geo.xs[net.offsets[c]], geo.bottom + d(4));
    });
    if (net.note) {
      g.font = `600 ${d(13)}px ${FONT}`;
      g.fillStyle = "#222";
      g.fillText(fitText(g, net.note, R.w - d(10)), R.x + R.w / 2, geo.bottom + d(24));
    }
    return cv;
  }

  // A network at frame k: the background, the lit neuron's incoming lines, every neuron.
  function drawNetwork(st, k) {
    const { net, R, geo } = st;
    if (!st.bg) st.bg = networkBackground(st);
    const dpr = L.dpr, d = (v) => Math.round(v * dpr);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(st.bg, R.x, R.y);
    const page = net.page && k < net.page.length ? clamp(net.page[k], 0, net.nPages - 1) : 0;
    const act = net.active && k < net.active.length ? net.active[k] : -1;
    let col = -1;
    if (act >= 0) for (let c = 0; c < net.sizes.length; c++) if (act >= net.offsets[c] && act < net.offsets[c + 1]) col = c;
    if (col > 0) {
      const l = col - 1, j = act - net.offsets[col], nIn = net.sizes[l];
      ctx.lineCap = "round";
      for (let i = 0; i < nIn; i++) {
        const w = net.weights[net.wOff[l] + j * nIn + i];
        if (Number.isNaN(w)) continue;
        const a = net.offsets[l] + i;
        ctx.beginPath();
        ctx.moveTo(geo.xs[a], geo.ys[a]);
        ctx.lineTo(geo.xs[act], geo.ys[act]);
        ctx.strokeStyle = "rgba(0,0,0,0.55)";
        ctx.lineWidth = (1.6 + 3.4 * Math.abs(w) / net.maxW) * dpr + 2 * dpr;
        ctx.stroke();
        ctx.strokeStyle = lutColor(scene, w, net.maxW);
        ctx.lineWidth = (1.6 + 3.4 * Math.abs(w) / net.maxW) * dpr;
        ctx.stroke();
      }
    }
    const r = geo.radius;
    const showNum = r >= d(11);
    ctx.font = `${d(r >= d(15) ? 11 : 9)}px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const base = page * net.T;
    for (let t = 0; t < net.T; t++) {
      const shown = !net.reveal || net.reveal[base + t] <= k;
      const v = net.values[base + t];
      ctx.beginPath();
      ctx.arc(geo.xs[t], geo.ys[t], r, 0, 2 * Math.PI);
      ctx.fillStyle = shown ? lutColor(scene, v, scene.vmax) : EMPTY_FILL;
      ctx.fill();
      ctx.strokeStyle = shown ? "#666" : EMPTY_EDGE;
      ctx.lineWidth = Math.max(1, dpr);
      ctx.stroke();
      if (shown && showNum) {
        const color = lutColor(scene, v, scene.vmax).match(/\d+/g).map(Number);
        const lum = 0.2126 * color[0] + 0.7152 * color[1] + 0.0722 * color[2];
        ctx.fillStyle = lum > 140 ? "#111" : "#fff";
        ctx.fillText(formatValue(v, 2), geo.xs[t], geo.ys[t] + dpr * 0.5);
      }
    }
    if (act >= 0 && act < net.T) {
      ctx.beginPath();
      ctx.arc(geo.xs[act], geo.ys[act], r + d(3), 0, 2 * Math.PI);
      ctx.strokeStyle = scene.colors.output || "#000";
      ctx.lineWidth = d(3);
      ctx.stroke();
    }
  }

  function drawStatic() {
    const dpr = L.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    // titles
    ctx.fillStyle = "#222";
    ctx.font = `600 ${Math.round(14 * dpr)}px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    P.forEach((st) => {
      const R = st.R;
      ctx.fillText(fitText(ctx, st.p.title, Math.max(R.slot, R.w + Math.round(OP_W * dpr))), R.x + R.w / 2, R.y - Math.round(8 * dpr));
    });
    // operators
    ctx.font = `${Math.round(30 * dpr)}px ${FONT}`;
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    L.ops.forEach((o) => ctx.fillText(o.text, o.x, L.top + L.maxH / 2));
    drawLegend();
  }

  function drawLegend() {
    const dpr = L.dpr, d = (v) => Math.round(v * dpr);
    let x = d(PAD);
    const y = L.legendY;
    const barW = d(180), barH = d(12);
    // gradient bar from the LUT
    if (scene.lutN) {
      const img = new ImageData(scene.lutN, 1);
      for (let i = 0; i < scene.lutN; i++) {
        img.data[4 * i] = scene.lut[3 * i];
        img.data[4 * i + 1] = scene.lut[3 * i + 1];
        img.data[4 * i + 2] = scene.lut[3 * i + 2];
        img.data[4 * i + 3] = 255;
      }
      const t = makeCanvas(scene.lutN, 1);
      t.getContext("2d").putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(t, 0, 0, scene.lutN, 1, x, y, barW, barH);
    }
    ctx.strokeStyle = "#888";
    ctx.lineWidth = Math.max(1, Math.round(dpr));
    ctx.strokeRect(x, y, barW, barH);
    ctx.fillStyle = "#333";
    ctx.font = `${d(12)}px ${FONT}`;
    ctx.textBaseline = "top";
    const ty = y + barH + d(4);
    ctx.textAlign = "left";
    ctx.fillText(fmtTick(-scene.vmax), x, ty);
    ctx.textAlign = "center";
    ctx.fillText("0", x + barW / 2, ty);
    ctx.textAlign = "right";
    ctx.fillText("+" + fmtTick(scene.vmax), x + barW, ty);
    // key of highlights and special cells
    x += barW + d(28);
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    const my = y + barH / 2;
    const sw = d(14);
    const item = (drawSwatch, label) => {
      drawSwatch(x, my - sw / 2);
      ctx.fillStyle = "#333";
      ctx.fillText(label, x + sw + d(6), my);
      x += sw + d(6) + ctx.measureText(label).width + d(18);
    };
    const seen = new Set();
    scene.highlights.forEach((h) => {
      if (seen.has(h.role)) return;
      seen.add(h.role);
      item((sx, sy) => {
        ctx.strokeStyle = h.color;
        ctx.lineWidth = d(2.5);
        ctx.setLineDash(h.dash.map((v) => v * dpr));
        ctx.strokeRect(sx, sy, sw, sw);
        ctx.setLineDash([]);
      }, h.role);
    });
    if (scene.panels.some((p) => p.padding && p.padding.some((v) => v))) {
      item((sx, sy) => {
        ctx.fillStyle = hatchPattern(ctx, dpr);
        ctx.fillRect(sx, sy, sw, sw);
      }, "padding");
    }
    if (scene.networks.some((w) => w.active)) {
      item((sx, sy) => {
        ctx.beginPath();
        ctx.arc(sx + sw / 2, sy + sw / 2, sw / 2 - d(1.5), 0, 2 * Math.PI);
        ctx.strokeStyle = scene.colors.output || "#000";
        ctx.lineWidth = d(2.5);
        ctx.stroke();
      }, "neuron being computed");
    }
    if (scene.panels.some((p) => p.reveal) || scene.networks.some((w) => w.reveal)) {
      item((sx, sy) => {
        ctx.fillStyle = EMPTY_EDGE;
        ctx.fillRect(sx, sy, sw, sw);
        ctx.fillStyle = EMPTY_FILL;
        ctx.fillRect(sx + d(1), sy + d(1), sw - 2 * d(1), sw - 2 * d(1));
      }, "not computed yet");
    }
  }

  function highlightRects(h, k, st) {
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

  function draw(k) {
    const hl = scene.highlights.map((h) => {
      const st = P[h.panel.index];
      return { h, st, rects: highlightRects(h, k, st) };
    });
    const hasHl = P.map(() => false);
    hl.forEach((x) => { if (x.rects.length) hasHl[x.st.p.index] = true; });
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    P.forEach((st, i) => {
      const changed = updatePanel(st, k);
      if (changed || needRedraw || st.hadHl || hasHl[i]) ctx.drawImage(st.cur, st.R.x, st.R.y);
      st.hadHl = hasHl[i];
    });
    const dpr = L.dpr;
    hl.forEach(({ h, st, rects }) => {
      if (!rects.length) return;
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
    });
    N.forEach((st) => drawNetwork(st, k));
    needRedraw = false;
  }

  // Pre-renders one page image not made yet; false once every page is ready.
  function warmOne() {
    for (const st of P) {
      for (let pg = 0; pg < st.p.nPages; pg++) {
        if (!st.full[pg]) { pageImages(st, pg); return true; }
      }
    }
    return false;
  }

  return { draw, drawStatic, warmOne };
}

// ---------------------------------------------------------------------------------
// Export: the frames drawn again by a renderer of their own on an offscreen canvas, one CSS px
// per pixel, each with its caption under the picture, and encoded in the browser (GIF: gif.js,
// WebM: MediaRecorder, PNG: the canvas). Nothing reaches the kernel.

const EXPORT_MAX_FRAMES = 600;
const CAPTION_FONT = `13px ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace`;
const CAPTION_LINE_H = 18;
const CAPTION_MAX_LINES = 8;
const CAPTION_BAR = 4; // the accent bar left of the caption, as on the page
const PALETTE_SAMPLES = 16; // frames whose colours choose a GIF's palette
const WORK_MS = 20; // work between two turns given back to the page
const WEBM_TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];

const utf8 = new TextDecoder("utf-8");

function captionOf(scene, k) {
  const a = scene.capOff[k] | 0, b = scene.capOff[k + 1] | 0;
  return b > a ? utf8.decode(scene.capBlob.subarray(a, b)) : "";
}

// The frames an animation export holds: all of them, or EXPORT_MAX_FRAMES from the one shown on
// (the last EXPORT_MAX_FRAMES when fewer are left). Returns [start, stop).
function exportRange(n, cur) {
  let start = clamp(cur, 0, Math.max(0, n - 1));
  if (n - start < EXPORT_MAX_FRAMES) start = Math.max(0, n - EXPORT_MAX_FRAMES);
  return [start, Math.min(n, start + EXPORT_MAX_FRAMES)];
}

// layerviz-<first word of the title>-<first>-<last>.<ext>, frames counted from 1 as on the counter.
function exportName(scene, start, stop, ext) {
  const word = /^[A-Za-z][A-Za-z0-9_]*/.exec(scene.title);
  const stem = `layerviz-${word ? word[0].toLowerCase() : "animation"}-${start + 1}`;
  return ext === "png" ? `${stem}.png` : `${stem}-${stop}.${ext}`;
}

function webmType() {
  if (typeof MediaRecorder === "undefined" || !("captureStream" in HTMLCanvasElement.prototype)) return null;
  return WEBM_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || null;
}

// Lines of `text` no wider than `width` in ctx's font: its own line breaks, then words, then characters.
function wrapText(ctx, text, width) {
  const lines = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(" ")) {
      const next = line ? `${line} ${word}` : word;
      if (ctx.measureText(next).width <= width) { line = next; continue; }
      if (line) lines.push(line);
      line = word;
      while (line.length > 1 && ctx.measureText(line).width > width) {
        let cut = line.length - 1;
        while (cut > 1 && ctx.measureText(line.slice(0, cut)).width > width) cut--;
        lines.push(line.slice(0, cut));
        line = line.slice(cut);
      }
    }
    lines.push(line);
  }
  return lines;
}

// An offscreen canvas showing frames [start, stop) of `scene` laid out `cssWidth` wide, with a
// caption box under the picture tall enough for the longest of their captions.
function createCamera(scene, cssWidth, start, stop) {
  const canvas = makeCanvas(1, 1);
  const ctx = canvas.getContext("2d", { willReadFrequently: true }); // every frame is read back
  const L = layoutScene(scene, cssWidth, 1, titleWidth(ctx));
  const textW = L.width - 2 * PAD - CAPTION_BAR - 20;
  ctx.font = CAPTION_FONT;
  const lines = new Map();
  let most = 1;
  for (let k = start; k < stop; k++) {
    let wrapped = wrapText(ctx, captionOf(scene, k), textW);
    if (wrapped.length > CAPTION_MAX_LINES) {
      wrapped = wrapped.slice(0, CAPTION_MAX_LINES);
      wrapped[CAPTION_MAX_LINES - 1] = fitText(ctx, `${wrapped[CAPTION_MAX_LINES - 1]}…`, textW);
    }
    lines.set(k, wrapped);
    most = Math.max(most, wrapped.length);
  }
  const boxY = L.height, boxH = most * CAPTION_LINE_H + 16;
  canvas.width = L.width;
  canvas.height = L.height + boxH + PAD;
  const renderer = createRenderer(scene, L, canvas);
  renderer.drawStatic();

  function draw(k) {
    renderer.draw(k);
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, boxY, canvas.width, canvas.height - boxY);
    ctx.fillStyle = "#f4f7fb";
    ctx.fillRect(PAD, boxY, L.width - 2 * PAD, boxH);
    ctx.fillStyle = "#0b63c5";
    ctx.fillRect(PAD, boxY, CAPTION_BAR, boxH);
    ctx.fillStyle = "#1f2328";
    ctx.font = CAPTION_FONT;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    lines.get(k).forEach((line, i) => ctx.fillText(line, PAD + CAPTION_BAR + 10, boxY + 8 + i * CAPTION_LINE_H + 2));
  }

  return { canvas, ctx, draw };
}

// Gives the page a turn (input, painting, the Cancel button). A MessageChannel message, unlike
// setTimeout, is not slowed to one a second while the tab is in the background.
function yieldToPage() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

// Between two frames of an export: after WORK_MS of work, let the page run. True once cancelled.
async function breathe(job) {
  if (performance.now() - job.since > WORK_MS) {
    await yieldToPage();
    job.since = performance.now();
  }
  return job.cancelled;
}

// Frames [start, stop) as an animated GIF (null if cancelled). The palette comes from a sample
// of the frames; each GIF frame holds only what changed since the previous one (gif.js).
async function encodeGif(camera, start, stop, delayCs, job, progress) {
  const { width, height } = camera.canvas;
  const pixelsOf = (k) => {
    camera.draw(k);
    return new Uint32Array(camera.ctx.getImageData(0, 0, width, height).data.buffer);
  };
  const histogram = new Map();
  const samples = Math.min(stop - start, PALETTE_SAMPLES);
  for (let i = 0; i < samples; i++) {
    countColours(pixelsOf(start + Math.floor((i * (stop - start)) / samples)), histogram);
    if (await breathe(job)) return null;
  }
  const palette = buildPalette(histogram);
  const quantizer = new Quantizer(palette);
  const gif = new GifWriter(width, height, palette, { delayCs, transparent: quantizer.transparent });
  let prev = null;
  for (let k = start; k < stop; k++) {
    const pixels = pixelsOf(k);
    const box = prev === null ? { x: 0, y: 0, w: width, h: height }
      : changedBox(prev, pixels, width, height) || { x: 0, y: 0, w: 1, h: 1 };
    gif.addFrame(quantizer.indices(pixels, width, box, prev), box);
    prev = pixels;
    progress(k - start + 1);
    if (await breathe(job)) return null;
  }
  return gif.finish();
}

// Frames [start, stop) recorded as a WebM video (null if cancelled). MediaRecorder stamps each
// frame with the time it arrives, so the frames are drawn in real time, `fps` a second.
async function recordWebm(camera, start, stop, fps, job, progress) {
  const stream = camera.canvas.captureStream(0);
  const track = stream.getVideoTracks()[0];
  const recorder = new MediaRecorder(stream, { mimeType: webmType(), videoBitsPerSecond: 4e6 });
  const chunks = [];
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  const t0 = performance.now();
  for (let k = start; k < stop && !job.cancelled; k++) {
    camera.draw(k);
    track.requestFrame();
    progress(k - start + 1);
    const due = t0 + ((k - start + 1) * 1000) / fps;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
  recorder.stop();
  await stopped;
  track.stop();
  return job.cancelled ? null : new Blob(chunks, { type: "video/webm" });
}

function pngOf(camera, k) {
  camera.draw(k);
  return new Promise((resolve) => camera.canvas.toBlob(resolve, "image/png"));
}

function sizeText(bytes) {
  return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

export default {
  render({ model, el }) {
    const root = document.createElement("div");
    root.className = "layerviz-player";
    root.tabIndex = 0;
    root.setAttribute("role", "group");
    root.dataset.frame = "0";
    root.dataset.nFrames = "0";
    root.dataset.drawn = "0";
    root.dataset.playing = "false";
    root.dataset.exporting = "";
    root.innerHTML = `
      <div class="lvp-title"></div>
      <div class="lvp-stage"><canvas class="lvp-canvas" role="img"></canvas></div>
      <div class="lvp-controls">
        <button type="button" class="lvp-btn lvp-first" aria-label="First frame" title="First frame (Home)">${svgIcon("first")}</button>
        <button type="button" class="lvp-btn lvp-back" aria-label="Step back" title="Step back (←)">${svgIcon("back")}</button>
        <button type="button" class="lvp-btn lvp-play" aria-label="Play" title="Play / pause (space)">${svgIcon("play")}</button>
        <button type="button" class="lvp-btn lvp-forward" aria-label="Step forward" title="Step forward (→)">${svgIcon("forward")}</button>
        <button type="button" class="lvp-btn lvp-last" aria-label="Last frame" title="Last frame (End)">${svgIcon("last")}</button>
        <input type="range" class="lvp-slider" min="0" max="0" step="1" value="0" aria-label="Frame">
        <span class="lvp-counter" aria-label="Frame number">0 / 0</span>
        <label class="lvp-speed">Speed
          <select class="lvp-fps" aria-label="Speed in frames per second"></select>
        </label>
      </div>
      <div class="lvp-caption" aria-live="polite" aria-atomic="true"></div>
      <div class="lvp-export" role="group" aria-label="Save">
        <button type="button" class="lvp-save" data-kind="gif">Save GIF</button>
        <button type="button" class="lvp-save" data-kind="webm">Save WebM</button>
        <button type="button" class="lvp-save" data-kind="png">Save frame as PNG</button>
        <progress class="lvp-progress" max="1" value="0" aria-label="Export progress" hidden></progress>
        <button type="button" class="lvp-save lvp-cancel" hidden>Cancel</button>
        <span class="lvp-export-status" role="status"></span>
      </div>
      <div class="lvp-help">Keys: <kbd>space</kbd> play / pause · <kbd>←</kbd> <kbd>→</kbd> step · <kbd>Home</kbd> <kbd>End</kbd> first / last</div>`;
    el.appendChild(root);
    const $ = (s) => root.querySelector(s);
    const titleEl = $(".lvp-title"), canvas = $(".lvp-canvas"), stage = $(".lvp-stage");
    const btnFirst = $(".lvp-first"), btnBack = $(".lvp-back"), btnPlay = $(".lvp-play");
    const btnFwd = $(".lvp-forward"), btnLast = $(".lvp-last");
    const slider = $(".lvp-slider"), counter = $(".lvp-counter"), fpsSel = $(".lvp-fps");
    const captionEl = $(".lvp-caption");
    const exportRow = $(".lvp-export"), progressEl = $(".lvp-progress"), btnCancel = $(".lvp-cancel");
    const exportStatus = $(".lvp-export-status");
    const saveButtons = [...root.querySelectorAll(".lvp-save[data-kind]")];
    const ctx = canvas.getContext("2d");

    let scene = null; // decoded scene
    let renderer = null; // draws the scene on the visible canvas
    let cur = 0; // frame shown (or to be shown)
    let drawnK = -1; // frame last drawn (-1: none since the last build)
    let playing = false;
    let fps = 8;
    let nextT = null;
    let rafId = 0;
    let lastSyncT = -1e9;
    let syncTimer = 0;
    let kernelFrame = model.get("frame"); // the value the kernel knows
    let drawn = 0;
    let layoutWidth = 0;
    let captionK = -1;
    let destroyed = false;
    let job = null; // the export under way: {kind, cancelled, since}
    let downloadUrl = null; // the last export's file, kept for its link
    const stats = { draws: 0, drawMs: 0 }; // for benchmarks: root.__layerviz
    root.__layerviz = stats;

    // ---- speed select
    function fillFps() {
      const choices = FPS_CHOICES.includes(fps) ? FPS_CHOICES : [...FPS_CHOICES, fps].sort((a, b) => a - b);
      fpsSel.innerHTML = choices.map((f) => `<option value="${f}">${f} fps</option>`).join("");
      fpsSel.value = String(fps);
    }

    // ---- scene setup
    function loadScene() {
      scene = decodeScene(model.get("_scene"));
      const n = scene ? scene.n : 0;
      root.dataset.nFrames = String(n);
      titleEl.textContent = scene ? scene.title : "";
      canvas.setAttribute("aria-label", scene ? `Animation: ${scene.title}` : "No scene");
      root.setAttribute("aria-label", scene ? `Layer animation player: ${scene.title}` : "Layer animation player");
      slider.max = String(Math.max(0, n - 1));
      for (const b of [btnFirst, btnBack, btnPlay, btnFwd, btnLast, slider]) b.disabled = n === 0;
      for (const b of saveButtons) b.disabled = n === 0 || job !== null;
      cur = clamp(model.get("frame") | 0, 0, Math.max(0, n - 1));
      if (n === 0 && playing) setPlaying(false, false);
      captionK = -1;
      updateUi();
      build();
    }

    function build() {
      renderer = null;
      drawnK = -1;
      const dpr = window.devicePixelRatio || 1;
      layoutWidth = root.clientWidth || MAX_W;
      if (!scene || scene.n === 0) {
        canvas.width = 1; canvas.height = 1;
        canvas.style.width = "0px"; canvas.style.height = "0px";
        captionEl.textContent = scene ? "" : "No scene to show.";
        updateUi();
        root.dataset.ready = "1";
        return;
      }
      const L = layoutScene(scene, layoutWidth - 2, dpr, titleWidth(ctx));
      canvas.width = L.width;
      canvas.height = L.height;
      canvas.style.width = `${L.width / dpr}px`;
      canvas.style.height = `${L.height / dpr}px`;
      const built = createRenderer(scene, L, canvas);
      renderer = built;
      renderer.drawStatic();
      schedule();
      // Pre-render the other pages in the background, two at a time.
      const warm = () => {
        if (destroyed || renderer !== built) return;
        const more = built.warmOne() && built.warmOne();
        if (more) setTimeout(warm, 30);
      };
      setTimeout(warm, 200);
    }

    function draw(k) {
      if (!renderer) return;
      const t0 = performance.now();
      renderer.draw(k);
      drawnK = k;
      drawn++;
      stats.draws = drawn;
      stats.drawMs += performance.now() - t0;
      root.dataset.drawn = String(drawn);
      window.__layerviz_draws = (window.__layerviz_draws || 0) + 1;
      updateCaption(k);
      if (!root.dataset.ready) root.dataset.ready = "1";
    }

    function updateCaption(k) {
      if (k === captionK || !scene) return;
      captionK = k;
      captionEl.textContent = captionOf(scene, k);
    }

    function updateUi() {
      const n = scene ? scene.n : 0;
      root.dataset.frame = String(cur);
      slider.value = String(cur);
      counter.textContent = n ? `${cur + 1} / ${n}` : "0 / 0";
      if (n) updateCaption(cur);
    }

    // ---- clock and sync
    function schedule() {
      if (!rafId && !destroyed) rafId = requestAnimationFrame(onFrame);
    }

    function onFrame(t) {
      rafId = 0;
      if (destroyed) return;
      if (playing && scene && scene.n) {
        const interval = 1000 / fps;
        if (nextT === null) {
          nextT = t + interval;
        } else if (t + 1 >= nextT) {
          const steps = 1 + Math.floor((t + 1 - nextT) / interval);
          nextT += steps * interval;
          if (t - nextT > 250) nextT = t + interval;
          const k = cur + steps;
          if (k >= scene.n - 1) {
            cur = scene.n - 1;
            updateUi();
            setPlaying(false, true);
          } else {
            cur = k;
            updateUi();
          }
        }
      }
      if (cur !== drawnK) draw(cur);
      if (playing) schedule();
    }

    // Send the frame (and extra attributes) to the kernel now.
    function sendState(extra) {
      if (syncTimer) { clearTimeout(syncTimer); syncTimer = 0; }
      let dirty = false;
      if (model.get("frame") !== cur) { kernelFrame = cur; model.set("frame", cur); dirty = true; }
      for (const [key, v] of Object.entries(extra)) {
        if (model.get(key) !== v) { model.set(key, v); dirty = true; }
      }
      kernelFrame = cur;
      lastSyncT = performance.now();
      if (dirty) model.save_changes();
    }

    // Sync soon: at once unless we synced less than SYNC_MS ago, then at the end of it.
    function syncSoon() {
      const wait = lastSyncT + SYNC_MS - performance.now();
      if (wait <= 0) sendState({});
      else if (!syncTimer) syncTimer = setTimeout(() => { syncTimer = 0; sendState({}); }, wait);
    }

    function jump(k, sync) {
      if (!scene || !scene.n) return;
      cur = clamp(k | 0, 0, scene.n - 1);
      updateUi();
      schedule();
      if (sync) syncSoon();
    }

    function setPlaying(on, fromUser) {
      if (on && (!scene || !scene.n)) on = false;
      if (on && fromUser && cur >= scene.n - 1) { cur = 0; updateUi(); }
      playing = on;
      nextT = null;
      root.dataset.playing = String(on);
      btnPlay.innerHTML = svgIcon(on ? "pause" : "play");
      btnPlay.setAttribute("aria-label", on ? "Pause" : "Play");
      btnPlay.classList.toggle("lvp-on", on);
      captionEl.setAttribute("aria-busy", String(on));
      if (fromUser) sendState({ playing: on });
      // Paused by Python, which may read the frame next: send it once the whole update from
      // Python is applied (it may also have set the frame).
      else if (!on) queueMicrotask(() => { if (!destroyed) sendState({}); });
      if (on) schedule();
    }

    function step(d) {
      if (playing) setPlaying(false, true);
      jump(cur + d, true);
    }

    // ---- export
    const WEBM = webmType();
    const range = `every frame, or ${EXPORT_MAX_FRAMES} from the one shown on`;
    const TIPS = {
      gif: `The animation as a GIF, made in your browser: ${range}`,
      webm: `The animation as a WebM video, recorded in your browser in real time at the speed chosen: ${range}`,
      png: "The frame shown, with its caption, as a PNG",
    };
    for (const b of saveButtons) b.title = TIPS[b.dataset.kind];
    saveButtons.find((b) => b.dataset.kind === "webm").hidden = !WEBM;

    function setExporting(kind, total) {
      root.dataset.exporting = kind;
      for (const b of saveButtons) b.disabled = kind !== "" || !scene || !scene.n;
      progressEl.hidden = btnCancel.hidden = kind === "" || total < 2;
      progressEl.max = Math.max(1, total);
      progressEl.value = 0;
    }

    function offerDownload(blob, name) {
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      downloadUrl = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = downloadUrl;
      link.download = name;
      link.textContent = name;
      exportStatus.replaceChildren("Saved ", link, ` (${sizeText(blob.size)})`);
      link.click();
    }

    async function runExport(kind) {
      if (job || !scene || !scene.n) return;
      const exported = scene; // a new scene from Python does not change an export under way
      const [start, stop] = kind === "png" ? [cur, cur + 1] : exportRange(exported.n, cur);
      const name = exportName(exported, start, stop, kind);
      const thisJob = job = { kind, cancelled: false, since: performance.now() };
      setExporting(kind, stop - start);
      exportStatus.textContent = stop - start > 1 ? `Making ${name} (${stop - start} frames)…` : "";
      const progress = (done) => { progressEl.value = done; };
      try {
        const camera = createCamera(exported, layoutWidth - 2, start, stop);
        let blob;
        if (kind === "gif") blob = await encodeGif(camera, start, stop, Math.max(2, Math.round(100 / fps)), thisJob, progress);
        else if (kind === "webm") blob = await recordWebm(camera, start, stop, fps, thisJob, progress);
        else blob = await pngOf(camera, start);
        if (destroyed) return;
        if (thisJob.cancelled || !blob) exportStatus.textContent = "Cancelled: nothing saved.";
        else offerDownload(blob, name);
      } catch (err) {
        console.warn("layerviz: export failed", err);
        exportStatus.textContent = "The file could not be made; try a PNG of one frame.";
      } finally {
        job = null;
        if (!destroyed) setExporting("", 0);
      }
    }

    for (const b of saveButtons) b.addEventListener("click", () => runExport(b.dataset.kind));
    btnCancel.addEventListener("click", () => { if (job) job.cancelled = true; });

    // ---- events
    const onClick = (fn) => (e) => { e.preventDefault(); fn(); root.focus({ preventScroll: true }); };
    btnFirst.addEventListener("click", onClick(() => { if (playing) setPlaying(false, true); jump(0, true); }));
    btnLast.addEventListener("click", onClick(() => { if (playing) setPlaying(false, true); jump(scene ? scene.n - 1 : 0, true); }));
    btnBack.addEventListener("click", onClick(() => step(-1)));
    btnFwd.addEventListener("click", onClick(() => step(1)));
    btnPlay.addEventListener("click", (e) => { e.preventDefault(); setPlaying(!playing, true); });
    slider.addEventListener("input", () => {
      if (playing) setPlaying(false, true);
      jump(Number(slider.value), false);
    });
    slider.addEventListener("change", () => { jump(Number(slider.value), false); sendState({}); });
    fpsSel.addEventListener("change", () => {
      fps = clamp(Number(fpsSel.value) | 0, 1, 60);
      nextT = null;
      model.set("fps", fps);
      model.save_changes();
    });
    canvas.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
    const SLIDER_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);
    root.addEventListener("keydown", (e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const tgt = e.target;
      if (tgt === fpsSel || exportRow.contains(tgt)) return;
      if (tgt === slider && SLIDER_KEYS.has(e.key)) return; // the slider moves itself
      switch (e.key) {
        case " ":
        case "Spacebar":
          if (tgt === btnPlay) return; // the button toggles on its own
          setPlaying(!playing, true);
          break;
        case "ArrowRight": step(1); break;
        case "ArrowLeft": step(-1); break;
        case "Home": if (playing) setPlaying(false, true); jump(0, true); break;
        case "End": if (playing) setPlaying(false, true); jump(scene ? scene.n - 1 : 0, true); break;
        default: return;
      }
      e.preventDefault();
      e.stopPropagation();
    });
    // Space on a focused button: keydown toggles play (above); stop the button's own click.
    root.addEventListener("keyup", (e) => {
      if ((e.key === " " || e.key === "Spacebar") && e.target.tagName === "BUTTON" && e.target !== btnPlay
          && !exportRow.contains(e.target)) e.preventDefault();
    });

    // ---- model changes (from Python)
    const onScene = () => loadScene();
    const onFrameChange = () => {
      const v = model.get("frame") | 0;
      if (v === kernelFrame || v === cur) { kernelFrame = v; return; }
      kernelFrame = v;
      jump(v, false);
    };
    const onPlaying = () => {
      const v = !!model.get("playing");
      if (v !== playing) setPlaying(v, false);
    };
    const onFps = () => {
      fps = clamp(model.get("fps") | 0, 1, 60);
      nextT = null;
      fillFps();
    };
    model.on("change:_scene", onScene);
    model.on("change:frame", onFrameChange);
    model.on("change:playing", onPlaying);
    model.on("change:fps", onFps);

    let resizeRaf = 0;
    const ro = new ResizeObserver(() => {
      if (resizeRaf) return;
      resizeRaf = requestAnimationFrame(() => {
        resizeRaf = 0;
        const w = root.clientWidth;
        if (w && Math.abs(Math.min(w, MAX_W) - Math.min(layoutWidth, MAX_W)) > 16) build();
      });
    });
    ro.observe(root);

    fps = clamp(model.get("fps") | 0, 1, 60);
    fillFps();
    loadScene();
    if (model.get("playing")) setPlaying(true, false);

    return () => {
      destroyed = true;
      if (job) job.cancelled = true;
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      if (rafId) cancelAnimationFrame(rafId);
      if (resizeRaf) cancelAnimationFrame(resizeRaf);
      if (syncTimer) clearTimeout(syncTimer);
      ro.disconnect();
      model.off("change:_scene", onScene);
      model.off("change:frame", onFrameChange);
      model.off("change:playing", onPlaying);
      model.off("change:fps", onFps);
    };
  },
};
