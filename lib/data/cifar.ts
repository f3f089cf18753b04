/**
 * CIFAR-10 and CIFAR-100 binary versions: record parsing with validation, label names from the meta
 * files, and loading from the extracted folder or the `.tar.gz` archive in a data directory
 * (downloading the official archive when it is missing).
 *
 * Records: CIFAR-10 is 1 label byte + 3072 pixel bytes; CIFAR-100 is 1 coarse-label byte, 1 fine-label
 * byte + 3072 pixel bytes. Pixels are 1024 R, 1024 G, 1024 B, each row-major 32×32.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { download, logProgress, md5Hex } from "./download.ts";
import { gunzip, readTar } from "./tar.ts";
import type { ImageSet } from "./types.ts";
import { exists } from "../io/exists.ts";

/** Which CIFAR data set. */
export type CifarKind = "cifar10" | "cifar100";

/** Where a CIFAR variant lives and how its files are named. */
export interface CifarLayout {
  /** Archive file name (also its name in the data directory). */
  archive: string;
  /** Official download URL. */
  url: string;
  /** Published MD5 of the archive. */
  md5: string;
  /** Folder name inside the archive (and once extracted). */
  folder: string;
  /** Training record files. */
  train: string[];
  /** Test record files. */
  test: string[];
  /** Number of (fine) classes. */
  classes: number;
  /** Number of coarse classes (CIFAR-100 only, else 0). */
  coarseClasses: number;
  /** Meta file with fine label names, one per line. */
  meta: string;
  /** Meta file with coarse label names (CIFAR-100 only). */
  coarseMeta?: string;
  /** Records in each record file of the official data set, by file name. */
  records: Readonly<Record<string, number>>;
}

/** File layout, URLs and MD5s of both CIFAR binary versions. */
export const CIFAR: Readonly<Record<CifarKind, CifarLayout>> = {
  cifar10: {
    archive: "cifar-10-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    md5: "c32a1d4ab5d03f1284b67883e8d87530",
    folder: "cifar-10-batches-bin",
    train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    test: ["test_batch.bin"],
    classes: 10,
    coarseClasses: 0,
    meta: "batches.meta.txt",
    records: {
      ...Object.fromEntries([1, 2, 3, 4, 5].map((i) => [`data_batch_${i}.bin`, 10000])),
      "test_batch.bin": 10000,
    },
  },
  cifar100: {
    archive: "cifar-100-binary.tar.gz",
    url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
    md5: "03b5dce01913d631647c71ecec9e9cb8",
    folder: "cifar-100-binary",
    train: ["train.bin"],
    test: ["test.bin"],
    classes: 100,
    coarseClasses: 20,
    meta: "fine_label_names.txt",
    coarseMeta: "coarse_label_names.txt",
    records: { "train.bin": 50000, "test.bin": 10000 },
  },
};

/** Pixels per CIFAR image (3 × 32 × 32). */
export const CIFAR_PIXELS = 3072;

/** Bytes per record of a CIFAR variant. */
export function cifarRecordSize(kind: CifarKind): number {
  return (kind === "cifar100" ? 2 : 1) + CIFAR_PIXELS;
}

/**
 * Records per file of a data set of `train` training and `test` test images laid out like the
 * official one (training images in equal parts over the training files, any remainder in the last;
 * as lib/data/writer.ts writes them): the `records` to load such a set with.
 *
 * @example
 * ```ts
 * cifarSplitRecords("cifar10", 103, 20);
 * // { data_batch_1.bin: 20, …, data_batch_5.bin: 23, test_batch.bin: 20 }
 * ```
 */
export function cifarSplitRecords(
  kind: CifarKind,
  train: number,
  test: number,
): Record<string, number> {
  const layout = CIFAR[kind];
  const parts = layout.train.length;
  const per = Math.floor(train / parts);
  const out: Record<string, number> = {};
  layout.train.forEach((name, p) => (out[name] = p === parts - 1 ? train - p * per : per));
  for (const name of layout.test) out[name] = test;
  return out;
}

/** A loaded CIFAR split: images (planar CHW bytes, shared with workers) and labels. */
export interface CifarSet extends ImageSet {
  /** Which variant. */
  kind: CifarKind;
  /** Fine labels (CIFAR-100) or the labels (CIFAR-10); `labels` is one of these or `coarseLabels`. */
  fineLabels: Int32Array;
  /** Coarse labels (CIFAR-100 only). */
  coarseLabels?: Int32Array;
  /** Fine label names (same as `labelNames` unless the coarse labels were chosen). */
  fineLabelNames: string[];
  /** Coarse label names (CIFAR-100 only). */
  coarseLabelNames?: string[];
}

/** Parsed records of one file. */
export interface CifarRecords {
  /** Planar CHW pixels. */
  images: Uint8Array;
  /** Fine (or only) labels. */
  fine: Int32Array;
  /** Coarse labels, CIFAR-100 only. */
  coarse?: Int32Array;
  /** Number of records. */
  n: number;
}

