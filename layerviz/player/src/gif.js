// layerviz GIF89a encoder: frames of canvas pixels -> an animated, looping GIF.
//
// No DOM and no layer knowledge (a Blob at the end: browsers and Node have it). Usage:
//
//   const palette = buildPalette(histogram);    // <= 255 colours, from sampled frames
//   const quantizer = new Quantizer(palette);    // index palette.length: "unchanged" (transparent)
//   const gif = new GifWriter(width, height, palette, { delayCs: 12, transparent: quantizer.transparent });
//   gif.addFrame(quantizer.indices(pixels, width, box, previous), box);   // pixels: Uint32Array of RGBA
//   const blob = gif.finish();
//
// Each frame after the first carries only the box that changed (changedBox), and inside it the
// pixels equal to the previous frame's are transparent: long runs of one index, which LZW packs
// into a few codes. A scene's frame changes a few cells, a highlight and the caption.
//
// Colours are 24-bit integers read straight from a Uint32Array over ImageData: on little-endian
// machines (every browser's) that is 0xBBGGRR with alpha above, hence rgbKey() masks it.

export const rgbKey = (pixel) => pixel & 0xffffff;

// Counts the colours of an RGBA frame into `histogram` (a Map colour -> pixels). Runs of one colour
// (most of a drawn scene: the background, flat cells) cost one map update.
export function countColours(pixels, histogram) {
  let run = 0, colour = -1;
  for (let i = 0; i < pixels.length; i++) {
    const c = rgbKey(pixels[i]);
    if (c === colour) { run++; continue; }
    if (run) histogram.set(colour, (histogram.get(colour) || 0) + run);
    colour = c;
    run = 1;
  }
  if (run) histogram.set(colour, (histogram.get(colour) || 0) + run);
  return histogram;
}

// At most `size` colours for the frames the histogram describes (255 by default: the 256th index
// is the transparent "unchanged" one). A scene is mostly flat colours (the colormap's cells,
// highlight outlines, grey text, the white page): when there are at most `size` of them they are
// kept exactly; otherwise the most frequent three quarters of the palette stay exact and the rare
// rest (anti-aliased edges of text and lines) is summarised by median cut.
export function buildPalette(histogram, size = 255) {
  const colours = [...histogram.entries()].sort((a, b) => b[1] - a[1]);
  if (colours.length <= size) return colours.map(([c]) => c);
  const exact = Math.floor(size * 0.75);
  return colours.slice(0, exact).map(([c]) => c).concat(medianCut(colours.slice(exact), size - exact));
}

const channel = (c, ch) => (c >> (8 * ch)) & 255;

// Splits the weighted colours into `n` boxes, always the box with the widest channel range at its
// weighted median along that channel; returns each box's weighted mean colour.
function medianCut(entries, n) {
  const boxes = [entries];
  const range = (box) => {
    let best = [0, -1];
    for (let ch = 0; ch < 3; ch++) {
      let lo = 255, hi = 0;
      for (const [c] of box) { const v = channel(c, ch); if (v < lo) lo = v; if (v > hi) hi = v; }
      if (hi - lo > best[1]) best = [ch, hi - lo];
    }
    return best;
  };
  while (boxes.length < n) {
    let pick = -1, pickRange = 0, pickCh = 0;
    boxes.forEach((box, i) => {
      if (box.length < 2) return;
      const [ch, r] = range(box);
      if (r > pickRange) { pick = i; pickRange = r; pickCh = ch; }
    });
    if (pick < 0) break;
    const box = boxes[pick].sort((a, b) => channel(a[0], pickCh) - channel(b[0], pickCh));
    const total = box.reduce((s, [, w]) => s + w, 0);
    let acc = 0, cut = 1;
    for (; cut < box.length - 1; cut++) {
      acc += box[cut - 1][1];
      if (acc >= total / 2) break;
    }
    boxes.splice(pick, 1, box.slice(0, cut), box.slice(cut));
  }
  return boxes.map((box) => {
    const sum = [0, 0, 0];
    let w = 0;
    for (const [c, k] of box) { for (let ch = 0; ch < 3; ch++) sum[ch] += channel(c, ch) * k; w += k; }
    return sum.reduce((key, s, ch) => key | (Math.round(s / w) << (8 * ch)), 0);
  });
}

