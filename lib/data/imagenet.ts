/**
 * ImageNet in the folder layout (`train/<wnid>/*.JPEG`, `val/<wnid>/*.JPEG`): scanning, JPEG decoding
 * with `jpeg-js`, and the torchvision transforms `RandomResizedCrop(224)` + `RandomHorizontalFlip()`
 * for training and `Resize(256)` + `CenterCrop(224)` for evaluation, both followed by normalisation.
 * Resampling is PIL-style bilinear with antialiasing (the filter widens when shrinking); checked
 * against Pillow 9.4 `Image.resize(BILINEAR)` on crop-then-resize and resize-then-crop: within ±1
 * level (Pillow rounds to bytes between its two passes, this code keeps floats).
 *
 * @module
 */
import jpeg from "jpeg-js";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { IMAGENET_MEAN, IMAGENET_STD } from "./augment.ts";
import { SampleRandom } from "./rng.ts";
import type { Batch } from "./types.ts";

/** Training transform (torchvision `RandomResizedCrop` + flip). */
export interface RandomResizedCropTransform {
  /** Discriminator. */
  kind: "train";
  /** Output side (224). */
  size: number;
  /** Range of the crop's area as a fraction of the image. */
  scale: [number, number];
  /** Range of the crop's aspect ratio (width / height). */
  ratio: [number, number];
  /** Random horizontal flip with p = 0.5. */
  flip: boolean;
  /** Normalisation mean. */
  mean: number[];
  /** Normalisation std. */
  std: number[];
}

/** Evaluation transform (torchvision `Resize(resize)` + `CenterCrop(crop)`). */
export interface CenterCropTransform {
  /** Discriminator. */
  kind: "eval";
  /** Shorter side after resizing (256). */
  resize: number;
  /** Output side (224). */
  crop: number;
  /** Normalisation mean. */
  mean: number[];
  /** Normalisation std. */
  std: number[];
}

/** A transform for folder data sets. */
export type FolderTransform = RandomResizedCropTransform | CenterCropTransform;

/**
 * The standard ImageNet training transform.
 *
 * @example
 * ```ts
 * const t = imagenetTrain(); // RandomResizedCrop(224), flip, ImageNet mean/std
 * ```
 */
export function imagenetTrain(size = 224): RandomResizedCropTransform {
  return {
    kind: "train",
    size,
    scale: [0.08, 1],
    ratio: [3 / 4, 4 / 3],
    flip: true,
    mean: [...IMAGENET_MEAN],
    std: [...IMAGENET_STD],
  };
}

/**
 * The standard ImageNet evaluation transform.
 *
 * @example
 * ```ts
 * const t = imagenetEval(); // Resize(256), CenterCrop(224)
 * ```
 */
export function imagenetEval(resize = 256, crop = 224): CenterCropTransform {
  return { kind: "eval", resize, crop, mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] };
}

/** An image folder: file paths, labels, class names (WordNet ids, sorted). */
export interface ImageFolder {
  /** Paths of the images, class by class, sorted. */
  files: string[];
  /** Label of each file (index into `classes`). */
  labels: Int32Array;
  /** Class folder names, sorted; label i is `classes[i]`. */
  classes: string[];
}

/**
 * Lists `<root>/<split>/<class>/*.{jpeg,jpg}` like torchvision's `ImageFolder` (classes and files
 * sorted).
 *
 * @throws Error when the split folder is missing or holds no images
 *
 * @example
 * ```ts
 * const val = scanImageFolder("data/imagenet", "val");
 * ```
 */
