// Drawing the legend: the colour scales (the diverging map, a picture's greys) and the key of outlines and
// special cells, where legend.js placed them.

import { EMPTY_EDGE, EMPTY_FILL, FONT, LEGEND_LINE_H, PAD } from "./constants.js";
import { fontPx, makeCanvas } from "./canvas.js";
import { hatchPattern } from "./draw_grid.js";
import { greyRgb, lutRgb } from "./palette.js";

// A colour bar at (x, y), w x h device px, the colour at t in [0, 1] being rgbAt(t), with its ticks under it.
function colourBar(ctx, L, x, y, w, h, rgbAt, ticks) {
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
  ctx.font = `${fontPx(L, 12)}px ${FONT}`;
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

/**
 * The legend (legend.js placed its entries) on ctx, at the bottom of layout L.
 */
export function drawLegend(ctx, scene, L) {
  const ts = L.ts || 1;
  const dpr = L.dpr, d = (v) => Math.round(v * dpr);
  const lg = L.legend;
  const barH = d(12 * ts), sw = d(lg.sw);
  const lineH = d(LEGEND_LINE_H * ts);
  ctx.font = `${fontPx(L, 12)}px ${FONT}`;
  lg.placed.forEach(({ entry: e, x: xCss, line }) => {
    const x = d(PAD + xCss), y = L.legendY + line * lineH;
    const my = y + barH / 2;
    if (e.kind === "bar") {
      colourBar(ctx, L, x, y, d(lg.barW), barH, (t) => lutRgb(scene, t), e.ticks);
      return;
    }
    if (e.kind === "grey") {
      colourBar(ctx, L, x, y, d(lg.greyW), barH, greyRgb, e.ticks);
      ctx.font = `${fontPx(L, 12)}px ${FONT}`;
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
    ctx.font = `${fontPx(L, 12)}px ${FONT}`;
    ctx.fillStyle = "#333";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(e.label, sx + sw + d(6 * ts), my);
  });
}
