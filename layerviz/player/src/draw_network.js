// Drawing a network (columns of neurons joined by their weights): a background drawn once (title, every line
// faded, column labels, note), then at each frame the lit neuron's incoming lines and every neuron with its value.

import { EMPTY_EDGE, EMPTY_FILL, FONT } from "./constants.js";
import { fitText, fontPx, makeCanvas } from "./canvas.js";
import { formatValue } from "./format.js";
import { networkGeometry } from "./layout_scene.js";
import { clamp } from "./math.js";
import { lutColor } from "./palette.js";

/** The drawing state of network `net` laid out in the box R of layout L. */
export function networkState(net, R, L) {
  return { net, R, geo: networkGeometry(net, R, L.dpr, L.ts || 1), bg: null };
}

// The parts of a network that never change: title, every line (faded), column labels, note.
function networkBackground(scene, L, st) {
  const ts = L.ts || 1;
  const { net, R, geo } = st;
  const dpr = L.dpr, d = (v) => Math.round(v * dpr);
  const cv = makeCanvas(R.w, R.h);
  const g = cv.getContext("2d");
  g.translate(-R.x, -R.y);
  g.fillStyle = "#fff";
  g.fillRect(R.x, R.y, R.w, R.h);
  g.fillStyle = "#222";
  g.font = `600 ${fontPx(L, 14)}px ${FONT}`;
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
  g.font = `${fontPx(L, 12)}px ${FONT}`;
  g.textBaseline = "top";
  const L1 = net.sizes.length;
  const colW = L1 > 1 ? (geo.xs[net.offsets[1]] - geo.xs[0]) : R.w;
  net.sizes.forEach((n, c) => {
    g.fillText(fitText(g, String(net.labels[c] ?? ""), colW - d(6)), geo.xs[net.offsets[c]], geo.bottom + d(4));
  });
  if (net.note) {
    g.font = `600 ${fontPx(L, 13)}px ${FONT}`;
    g.fillStyle = "#222";
    g.fillText(fitText(g, net.note, R.w - d(10)), R.x + R.w / 2, geo.bottom + d(24 * ts));
  }
  return cv;
}

/**
 * A network at frame k on ctx: the background, the lit neuron's incoming lines, every neuron.
 */
export function drawNetwork(ctx, scene, L, st, k) {
  const { net, R, geo } = st;
  if (!st.bg) st.bg = networkBackground(scene, L, st);
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
  let f = fontPx(L, 13);
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
