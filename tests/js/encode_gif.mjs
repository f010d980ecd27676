// Encodes raw RGBA frames with the player's GIF export (encodeGif, the path Save GIF takes) and writes the file:
//
//   node tests/js/encode_gif.mjs FRAMES.bin WIDTH HEIGHT N DELAY_CS OUT.gif
//
// FRAMES.bin holds N frames of WIDTH x HEIGHT RGBA pixels, one after the other. The camera here hands the frames
// over as a canvas would (getImageData); tests/test_javascript.py decodes the GIF with Pillow.

import { readFileSync, writeFileSync } from "node:fs";
import { encodeGif } from "../../layerviz/player/src/export_encode.js";

const [source, width, height, n, delayCs, out] = process.argv.slice(2);
const w = Number(width), h = Number(height), frames = Number(n);
const bytes = readFileSync(source);
let shown = 0;
const camera = {
  canvas: { width: w, height: h },
  draw(k) { shown = k; },
  ctx: {
    getImageData: () => ({ data: new Uint8ClampedArray(bytes.buffer.slice(bytes.byteOffset + shown * w * h * 4,
      bytes.byteOffset + (shown + 1) * w * h * 4)) }),
  },
};
const job = { cancelled: false, since: performance.now() };
const blob = await encodeGif(camera, 0, frames, Number(delayCs), job, () => {});
writeFileSync(out, Buffer.from(await blob.arrayBuffer()));
// The turns encodeGif gave back to the page (MessageChannel ports) would keep Node waiting: done.
process.exit(0);
