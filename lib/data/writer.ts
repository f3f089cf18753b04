/**
 * Writes image sets in the CIFAR binary formats, as the extracted folder or as the `.tar.gz` archive,
 * so generated data exercise the real loaders.
 *
 * @module
 */
import { join } from "node:path";
import { CIFAR, CIFAR_PIXELS, type CifarKind, cifarRecordSize } from "./cifar.ts";
import { gzip, type TarEntry, writeTar } from "./tar.ts";
import type { ImageSet } from "./types.ts";

/** The splits and names to write. */
export interface CifarWriteInput {
  /** Training images (32×32×3). */
  train: ImageSet;
  /** Test images (32×32×3). */
  test: ImageSet;
  /** Fine label names for the meta file; default the train set's names. */
  labelNames?: string[];
  /** CIFAR-100: coarse label per train image; default `floor(fine / 5)`. */
  trainCoarse?: Int32Array;
  /** CIFAR-100: coarse label per test image; default `floor(fine / 5)`. */
  testCoarse?: Int32Array;
  /** CIFAR-100: coarse label names; default `coarse_0 ..`. */
  coarseLabelNames?: string[];
}

/**
 * Encodes images as CIFAR records (label byte(s) + planar pixels).
 *
 * @throws Error when images are not 32×32×3 or labels do not fit the format
 *
 * @example
 * ```ts
 * await Deno.writeFile("test_batch.bin", encodeCifarRecords(set, "cifar10"));
 * ```
 */
export function encodeCifarRecords(
  set: ImageSet,
  kind: CifarKind,
  coarse?: Int32Array,
): Uint8Array {
  if (set.height !== 32 || set.width !== 32 || set.channels !== 3) {
    throw new Error(
      `CIFAR writer: images must be 32×32×3, got ${set.height}×${set.width}×${set.channels}`,
    );
  }
  const layout = CIFAR[kind];
  const rec = cifarRecordSize(kind);
  const out = new Uint8Array(set.n * rec);
  for (let i = 0; i < set.n; i++) {
    const f = set.labels[i];
    if (!(f >= 0 && f < layout.classes)) {
      throw new Error(`CIFAR writer: label ${f} of image ${i} does not fit ${kind}`);
    }
    const o = i * rec;
    if (kind === "cifar100") {
      const c = coarse ? coarse[i] : Math.floor(f / 5);
      if (!(c >= 0 && c < layout.coarseClasses)) {
        throw new Error(`CIFAR writer: coarse label ${c} of image ${i} does not fit ${kind}`);
      }
      out[o] = c;
    }
    out[o + rec - CIFAR_PIXELS - 1] = f;
    out.set(set.images.subarray(i * CIFAR_PIXELS, (i + 1) * CIFAR_PIXELS), o + rec - CIFAR_PIXELS);
  }
  return out;
}

/** The files of a CIFAR folder (names relative to the folder) for the given data. */
export function cifarFiles(kind: CifarKind, input: CifarWriteInput): TarEntry[] {
  const layout = CIFAR[kind];
  const enc = new TextEncoder();
  const names = input.labelNames ?? input.train.labelNames;
  const files: TarEntry[] = [];
  const train = encodeCifarRecords(input.train, kind, input.trainCoarse);
  const parts = layout.train.length;
  if (input.train.n < parts) {
    throw new Error(`CIFAR writer: ${kind} needs at least ${parts} training images`);
  }
  const rec = cifarRecordSize(kind);
  layout.train.forEach((name, p) => {
    // Split like the real data: equal parts, any remainder in the last file.
    const per = Math.floor(input.train.n / parts);
    const end = p === parts - 1 ? input.train.n : (p + 1) * per;
    files.push({ name, data: train.subarray(p * per * rec, end * rec) });
  });
  files.push({
    name: layout.test[0],
    data: encodeCifarRecords(input.test, kind, input.testCoarse),
  });
  files.push({ name: layout.meta, data: enc.encode(names.join("\n") + "\n") });
  if (layout.coarseMeta) {
    const coarse = input.coarseLabelNames ??
      Array.from({ length: layout.coarseClasses }, (_, i) => `coarse_${i}`);
    files.push({ name: layout.coarseMeta, data: enc.encode(coarse.join("\n") + "\n") });
  }
  return files;
}

/**
 * Writes the extracted folder (`<dir>/cifar-10-batches-bin/` or `<dir>/cifar-100-binary/`).
 *
 * @returns the folder path
 *
 * @example
 * ```ts
 * await writeCifarFolder(dir, "cifar10", { train, test });
 * const set = await loadCifar({ kind: "cifar10", split: "train", dataDir: dir });
 * ```
 */
export async function writeCifarFolder(
  dir: string,
  kind: CifarKind,
  input: CifarWriteInput,
): Promise<string> {
  const folder = join(dir, CIFAR[kind].folder);
  await Deno.mkdir(folder, { recursive: true });
  for (const f of cifarFiles(kind, input)) await Deno.writeFile(join(folder, f.name), f.data);
  return folder;
}

/**
 * The `.tar.gz` archive bytes, laid out like the official one.
 *
 * @example
 * ```ts
 * const gz = cifarArchive("cifar100", { train, test });
 * ```
 */
export function cifarArchive(kind: CifarKind, input: CifarWriteInput): Uint8Array {
  const folder = CIFAR[kind].folder;
  return gzip(
    writeTar(cifarFiles(kind, input).map((f) => ({ ...f, name: `${folder}/${f.name}` }))),
  );
}

/**
 * Writes the archive as `<dir>/cifar-10-binary.tar.gz` (or `cifar-100-binary.tar.gz`).
 *
 * @returns the archive path
 *
 * @example
 * ```ts
 * await writeCifarArchive(dir, "cifar10", { train, test });
 * ```
 */
export async function writeCifarArchive(
  dir: string,
  kind: CifarKind,
  input: CifarWriteInput,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, CIFAR[kind].archive);
  await Deno.writeFile(path, cifarArchive(kind, input));
  return path;
}
