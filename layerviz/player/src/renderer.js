// A renderer draws the frames of a scene, laid out by L (layout_scene.js), on one canvas. The visible player has
// one; an export draws on an offscreen canvas with another, so it never disturbs what is shown. Each keeps its own
// page images and incremental state (the panels' "current" canvases, draw_panels.js).
//
// Per frame the work is tiny: each panel page is pre-rendered once to offscreen canvases ("full" with values,
// "empty"), a panel's "current" canvas is updated only for the cells whose `reveal` lies between the previous and
// the new frame, then the panels are blitted and the highlights stroked.

import { FONT, OP_W } from "./constants.js";
import { fitText, fontPx } from "./canvas.js";
import { drawGraph, graphState } from "./draw_graph.js";
import { highlightRects, litText, strokeHighlight } from "./draw_highlights.js";
import { drawLegend } from "./draw_legend.js";
import { drawNetwork, networkState } from "./draw_network.js";
import { pageImages, panelState, printsNumbers, updatePanel } from "./draw_panels.js";

/**
 * A renderer of `scene` laid out by L on `canvas`: draw(k) a frame, drawStatic() what no frame changes (after a
 * layout), warmOne() pre-renders a page image (false once all are), litText(k) the readout of lit cells (shown when
 * hasReadout), nodeBoxes() the graphs' boxes in device px.
 */
export function createRenderer(scene, L, canvas) {
  const ctx = canvas.getContext("2d");
  const ts = L.ts || 1;
  const N = scene.networks.map((net, i) => networkState(net, L.networks[i], L));
  // one state per slot (a panel in a set of panels): its own page images, for its own cell size
  const P = L.slots.map((slot) => panelState(scene, scene.panels[slot.panel], { ...slot.R, dpr: L.dpr, ts }));
  // the slot of panel i on frame k (undefined: the panel is not drawn on that frame)
  const slotAt = (i, k) => L.sets[L.frameSet && k < L.frameSet.length ? L.frameSet[k] : 0].slotOf.get(i);
  let needRedraw = true;
  let curSet = -1; // the set of panels on the canvas (L.sets)
  const G = scene.graphs.map((graph, i) => graphState(ctx, graph, L.graphs[i], L));

  function drawStatic() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    curSet = -1;
    drawLegend(ctx, scene, L);
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
    ctx.font = `600 ${fontPx(L, 14)}px ${FONT}`;
    ctx.textAlign = "center";
    ctx.textBaseline = "alphabetic";
    set.slots.forEach((i) => {
      const R = P[i].R;
      ctx.fillText(fitText(ctx, P[i].p.title, Math.max(R.slot, R.w + Math.round(OP_W * dpr))), R.x + R.w / 2, R.y - Math.round(8 * dpr));
    });
    // a panel's own colour scale, under it
    ctx.fillStyle = "#555";
    ctx.font = `${fontPx(L, 11)}px ${FONT}`;
    ctx.textBaseline = "top";
    set.slots.forEach((i) => {
      const R = P[i].R;
      if (R.note) ctx.fillText(fitText(ctx, R.note, R.slot), R.x + R.w / 2, R.y + R.h + Math.round(2 * dpr));
    });
    // operators
    ctx.font = `${fontPx(L, 30)}px ${FONT}`;
    ctx.fillStyle = "#333";
    ctx.textBaseline = "middle";
    set.ops.forEach((o) => ctx.fillText(o.text, o.x, set.rows[o.row].top + set.rows[o.row].maxH / 2));
  }

  // Whether some outline may fall on a panel that does not print its numbers: the readout is shown.
  const hasReadout = scene.highlights.some((h) => L.sets.some((set) => set.slotOf.has(h.panel.index)
    && !printsNumbers(P[set.slotOf.get(h.panel.index)])));

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
      strokeHighlight(ctx, h, st, rects, dpr);
    });
    N.forEach((st) => drawNetwork(ctx, scene, L, st, k));
    G.forEach((st) => drawGraph(ctx, scene, L, st, k));
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

  return { draw, drawStatic, warmOne, litText: (k) => litText(scene, P, slotAt, k), hasReadout, nodeBoxes };
}