// Maps colours to their palette index: exact colours directly, others to the nearest palette
// colour (squared RGB distance), remembered so each distinct colour is searched once.
export class Quantizer {
  constructor(palette) {
    this.palette = palette;
    this.transparent = palette.length; // the index of pixels equal to the previous frame's
    this.cache = new Map(palette.map((c, i) => [c, i]));
  }

  index(colour) {
    let i = this.cache.get(colour);
    if (i !== undefined) return i;
    let best = Infinity;
    this.palette.forEach((p, j) => {
      const dr = channel(p, 0) - channel(colour, 0), dg = channel(p, 1) - channel(colour, 1);
      const db = channel(p, 2) - channel(colour, 2);
      const d = dr * dr + dg * dg + db * db;
      if (d < best) { best = d; i = j; }
    });
    this.cache.set(colour, i);
    return i;
  }

  // Palette indices of the box {x, y, w, h} of an RGBA frame `width` pixels wide; with the
  // previous frame, its unchanged pixels get the transparent index.
  indices(pixels, width, box, previous = null) {
    const out = new Uint8Array(box.w * box.h);
    let colour = -1, index = 0, o = 0;
    for (let y = box.y; y < box.y + box.h; y++) {
      for (let i = y * width + box.x, end = i + box.w; i < end; i++) {
        if (previous !== null && previous[i] === pixels[i]) { out[o++] = this.transparent; continue; }
        const c = rgbKey(pixels[i]);
        if (c !== colour) { colour = c; index = this.index(c); }
        out[o++] = index;
      }
    }
    return out;
  }
}

// The smallest box holding every pixel that differs between two frames of the same size, or null
// if they are equal: a GIF frame only needs to carry what changed.
export function changedBox(prev, pixels, width, height) {
  let top = -1, bottom = -1;
  for (let y = 0; y < height && top < 0; y++) {
    for (let i = y * width, end = i + width; i < end; i++) if (prev[i] !== pixels[i]) { top = y; break; }
  }
  if (top < 0) return null;
  for (let y = height - 1; y >= top && bottom < 0; y--) {
    for (let i = y * width, end = i + width; i < end; i++) if (prev[i] !== pixels[i]) { bottom = y; break; }
  }
  let left = width, right = -1;
  for (let y = top; y <= bottom; y++) {
    const row = y * width;
    for (let x = 0; x < left; x++) if (prev[row + x] !== pixels[row + x]) { left = x; break; }
    for (let x = width - 1; x > right; x--) if (prev[row + x] !== pixels[row + x]) { right = x; break; }
  }
  return { x: left, y: top, w: right - left + 1, h: bottom - top + 1 };
}

// A growing byte buffer that ends as a Blob.
class Bytes {
  constructor() {
    this.chunks = [];
    this.buf = new Uint8Array(1 << 16);
    this.n = 0;
  }

  byte(b) {
    if (this.n === this.buf.length) this.flush();
    this.buf[this.n++] = b;
  }

  u16(v) {
    this.byte(v & 255);
    this.byte((v >> 8) & 255);
  }

  text(s) {
    for (let i = 0; i < s.length; i++) this.byte(s.charCodeAt(i));
  }

  flush() {
    if (!this.n) return;
    this.chunks.push(this.buf.slice(0, this.n));
    this.n = 0;
  }

  blob(type) {
    this.flush();
    return new Blob(this.chunks, { type });
  }
}

// The LZW string table: code of (prefix code, next index), valid where its stamp is the current one,
// so clearing the table is `stamp++`, not refilling a million entries. Allocated on the first export.
let tableCodes = null, tableStamps = null, tableStamp = 0;
const MAX_CODE = 4095; // GIF codes are at most 12 bits

