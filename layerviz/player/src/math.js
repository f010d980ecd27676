// Small arithmetic shared by layout and drawing.

/** `v` limited to [lo, hi]. */
export function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v;
}
