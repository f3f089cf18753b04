/**
 * Shared shapes of the data layer: batches handed to the trainer, the source a trainer iterates, and
 * the in-memory image sets the loaders produce.
 *
 * @module
 */

/** One batch, NHWC float32 images and int labels. */
export interface Batch {
  /** Images, `n * height * width * channels` values, NHWC, already normalised. */
  x: Float32Array;
  /** Class labels, one per image. */
  y: Int32Array;
  /** Each image's index in the data set (methods with a per-sample memory bank need it). */
  index?: Int32Array;
  /** Number of images in this batch (the last batch may be smaller unless drop-last is set). */
  n: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel (3 for RGB). */
  channels: number;
}

/** A dataset a trainer can iterate epoch by epoch. */
export interface BatchSource {
  /** The batches of epoch `e` (0-based), in order; the same `e` always gives the same batches. */
  epoch(e: number): AsyncIterable<Batch>;
  /** How many batches one epoch yields. */
  readonly batchesPerEpoch: number;
  /** How many samples the underlying data set holds. */
  readonly size: number;
  /** Number of classes labels range over (`0 <= y < numClasses`). */
  readonly numClasses: number;
  /** Releases workers and other resources; the source cannot be iterated afterwards. */
  close?(): void;
}

/**
 * Raw 8-bit images held in memory in the CIFAR record layout: each image is planar CHW
 * (all R values row-major, then all G, then all B).
 *
 * @example
 * ```ts
 * const set: ImageSet = {
 *   images: new Uint8Array(2 * 3 * 32 * 32), labels: Int32Array.of(0, 1),
 *   n: 2, height: 32, width: 32, channels: 3, numClasses: 10, labelNames: [],
 * };
 * ```
 */
export interface ImageSet {
  /** `n * channels * height * width` bytes, planar CHW per image. */
  images: Uint8Array;
  /** Label of each image. */
  labels: Int32Array;
  /** Number of images. */
  n: number;
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Channels per image. */
  channels: number;
  /** Number of classes. */
  numClasses: number;
  /** Human-readable class names, index = label (may be empty when unknown). */
  labelNames: string[];
}