export function scanImageFolder(root: string, split: string): ImageFolder {
  const dir = join(root, split);
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${dir}: cannot read image folder (${why})`);
  }
  const classes = entries.filter((e) => e.isDirectory).map((e) => e.name).sort();
  const files: string[] = [];
  const labels: number[] = [];
  classes.forEach((c, i) => {
    const names = readdirSync(join(dir, c)).filter((n) => /\.(jpe?g)$/i.test(n)).sort();
    for (const n of names) {
      files.push(join(dir, c, n));
      labels.push(i);
    }
  });
  if (files.length === 0) throw new Error(`${dir}: no class folders with .JPEG files`);
  return { files, labels: Int32Array.from(labels), classes };
}

/** A decoded RGB image, HWC bytes. */
export interface RgbImage {
  /** `height * width * 3` bytes. */
  data: Uint8Array;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Decodes a JPEG to RGB (grayscale and CMYK become RGB too).
 *
 * @throws Error naming `source` when the data is not a decodable JPEG
 */
export function decodeJpeg(bytes: Uint8Array, source: string): RgbImage {
  try {
    const img = jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      maxMemoryUsageInMB: 1024,
    });
    return { data: img.data, width: img.width, height: img.height };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`${source}: cannot decode JPEG (${why})`);
  }
}

/** Python's `round` (half to even), which torchvision's size arithmetic uses. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** A crop box in source pixels: top, left, height, width. */
export interface CropBox {
  /** Top row. */
  top: number;
  /** Left column. */
  left: number;
  /** Height. */
  height: number;
  /** Width. */
  width: number;
}

/**
 * torchvision's `RandomResizedCrop.get_params`: up to 10 tries of a random area and log-uniform aspect
 * ratio, then a center crop clamped to the ratio range as fallback.
 */
export function randomResizedCropBox(
  r: SampleRandom,
  height: number,
  width: number,
  scale: [number, number],
  ratio: [number, number],
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]), logHi = Math.log(ratio[1]);
  for (let t = 0; t < 10; t++) {
    const target = area * r.range(scale[0], scale[1]);
    const aspect = Math.exp(r.range(logLo, logHi));
    const w = roundHalfEven(Math.sqrt(target * aspect));
    const h = roundHalfEven(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = r.int(height - h + 1);
      const left = r.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w: number, h: number;
  if (inRatio < Math.min(...ratio)) {
    w = width;
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    h = height;
    w = roundHalfEven(h * Math.max(...ratio));
  } else {
    w = width;
    h = height;
  }
  return {
    top: Math.floor((height - h) / 2),
    left: Math.floor((width - w) / 2),
    height: h,
    width: w,
  };
}

/**
 * The source box of `Resize(resize)` followed by `CenterCrop(crop)`, expressed in source pixels so
 * one resampling pass does both. Returns the box (possibly fractional) in source coordinates.
 */
export function resizeCenterCropBox(
  height: number,
  width: number,
  resize: number,
  crop: number,
): { x0: number; y0: number; x1: number; y1: number } {
  // torchvision: the shorter side becomes `resize`, the longer int(resize * long / short).
  const newW = width <= height ? resize : Math.floor((resize * width) / height);
  const newH = width <= height ? Math.floor((resize * height) / width) : resize;
  const top = roundHalfEven((newH - crop) / 2);
  const left = roundHalfEven((newW - crop) / 2);
  const sx = width / newW, sy = height / newH;
  return { x0: left * sx, y0: top * sy, x1: (left + crop) * sx, y1: (top + crop) * sy };
}

interface Coeffs {
  start: Int32Array;
  count: Int32Array;
  weights: Float64Array;
  ksize: number;
}

/**
 * PIL's bilinear coefficients for mapping [lo, hi) of `inSize` pixels onto `outSize` pixels. Filter
 * taps are limited to [first, last) — the whole image, or the crop when cropping comes first.
 */
function coefficients(
  first: number,
  last: number,
  lo: number,
  hi: number,
  outSize: number,
): Coeffs {
  const scale = (hi - lo) / outSize;
  const fscale = Math.max(scale, 1);
  const support = fscale; // bilinear support is 1, widened when shrinking (antialias)
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), count = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  for (let o = 0; o < outSize; o++) {
    const center = lo + (o + 0.5) * scale;
    const a = Math.max(first, Math.floor(center - support + 0.5));
    const b = Math.min(last, Math.floor(center + support + 0.5));
    let total = 0;
    for (let i = a; i < b; i++) {
      const w = Math.max(0, 1 - Math.abs((i - center + 0.5) / fscale));
      weights[o * ksize + i - a] = w;
      total += w;
    }
    if (total > 0) { for (let i = 0; i < b - a; i++) weights[o * ksize + i] /= total; }
    start[o] = a;
    count[o] = b - a;
  }
  return { start, count, weights, ksize };
}

/**
 * Resamples the box [x0, x1) × [y0, y1) of an RGB image to `outW × outH`, PIL-style bilinear with
 * antialiasing. Returns float RGB in 0..255, HWC.
 *
 * With `cropFirst` the filter sees only pixels inside the (integer) box, as when torchvision crops
 * and then resizes (`RandomResizedCrop`); without it, pixels around the box contribute, as when it
 * resizes the whole image and then crops (`Resize` + `CenterCrop`).
 */
export function resampleBox(
  img: RgbImage,
  box: { x0: number; y0: number; x1: number; y1: number },
  outW: number,
  outH: number,
  cropFirst = false,
): Float32Array {
  const cx = cropFirst
    ? coefficients(box.x0, box.x1, box.x0, box.x1, outW)
    : coefficients(0, img.width, box.x0, box.x1, outW);
  const cy = cropFirst
    ? coefficients(box.y0, box.y1, box.y0, box.y1, outH)
    : coefficients(0, img.height, box.y0, box.y1, outH);
  const rowLo = cy.start.reduce((m, v) => Math.min(m, v), img.height);
  let rowHi = 0;
  for (let o = 0; o < outH; o++) rowHi = Math.max(rowHi, cy.start[o] + cy.count[o]);
  // Horizontal pass on the needed rows only, then vertical.
  const tmp = new Float32Array((rowHi - rowLo) * outW * 3);
  const src = img.data;
  for (let y = rowLo; y < rowHi; y++) {
    const rowIn = y * img.width * 3, rowOut = (y - rowLo) * outW * 3;
    for (let o = 0; o < outW; o++) {
      let r = 0, g = 0, b = 0;
      const s = cx.start[o], k = o * cx.ksize;
      for (let i = 0; i < cx.count[o]; i++) {
        const w = cx.weights[k + i], p = rowIn + (s + i) * 3;
        r += w * src[p];
        g += w * src[p + 1];
        b += w * src[p + 2];
      }
      tmp[rowOut + o * 3] = r;
      tmp[rowOut + o * 3 + 1] = g;
      tmp[rowOut + o * 3 + 2] = b;
    }
  }
  const out = new Float32Array(outH * outW * 3);
  for (let o = 0; o < outH; o++) {
    const s = cy.start[o] - rowLo, k = o * cy.ksize;
    for (let x = 0; x < outW * 3; x++) {
      let v = 0;
      for (let i = 0; i < cy.count[o]; i++) v += cy.weights[k + i] * tmp[(s + i) * outW * 3 + x];
      out[o * outW * 3 + x] = v;
    }
  }
  return out;
}

/**
 * Applies a folder transform to a decoded image, writing the normalised HWC result into `out` at
 * `outOff`. Randomness comes from `r`.
 */
export function transformImage(
  img: RgbImage,
  t: FolderTransform,
  r: SampleRandom,
  out: Float32Array,
  outOff: number,
): void {
  let pixels: Float32Array, side: number, flip = false;
  if (t.kind === "train") {
    const c = randomResizedCropBox(r, img.height, img.width, t.scale, t.ratio);
    side = t.size;
    pixels = resampleBox(
      img,
      { x0: c.left, y0: c.top, x1: c.left + c.width, y1: c.top + c.height },
      side,
      side,
      true,
    );
    flip = t.flip && r.next() < 0.5;
  } else {
    side = t.crop;
    pixels = resampleBox(
      img,
      resizeCenterCropBox(img.height, img.width, t.resize, t.crop),
      side,
      side,
    );
  }
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const s = (y * side + (flip ? side - 1 - x : x)) * 3;
      const o = outOff + (y * side + x) * 3;
      for (let c = 0; c < 3; c++) {
        // PIL rounds to bytes after resampling; do the same before ToTensor's /255.
        const v = Math.min(255, Math.max(0, Math.round(pixels[s + c])));
        out[o + c] = (v / 255 - t.mean[c]) / t.std[c];
      }
    }
  }
}

/** Builds a batch of folder images (reads and decodes the files). */
export function makeFolderBatch(
  spec: { files: string[]; labels: Int32Array; transform: FolderTransform },
  indices: Int32Array,
  seed: number,
  epoch: number,
): Batch {
  const t = spec.transform;
  const side = t.kind === "train" ? t.size : t.crop;
  const per = side * side * 3;
  const n = indices.length;
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    const path = spec.files[i];
    const img = decodeJpeg(Deno.readFileSync(path), path);
    transformImage(img, t, new SampleRandom(seed, epoch, i), x, b * per);
    y[b] = spec.labels[i];
  }
  return { x, y, n, height: side, width: side, channels: 3 };
}