/**
 * Parses and validates CIFAR binary records.
 *
 * @param bytes file contents
 * @param kind which record layout
 * @param source file name for error messages
 * @param out optional destination for the pixels (e.g. part of a shared buffer)
 * @throws Error naming `source` when the size is not a whole number of records or a label is out of range
 *
 * @example
 * ```ts
 * const recs = parseCifarRecords(await Deno.readFile("test_batch.bin"), "cifar10", "test_batch.bin");
 * ```
 */
export function parseCifarRecords(
  bytes: Uint8Array,
  kind: CifarKind,
  source: string,
  out?: Uint8Array,
): CifarRecords {
  const rec = cifarRecordSize(kind);
  const layout = CIFAR[kind];
  if (bytes.length === 0 || bytes.length % rec !== 0) {
    throw new Error(
      `${source}: size ${bytes.length} bytes is not a whole number of ${kind} records ` +
        `(${rec} bytes each)`,
    );
  }
  const n = bytes.length / rec;
  const images = out ?? new Uint8Array(n * CIFAR_PIXELS);
  const fine = new Int32Array(n);
  const coarse = kind === "cifar100" ? new Int32Array(n) : undefined;
  const skip = rec - CIFAR_PIXELS;
  for (let i = 0; i < n; i++) {
    const o = i * rec;
    const f = bytes[o + skip - 1];
    if (f >= layout.classes) {
      throw new Error(
        `${source}: record ${i}: label ${f} out of range (${kind} has ${layout.classes} classes)`,
      );
    }
    fine[i] = f;
    if (coarse) {
      const c = bytes[o];
      if (c >= layout.coarseClasses) {
        throw new Error(
          `${source}: record ${i}: coarse label ${c} out of range ` +
            `(${kind} has ${layout.coarseClasses} coarse classes)`,
        );
      }
      coarse[i] = c;
    }
    images.set(bytes.subarray(o + skip, o + rec), i * CIFAR_PIXELS);
  }
  return { images, fine, coarse, n };
}

