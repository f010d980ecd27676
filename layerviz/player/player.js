// layerviz player: animates a layerviz Scene in the browser.
//
// A generic renderer of the scene primitives (grids, highlights, captions): it knows
// nothing about any layer. The scene arrives once (binary buffers); the clock runs
// here (requestAnimationFrame). The kernel hears the current frame only when Python may
// need it: on pause (and at the end), step, first / last, scrub release and keyboard steps;
// never while playing or while the slider is dragged. Exports (GIF, WebM, PNG) are drawn
// and encoded here too (gif.js), without the kernel.
//
// A scene always fits its player: the panels' cells shrink, a row too crowded is wrapped into rows, and what
// still does not fit is scaled down (no sideways scrolling). Panels that are pictures are drawn in greys, the rest
// in the diverging map; the legend says each outline in the words its layer gave it. Under the canvas, a line
// reads out the numbers of the lit cells of panels too small to print them. Presenter mode (a button, or
// ?presenter=1 in the page's address) makes the text and cells larger, for a projector.
//
// Per frame the work is tiny: each panel page is pre-rendered once to offscreen
// canvases ("full" with values, "empty"), a per-panel "current" canvas is updated
// incrementally for cells whose `reveal` lies between the previous and the new frame,
// then the panels are blitted and the highlights stroked.

