// Decoding the scene as widget.py's encode_scene sends it: JSON, and raw little-endian arrays that arrive as
// DataView (ipywidgets moves bytes nested in widget state into binary websocket buffers). No DOM.

/**
 * A typed array of `Ctor` over a DataView, ArrayBuffer or typed array; copied when the bytes are not aligned for
 * `Ctor` (a buffer may start anywhere in the websocket message). null for null, undefined or anything else.
 */
export function typed(x, Ctor) {
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

/**
 * The scene the player draws, from the synced `_scene` dict (null when there is none): panels, highlights (each
 * pointing at its panel), captions as one UTF-8 blob with offsets, networks and graphs.
 */
export function decodeScene(raw) {
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

/** A GraphLayout: boxes at (column, row), arrows (source, target) with the rows they run along between. */
export function decodeGraph(g) {
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

/** A Network: columns of neurons (sizes), values per page, weight matrices flattened one after the other. */
export function decodeNetwork(w) {
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

const utf8 = new TextDecoder("utf-8");

/** Frame k's caption ("" where it has none). */
export function captionOf(scene, k) {
  const a = scene.capOff[k] | 0, b = scene.capOff[k + 1] | 0;
  return b > a ? utf8.decode(scene.capBlob.subarray(a, b)) : "";
}
