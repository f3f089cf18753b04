/**
 * CIFAR augmentation as in the official TESKD code: `RandomCrop(32, padding=4)` (zero padding),
 * `RandomHorizontalFlip()`, `ToTensor()`, `Normalize(mean, std)`. Randomness comes from the
 * counter-based generator keyed by (seed, epoch, sample index), so any worker gives the same result.
 *
 * @module
 */
import { SampleRandom } from "./rng.ts";
import type { Batch, ImageSet } from "./types.ts";

/** TESKD's CIFAR normalisation mean (R, G, B). */
export const CIFAR_MEAN: readonly number[] = [0.4914, 0.4822, 0.4465];
/** TESKD's CIFAR normalisation std (R, G, B). */
export const CIFAR_STD: readonly number[] = [0.2023, 0.1994, 0.2010];
/** ImageNet normalisation mean (R, G, B). */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** ImageNet normalisation std (R, G, B). */
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];

/** Plain-data description of the CIFAR transform (it travels to workers by `postMessage`). */
export interface CifarAugment {
  /** Zero padding on each side before the random crop; 0 disables cropping. */
  padding: number;
  /** Random horizontal flip with p = 0.5. */
  flip: boolean;
  /** Per-channel mean subtracted after scaling pixels to [0, 1]. */
  mean: number[];
  /** Per-channel std divided by. */
  std: number[];
}

/**
 * Training transform: crop with padding 4, flip, normalise (TESKD constants unless given).
 *
 * @example
 * ```ts
 * const aug = cifarTrain({ mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] });
 * ```
 */
export function cifarTrain(
  norm?: { mean?: readonly number[]; std?: readonly number[] },
): CifarAugment {
  return {
    padding: 4,
    flip: true,
    mean: [...(norm?.mean ?? CIFAR_MEAN)],
    std: [...(norm?.std ?? CIFAR_STD)],
  };
}

/**
 * Evaluation transform: normalisation only.
 *
 * @example
 * ```ts
 * const aug = cifarEval();
 * ```
 */
export function cifarEval(
  norm?: { mean?: readonly number[]; std?: readonly number[] },
): CifarAugment {
  return {
    padding: 0,
    flip: false,
    mean: [...(norm?.mean ?? CIFAR_MEAN)],
    std: [...(norm?.std ?? CIFAR_STD)],
  };
}

/** The random choices for one sample. */
export interface CropFlip {
  /** Row of the crop's top edge in the padded image (0 .. 2·padding). */
  top: number;
  /** Column of the crop's left edge in the padded image. */
  left: number;
  /** Mirror horizontally after cropping. */
  flip: boolean;
}

/**
 * Draws crop offsets and flip for one sample, in torchvision's order (top, left, then flip).
 *
 * @example
 * ```ts
 * const { top, left, flip } = drawCropFlip(cifarTrain(), seed, epoch, index);
 * ```
 */
export function drawCropFlip(
  aug: CifarAugment,
  seed: number,
  epoch: number,
  index: number,
): CropFlip {
  const r = new SampleRandom(seed, epoch, index);
  const span = 2 * aug.padding + 1;
  const top = aug.padding > 0 ? r.int(span) : 0;
  const left = aug.padding > 0 ? r.int(span) : 0;
  const flip = aug.flip ? r.next() < 0.5 : false;
  return { top, left, flip };
}

/**
 * Lookup table `lut[c * 256 + v] = (v / 255 - mean[c]) / std[c]`: normalising through a table keeps
 * the per-pixel work to one load.
 */
export function normLut(mean: readonly number[], std: readonly number[]): Float32Array {
  if (mean.length !== std.length) {
    throw new Error(`normalisation: mean has ${mean.length} channels, std has ${std.length}`);
  }
  const lut = new Float32Array(mean.length * 256);
  for (let c = 0; c < mean.length; c++) {
    if (!(std[c] > 0)) throw new Error(`normalisation: std[${c}] = ${std[c]} must be > 0`);
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return lut;
}

/**
 * Writes one augmented image: reads planar CHW bytes at `src[srcOff..]`, writes HWC floats at
 * `out[outOff..]`. Pixels that fall into the padding are zero before normalisation.
 */
export function cropFlipNormalize(
  src: Uint8Array,
  srcOff: number,
  h: number,
  w: number,
  ch: number,
  pad: number,
  cf: CropFlip,
  lut: Float32Array,
  out: Float32Array,
  outOff: number,
): void {
  const plane = h * w;
  for (let y = 0; y < h; y++) {
    const sy = y + cf.top - pad;
    const rowIn = sy >= 0 && sy < h;
    for (let x = 0; x < w; x++) {
      const cx = cf.flip ? w - 1 - x : x;
      const sx = cx + cf.left - pad;
      const o = outOff + (y * w + x) * ch;
      if (rowIn && sx >= 0 && sx < w) {
        const s = srcOff + sy * w + sx;
        for (let c = 0; c < ch; c++) out[o + c] = lut[c * 256 + src[s + c * plane]];
      } else {
        for (let c = 0; c < ch; c++) out[o + c] = lut[c * 256];
      }
    }
  }
}

/**
 * Builds one batch from an in-memory image set: the images at `indices`, each augmented with the
 * randomness of (seed, epoch, its data-set index).
 *
 * @example
 * ```ts
 * const batch = makeImageBatch(set, Int32Array.of(3, 1, 4), cifarTrain(), 0, 0);
 * ```
 */
export function makeImageBatch(
  set: Pick<ImageSet, "images" | "labels" | "height" | "width" | "channels">,
  indices: Int32Array,
  aug: CifarAugment,
  seed: number,
  epoch: number,
  lut: Float32Array = normLut(aug.mean, aug.std),
): Batch {
  const { height: h, width: w, channels: ch } = set;
  if (aug.mean.length !== ch) {
    throw new Error(`augmentation: ${aug.mean.length} mean values for ${ch}-channel images`);
  }
  const n = indices.length;
  const per = h * w * ch;
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  for (let b = 0; b < n; b++) {
    const i = indices[b];
    const cf = drawCropFlip(aug, seed, epoch, i);
    cropFlipNormalize(set.images, i * per, h, w, ch, aug.padding, cf, lut, x, b * per);
    y[b] = set.labels[i];
  }
  return { x, y, n, height: h, width: w, channels: ch };
}