/** Splits a meta file into names (one per line, blank lines dropped). */
export function parseLabelNames(text: string): string[] {
  return text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * The repository's `data/` directory, the default place for data sets.
 *
 * @example
 * ```ts
 * const dir = defaultDataDir(); // ".../teskd/data"
 * ```
 */
export function defaultDataDir(): string {
  return fileURLToPath(new URL("../../data/", import.meta.url));
}

/** Options of {@linkcode loadCifar}. */
export interface LoadCifarOptions {
  /** `"cifar10"` or `"cifar100"`. */
  kind: CifarKind;
  /** `"train"` (50,000 images) or `"test"` (10,000). */
  split: "train" | "test";
  /** Directory holding the extracted folder or the archive; default {@linkcode defaultDataDir}. */
  dataDir?: string;
  /** CIFAR-100: which labels go into `labels` (both are always available). Default `"fine"`. */
  label?: "fine" | "coarse";
  /**
   * Download the official archive (MD5-checked) when neither folder nor archive is present.
   * Default `true`; with `false` a missing data set is an error saying where to put the files.
   * (A run config's `data.download` is passed here, and defaults to `false`.)
   */
  download?: boolean;
  /**
   * Records expected in each record file, by file name; files not named keep the official count
   * (`CIFAR[kind].records`: 10,000 per CIFAR-10 batch, 50,000 and 10,000 for CIFAR-100). A file
   * holding another number of records is an error. Only for data sets that are not the official
   * one, e.g. generated ones ({@linkcode cifarSplitRecords}).
   */
  records?: Readonly<Record<string, number>>;
  /** Override the download URL (tests, mirrors). */
  url?: string;
  /** Override the expected MD5 of the archive. */
  md5?: string;
  /** Also check the MD5 of an archive already on disk against `md5` (or the published one). */
  verify?: boolean;
  /** Progress callback while downloading; default logs to stderr every 10 %. */
  onProgress?: (p: { received: number; total: number | null }) => void;
}

/** Reads the named files either from the extracted folder or the archive. */
async function readFiles(
  opts: LoadCifarOptions,
  names: string[],
  optional: string[],
): Promise<{ files: Map<string, { data: Uint8Array; source: string }> }> {
  const layout = CIFAR[opts.kind];
  const dir = opts.dataDir ?? defaultDataDir();
  const folder = join(dir, layout.folder);
  const archive = join(dir, layout.archive);
  const files = new Map<string, { data: Uint8Array; source: string }>();
  if (await exists(join(folder, names[0]))) {
    for (const name of [...names, ...optional]) {
      const path = join(folder, name);
      if (!(await exists(path))) {
        if (optional.includes(name)) continue;
        throw new Error(`${path}: missing (${opts.kind} folder ${folder} is incomplete)`);
      }
      files.set(name, { data: await Deno.readFile(path), source: path });
    }
    return { files };
  }
  if (!(await exists(archive))) {
    if (opts.download === false) {
      throw new Error(
        `${opts.kind} not found: neither ${folder}/ nor ${archive} exists. Put the archive ` +
          `(${opts.url ?? layout.url}) or its extracted ${layout.folder}/ folder in ${dir}, ` +
          `or have it fetched: loadCifar's \`download: true\`, or \`"download": true\` in the ` +
          `"data" section of a run config`,
      );
    }
    await download({
      url: opts.url ?? layout.url,
      dest: archive,
      md5: opts.md5 ?? layout.md5,
      onProgress: opts.onProgress ?? logProgress(layout.archive),
    });
  } else if (opts.verify) {
    const want = opts.md5 ?? layout.md5;
    const got = md5Hex(await Deno.readFile(archive));
    if (got !== want.toLowerCase()) {
      throw new Error(`${archive}: wrong checksum: MD5 ${got}, expected ${want}`);
    }
  }
  const entries = readTar(gunzip(await Deno.readFile(archive), archive), archive);
  const byName = new Map(entries.map((e) => [e.name.replace(/^\.\//, ""), e.data]));
  for (const name of [...names, ...optional]) {
    const data = byName.get(`${layout.folder}/${name}`);
    if (data === undefined) {
      if (optional.includes(name)) continue;
      throw new Error(`${archive}: archive has no ${layout.folder}/${name}`);
    }
    files.set(name, { data, source: `${archive}:${layout.folder}/${name}` });
  }
  return { files };
}

/**
 * Loads one split of CIFAR-10 or CIFAR-100 from `dataDir` (extracted folder first, then archive),
 * downloading the official archive when nothing is there (unless `download: false`). Pixels are kept as bytes in a
 * `SharedArrayBuffer` so data-loading workers can read them without copies.
 *
 * @throws Error naming the file and the problem for missing, truncated or corrupt input
 *
 * @example
 * ```ts
 * const train = await loadCifar({ kind: "cifar100", split: "train" }); // downloads if missing
 * console.log(train.n, train.labelNames[train.labels[0]], train.coarseLabelNames?.[0]);
 * ```
 */
export async function loadCifar(opts: LoadCifarOptions): Promise<CifarSet> {
  const layout = CIFAR[opts.kind];
  const names = opts.split === "train" ? layout.train : opts.split === "test" ? layout.test : null;
  if (names === null) {
    throw new Error(`loadCifar: split must be "train" or "test", got ${opts.split}`);
  }
  const metas = [layout.meta, ...(layout.coarseMeta ? [layout.coarseMeta] : [])];
  const { files } = await readFiles(opts, names, metas);
  const rec = cifarRecordSize(opts.kind);
  const expected = { ...layout.records, ...opts.records };
  let n = 0;
  for (const name of names) {
    const f = files.get(name)!;
    if (f.data.length % rec !== 0 || f.data.length === 0) {
      parseCifarRecords(f.data, opts.kind, f.source); // throws the descriptive error
    }
    const found = f.data.length / rec;
    const want = expected[name];
    if (found !== want) {
      const count = (v: number) => v.toLocaleString("en-US");
      throw new Error(
        `${f.source}: ${count(found)} records, ${count(want)} expected ` +
          `(${opts.kind} ${name} has ${count(want)} records of ${rec} bytes` +
          `${opts.records?.[name] === undefined ? "" : ", as given in records"}); ` +
          `the file is truncated or not from this data set`,
      );
    }
    n += found;
  }
  const images = new Uint8Array(new SharedArrayBuffer(n * CIFAR_PIXELS));
  const fine = new Int32Array(n);
  const coarse = layout.coarseClasses ? new Int32Array(n) : undefined;
  let at = 0;
  for (const name of names) {
    const f = files.get(name)!;
    const m = f.data.length / rec;
    const r = parseCifarRecords(
      f.data,
      opts.kind,
      f.source,
      images.subarray(at * CIFAR_PIXELS, (at + m) * CIFAR_PIXELS),
    );
    fine.set(r.fine, at);
    if (coarse && r.coarse) coarse.set(r.coarse, at);
    at += m;
  }
  const text = (name: string | undefined) => {
    const f = name ? files.get(name) : undefined;
    return f ? parseLabelNames(new TextDecoder().decode(f.data)) : [];
  };
  const fineNames = text(layout.meta);
  const coarseNames = layout.coarseMeta ? text(layout.coarseMeta) : undefined;
  const useCoarse = opts.label === "coarse";
  if (useCoarse && !coarse) throw new Error(`loadCifar: ${opts.kind} has no coarse labels`);
  return {
    kind: opts.kind,
    images,
    labels: useCoarse ? coarse! : fine,
    n,
    height: 32,
    width: 32,
    channels: 3,
    numClasses: useCoarse ? layout.coarseClasses : layout.classes,
    labelNames: useCoarse ? coarseNames ?? [] : fineNames,
    fineLabels: fine,
    coarseLabels: coarse,
    fineLabelNames: fineNames,
    coarseLabelNames: coarseNames,
  };
}
