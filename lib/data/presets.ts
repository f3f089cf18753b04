/**
 * Ready-made loaders for the usual recipes: CIFAR-style sets (train: crop + flip + normalise,
 * shuffled; eval: normalise, in order) and ImageNet folders (RandomResizedCrop or Resize + CenterCrop).
 *
 * @module
 */
import { cifarEval, cifarTrain } from "./augment.ts";
import { type ImageFolder, imagenetEval, imagenetTrain } from "./imagenet.ts";
import { DataLoader, type LoaderOptions } from "./loader.ts";
import type { ImageSet } from "./types.ts";

/** Options of {@linkcode cifarLoader} and {@linkcode imageFolderLoader}. */
export interface PresetOptions extends Omit<LoaderOptions, "numClasses"> {
  /** Training (augment, shuffle) or evaluation (deterministic transform, data-set order). */
  train: boolean;
  /** Seed of shuffling and augmentation. Default 0. */
  seed?: number;
  /** Normalisation mean per channel (default: the recipe's constants). */
  mean?: readonly number[];
  /** Normalisation std per channel. */
  std?: readonly number[];
}

/**
 * A loader over a CIFAR-shaped set with TESKD's transforms (mean/std configurable per recipe).
 *
 * @example
 * ```ts
 * const train = cifarLoader(await loadCifar({ kind: "cifar100", split: "train" }), {
 *   train: true, batchSize: 64, seed: 1,
 *   mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762],
 * });
 * ```
 */
export function cifarLoader(set: ImageSet, opts: PresetOptions): DataLoader {
  const norm = { mean: opts.mean, std: opts.std };
  return new DataLoader(
    {
      type: "images",
      images: set.images,
      labels: set.labels,
      height: set.height,
      width: set.width,
      channels: set.channels,
      augment: opts.train ? cifarTrain(norm) : cifarEval(norm),
      seed: opts.seed ?? 0,
    },
    { shuffle: opts.train, ...opts, numClasses: set.numClasses },
  );
}

/**
 * A loader over an ImageNet-layout folder with the standard torchvision transforms.
 *
 * @example
 * ```ts
 * const val = imageFolderLoader(scanImageFolder("data/imagenet", "val"), {
 *   train: false, batchSize: 256,
 * });
 * ```
 */
export function imageFolderLoader(folder: ImageFolder, opts: PresetOptions): DataLoader {
  const transform = opts.train ? imagenetTrain() : imagenetEval();
  if (opts.mean) transform.mean = [...opts.mean];
  if (opts.std) transform.std = [...opts.std];
  return new DataLoader(
    {
      type: "folder",
      files: folder.files,
      labels: folder.labels,
      transform,
      seed: opts.seed ?? 0,
    },
    { shuffle: opts.train, ...opts, numClasses: folder.classes.length },
  );
}
