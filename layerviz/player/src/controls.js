// The player's controls: its DOM (title, canvas, readout, buttons, slider, counter, speed, presenter mode, caption,
// the export row, the keys' help) and what the buttons, the slider, the speed select and clicks on the canvas do.

import { MAX_W_PRESENTER, MAX_W } from "./constants.js";
import { svgIcon } from "./icons.js";
import { clamp } from "./math.js";
import { jump, setPlaying, step } from "./playback.js";
import { sendState } from "./sync.js";
import { build, stageWidth } from "./view.js";

const FPS_CHOICES = [1, 2, 4, 8, 12, 16, 24, 30, 60];

/** The player's DOM, appended to el: its root and the elements the player drives. */
export function createControls(el) {
  const root = document.createElement("div");
  root.className = "layerviz-player";
  root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.dataset.frame = "0";
  root.dataset.nFrames = "0";
  root.dataset.drawn = "0";
  root.dataset.playing = "false";
  root.dataset.exporting = "";
  root.innerHTML = `
    <div class="lvp-title"></div>
    <div class="lvp-stage"><canvas class="lvp-canvas" role="img"></canvas></div>
    <div class="lvp-readout" hidden></div>
    <div class="lvp-controls">
      <button type="button" class="lvp-btn lvp-first" aria-label="First frame" title="First frame (Home)">${svgIcon("first")}</button>
      <button type="button" class="lvp-btn lvp-back" aria-label="Step back" title="Step back (←)">${svgIcon("back")}</button>
      <button type="button" class="lvp-btn lvp-play" aria-label="Play" title="Play / pause (space)">${svgIcon("play")}</button>
      <button type="button" class="lvp-btn lvp-forward" aria-label="Step forward" title="Step forward (→)">${svgIcon("forward")}</button>
      <button type="button" class="lvp-btn lvp-last" aria-label="Last frame" title="Last frame (End)">${svgIcon("last")}</button>
      <input type="range" class="lvp-slider" min="0" max="0" step="1" value="0" aria-label="Frame">
      <span class="lvp-counter" aria-label="Frame number">0 / 0</span>
      <label class="lvp-speed">Speed
        <select class="lvp-fps" aria-label="Speed in frames per second"></select>
      </label>
      <button type="button" class="lvp-presenter-btn" aria-pressed="false"
        title="Presenter mode: larger numbers and labels, for a projector (or add ?presenter=1 to the page's address)">Presenter</button>
    </div>
    <div class="lvp-caption" aria-live="polite" aria-atomic="true"></div>
    <div class="lvp-export" role="group" aria-label="Save">
      <button type="button" class="lvp-save" data-kind="gif">Save GIF</button>
      <button type="button" class="lvp-save" data-kind="webm">Save WebM</button>
      <button type="button" class="lvp-save" data-kind="png">Save frame as PNG</button>
      <progress class="lvp-progress" max="1" value="0" aria-label="Export progress" hidden></progress>
      <button type="button" class="lvp-save lvp-cancel" hidden>Cancel</button>
      <span class="lvp-export-status" role="status"></span>
    </div>
    <div class="lvp-help">Keys: <kbd>space</kbd> play / pause · <kbd>←</kbd> <kbd>→</kbd> step · <kbd>Home</kbd> <kbd>End</kbd> first / last</div>`;
  el.appendChild(root);
  const $ = (s) => root.querySelector(s);
  const titleEl = $(".lvp-title"), canvas = $(".lvp-canvas"), stage = $(".lvp-stage");
  const btnFirst = $(".lvp-first"), btnBack = $(".lvp-back"), btnPlay = $(".lvp-play");
  const btnFwd = $(".lvp-forward"), btnLast = $(".lvp-last");
  const slider = $(".lvp-slider"), counter = $(".lvp-counter"), fpsSel = $(".lvp-fps");
  const captionEl = $(".lvp-caption"), readoutEl = $(".lvp-readout"), btnPresenter = $(".lvp-presenter-btn");
  const exportRow = $(".lvp-export"), progressEl = $(".lvp-progress"), btnCancel = $(".lvp-cancel");
  const exportStatus = $(".lvp-export-status");
  const saveButtons = [...root.querySelectorAll(".lvp-save[data-kind]")];
  const ctx = canvas.getContext("2d");
  return {
    root, titleEl, canvas, stage, btnFirst, btnBack, btnPlay, btnFwd, btnLast, slider, counter, fpsSel, captionEl,
    readoutEl, btnPresenter, exportRow, progressEl, btnCancel, exportStatus, saveButtons, ctx,
  };
}