// GIF's variable-width LZW of `indices` (each < 2 ** minCodeSize), written as sub-blocks of at
// most 255 bytes followed by a zero-length block.
function writeLzw(out, indices, minCodeSize) {
  const clear = 1 << minCodeSize, end = clear + 1;
  let width = minCodeSize + 1, next = end + 1;
  let acc = 0, bits = 0;
  const block = new Uint8Array(255);
  let blockN = 0;
  const flushBlock = () => {
    out.byte(blockN);
    for (let i = 0; i < blockN; i++) out.byte(block[i]);
    blockN = 0;
  };
  const emit = (code) => {
    acc |= code << bits;
    bits += width;
    while (bits >= 8) {
      block[blockN++] = acc & 255;
      if (blockN === 255) flushBlock();
      acc >>>= 8;
      bits -= 8;
    }
  };
  // The decoder adds a table entry one code later than the encoder, so the width grows once the
  // code about to be assigned (`next`) no longer fits, after the code that precedes it was written.
  const grow = () => { if (next === 1 << width && width < 12) width++; };

  if (!tableCodes) {
    tableCodes = new Int16Array(4096 * 256);
    tableStamps = new Int32Array(4096 * 256);
  }
  tableStamp++;
  emit(clear);
  let prefix = indices[0];
  for (let i = 1; i < indices.length; i++) {
    const k = indices[i];
    const key = (prefix << 8) | k;
    if (tableStamps[key] === tableStamp) { prefix = tableCodes[key]; continue; }
    emit(prefix);
    if (next <= MAX_CODE) {
      grow();
      tableCodes[key] = next++;
      tableStamps[key] = tableStamp;
    } else { // the table is full: start a new one
      emit(clear);
      tableStamp++;
      width = minCodeSize + 1;
      next = end + 1;
    }
    prefix = k;
  }
  emit(prefix);
  grow();
  emit(end);
  if (bits > 0) {
    block[blockN++] = acc & 255;
    if (blockN === 255) flushBlock();
  }
  if (blockN) flushBlock();
  out.byte(0);
}

// An animated GIF89a with one global palette and a loop: each frame is a box of palette indices
// drawn over the previous frame (disposal "do not dispose"), shown for `delayCs` hundredths of a
// second; pixels of index `transparent` (if given) let the previous frame show through.
export class GifWriter {
  constructor(width, height, palette, { delayCs = 10, loop = 0, transparent = null } = {}) {
    this.width = width;
    this.height = height;
    this.delayCs = delayCs;
    this.transparent = transparent;
    this.frames = 0;
    this.out = new Bytes();
    const entries = Math.max(palette.length, transparent === null ? 0 : transparent + 1);
    let tableBits = 1; // the colour table holds 2 ** tableBits colours
    while (1 << tableBits < entries) tableBits++;
    this.minCodeSize = Math.max(2, tableBits);
    const out = this.out;
    out.text("GIF89a");
    out.u16(width);
    out.u16(height);
    out.byte(0x80 | (7 << 4) | (tableBits - 1)); // global colour table, 8 bits per primary
    out.byte(0); // background colour index
    out.byte(0); // square pixels
    for (let i = 0; i < 1 << tableBits; i++) {
      const c = palette[i] || 0;
      out.byte(channel(c, 0));
      out.byte(channel(c, 1));
      out.byte(channel(c, 2));
    }
    out.byte(0x21); // application extension: NETSCAPE2.0 loop count (0: for ever)
    out.byte(0xff);
    out.byte(11);
    out.text("NETSCAPE2.0");
    out.byte(3);
    out.byte(1);
    out.u16(loop);
    out.byte(0);
  }

  // `box` = {x, y, w, h} within the image; `indices` its w * h palette indices, row by row.
  addFrame(indices, box = { x: 0, y: 0, w: this.width, h: this.height }) {
    const out = this.out;
    out.byte(0x21); // graphic control extension
    out.byte(0xf9);
    out.byte(4);
    const transparent = this.transparent !== null;
    out.byte((1 << 2) | (transparent ? 1 : 0)); // disposal 1: leave the frame for the next to draw over
    out.u16(this.delayCs);
    out.byte(transparent ? this.transparent : 0);
    out.byte(0);
    out.byte(0x2c); // image descriptor, no local colour table, not interlaced
    out.u16(box.x);
    out.u16(box.y);
    out.u16(box.w);
    out.u16(box.h);
    out.byte(0);
    out.byte(this.minCodeSize);
    writeLzw(out, indices, this.minCodeSize);
    this.frames++;
  }

  finish() {
    this.out.byte(0x3b); // trailer
    return this.out.blob("image/gif");
  }
}