const PAD = 12; // canvas margin (CSS px)
const TITLE_H = 26; // panel title line
const LABEL_H = 17; // slice label line
const COLLAB_H = 15; // a line of column labels (a grid's col_labels)
const ROWLAB_GAP = 4; // between row labels and their row
const NOTE_H = 17; // a panel's own colour scale, written under it
const ROW_GAP = 14; // between rows of panels (a scene too wide for one row is wrapped)
const SLICE_GAP = 10; // between stacked slices
const HL_M = 4; // margin around a panel's grids, room for highlight outlines
const OP_W = 52; // room for an operator between panels
const GAP_W = 28; // between panels without operator
const LEGEND_GAP = 14;
const LEGEND_LINE_H = 36; // a line of the legend: the colour bar and its ticks, or the key of outlines
const MAX_W = 1000; // widest canvas (CSS px)
const MAX_W_PRESENTER = 1880; // widest canvas in presenter mode (a projector)
const MAX_GRID_H = 440; // tallest panel (CSS px) before cells shrink (fits 1280x720)
const MAX_SCENE_H = 560; // panels wrapped into rows (to print their numbers) stay within this height (CSS px)
const SLICE_GAP_X = 12; // between columns of slices
const CMIN = 4; // smallest cell
const CMAX = 40; // largest cell
const MIN_ROW_CELL = 6; // a row of panels whose cells would be smaller than this is wrapped into rows
const SMALL_PANEL_W = 112; // small panels (e.g. a 3x3 kernel) are drawn at least this wide
const NUM_MIN_CELL = 22; // print numbers in cells at least this big
const GBOX_W = 96; // a graph's box (GraphLayout): width
const GBOX_H = 36; // and height
const GCOL_GAP = 60; // least room between two columns of boxes: an arrow and its shape
const GCOL_MAX = 120; // most room between two columns (a small graph is not spread over the whole width)
const GROW_GAP = 22; // between two rows of boxes
const GSIDE = 18; // left and right of a graph's bands: the arrows going from a band to the next
const GBAND_GAP = 30; // between two bands of columns (a graph too wide is wrapped)
const GLABEL_SHIFT = 130; // arrows from a band to the next: each row's shape written this much further right
const GNOTE_H = 18; // the note under a graph
const FLOW_GRID_H = 300; // tallest panel (CSS px) of a set of panels shown on some frames only (a flow's preview)
const FLOW_TITLE_W = 140; // a flow's set of panels: a title asks for its share of the width, at least this
const PRESENTER_SCALE = 1.4; // presenter mode: text and cells this much larger
const READOUT_MAX = 8; // values of one outline listed under the canvas
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
      cmap: p.cmap === "grey" ? "grey" : "diverging",
      rowLabels: Array.isArray(p.row_labels) && p.row_labels.length === H ? p.row_labels.map(String) : [],
      colLabels: Array.isArray(p.col_labels) && p.col_labels.length === W ? p.col_labels.map(String) : [],
      shown: typed(p.shown, Uint8Array),
    };
  });
  const byName = new Map(panels.map((p) => [p.name, p]));
  const highlights = (raw.highlights || []).map((h) => {
    const stencil = typed(h.stencil, Int32Array) || new Int32Array(0);
    return {
      panel: byName.get(h.panel) || panels[h.panel_index],
      role: h.role, label: String(h.label || h.role || ""), color: h.color || "#000",
      dash: Array.isArray(h.dash) ? h.dash : [],
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
    graphs: (raw.graphs || []).map(decodeGraph),
  };
}

// A GraphLayout: boxes at (column, row), arrows (source, target) with the rows they run along between.
function decodeGraph(g) {
  const column = typed(g.column, Int32Array) || new Int32Array(0), row = typed(g.row, Int32Array) || new Int32Array(0);
  const edges = typed(g.edges, Int32Array) || new Int32Array(0);
  const N = Math.min(column.length, row.length, (g.nodes || []).length), E = Math.floor(edges.length / 2);
  const bendStart = [], bendCount = [];
  let at = 0;
  for (let e = 0; e < E; e++) {
    const span = Math.max(0, column[edges[2 * e + 1]] - column[edges[2 * e]] - 1);
    bendStart.push(at); bendCount.push(span); at += span;
  }
  let nColumns = 1;
  for (let i = 0; i < N; i++) nColumns = Math.max(nColumns, column[i] + 1);
  return {
    title: g.title || "", nodes: (g.nodes || []).map(String), labels: (g.labels || []).map(String),
    edgeLabels: (g.edge_labels || []).map(String), column, row, edges, N, E, nColumns, bendStart, bendCount,
    bendRows: typed(g.bend_rows, Int32Array) || new Int32Array(at),
    reveal: typed(g.reveal, Int32Array), active: typed(g.active, Int32Array), note: g.note || "",
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

// Neuron centres and radius (device px) of a network drawn in the box R; ts: the text scale.
function networkGeometry(net, R, dpr, ts = 1) {
  const d = (v) => Math.round(v * dpr);
  const top = R.y + d(28 * ts), bottom = R.y + R.h - d((net.note ? 44 : 26) * ts);
  const left = R.x + d(80 * ts), right = R.x + R.w - d(95 * ts); // room for the columns' labels
  const L = net.sizes.length;
  const maxN = Math.max(...net.sizes);
  const step = Math.min((bottom - top) / maxN, d(46 * ts));
  const radius = clamp(step * 0.38, Math.max(1.5, dpr * 1.5), d(17 * ts));
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

// The colour of value v in panel p, as [r, g, b]: greys for a picture (0 black, the panel's vmax or 1 white),
// else the scene's diverging map on the panel's scale.
function cellRgb(scene, p, v) {
  if (Number.isNaN(v)) return [230, 230, 230];
  if (p.cmap === "grey") {
    const g = Math.round(clamp(v / (p.vmax || 1), 0, 1) * 255);
    return [g, g, g];
  }
  if (!scene.lutN) return [230, 230, 230];
  const vmax = p.vmax || scene.vmax;
  const t = clamp((v + vmax) / (2 * vmax), 0, 1);
  const li = Math.round(t * (scene.lutN - 1)) * 3;
  return [scene.lut[li], scene.lut[li + 1], scene.lut[li + 2]];
}

// The words written under a panel: its own colour scale (a diverging panel with a vmax of its own).
function panelNote(p) {
  return p.cmap !== "grey" && p.vmax > 0 ? `scale ±${fmtTick(p.vmax)}` : "";
}

// ---------------------------------------------------------------------------------
// Layout: cell sizes and positions, all in device pixels.
//
// The panels are laid out left to right in one row, their cells as large as the row allows: the row must fit
// the player's width (a scene never scrolls sideways). A row whose cells would be too small is wrapped into
// rows of panels; what still does not fit is scaled down as a whole (build()).

// The text of a scene's legend, in order: colour bars, then the key of outlines and special cells.
function legendEntries(scene) {
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

// Whether a highlight outlines a cell of its panel at some frame (one never shown has no place in the legend:
// a scene hides a highlight by moving its origin off the grid).
function everShown(h) {
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

// Legend entries placed in lines no wider than `width` (CSS px): [{entry, x, line}], and the number of lines.
function legendLayout(scene, width, ts, measure) {
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

// Sizes (CSS px) of one row of panels for given slice columns per panel: the largest shared cell for which the
// row fits maxW (small panels, a kernel, get bigger cells; tall ones the cell their height allows).
function rowSizes(panels, ncols, maxW, K) {
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
const MAX_ROW_CHOICES = 256;

// The best sizes of panels [first, last) as one row: every choice of slice columns per panel tried (or, for many
// panels, a search that stays linear in their number).
function bestRow(panels, first, last, maxW, K) {
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

// Rows of panels: one row if its cells are big enough for their numbers; else two or three rows if that makes them
// so within a height a screen shows; else one row if its cells stay readable; else the rows with the largest cells.
function panelRows(panels, maxW, K) {
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

// The sets of panels drawn together: a panel with `shown` is drawn on those frames only (a model's flow shows the
// node being computed). Returns { sets: arrays of panel indices, frameSet: the set of each frame (null: one set,
// every panel, at every frame) }. Linear in frames x panels; a panel never shown gets a set of its own.
function panelSets(scene) {
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

// Panels `set` (indices into scene.panels) laid out in rows from the top y (device px), left to right. K holds the
// measures of every panel of the scene; an operator is drawn between panels, also before the first of a set
// unless `dropFirstOp` (a set of a flow: what comes before it is not on screen). Returns the panels' rectangles
// (in the set's order), the operators, the rows, the bottom and the right edge (device px).
function placePanels(scene, set, K, maxW, top0, dpr, ts, dropFirstOp) {
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

// A GraphLayout's boxes and arrows, in device px, from the top y: columns spread over the width maxW (CSS px) and,
// when they do not all fit, wrapped into bands of columns, one under the other; each band as tall as the rows it
// uses. An arrow is a list of points (orthogonal segments): out of its source's right side, along its own row
// through the columns it skips, into its target's left side; from one band to the next it goes round by the
// margins. Linear in boxes + arrows + their bends.
function graphGeometry(graph, top0, maxW, dpr, ts, measure) {
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

// The lines of a box's words and their font size (CSS px) for a box `width` wide.
function boxText(text, width, height, ts, measure) {
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
// ts scales text and cells (presenter mode). From the top: the graphs (a model's map), the panels (every set of
// panels shown together laid out in the same place), the networks, the legend.
function layoutScene(scene, cssWidth, dpr, measure = () => 0, ts = 1) {
  const panels = scene.panels;
  const maxW = Math.max(240, Math.min(ts > 1 ? MAX_W_PRESENTER : MAX_W, cssWidth));
  const K = {
    ts,
    gridH: MAX_GRID_H * ts,
    labelH: LABEL_H * ts,
    opW: panels.map((p, i) => Math.round(p.op ? OP_W * ts : i === 0 ? 0 : GAP_W * ts)),
    titleW: panels.map((p) => Math.ceil(measure(p.title || "", 600, 14 * ts))),
    noteW: panels.map((p) => (panelNote(p) ? Math.ceil(measure(panelNote(p), 400, 11 * ts)) : 0)),
    rowLabW: panels.map((p) => (p.rowLabels.length
      ? Math.ceil(Math.max(...p.rowLabels.map((t) => measure(t, 400, 11 * ts)))) + Math.round(ROWLAB_GAP * ts) : 0)),
    colLabH: panels.map((p) => (p.colLabels.length ? COLLAB_H * ts : 0)),
  };
  const d = (v) => Math.round(v * dpr);
  // slots: each panel as placed in each set it belongs to ({panel, R}); without `shown`, slot i is panel i
  const L = { dpr, ts, slots: [], sets: [], frameSet: null };
  let y = d(PAD);
  let widest = 0;
  L.graphs = (scene.graphs || []).map((graph) => {
    const G = graphGeometry(graph, y, maxW, dpr, ts, measure);
    y += G.h + d(LEGEND_GAP);
    widest = Math.max(widest, G.w);
    return G;
  });
  const { sets, frameSet } = panelSets(scene);
  L.frameSet = frameSet;
  L.panelTop = y;
  let bottom = y;
  sets.forEach((set) => {
    const placed = placePanels(scene, set, K, maxW, y, dpr, ts, frameSet !== null);
    const slots = set.map((i, j) => L.slots.push({ panel: i, R: placed.panels[j] }) - 1);
    L.sets.push({ panels: set, slots, slotOf: new Map(set.map((i, j) => [i, slots[j]])), ops: placed.ops, rows: placed.rows });
    bottom = Math.max(bottom, placed.bottom);
    widest = Math.max(widest, placed.right);
  });
  y = bottom;
  L.panelBottom = y;
  L.top = L.sets.length && L.sets[0].rows.length ? L.sets[0].rows[0].top : d(PAD);
  L.maxH = L.sets.length && L.sets[0].rows.length ? L.sets[0].rows[0].maxH : 0;
  y += panels.length ? d(LEGEND_GAP) : 0;
  let netRight = 0;
  L.networks = (scene.networks || []).map((net) => {
    const maxN = Math.max(...net.sizes);
    const hCss = clamp(maxN * 38 + 100, 220, 500) * ts; // room for circles big enough for their numbers
    const wCss = clamp((180 + net.sizes.length * 190) * ts, 420, maxW - 2 * PAD);
    const r = { x: d(PAD), y, w: d(wCss), h: d(hCss) };
    y += r.h + d(LEGEND_GAP);
    netRight = Math.max(netRight, r.x + r.w + d(PAD));
    return r;
  });
  L.width = Math.max(widest, netRight, d(Math.min(600, maxW)));
  L.legend = legendLayout(scene, L.width / dpr - 2 * PAD, ts, measure);
  L.legendY = y;
  L.height = L.legendY + d(LEGEND_LINE_H * ts) * L.legend.lines;
  return L;
}

// Top-left of cell (sl = slice within page, r, c) inside a panel page image.
// Slices are placed in reading order: left to right, then top to bottom.
function cellX(R, p, sl, c) {
  return R.mD + (sl % R.ncol) * (R.rowLabD + p.W * R.cd + R.colGapD) + R.rowLabD + c * R.cd;
}
function cellY(R, p, sl, r) {
  return R.mD + Math.floor(sl / R.ncol) * (R.labelD + R.colLabD + p.H * R.cd + R.gapD) + R.labelD + R.colLabD + r * R.cd;
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

// ---------------------------------------------------------------------------------

// A text's width in CSS px in the player's font (layoutScene's measure): weight 400 or 600, size px.
function textMeasure(ctx) {
  return (text, weight, px) => {
    ctx.font = `${weight} ${px}px ${FONT}`;
    return ctx.measureText(text).width;
  };
}

// ---------------------------------------------------------------------------------
// A renderer draws the frames of a scene, laid out by L, on one canvas. The visible player has
// one; an export draws on an offscreen canvas with another, so it never disturbs what is shown.
// Each keeps its own page images and incremental state (the panels' "current" canvases).
function createRenderer(scene, L, canvas) {
  const ctx = canvas.getContext("2d");
  const ts = L.ts || 1;
  const N = scene.networks.map((net, i) => ({ net, R: L.networks[i], geo: networkGeometry(net, L.networks[i], L.dpr, ts), bg: null }));
  // one state per slot (a panel in a set of panels): its own page images, for its own cell size
  const P = L.slots.map((slot) => ({
    p: scene.panels[slot.panel], R: { ...slot.R, dpr: L.dpr, ts }, full: [], empty: [], order: [],
    cur: null, curPage: -1, curK: -1, hadHl: false, numbers: null,
  }));
  // the slot of panel i on frame k (undefined: the panel is not drawn on that frame)
  const slotAt = (i, k) => L.sets[L.frameSet && k < L.frameSet.length ? L.frameSet[k] : 0].slotOf.get(i);
  let needRedraw = true;
  let curSet = -1; // the set of panels on the canvas (L.sets)
  const fpx = (v) => Math.round(v * ts * L.dpr); // a font size, scaled for presenter mode
  // each arrow's shape in the largest font, 10 px down to 8, that fits its run (measured once)
  const G = scene.graphs.map((graph, i) => {
    const R = L.graphs[i], labelPx = [], labelW = [];
    graph.edgeLabels.forEach((t, e) => {
      const room = R.arrows[e].label.x1 - R.arrows[e].label.x0 - fpx(4);
      let px = 10;
      for (; px > 8; px--) {
        ctx.font = `${fpx(px)}px ${FONT}`;
        if (ctx.measureText(t).width <= room) break;
      }
      ctx.font = `${fpx(px)}px ${FONT}`;
      labelPx.push(px);
      labelW.push(ctx.measureText(t).width);
    });
    return { graph, R, labelPx, labelW };
  });

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
    g.font = `600 ${fpx(14)}px ${FONT}`;
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
    g.font = `${fpx(12)}px ${FONT}`;
    g.textBaseline = "top";
    const L1 = net.sizes.length;
    const colW = L1 > 1 ? (geo.xs[net.offsets[1]] - geo.xs[0]) : R.w;
    net.sizes.forEach((n, c) => {
      g.fillText(fitText(g, String(net.labels[c] ?? ""), colW - d(6)), geo.xs[net.offsets[c]], geo.bottom + d(4));
    });
    if (net.note) {
      g.font = `600 ${fpx(13)}px ${FONT}`;
      g.fillStyle = "#222";
      g.fillText(fitText(g, net.note, R.w - d(10)), R.x + R.w / 2, geo.bottom + d(24 * ts));
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
    // the largest font (up to 13 px, scaled in presenter mode) with which "-0.00" fits the circle
    let f = fpx(13);
    for (; f > d(9); f--) {
      ctx.font = `${f}px ${FONT}`;
      if (ctx.measureText("-0.00").width <= 1.8 * r) break;
    }
    ctx.font = `${f}px ${FONT}`;
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
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    curSet = -1;
    drawLegend();
  }

  // The parts of a set of panels that do not change from frame to frame: titles, own scales, operators; drawn on a
  // cleared panel area when the frame shows another set than the last.
  function drawSetStatic(si) {
    const dpr = L.dpr, set = L.sets[si];
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    if (L.frameSet) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, L.panelTop, canvas.width, L.panelBottom - L.panelTop);
    }
    // titles
    ctx.fillStyle = "#222";
    ctx.font = `600 ${fpx(14)}px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    set.slots.forEach((i) => {
      const R = P[i].R;
      ctx.fillText(fitText(ctx, P[i].p.title, Math.max(R.slot, R.w + Math.round(OP_W * dpr))), R.x + R.w / 2, R.y - Math.round(8 * dpr));
    });
    // a panel's own colour scale, under it
    ctx.fillStyle = "#555";
    ctx.font = `${fpx(11)}px ${FONT}`;
    ctx.textBaseline = "top";
    set.slots.forEach((i) => {
      const R = P[i].R;
      if (R.note) ctx.fillText(fitText(ctx, R.note, R.slot), R.x + R.w / 2, R.y + R.h + Math.round(2 * dpr));
    });
    // operators
    ctx.font = `${fpx(30)}px ${FONT}`;
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    set.ops.forEach((o) => ctx.fillText(o.text, o.x, set.rows[o.row].top + set.rows[o.row].maxH / 2));
  }

  // A graph at frame k: every arrow (into the lit box: bold; into a box not computed yet: faded) with its shape,
  // then every box (lit, computed, or faded) with its words. Redrawn whole at each frame: a few dozen boxes.
  function drawGraph(st, k) {
    const { graph, R } = st;
    const dpr = L.dpr, d = (v) => Math.round(v * dpr);
    const act = graph.active && k < graph.active.length ? graph.active[k] : -1;
    const done = (i) => !graph.reveal || graph.reveal[i] <= k;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, R.y, canvas.width, R.h);
    ctx.fillStyle = "#222";
    ctx.font = `600 ${fpx(14)}px ${FONT}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    ctx.fillText(fitText(ctx, graph.title, canvas.width - d(2 * PAD)), d(PAD), R.titleY);
    const accent = scene.colors.output || "#000";
    ctx.lineJoin = "round";
    const arrow = (e) => {
      const { pts } = R.arrows[e];
      ctx.beginPath();
      ctx.moveTo(pts[0][0], pts[0][1]);
      for (let j = 1; j < pts.length; j++) ctx.lineTo(pts[j][0], pts[j][1]);
      ctx.stroke();
      const [x, y] = pts[pts.length - 1], a = d(6 * ts);
      ctx.beginPath();
      ctx.moveTo(x, y); ctx.lineTo(x - a, y - a * 0.6); ctx.lineTo(x - a, y + a * 0.6); ctx.closePath();
      ctx.fill();
    };
    const lit = [];
    for (let e = 0; e < graph.E; e++) {
      const t = graph.edges[2 * e + 1];
      if (t === act) { lit.push(e); continue; }
      const on = done(t);
      ctx.strokeStyle = ctx.fillStyle = on ? "#777" : "#d0d0d0";
      ctx.lineWidth = Math.max(1, d(1.3 * ts));
      arrow(e);
    }
    lit.forEach((e) => {
      ctx.strokeStyle = ctx.fillStyle = accent;
      ctx.lineWidth = d(2.6 * ts);
      arrow(e);
    });
    // the shapes on the arrows
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    for (let e = 0; e < graph.E; e++) {
      const text = graph.edgeLabels[e] || "";
      if (!text) continue;
      const { x0, x1, y } = R.arrows[e].label, tw = st.labelW[e];
      ctx.font = `${fpx(st.labelPx[e])}px ${FONT}`;
      let cx = (x0 + x1) / 2;
      if (cx + tw / 2 > x1 - d(2)) cx = x1 - d(2) - tw / 2;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      ctx.fillRect(cx - tw / 2 - d(1), y - d(13 * ts), tw + d(2), d(11 * ts));
      const t = graph.edges[2 * e + 1];
      ctx.fillStyle = t === act ? "#000" : done(t) ? "#444" : "#aaa";
      ctx.fillText(text, cx, y - d(2));
    }
    // the boxes
    ctx.textBaseline = "middle";
    for (let i = 0; i < graph.N; i++) {
      const B = R.boxes[i], txt = R.texts[i], on = done(i);
      ctx.fillStyle = i === act ? "#fff4cc" : on ? "#fff" : "#f7f7f7";
      ctx.fillRect(B.x, B.y, B.w, B.h);
      ctx.strokeStyle = i === act ? accent : on ? "#666" : "#cfcfcf";
      ctx.lineWidth = i === act ? d(3 * ts) : Math.max(1, d(1 * ts));
      ctx.strokeRect(B.x, B.y, B.w, B.h);
      ctx.fillStyle = on || i === act ? "#1f2328" : "#a8a8a8";
      ctx.font = `600 ${d(txt.px)}px ${FONT}`; // txt.px: CSS px, presenter scale included
      const lh = d(txt.px * 1.25), cy = B.y + B.h / 2 - ((txt.lines.length - 1) * lh) / 2;
      txt.lines.forEach((line, j) => {
        if (j === 1) ctx.font = `${d(txt.px)}px ${FONT}`;
        ctx.fillText(txt.cutToFit ? fitText(ctx, line, B.w - d(6)) : line, B.x + B.w / 2, cy + j * lh);
      });
    }
    if (graph.note) {
      ctx.fillStyle = "#444";
      ctx.font = `${fpx(12)}px ${FONT}`;
      ctx.textAlign = "left";
      ctx.textBaseline = "top";
      ctx.fillText(fitText(ctx, graph.note, canvas.width - d(2 * PAD)), d(PAD), R.noteY);
    }
  }

  function colourBar(x, y, w, h, rgbAt, ticks) {
    const n = 256;
    const img = new ImageData(n, 1);
    for (let i = 0; i < n; i++) {
      const [r, g, b] = rgbAt(i / (n - 1));
      img.data[4 * i] = r; img.data[4 * i + 1] = g; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
    }
    const t = makeCanvas(n, 1);
    t.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(t, 0, 0, n, 1, x, y, w, h);
    ctx.strokeStyle = "#888";
    ctx.lineWidth = Math.max(1, Math.round(L.dpr));
    ctx.strokeRect(x, y, w, h);
    ctx.fillStyle = "#333";
    ctx.font = `${fpx(12)}px ${FONT}`;
    ctx.textBaseline = "top";
    const ty = y + h + Math.round(4 * L.dpr);
    ctx.textAlign = "left";
    ctx.fillText(ticks[0], x, ty);
    if (ticks.length === 3) {
      ctx.textAlign = "center";
      ctx.fillText(ticks[1], x + w / 2, ty);
    }
    ctx.textAlign = "right";
    ctx.fillText(ticks[ticks.length - 1], x + w, ty);
  }

  function drawLegend() {
    const dpr = L.dpr, d = (v) => Math.round(v * dpr);
    const lg = L.legend;
    const barH = d(12 * ts), sw = d(lg.sw);
    const lineH = d(LEGEND_LINE_H * ts);
    ctx.font = `${fpx(12)}px ${FONT}`;
    lg.placed.forEach(({ entry: e, x: xCss, line }) => {
      const x = d(PAD + xCss), y = L.legendY + line * lineH;
      const my = y + barH / 2;
      if (e.kind === "bar") {
        colourBar(x, y, d(lg.barW), barH, (t) => {
          const li = Math.round(t * (scene.lutN - 1)) * 3;
          return scene.lutN ? [scene.lut[li], scene.lut[li + 1], scene.lut[li + 2]] : [230, 230, 230];
        }, e.ticks);
        return;
      }
      if (e.kind === "grey") {
        colourBar(x, y, d(lg.greyW), barH, (t) => [Math.round(t * 255), Math.round(t * 255), Math.round(t * 255)], e.ticks);
        ctx.font = `${fpx(12)}px ${FONT}`;
        ctx.fillStyle = "#333";
        ctx.textAlign = "left";
        ctx.textBaseline = "middle";
        ctx.fillText(e.label, x + d(lg.greyW) + d(6 * ts), my);
        return;
      }
      const sx = x, sy = my - sw / 2;
      if (e.kind === "outline") {
        ctx.strokeStyle = e.color;
        ctx.lineWidth = d(2.5);
        ctx.setLineDash(e.dash.map((v) => v * dpr));
        ctx.strokeRect(sx, sy, sw, sw);
        ctx.setLineDash([]);
      } else if (e.kind === "padding") {
        ctx.fillStyle = hatchPattern(ctx, dpr);
        ctx.fillRect(sx, sy, sw, sw);
      } else if (e.kind === "neuron") {
        ctx.beginPath();
        ctx.arc(sx + sw / 2, sy + sw / 2, sw / 2 - d(1.5), 0, 2 * Math.PI);
        ctx.strokeStyle = scene.colors.output || "#000";
        ctx.lineWidth = d(2.5);
        ctx.stroke();
      } else if (e.kind === "box" || e.kind === "faded") {
        ctx.fillStyle = e.kind === "box" ? "#fff4cc" : "#f7f7f7";
        ctx.fillRect(sx, sy, sw, sw);
        ctx.strokeStyle = e.kind === "box" ? scene.colors.output || "#000" : "#cfcfcf";
        ctx.lineWidth = e.kind === "box" ? d(2.5) : Math.max(1, d(1));
        ctx.strokeRect(sx, sy, sw, sw);
      } else if (e.kind === "empty") {
        ctx.fillStyle = EMPTY_EDGE;
        ctx.fillRect(sx, sy, sw, sw);
        ctx.fillStyle = EMPTY_FILL;
        ctx.fillRect(sx + d(1), sy + d(1), sw - 2 * d(1), sw - 2 * d(1));
      }
      ctx.font = `${fpx(12)}px ${FONT}`;
      ctx.fillStyle = "#333";
      ctx.textAlign = "left";
      ctx.textBaseline = "middle";
      ctx.fillText(e.label, sx + sw + d(6 * ts), my);
    });
  }

  // The cells [slice, row, col] highlight h outlines at frame k on its panel's current page.
  function highlightCells(h, k, st) {
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

  // Whether a panel prints its numbers in its cells (decided once, as its pages are drawn).
  function printsNumbers(st) {
    if (st.numbers === null) st.numbers = numberStyle(makeCanvas(1, 1).getContext("2d"), st.p, st.R) !== null;
    return st.numbers;
  }

  // The numbers of the lit cells of panels too small to print them, as text for the readout under the canvas:
  // "values read from x[3,0] (0, 0): 3.22, 3.15, … (64 values)  ·  output written at out[3,0] (3, 3): 0.05";
  // "" if every lit panel prints its own numbers.
  function litText(k) {
    const parts = [];
    scene.highlights.forEach((h) => {
      const st = P[slotAt(h.panel.index, k)];
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

  // Whether some outline may fall on a panel that does not print its numbers: the readout is shown.
  const hasReadout = scene.highlights.some((h) => L.sets.some((set) => set.slotOf.has(h.panel.index)
    && !printsNumbers(P[set.slotOf.get(h.panel.index)])));

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
    const si = L.frameSet && k < L.frameSet.length ? L.frameSet[k] : 0;
    if (si !== curSet) {
      drawSetStatic(si);
      curSet = si;
      needRedraw = true;
    }
    const set = L.sets[si];
    const hl = scene.highlights.filter((h) => set.slotOf.has(h.panel.index)).map((h) => {
      const slot = set.slotOf.get(h.panel.index);
      return { h, slot, st: P[slot], rects: highlightRects(h, k, P[slot]) };
    });
    const hasHl = P.map(() => false);
    hl.forEach((x) => { if (x.rects.length) hasHl[x.slot] = true; });
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    set.slots.forEach((i) => {
      const st = P[i];
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
    G.forEach((st) => drawGraph(st, k));
    needRedraw = false;
  }

  // The boxes of the graphs, in device px: [{name, x, y, w, h}] (what a click on the canvas picks).
  function nodeBoxes() {
    return G.flatMap((st) => st.R.boxes.map((B, i) => ({ name: st.graph.nodes[i], ...B })));
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

  return { draw, drawStatic, warmOne, litText, hasReadout, nodeBoxes };
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
function createCamera(scene, cssWidth, start, stop, ts = 1) {
  const canvas = makeCanvas(1, 1);
  const ctx = canvas.getContext("2d", { willReadFrequently: true }); // every frame is read back
  const L = layoutScene(scene, cssWidth, 1, textMeasure(ctx), ts);
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

// Presenter mode asked for by the page's address: ?presenter=1 (or true, yes, on), or #presenter.
function presenterFromUrl() {
  try {
    const v = new URLSearchParams(window.location.search).get("presenter");
    return (v !== null && /^(1|true|yes|on)$/i.test(v)) || /(^#|[#&])presenter\b/.test(window.location.hash);
  } catch (err) {
    return false;
  }
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
      <div class="lvp-readout" hidden></div>
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
        <button type="button" class="lvp-presenter-btn" aria-pressed="false"
          title="Presenter mode: larger numbers and labels, for a projector (or add ?presenter=1 to the page's address)">Presenter</button>
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
    const captionEl = $(".lvp-caption"), readoutEl = $(".lvp-readout"), btnPresenter = $(".lvp-presenter-btn");
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
    let presenter = presenterFromUrl();
    let captionK = -1;
    let destroyed = false;
    let job = null; // the export under way: {kind, cancelled, since}
    let downloadUrl = null; // the last export's file, kept for its link
    let nodeBoxes = []; // the graphs' boxes, CSS px of the canvas as shown: [{name, x, y, w, h}]
    const stats = { draws: 0, drawMs: 0 }; // for benchmarks: root.__layerviz
    root.__layerviz = stats;

    // The width a scene may take: the stage's, whole pixels only (a canvas wider by a fraction would scroll).
    function stageWidth() {
      const w = Math.floor(stage.getBoundingClientRect().width);
      return w > 0 ? w : MAX_W;
    }

    function textScale() {
      return presenter ? PRESENTER_SCALE : 1;
    }

    function setPresenter(on) {
      presenter = on;
      root.classList.toggle("lvp-presenter", on);
      btnPresenter.setAttribute("aria-pressed", String(on));
      btnPresenter.classList.toggle("lvp-on", on);
      root.dataset.presenter = String(on);
    }

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
      // A step not yet sent belongs to the scene Python replaced: the new one starts where Python says.
      if (syncTimer) { clearTimeout(syncTimer); syncTimer = 0; }
      cur = clamp(model.get("frame") | 0, 0, Math.max(0, n - 1));
      kernelFrame = cur;
      if (n === 0 && playing) setPlaying(false, false);
      captionK = -1;
      updateUi();
      build();
    }

    function build() {
      renderer = null;
      drawnK = -1;
      const dpr = window.devicePixelRatio || 1;
      layoutWidth = stageWidth();
      readoutEl.hidden = true;
      nodeBoxes = [];
      delete root.dataset.nodeBoxes;
      if (!scene || scene.n === 0) {
        canvas.width = 1; canvas.height = 1;
        canvas.style.width = "0px"; canvas.style.height = "0px";
        captionEl.textContent = scene ? "" : "No scene to show.";
        updateUi();
        root.dataset.ready = "1";
        return;
      }
      const L = layoutScene(scene, layoutWidth, dpr, textMeasure(ctx), textScale());
      canvas.width = L.width;
      canvas.height = L.height;
      // never wider than the player: what the layout could not fit is scaled down as a whole
      const cssW = L.width / dpr, shown = Math.min(cssW, layoutWidth);
      canvas.style.width = `${shown}px`;
      canvas.style.height = `${(L.height / dpr) * (shown / cssW)}px`;
      root.dataset.sceneWidth = String(Math.round(cssW));
      const built = createRenderer(scene, L, canvas);
      renderer = built;
      // the graphs' boxes in CSS px of the canvas as shown (for clicks, tests and assistive tools)
      const toCss = shown / cssW / dpr;
      nodeBoxes = built.nodeBoxes().map((b) => ({ name: b.name, x: Math.round(b.x * toCss), y: Math.round(b.y * toCss),
        w: Math.round(b.w * toCss), h: Math.round(b.h * toCss) }));
      if (nodeBoxes.length) root.dataset.nodeBoxes = JSON.stringify(nodeBoxes);
      else delete root.dataset.nodeBoxes;
      readoutEl.hidden = !built.hasReadout;
      readoutEl.textContent = "";
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
      if (renderer.hasReadout) {
        const lit = renderer.litText(k);
        readoutEl.textContent = lit ? `Lit cells: ${lit}` : "Lit cells: none on this frame";
      }
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
        const camera = createCamera(exported, layoutWidth, start, stop, textScale());
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
    btnPresenter.addEventListener("click", (e) => {
      e.preventDefault();
      setPresenter(!presenter);
      // the player's width changes with the mode (CSS): lay out once it has
      requestAnimationFrame(() => { if (!destroyed) build(); });
    });
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
    // A click on a graph's box sends its node's name to Python (clicked_node), even the same name twice.
    const boxAt = (e) => {
      const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
      return nodeBoxes.find((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h) || null;
    };
    canvas.addEventListener("click", (e) => {
      const box = boxAt(e);
      if (!box) return;
      if (model.get("clicked_node") === box.name) { model.set("clicked_node", ""); model.save_changes(); }
      model.set("clicked_node", box.name);
      model.save_changes();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!nodeBoxes.length) return;
      const box = boxAt(e);
      canvas.style.cursor = box ? "pointer" : "";
      canvas.title = box ? `Open ${box.name}` : "";
    });
    const SLIDER_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);
    root.addEventListener("keydown", (e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      const tgt = e.target;
      if (tgt === fpsSel || tgt === btnPresenter || exportRow.contains(tgt)) return;
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
    // A click or key elsewhere on the page (the forward | backward switch, Check, a control) may make Python
    // read the frame: send a step still waiting for its sync period first, so it arrives before that message.
    const flushBeforeOthers = (e) => {
      if (syncTimer && !root.contains(e.target)) sendState({});
    };
    document.addEventListener("pointerdown", flushBeforeOthers, true);
    document.addEventListener("keydown", flushBeforeOthers, true);
    model.on("change:_scene", onScene);
    model.on("change:frame", onFrameChange);
    model.on("change:playing", onPlaying);
    model.on("change:fps", onFps);

    let resizeRaf = 0;
    const ro = new ResizeObserver(() => {
      if (resizeRaf) return;
      resizeRaf = requestAnimationFrame(() => {
        resizeRaf = 0;
        const w = stageWidth();
        const cap = presenter ? MAX_W_PRESENTER : MAX_W;
        if (w && (w < layoutWidth || Math.abs(Math.min(w, cap) - Math.min(layoutWidth, cap)) > 16)) build();
      });
    });
    ro.observe(root);

    fps = clamp(model.get("fps") | 0, 1, 60);
    fillFps();
    setPresenter(presenter);
    loadScene();
    if (model.get("playing")) setPlaying(true, false);

    return () => {
      destroyed = true;
      if (job) job.cancelled = true;
      if (downloadUrl) URL.revokeObjectURL(downloadUrl);
      if (rafId) cancelAnimationFrame(rafId);
      if (resizeRaf) cancelAnimationFrame(resizeRaf);
      if (syncTimer) clearTimeout(syncTimer);
      document.removeEventListener("pointerdown", flushBeforeOthers, true);
      document.removeEventListener("keydown", flushBeforeOthers, true);
      ro.disconnect();
      model.off("change:_scene", onScene);
      model.off("change:frame", onFrameChange);
      model.off("change:playing", onPlaying);
      model.off("change:fps", onFps);
    };
  },
};
