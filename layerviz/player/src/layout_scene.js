// The layout of a whole scene, from the top: the graphs (a model's map), the panels (every set of panels shown
// together laid out in the same place), the networks, the legend. No DOM.

import {
  COLLAB_H, LABEL_H, LEGEND_GAP, LEGEND_LINE_H, MAX_GRID_H, MAX_W, MAX_W_PRESENTER, OP_W, GAP_W, PAD, ROWLAB_GAP,
} from "./constants.js";
import { graphGeometry } from "./layout_graph.js";
import { panelNote, panelSets, placePanels } from "./layout_panels.js";
import { legendLayout } from "./legend.js";
import { clamp } from "./math.js";

/**
 * Layout: cell sizes and positions, all in device pixels. Slices are stacked vertically; a panel whose stack
 * would force tiny cells is wrapped into a few columns of slices. measure(text, weight, px) is a text's width in
 * CSS px: a narrow panel (Flatten's one column) gets a slot as wide as its title, its grid centred in it.
 * ts scales text and cells (presenter mode). From the top: the graphs (a model's map), the panels (every set of
 * panels shown together laid out in the same place), the networks, the legend.
 */
export function layoutScene(scene, cssWidth, dpr, measure = () => 0, ts = 1) {
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

/**
 * Neuron centres and radius (device px) of a network drawn in the box R; ts: the text scale.
 */
export function networkGeometry(net, R, dpr, ts = 1) {
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
