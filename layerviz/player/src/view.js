// What the player shows: the scene laid out for the player's width and drawn on its canvas, the frame's caption,
// counter and slider, and the readout of lit cells.

import { MAX_W, PRESENTER_SCALE } from "./constants.js";
import { textMeasure } from "./canvas.js";
import { captionOf } from "./decode.js";
import { layoutScene } from "./layout_scene.js";
import { createRenderer } from "./renderer.js";

/** The width a scene may take: the stage's, whole pixels only (a canvas wider by a fraction would scroll). */
export function stageWidth(player) {
  const w = Math.floor(player.ui.stage.getBoundingClientRect().width);
  return w > 0 ? w : MAX_W;
}

/** The scale of text and cells: larger in presenter mode. */
export function textScale(player) {
  return player.presenter ? PRESENTER_SCALE : 1;
}

/**
 * Lays the scene out for the stage's width and makes its renderer: the canvas sized (never wider than the player:
 * what the layout could not fit is scaled down as a whole), the static parts drawn, the frame drawn on the next
 * animation frame, the other page images pre-rendered in the background.
 */
export function build(player) {
  const { root, canvas, captionEl, readoutEl, ctx } = player.ui;
  const { scene } = player;
  player.renderer = null;
  player.drawnK = -1;
  const dpr = window.devicePixelRatio || 1;
  player.layoutWidth = stageWidth(player);
  readoutEl.hidden = true;
  player.nodeBoxes = [];
  delete root.dataset.nodeBoxes;
  if (!scene || scene.n === 0) {
    canvas.width = 1; canvas.height = 1;
    canvas.style.width = "0px"; canvas.style.height = "0px";
    captionEl.textContent = scene ? "" : "No scene to show.";
    updateUi(player);
    root.dataset.ready = "1";
    return;
  }
  const layoutWidth = player.layoutWidth;
  const L = layoutScene(scene, layoutWidth, dpr, textMeasure(ctx), textScale(player));
  canvas.width = L.width;
  canvas.height = L.height;
  // never wider than the player: what the layout could not fit is scaled down as a whole
  const cssW = L.width / dpr, shown = Math.min(cssW, layoutWidth);
  canvas.style.width = `${shown}px`;
  canvas.style.height = `${(L.height / dpr) * (shown / cssW)}px`;
  root.dataset.sceneWidth = String(Math.round(cssW));
  const built = createRenderer(scene, L, canvas);
  player.renderer = built;
  // the graphs' boxes in CSS px of the canvas as shown (for clicks, tests and assistive tools)
  const toCss = shown / cssW / dpr;
  player.nodeBoxes = built.nodeBoxes().map((b) => ({ name: b.name, x: Math.round(b.x * toCss), y: Math.round(b.y * toCss),
    w: Math.round(b.w * toCss), h: Math.round(b.h * toCss) }));
  if (player.nodeBoxes.length) root.dataset.nodeBoxes = JSON.stringify(player.nodeBoxes);
  else delete root.dataset.nodeBoxes;
  readoutEl.hidden = !built.hasReadout;
  readoutEl.textContent = "";
  built.drawStatic();
  player.clock.schedule();
  // Pre-render the other pages in the background, two at a time.
  const warm = () => {
    if (player.destroyed || player.renderer !== built) return;
    const more = built.warmOne() && built.warmOne();
    if (more) setTimeout(warm, 30);
  };
  setTimeout(warm, 200);
}

/** Draws frame k (timed, for benchmarks: root.__layerviz), its caption and the readout of its lit cells. */
export function draw(player, k) {
  const { renderer, stats } = player;
  const { root, readoutEl } = player.ui;
  if (!renderer) return;
  const t0 = performance.now();
  renderer.draw(k);
  player.drawnK = k;
  player.drawn++;
  stats.draws = player.drawn;
  stats.drawMs += performance.now() - t0;
  root.dataset.drawn = String(player.drawn);
  window.__layerviz_draws = (window.__layerviz_draws || 0) + 1;
  updateCaption(player, k);
  if (renderer.hasReadout) {
    const lit = renderer.litText(k);
    readoutEl.textContent = lit ? `Lit cells: ${lit}` : "Lit cells: none on this frame";
  }
  if (!root.dataset.ready) root.dataset.ready = "1";
}

/** Frame k's caption under the picture (written once per frame). */
export function updateCaption(player, k) {
  if (k === player.captionK || !player.scene) return;
  player.captionK = k;
  player.ui.captionEl.textContent = captionOf(player.scene, k);
}

/** The slider, the counter and the caption for the current frame. */
export function updateUi(player) {
  const { root, slider, counter } = player.ui;
  const n = player.scene ? player.scene.n : 0;
  const cur = player.cur;
  root.dataset.frame = String(cur);
  slider.value = String(cur);
  counter.textContent = n ? `${cur + 1} / ${n}` : "0 / 0";
  if (n) updateCaption(player, cur);
}
