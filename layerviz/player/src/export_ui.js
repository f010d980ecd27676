// The export row under the player: Save GIF, Save WebM, Save frame as PNG, the progress of an export under way,
// Cancel, and the link to the file made.

import { createCamera } from "./camera.js";
import { encodeGif, pngOf, recordWebm, webmType } from "./export_encode.js";
import { EXPORT_MAX_FRAMES, exportName, exportRange } from "./export_range.js";
import { sizeText } from "./format.js";
import { textScale } from "./view.js";

/** The save buttons' tips and clicks, and Cancel (WebM is offered only where the browser records it). */
export function bindExport(player) {
  const { saveButtons, btnCancel } = player.ui;
  const WEBM = webmType();
  const range = `every frame, or ${EXPORT_MAX_FRAMES} from the one shown on`;
  const TIPS = {
    gif: `The animation as a GIF, made in your browser: ${range}`,
    webm: `The animation as a WebM video, recorded in your browser in real time at the speed chosen: ${range}`,
    png: "The frame shown, with its caption, as a PNG",
  };
  for (const b of saveButtons) b.title = TIPS[b.dataset.kind];
  saveButtons.find((b) => b.dataset.kind === "webm").hidden = !WEBM;
  for (const b of saveButtons) b.addEventListener("click", () => runExport(player, b.dataset.kind));
  btnCancel.addEventListener("click", () => { if (player.job) player.job.cancelled = true; });
}

function setExporting(player, kind, total) {
  const { root, saveButtons, progressEl, btnCancel } = player.ui;
  const { scene } = player;
  root.dataset.exporting = kind;
  for (const b of saveButtons) b.disabled = kind !== "" || !scene || !scene.n;
  progressEl.hidden = btnCancel.hidden = kind === "" || total < 2;
  progressEl.max = Math.max(1, total);
  progressEl.value = 0;
}

function offerDownload(player, blob, name) {
  if (player.downloadUrl) URL.revokeObjectURL(player.downloadUrl);
  player.downloadUrl = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = player.downloadUrl;
  link.download = name;
  link.textContent = name;
  player.ui.exportStatus.replaceChildren("Saved ", link, ` (${sizeText(blob.size)})`);
  link.click();
}

/** Makes the file of `kind` (gif, webm, png) from the scene shown, and offers it for download. */
export async function runExport(player, kind) {
  const { progressEl, exportStatus } = player.ui;
  if (player.job || !player.scene || !player.scene.n) return;
  const exported = player.scene; // a new scene from Python does not change an export under way
  const cur = player.cur, fps = player.fps;
  const [start, stop] = kind === "png" ? [cur, cur + 1] : exportRange(exported.n, cur);
  const name = exportName(exported, start, stop, kind);
  const thisJob = player.job = { kind, cancelled: false, since: performance.now() };
  setExporting(player, kind, stop - start);
  exportStatus.textContent = stop - start > 1 ? `Making ${name} (${stop - start} frames)…` : "";
  const progress = (done) => { progressEl.value = done; };
  try {
    const camera = createCamera(exported, player.layoutWidth, start, stop, textScale(player));
    let blob;
    if (kind === "gif") blob = await encodeGif(camera, start, stop, Math.max(2, Math.round(100 / fps)), thisJob, progress);
    else if (kind === "webm") blob = await recordWebm(camera, start, stop, fps, thisJob, progress);
    else blob = await pngOf(camera, start);
    if (player.destroyed) return;
    if (thisJob.cancelled || !blob) exportStatus.textContent = "Cancelled: nothing saved.";
    else offerDownload(player, blob, name);
  } catch (err) {
    console.warn("layerviz: export failed", err);
    exportStatus.textContent = "The file could not be made; try a PNG of one frame.";
  } finally {
    player.job = null;
    if (!player.destroyed) setExporting(player, "", 0);
  }
}
