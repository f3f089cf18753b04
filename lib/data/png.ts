/**
 * PNG encoding (zlib deflate + CRC32, nothing else needed) and image grids for notebooks: the result
 * displays itself in Jupyter through `Symbol.for("Jupyter.display")`.
 *
 * @module
 */
import { deflateSync } from "node:zlib";
import { JUPYTER_DISPLAY } from "../jupyter.ts";
import type { Batch, ImageSet } from "./types.ts";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (IEEE), as PNG chunks use it.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * ```
 */
export function crc32(data: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * Encodes 8-bit RGB pixels (HWC) as a PNG file.
 *
 * @example
 * ```ts
 * await Deno.writeFile("x.png", encodePng(new Uint8Array(4 * 4 * 3), 4, 4));
 * ```
 */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== width * height * 3) {
    throw new Error(`encodePng: ${rgb.length} bytes for a ${width}×${height} RGB image`);
  }
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 3)] = 0; // filter "None": simple, and deflate still does well
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8 bits, truecolour, deflate, adaptive filters, no interlace
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", ihdr),
    chunk("IDAT", new Uint8Array(deflateSync(raw))),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** PNG bytes that render as an image when they are a notebook cell's value. */
export class PngImage {
  /** Creates the wrapper. */
  constructor(readonly bytes: Uint8Array, readonly width: number, readonly height: number) {}
  /** Jupyter display bundle. */
  [JUPYTER_DISPLAY](): Record<string, string> {
    let s = "";
    for (let i = 0; i < this.bytes.length; i += 0x8000) {
      s += String.fromCharCode(...this.bytes.subarray(i, i + 0x8000));
    }
    return { "image/png": btoa(s) };
  }
}

/** Options of the grid functions. */
export interface GridOptions {
  /** Images per row. Default `ceil(sqrt(count))`. */
  cols?: number;
  /** At most this many images. Default 64. */
  max?: number;
  /** Integer upscaling so small images are visible. Default 2. */
  scale?: number;
  /** Pixels of gap between images. Default 1. */
  gap?: number;
}

function grid(
  count: number,
  h: number,
  w: number,
  pixel: (i: number, y: number, x: number, c: number) => number,
  opts: GridOptions,
): PngImage {
  const k = Math.min(count, opts.max ?? 64);
  if (k === 0) throw new Error("image grid: no images");
  const cols = Math.min(k, opts.cols ?? Math.ceil(Math.sqrt(k)));
  const rows = Math.ceil(k / cols);
  const s = opts.scale ?? 2, gap = opts.gap ?? 1;
  const W = cols * (w * s + gap) + gap, H = rows * (h * s + gap) + gap;
  const rgb = new Uint8Array(W * H * 3).fill(255);
  for (let i = 0; i < k; i++) {
    const ox = gap + (i % cols) * (w * s + gap), oy = gap + Math.floor(i / cols) * (h * s + gap);
    for (let y = 0; y < h * s; y++) {
      for (let x = 0; x < w * s; x++) {
        const o = ((oy + y) * W + ox + x) * 3;
        for (let c = 0; c < 3; c++) {
          rgb[o + c] = Math.max(
            0,
            Math.min(255, Math.round(pixel(i, (y / s) | 0, (x / s) | 0, c))),
          );
        }
      }
    }
  }
  return new PngImage(encodePng(rgb, W, H), W, H);
}

/**
 * A grid of raw images (planar CHW bytes, as loaded).
 *
 * @example
 * ```ts
 * imageGrid(await loadCifar({ kind: "cifar10", split: "test" }), { max: 32 }); // shows in a notebook
 * ```
 */
export function imageGrid(set: ImageSet, opts: GridOptions = {}): PngImage {
  const { height: h, width: w, channels: ch } = set;
  const plane = h * w, per = plane * ch;
  return grid(
    set.n,
    h,
    w,
    (i, y, x, c) => set.images[i * per + (ch === 1 ? 0 : c) * plane + y * w + x],
    opts,
  );
}

/**
 * A grid of a normalised batch (after augmentation), undoing the normalisation for display.
 *
 * @example
 * ```ts
 * for await (const b of loader.epoch(0)) { batchGrid(b, CIFAR_MEAN, CIFAR_STD); break; }
 * ```
 */
export function batchGrid(
  batch: Batch,
  mean: readonly number[],
  std: readonly number[],
  opts: GridOptions = {},
): PngImage {
  const { height: h, width: w, channels: ch } = batch;
  return grid(batch.n, h, w, (i, y, x, c) => {
    const cc = ch === 1 ? 0 : c;
    return (batch.x[((i * h + y) * w + x) * ch + cc] * std[cc] + mean[cc]) * 255;
  }, opts);
}
