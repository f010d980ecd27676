// The player's keys, while it has the focus: space plays / pauses, the arrows step, Home and End go to the first
// and last frames. The speed select, the presenter button and the export row keep their own keys.

import { jump, setPlaying, step } from "./playback.js";

const SLIDER_KEYS = new Set(["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "PageDown"]);

/** Wires the keys on the player's root. */
export function bindKeyboard(player) {
  const { root, slider, fpsSel, btnPresenter, btnPlay, exportRow } = player.ui;
  root.addEventListener("keydown", (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const tgt = e.target;
    if (tgt === fpsSel || tgt === btnPresenter || exportRow.contains(tgt)) return;
    if (tgt === slider && SLIDER_KEYS.has(e.key)) return; // the slider moves itself
    switch (e.key) {
      case " ":
      case "Spacebar":
        if (tgt === btnPlay) return; // the button toggles on its own
        setPlaying(player, !player.playing, true);
        break;
      case "ArrowRight": step(player, 1); break;
      case "ArrowLeft": step(player, -1); break;
      case "Home": if (player.playing) setPlaying(player, false, true); jump(player, 0, true); break;
      case "End": if (player.playing) setPlaying(player, false, true); jump(player, player.scene ? player.scene.n - 1 : 0, true); break;
      default: return;
    }
    e.preventDefault();
    e.stopPropagation();
  });
  // Space on a focused button: keydown toggles play (above); stop the button's own click.
  root.addEventListener("keyup", (e) => {
    if ((e.key === " " || e.key === "Spacebar") && e.target.tagName === "BUTTON" && e.target !== btnPlay
        && !exportRow.contains(e.target)) e.preventDefault();
  });
}