/** Presenter mode asked for by the page's address: ?presenter=1 (or true, yes, on), or #presenter. */
export function presenterFromUrl() {
  try {
    const v = new URLSearchParams(window.location.search).get("presenter");
    return (v !== null && /^(1|true|yes|on)$/i.test(v)) || /(^#|[#&])presenter\b/.test(window.location.hash);
  } catch (err) {
    return false;
  }
}

/** Presenter mode on or off: larger text and cells (player.css and the layout's text scale). */
export function setPresenter(player, on) {
  const { root, btnPresenter } = player.ui;
  player.presenter = on;
  root.classList.toggle("lvp-presenter", on);
  btnPresenter.setAttribute("aria-pressed", String(on));
  btnPresenter.classList.toggle("lvp-on", on);
  root.dataset.presenter = String(on);
}

/** The speed select's choices (the usual ones, and the player's fps if it is another), the player's selected. */
export function fillFps(player) {
  const { fps } = player, { fpsSel } = player.ui;
  const choices = FPS_CHOICES.includes(fps) ? FPS_CHOICES : [...FPS_CHOICES, fps].sort((a, b) => a - b);
  fpsSel.innerHTML = choices.map((f) => `<option value="${f}">${f} fps</option>`).join("");
  fpsSel.value = String(fps);
}

/**
 * Wires the buttons, the slider, the speed select, the presenter button and clicks on the canvas (a graph's box
 * sends its node's name to Python, as clicked_node).
 */
export function bindControls(player) {
  const { model } = player;
  const { root, canvas, btnFirst, btnBack, btnPlay, btnFwd, btnLast, slider, fpsSel, btnPresenter } = player.ui;
  btnPresenter.addEventListener("click", (e) => {
    e.preventDefault();
    setPresenter(player, !player.presenter);
    // the player's width changes with the mode (CSS): lay out once it has
    requestAnimationFrame(() => { if (!player.destroyed) build(player); });
  });
  const last = () => (player.scene ? player.scene.n - 1 : 0);
  const onClick = (fn) => (e) => { e.preventDefault(); fn(); root.focus({ preventScroll: true }); };
  btnFirst.addEventListener("click", onClick(() => { if (player.playing) setPlaying(player, false, true); jump(player, 0, true); }));
  btnLast.addEventListener("click", onClick(() => { if (player.playing) setPlaying(player, false, true); jump(player, last(), true); }));
  btnBack.addEventListener("click", onClick(() => step(player, -1)));
  btnFwd.addEventListener("click", onClick(() => step(player, 1)));
  btnPlay.addEventListener("click", (e) => { e.preventDefault(); setPlaying(player, !player.playing, true); });
  slider.addEventListener("input", () => {
    if (player.playing) setPlaying(player, false, true);
    jump(player, Number(slider.value), false);
  });
  slider.addEventListener("change", () => { jump(player, Number(slider.value), false); sendState(player, {}); });
  fpsSel.addEventListener("change", () => {
    player.fps = clamp(Number(fpsSel.value) | 0, 1, 60);
    player.nextT = null;
    model.set("fps", player.fps);
    model.save_changes();
  });
  canvas.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
  // A click on a graph's box sends its node's name to Python (clicked_node), even the same name twice.
  const boxAt = (e) => {
    const r = canvas.getBoundingClientRect(), x = e.clientX - r.left, y = e.clientY - r.top;
    return player.nodeBoxes.find((b) => x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h) || null;
  };
  canvas.addEventListener("click", (e) => {
    const box = boxAt(e);
    if (!box) return;
    if (model.get("clicked_node") === box.name) { model.set("clicked_node", ""); model.save_changes(); }
    model.set("clicked_node", box.name);
    model.save_changes();
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!player.nodeBoxes.length) return;
    const box = boxAt(e);
    canvas.style.cursor = box ? "pointer" : "";
    canvas.title = box ? `Open ${box.name}` : "";
  });
}

/** Lays the scene out again when the player's width changes (more than a little, or narrower). Returns the observer. */
export function watchWidth(player) {
  let resizeRaf = 0;
  const ro = new ResizeObserver(() => {
    if (resizeRaf) return;
    resizeRaf = requestAnimationFrame(() => {
      resizeRaf = 0;
      const w = stageWidth(player);
      const cap = player.presenter ? MAX_W_PRESENTER : MAX_W;
      if (w && (w < player.layoutWidth || Math.abs(Math.min(w, cap) - Math.min(player.layoutWidth, cap)) > 16)) build(player);
    });
  });
  ro.observe(player.ui.root);
  return () => {
    if (resizeRaf) cancelAnimationFrame(resizeRaf);
    ro.disconnect();
  };
}
