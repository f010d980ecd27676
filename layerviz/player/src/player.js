// The player widget's render (anywidget): the DOM and its controls, the scene from Python decoded and laid out,
// the clock, the kernel sync and the export row, wired together; and what happens when Python changes the model.
//
// The state of one player is one object (`player`) that the modules of the widget read and write: the scene shown,
// its renderer, the current frame, whether it plays, and what the kernel knows. The scene arrives once (binary
// buffers); the clock runs here (requestAnimationFrame). The kernel hears the current frame only when Python may
// need it (sync.js). Exports (GIF, WebM, PNG) are drawn and encoded here too, without the kernel.

import { createClock } from "./clock.js";
import { bindControls, createControls, fillFps, presenterFromUrl, setPresenter, watchWidth } from "./controls.js";
import { decodeScene } from "./decode.js";
import { bindExport } from "./export_ui.js";
import { bindKeyboard } from "./keyboard.js";
import { clamp } from "./math.js";
import { jump, onFrame, setPlaying } from "./playback.js";
import { dropPendingSync, flushBeforeOthers } from "./sync.js";
import { build, updateUi } from "./view.js";

/** Decodes the scene Python sent (`_scene`) and shows it from the frame Python says. */
export function loadScene(player) {
  const { model } = player;
  const { root, titleEl, canvas, slider, btnFirst, btnBack, btnPlay, btnFwd, btnLast, saveButtons } = player.ui;
  const scene = player.scene = decodeScene(model.get("_scene"));
  const n = scene ? scene.n : 0;
  root.dataset.nFrames = String(n);
  titleEl.textContent = scene ? scene.title : "";
  canvas.setAttribute("aria-label", scene ? `Animation: ${scene.title}` : "No scene");
  root.setAttribute("aria-label", scene ? `Layer animation player: ${scene.title}` : "Layer animation player");
  slider.max = String(Math.max(0, n - 1));
  for (const b of [btnFirst, btnBack, btnPlay, btnFwd, btnLast, slider]) b.disabled = n === 0;
  for (const b of saveButtons) b.disabled = n === 0 || player.job !== null;
  // A step not yet sent belongs to the scene Python replaced: the new one starts where Python says.
  dropPendingSync(player);
  player.cur = clamp(model.get("frame") | 0, 0, Math.max(0, n - 1));
  player.kernelFrame = player.cur;
  if (n === 0 && player.playing) setPlaying(player, false, false);
  player.captionK = -1;
  updateUi(player);
  build(player);
}

// What the player does when Python changes the model. Returns the function that stops listening.
function listenToModel(player) {
  const { model } = player;
  const onScene = () => loadScene(player);
  const onFrameChange = () => {
    const v = model.get("frame") | 0;
    if (v === player.kernelFrame || v === player.cur) { player.kernelFrame = v; return; }
    player.kernelFrame = v;
    jump(player, v, false);
  };
  const onPlaying = () => {
    const v = !!model.get("playing");
    if (v !== player.playing) setPlaying(player, v, false);
  };
  const onFps = () => {
    player.fps = clamp(model.get("fps") | 0, 1, 60);
    player.nextT = null;
    fillFps(player);
  };
  model.on("change:_scene", onScene);
  model.on("change:frame", onFrameChange);
  model.on("change:playing", onPlaying);
  model.on("change:fps", onFps);
  return () => {
    model.off("change:_scene", onScene);
    model.off("change:frame", onFrameChange);
    model.off("change:playing", onPlaying);
    model.off("change:fps", onFps);
  };
}

/** anywidget's render: the player in `el`, driven by `model`; returns the function that takes it down. */
export function render({ model, el }) {
  const ui = createControls(el);
  const player = {
    model, ui,
    scene: null, // decoded scene
    renderer: null, // draws the scene on the visible canvas
    cur: 0, // frame shown (or to be shown)
    drawnK: -1, // frame last drawn (-1: none since the last build)
    playing: false,
    fps: 8,
    nextT: null, // when the next frame is due while playing
    lastSyncT: -1e9,
    syncTimer: 0,
    kernelFrame: model.get("frame"), // the value the kernel knows
    drawn: 0,
    layoutWidth: 0,
    presenter: presenterFromUrl(),
    captionK: -1,
    destroyed: false,
    job: null, // the export under way: {kind, cancelled, since}
    downloadUrl: null, // the last export's file, kept for its link
    nodeBoxes: [], // the graphs' boxes, CSS px of the canvas as shown: [{name, x, y, w, h}]
    stats: { draws: 0, drawMs: 0 }, // for benchmarks: root.__layerviz
    clock: null,
  };
  ui.root.__layerviz = player.stats;
  player.clock = createClock((t) => onFrame(player, t));

  bindExport(player);
  bindControls(player);
  bindKeyboard(player);
  const stopFlushing = flushBeforeOthers(player);
  const stopListening = listenToModel(player);
  const stopWatching = watchWidth(player);

  player.fps = clamp(model.get("fps") | 0, 1, 60);
  fillFps(player);
  setPresenter(player, player.presenter);
  loadScene(player);
  if (model.get("playing")) setPlaying(player, true, false);

  return () => {
    player.destroyed = true;
    if (player.job) player.job.cancelled = true;
    if (player.downloadUrl) URL.revokeObjectURL(player.downloadUrl);
    player.clock.stop();
    stopWatching();
    dropPendingSync(player);
    stopFlushing();
    stopListening();
  };
}
