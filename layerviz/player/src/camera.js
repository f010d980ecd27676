// The camera of an export: the frames drawn again by a renderer of their own on an offscreen canvas, one CSS px per
// pixel, each with its caption under the picture (as the page shows it), so an export never disturbs the player.

import { PAD } from "./constants.js";
import { fitText, makeCanvas, textMeasure } from "./canvas.js";
import { captionOf } from "./decode.js";
import { layoutScene } from "./layout_scene.js";
import { createRenderer } from "./renderer.js";

const CAPTION_FONT = `13px ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace`;
const CAPTION_LINE_H = 18;
const CAPTION_MAX_LINES = 8;
const CAPTION_BAR = 4; // the accent bar left of the caption, as on the page

/**
 * Lines of `text` no wider than `width` in ctx's font: its own line breaks, then words, then characters.
 */
export function wrapText(ctx, text, width) {
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

/**
 * An offscreen canvas showing frames [start, stop) of `scene` laid out `cssWidth` wide, with a
 * caption box under the picture tall enough for the longest of their captions.
 */
export function createCamera(scene, cssWidth, start, stop, ts = 1) {
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
