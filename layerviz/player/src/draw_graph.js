// Drawing a model's graph (a GraphLayout laid out by layout_graph.js): arrows with the shapes they carry, boxes
// with their words; the node being computed lit, the nodes not computed yet faded.

import { FONT, PAD } from "./constants.js";
import { fitText, fontPx } from "./canvas.js";

/**
 * The drawing state of `graph` laid out as R in layout L: each arrow's shape in the largest font, 10 px down to
 * 8, that fits its run (measured once with ctx).
 */
export function graphState(ctx, graph, R, L) {
  const labelPx = [], labelW = [];
  graph.edgeLabels.forEach((t, e) => {
    const room = R.arrows[e].label.x1 - R.arrows[e].label.x0 - fontPx(L, 4);
    let px = 10;
    for (; px > 8; px--) {
      ctx.font = `${fontPx(L, px)}px ${FONT}`;
      if (ctx.measureText(t).width <= room) break;
    }
    ctx.font = `${fontPx(L, px)}px ${FONT}`;
    labelPx.push(px);
    labelW.push(ctx.measureText(t).width);
  });
  return { graph, R, labelPx, labelW };
}

/**
 * A graph at frame k on ctx: every arrow (into the lit box: bold; into a box not computed yet: faded) with its shape,
 * then every box (lit, computed, or faded) with its words. Redrawn whole at each frame: a few dozen boxes.
 */
export function drawGraph(ctx, scene, L, st, k) {
  const canvas = ctx.canvas, ts = L.ts || 1;
  const { graph, R } = st;
  const dpr = L.dpr, d = (v) => Math.round(v * dpr);
  const act = graph.active && k < graph.active.length ? graph.active[k] : -1;
  const done = (i) => !graph.reveal || graph.reveal[i] <= k;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, R.y, canvas.width, R.h);
  ctx.fillStyle = "#222";
  ctx.font = `600 ${fontPx(L, 14)}px ${FONT}`;
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
    ctx.font = `${fontPx(L, st.labelPx[e])}px ${FONT}`;
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
    ctx.font = `${fontPx(L, 12)}px ${FONT}`;
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText(fitText(ctx, graph.note, canvas.width - d(2 * PAD)), d(PAD), R.noteY);
  }
}
