// Numbers and sizes as the player writes them. No DOM.

/** A colour bar's tick: "0", "12", "1.5", "0.25", "0.0012". */
export function fmtTick(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  let s = a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.01 ? v.toFixed(2) : v.toPrecision(2);
  return s;
}

/**
 * A cell's number with `dec` decimals, as the narrations print it (layerviz/_format.py's `fixed`): rounded half
 * away from zero (toFixed), no negative zero; "" for NaN.
 */
export function formatValue(v, dec) {
  if (Number.isNaN(v)) return "";
  const s = v.toFixed(dec);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

/** A file's size: "12 kB", "3.4 MB". */
export function sizeText(bytes) {
  return bytes < 1e6 ? `${Math.max(1, Math.round(bytes / 1e3))} kB` : `${(bytes / 1e6).toFixed(1)} MB`;
}
