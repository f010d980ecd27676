// Canvas helpers every drawing module uses: offscreen canvases, text cut to fit, the player's text measure.

import { FONT } from "./constants.js";

/** A canvas of w x h device px (at least 1 x 1), not in the page. */
export function makeCanvas(w, h) {
  const c = document.createElement("canvas");
  c.width = Math.max(1, w);
  c.height = Math.max(1, h);
  return c;
}

/** `text`, cut and ended with "…" where it is wider than maxWidth in ctx's font. */
export function fitText(ctx, text, maxWidth) {
  if (ctx.measureText(text).width <= maxWidth) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(s + "…").width > maxWidth) s = s.slice(0, -1);
  return s + "…";
}

/**
 * A text's width in CSS px in the player's font (layoutScene's measure): weight 400 or 600, size px.
 */
export function textMeasure(ctx) {
  return (text, weight, px) => {
    ctx.font = `${weight} ${px}px ${FONT}`;
    return ctx.measureText(text).width;
  };
}

/** A font size of v CSS px in device px, scaled for presenter mode (L.ts) and the screen (L.dpr). */
export function fontPx(L, v) {
  return Math.round(v * (L.ts || 1) * L.dpr);
}
