// The player's clock: one requestAnimationFrame callback at a time, asked for when something is to be drawn.

/** A clock calling tick(t) on the next animation frame after each schedule(); stop() ends it for good. */
export function createClock(tick) {
  let rafId = 0, stopped = false;
  const run = (t) => {
    rafId = 0;
    if (stopped) return;
    tick(t);
  };
  return {
    schedule() {
      if (!rafId && !stopped) rafId = requestAnimationFrame(run);
    },
    stop() {
      stopped = true;
      if (rafId) cancelAnimationFrame(rafId);
    },
  };
}
