// Colours of values: the scene's diverging lookup table (LUT, 256 RGB rows from widget.py) and greys for
// pictures. No DOM.

import { clamp } from "./math.js";

/** The CSS colour of value v on the scene's LUT scaled to ±vmax (light grey for NaN or a scene without a LUT). */
export function lutColor(scene, v, vmax) {
  if (!scene.lutN || Number.isNaN(v)) return "rgb(230,230,230)";
  const t = clamp((v + vmax) / (2 * vmax), 0, 1);
  const li = Math.round(t * (scene.lutN - 1)) * 3;
  return `rgb(${scene.lut[li]},${scene.lut[li + 1]},${scene.lut[li + 2]})`;
}

/**
 * The colour of value v in panel p, as [r, g, b]: greys for a picture (0 black, the panel's vmax or 1 white),
 * else the scene's diverging map on the panel's scale.
 */
export function cellRgb(scene, p, v) {
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

/** The LUT's colour at t in [0, 1], as [r, g, b] (the legend's colour bar). */
export function lutRgb(scene, t) {
  const li = Math.round(t * (scene.lutN - 1)) * 3;
  return scene.lutN ? [scene.lut[li], scene.lut[li + 1], scene.lut[li + 2]] : [230, 230, 230];
}

/** The grey at t in [0, 1], as [r, g, b] (a picture's colour bar). */
export function greyRgb(t) {
  return [Math.round(t * 255), Math.round(t * 255), Math.round(t * 255)];
}
