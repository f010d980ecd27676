// Playing and stepping: the frame advanced by the clock at the chosen fps (frames skipped rather than the
// animation slowed), jumps and steps, play / pause; each tells the kernel what it must know (sync.js).

import { svgIcon } from "./icons.js";
import { clamp } from "./math.js";
import { sendState, syncSoon } from "./sync.js";
import { draw, updateUi } from "./view.js";

/** The clock's tick: while playing, the frames due since the last tick; then the current frame drawn. */
export function onFrame(player, t) {
  const { scene } = player;
  if (player.playing && scene && scene.n) {
    const interval = 1000 / player.fps;
    if (player.nextT === null) {
      player.nextT = t + interval;
    } else if (t + 1 >= player.nextT) {
      const steps = 1 + Math.floor((t + 1 - player.nextT) / interval);
      player.nextT += steps * interval;
      if (t - player.nextT > 250) player.nextT = t + interval;
      const k = player.cur + steps;
      if (k >= scene.n - 1) {
        player.cur = scene.n - 1;
        updateUi(player);
        setPlaying(player, false, true);
      } else {
        player.cur = k;
        updateUi(player);
      }
    }
  }
  if (player.cur !== player.drawnK) draw(player, player.cur);
  if (player.playing) player.clock.schedule();
}

/** Shows frame k (clamped), drawn on the next animation frame; with `sync`, the kernel hears it soon. */
export function jump(player, k, sync) {
  const { scene } = player;
  if (!scene || !scene.n) return;
  player.cur = clamp(k | 0, 0, scene.n - 1);
  updateUi(player);
  player.clock.schedule();
  if (sync) syncSoon(player);
}

/** Plays or pauses; `fromUser`: the player's own button or key (the kernel hears it), else Python asked. */
export function setPlaying(player, on, fromUser) {
  const { scene } = player;
  const { root, btnPlay, captionEl } = player.ui;
  if (on && (!scene || !scene.n)) on = false;
  if (on && fromUser && player.cur >= scene.n - 1) { player.cur = 0; updateUi(player); }
  player.playing = on;
  player.nextT = null;
  root.dataset.playing = String(on);
  btnPlay.innerHTML = svgIcon(on ? "pause" : "play");
  btnPlay.setAttribute("aria-label", on ? "Pause" : "Play");
  btnPlay.classList.toggle("lvp-on", on);
  captionEl.setAttribute("aria-busy", String(on));
  if (fromUser) sendState(player, { playing: on });
  // Paused by Python, which may read the frame next: send it once the whole update from
  // Python is applied (it may also have set the frame).
  else if (!on) queueMicrotask(() => { if (!player.destroyed) sendState(player, {}); });
  if (on) player.clock.schedule();
}

/** A step of d frames (pausing first), which the kernel hears soon. */
export function step(player, d) {
  if (player.playing) setPlaying(player, false, true);
  jump(player, player.cur + d, true);
}
