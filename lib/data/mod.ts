/**
 * Data sets for TESKD: CIFAR-10/100 binary readers (folder or archive, with download), ImageNet
 * folders, generated CIFAR-shaped data, augmentation with torchvision semantics, seeded batching on
 * workers with prefetch, CIFAR writers, and notebook helpers (image grids, class counts).
 *
 * @example
 * ```ts
 * import { cifarLoader, loadCifar } from "./mod.ts";
 * const set = await loadCifar({ kind: "cifar100", split: "train" }); // downloads if missing
 * const loader = cifarLoader(set, { train: true, batchSize: 64, seed: 0 });
 * for await (const batch of loader.epoch(0)) { console.log(batch.n); break; }
 * loader.close();
 * ```
 *
 * @module
 */
export type { Batch, BatchSource, ImageSet } from "./types.ts";
export {
  CIFAR,
  CIFAR_PIXELS,
  type CifarKind,
  type CifarLayout,
  cifarRecordSize,
  type CifarSet,
  defaultDataDir,
  loadCifar,
  type LoadCifarOptions,
  parseCifarRecords,
  parseLabelNames,
} from "./cifar.ts";
export {
  CIFAR_MEAN,
  CIFAR_STD,
  type CifarAugment,
  cifarEval,
  cifarTrain,
  type CropFlip,
  drawCropFlip,
  IMAGENET_MEAN,
  IMAGENET_STD,
  makeImageBatch,
} from "./augment.ts";
export { DataLoader, type LoaderOptions } from "./loader.ts";
export { cifarLoader, imageFolderLoader, type PresetOptions } from "./presets.ts";
export type { DatasetSpec, FolderSpec, ImagesSpec } from "./maker.ts";
export { hash4, permutation, SampleRandom, uniform } from "./rng.ts";
export { generateSynthetic, type SyntheticOptions } from "./synthetic.ts";
export {
  cifarArchive,
  type CifarWriteInput,
  encodeCifarRecords,
  writeCifarArchive,
  writeCifarFolder,
} from "./writer.ts";
export {
  download,
  type DownloadOptions,
  type DownloadProgress,
  logProgress,
  md5Hex,
} from "./download.ts";
export { gunzip, gzip, readTar, type TarEntry, writeTar } from "./tar.ts";
export {
  decodeJpeg,
  type FolderTransform,
  type ImageFolder,
  imagenetEval,
  imagenetTrain,
  randomResizedCropBox,
  resizeCenterCropBox,
  scanImageFolder,
} from "./imagenet.ts";
export { batchGrid, crc32, encodePng, type GridOptions, imageGrid, PngImage } from "./png.ts";
export { type ClassCount, classCounts } from "./stats.ts";
