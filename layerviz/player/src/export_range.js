// Which frames an export holds and the file's name. No DOM.

import { clamp } from "./math.js";

/** Most frames in one animation export (GIF or WebM). */
export const EXPORT_MAX_FRAMES = 600;

/**
 * The frames an animation export holds: all of them, or EXPORT_MAX_FRAMES from the one shown on
 * (the last EXPORT_MAX_FRAMES when fewer are left). Returns [start, stop).
 */
export function exportRange(n, cur) {
  let start = clamp(cur, 0, Math.max(0, n - 1));
  if (n - start < EXPORT_MAX_FRAMES) start = Math.max(0, n - EXPORT_MAX_FRAMES);
  return [start, Math.min(n, start + EXPORT_MAX_FRAMES)];
}

/**
 * layerviz-<first word of the title>-<first>-<last>.<ext>, frames counted from 1 as on the counter.
 */
export function exportName(scene, start, stop, ext) {
  const word = /^[A-Za-z][A-Za-z0-9_]*/.exec(scene.title);
  const stem = `layerviz-${word ? word[0].toLowerCase() : "animation"}-${start + 1}`;
  return ext === "png" ? `${stem}.png` : `${stem}-${stop}.${ext}`;
}
