/**
 * Batch makers: turn (indices, epoch) into a {@linkcode Batch} for a plain-data data-set description.
 * The same code runs on the main thread and inside data workers, which is what makes batches
 * independent of the worker count.
 *
 * @module
 */
import { type CifarAugment, makeImageBatch, normLut } from "./augment.ts";
import { type FolderTransform, makeFolderBatch } from "./imagenet.ts";
import type { Batch } from "./types.ts";

/** In-memory 8-bit images (planar CHW) with the CIFAR-style transform. */
export interface ImagesSpec {
  /** Discriminator. */
  type: "images";
  /** Pixels, planar CHW per image; backed by a `SharedArrayBuffer` when sent to workers. */
  images: Uint8Array;
  /** Labels. */
  labels: Int32Array;
  /** Image height. */
  height: number;
  /** Image width. */
  width: number;
  /** Channels. */
  channels: number;
  /** Transform. */
  augment: CifarAugment;
  /** Seed of all randomness. */
  seed: number;
}

/** JPEG files on disk (ImageNet folder layout) with an ImageNet transform. */
export interface FolderSpec {
  /** Discriminator. */
  type: "folder";
  /** Image paths. */
  files: string[];
  /** Label of each file. */
  labels: Int32Array;
  /** Transform. */
  transform: FolderTransform;
  /** Seed of all randomness. */
  seed: number;
}

/** What a loader needs to build batches, as structured-clonable data. */
export type DatasetSpec = ImagesSpec | FolderSpec;

/** A function building the batch of the given data-set indices for an epoch. */
export type BatchMaker = (indices: Int32Array, epoch: number) => Batch;

/**
 * Creates the batch maker for a spec.
 *
 * @example
 * ```ts
 * const make = createMaker({ type: "images", ...set, augment: cifarTrain(), seed: 0 });
 * const batch = make(Int32Array.of(0, 1, 2), 0);
 * ```
 */
export function createMaker(spec: DatasetSpec): BatchMaker {
  if (spec.type === "images") {
    const lut = normLut(spec.augment.mean, spec.augment.std);
    return (indices, epoch) => ({
      ...makeImageBatch(spec, indices, spec.augment, spec.seed, epoch, lut),
      index: indices.slice(),
    });
  }
  return (indices, epoch) => ({
    ...makeFolderBatch(spec, indices, spec.seed, epoch),
    index: indices.slice(),
  });
}
