// Encoding an export in the browser, from a camera's frames (camera.js): an animated GIF (gif.js), a WebM video
// (MediaRecorder), a PNG of one frame (the canvas). Nothing reaches the kernel. Long exports give the page a turn
// every few milliseconds and can be cancelled (job.cancelled).

import { buildPalette, changedBox, countColours, GifWriter, Quantizer } from "./gif.js";

const PALETTE_SAMPLES = 16; // frames whose colours choose a GIF's palette
const WORK_MS = 20; // work between two turns given back to the page
const WEBM_TYPES = ["video/webm;codecs=vp9", "video/webm;codecs=vp8", "video/webm"];

/** The WebM type this browser records (null: it records none). */
export function webmType() {
  if (typeof MediaRecorder === "undefined" || !("captureStream" in HTMLCanvasElement.prototype)) return null;
  return WEBM_TYPES.find((t) => MediaRecorder.isTypeSupported(t)) || null;
}

/**
 * Gives the page a turn (input, painting, the Cancel button). A MessageChannel message, unlike
 * setTimeout, is not slowed to one a second while the tab is in the background.
 */
export function yieldToPage() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

/**
 * Between two frames of an export: after WORK_MS of work, let the page run. True once cancelled.
 */
export async function breathe(job) {
  if (performance.now() - job.since > WORK_MS) {
    await yieldToPage();
    job.since = performance.now();
  }
  return job.cancelled;
}

/**
 * Frames [start, stop) as an animated GIF (null if cancelled). The palette comes from a sample
 * of the frames; each GIF frame holds only what changed since the previous one (gif.js).
 */
export async function encodeGif(camera, start, stop, delayCs, job, progress) {
  const { width, height } = camera.canvas;
  const pixelsOf = (k) => {
    camera.draw(k);
    return new Uint32Array(camera.ctx.getImageData(0, 0, width, height).data.buffer);
  };
  const histogram = new Map();
  const samples = Math.min(stop - start, PALETTE_SAMPLES);
  for (let i = 0; i < samples; i++) {
    countColours(pixelsOf(start + Math.floor((i * (stop - start)) / samples)), histogram);
    if (await breathe(job)) return null;
  }
  const palette = buildPalette(histogram);
  const quantizer = new Quantizer(palette);
  const gif = new GifWriter(width, height, palette, { delayCs, transparent: quantizer.transparent });
  let prev = null;
  for (let k = start; k < stop; k++) {
    const pixels = pixelsOf(k);
    const box = prev === null ? { x: 0, y: 0, w: width, h: height }
      : changedBox(prev, pixels, width, height) || { x: 0, y: 0, w: 1, h: 1 };
    gif.addFrame(quantizer.indices(pixels, width, box, prev), box);
    prev = pixels;
    progress(k - start + 1);
    if (await breathe(job)) return null;
  }
  return gif.finish();
}

/**
 * Frames [start, stop) recorded as a WebM video (null if cancelled). MediaRecorder stamps each
 * frame with the time it arrives, so the frames are drawn in real time, `fps` a second.
 */
export async function recordWebm(camera, start, stop, fps, job, progress) {
  const stream = camera.canvas.captureStream(0);
  const track = stream.getVideoTracks()[0];
  const recorder = new MediaRecorder(stream, { mimeType: webmType(), videoBitsPerSecond: 4e6 });
  const chunks = [];
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  const stopped = new Promise((resolve) => { recorder.onstop = resolve; });
  recorder.start();
  const t0 = performance.now();
  for (let k = start; k < stop && !job.cancelled; k++) {
    camera.draw(k);
    track.requestFrame();
    progress(k - start + 1);
    const due = t0 + ((k - start + 1) * 1000) / fps;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
  }
  recorder.stop();
  await stopped;
  track.stop();
  return job.cancelled ? null : new Blob(chunks, { type: "video/webm" });
}

/** Frame k as a PNG (a Promise of its Blob). */
export function pngOf(camera, k) {
  camera.draw(k);
  return new Promise((resolve) => camera.canvas.toBlob(resolve, "image/png"));
}
