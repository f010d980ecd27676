// The kernel sync: Python hears the frame only when it may need it (on pause and at the end, a step, first / last,
// a scrub's release, keyboard steps), never while playing or while the slider is dragged; steps faster than
// SYNC_MS (a held arrow key) reach it once per period.

export const SYNC_MS = 250; // steps faster than this (a held arrow key) reach the kernel once per period

/** Sends the frame (and the attributes in `extra`) to the kernel now. */
export function sendState(player, extra) {
  const { model } = player;
  if (player.syncTimer) { clearTimeout(player.syncTimer); player.syncTimer = 0; }
  let dirty = false;
  if (model.get("frame") !== player.cur) { player.kernelFrame = player.cur; model.set("frame", player.cur); dirty = true; }
  for (const [key, v] of Object.entries(extra)) {
    if (model.get(key) !== v) { model.set(key, v); dirty = true; }
  }
  player.kernelFrame = player.cur;
  player.lastSyncT = performance.now();
  if (dirty) model.save_changes();
}

/** Syncs soon: at once unless the last sync was less than SYNC_MS ago, then at the end of that period. */
export function syncSoon(player) {
  const wait = player.lastSyncT + SYNC_MS - performance.now();
  if (wait <= 0) sendState(player, {});
  else if (!player.syncTimer) player.syncTimer = setTimeout(() => { player.syncTimer = 0; sendState(player, {}); }, wait);
}

/** Forgets a step not sent yet (it belongs to a scene Python replaced). */
export function dropPendingSync(player) {
  if (player.syncTimer) { clearTimeout(player.syncTimer); player.syncTimer = 0; }
}

/**
 * A click or key elsewhere on the page (the forward | backward switch, Check, a control) may make Python read the
 * frame: a step still waiting for its sync period is sent first, so it arrives before that message. Returns the
 * function that stops listening.
 */
export function flushBeforeOthers(player) {
  const flush = (e) => {
    if (player.syncTimer && !player.ui.root.contains(e.target)) sendState(player, {});
  };
  document.addEventListener("pointerdown", flush, true);
  document.addEventListener("keydown", flush, true);
  return () => {
    document.removeEventListener("pointerdown", flush, true);
    document.removeEventListener("keydown", flush, true);
  };
}
