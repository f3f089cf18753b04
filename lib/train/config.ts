/**
 * The configuration of a training run, shared by notebooks and `deno task train --config <file.json>`.
 * Every field has a default; the defaults are the official TESKD recipe on CIFAR-100 with ResNet-18.
 *
 * @example
 * ```ts
 * const cfg = resolveTrainConfig({ epochs: 5, dataset: "synthetic", widthMultiplier: 0.125 });
 * cfg.lr; // 0.1
 * ```
 *
 * @module
 */
import { type Level, LEVELS } from "../models/backbone.ts";
import type { Fusion } from "../models/teskd.ts";
import { NETWORKS } from "../models/zoo.ts";

/** A training run. */
export interface TrainConfig {
  /** "teskd": teacher plus students with the TESKD loss; "baseline": the teacher alone with CE (weight 1). Default "teskd". */
  method: "teskd" | "baseline";
  /** Network of the zoo (cifarresnet18, cifarresnet34, seresnet18, vgg16, …). Default "cifarresnet18". */
  network: string;
  /** Student levels (teskd only). Default all three: ["8x8", "16x16", "32x32"]. */
  levels: Level[];
  /** Scales every channel width, for small CPU runs (1 = the published network). Default 1. */
  widthMultiplier: number;
  /** "cifar100", "cifar10", or "synthetic" (generated CIFAR-shaped images, no download). Default "cifar100". */
  dataset: "cifar100" | "cifar10" | "synthetic";
  /** Where the CIFAR files are (folder or archive). Default: the repository's data/ folder. */
  dataDir?: string;
  /** Download CIFAR when missing. Default false. */
  download: boolean;
  /** Train on the first N training images only (0 = all). Default 0. */
  trainSubset: number;
  /** Evaluate on the first N test images only (0 = all). Default 0. */
  evalSubset: number;
  /** Synthetic data: classes. Default 10. */
  syntheticClasses: number;
  /** Synthetic data: training images. Default 5000. */
  syntheticTrain: number;
  /** Synthetic data: test images. Default 1000. */
  syntheticTest: number;
  /** Synthetic data: image side in pixels. Default 32. */
  syntheticSize: number;
  /** Synthetic data: 0 (easy) .. 1 (hard). Default 0.3. */
  syntheticDifficulty: number;
  /** Training batch size. Default 128. */
  batchSize: number;
  /** Evaluation batch size. Default 256. */
  evalBatchSize: number;
  /** Data workers (0 = build batches on the main thread). Default: all cores but one. */
  workers?: number;
  /** Epochs. Default 200. */
  epochs: number;
  /** Base learning rate. Default 0.1. */
  lr: number;
  /** SGD momentum. Default 0.9. */
  momentum: number;
  /** Nesterov momentum. Default true. */
  nesterov: boolean;
  /** Weight decay on every parameter (BatchNorm and biases too). Default 5e-4. */
  weightDecay: number;
  /** Learning-rate schedule. Default "multistep". */
  schedule: "multistep" | "cosine";
  /** Multistep: epochs (0-based) where the rate is multiplied by `gamma`. Default [100, 150]. */
  milestones: number[];
  /** Multistep factor. Default 0.1. */
  gamma: number;
  /** Linear warm-up epochs. Default 0. */
  warmupEpochs: number;
  /** Update the rate every step instead of every epoch. Default false. */
  perStepSchedule: boolean;
  /** Weight of the CE sum (teskd). Default 0.2. */
  ce: number;
  /** Weight of the KD sum. Default 0.8. */
  kd: number;
  /** Weight of the feature-loss sum. Default 1e-7. */
  fea: number;
  /** KD temperature T. Default 4. */
  temperature: number;
  /**
   * How the top-down pathway merges the upsampled map with the lateral one: "add-concat" (the official
   * `concat[u + lateral, u]`), "add" or "concat" (ablations). Default "add-concat".
   */
  fusion: Fusion;
  /**
   * Detach the teacher's logits in the KD terms (the official code does not: KD gradients also reach
   * the teacher). Default false.
   */
  detachTeacher: boolean;
  /** Seed of weights, shuffling and augmentation. Default 27. */
  seed: number;
  /** Engine: "auto", "cpu", "webgpu" or "tensorflow". Default "auto". */
  backend: "auto" | "cpu" | "webgpu" | "tensorflow";
  /** Output directory (checkpoints, history.json, config.json). Default "runs/teskd". */
  outDir: string;
}

/** The official recipe. */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  method: "teskd",
  network: "cifarresnet18",
  levels: ["8x8", "16x16", "32x32"],
  widthMultiplier: 1,
  dataset: "cifar100",
  download: false,
  trainSubset: 0,
  evalSubset: 0,
  syntheticClasses: 10,
  syntheticTrain: 5000,
  syntheticTest: 1000,
  syntheticSize: 32,
  syntheticDifficulty: 0.3,
  batchSize: 128,
  evalBatchSize: 256,
  epochs: 200,
  lr: 0.1,
  momentum: 0.9,
  nesterov: true,
  weightDecay: 5e-4,
  schedule: "multistep",
  milestones: [100, 150],
  gamma: 0.1,
  warmupEpochs: 0,
  perStepSchedule: false,
  ce: 0.2,
  kd: 0.8,
  fea: 1e-7,
  temperature: 4,
  fusion: "add-concat",
  detachTeacher: false,
  seed: 27,
  backend: "auto",
  outDir: "runs/teskd",
} as TrainConfig);

const OPTIONAL_KEYS = ["dataDir", "workers"];

/**
 * Fills in defaults and checks every field.
 *
 * @param partial fields to override (e.g. parsed from a JSON file)
 * @param source a name for error messages (e.g. the file)
 * @throws Error naming the field and the problem (unknown fields are errors: typos must not pass silently)
 */
export function resolveTrainConfig(partial: unknown = {}, source = "config"): TrainConfig {
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) {
    throw new Error(`${source}: expected a JSON object of TrainConfig fields`);
  }
  const known = new Set([...Object.keys(DEFAULT_TRAIN_CONFIG), ...OPTIONAL_KEYS]);
  for (const k of Object.keys(partial)) {
    if (!known.has(k)) {
      throw new Error(`${source}: unknown field "${k}"; known fields: ${[...known].join(", ")}`);
    }
  }
  const cfg = { ...DEFAULT_TRAIN_CONFIG, ...(partial as Partial<TrainConfig>) } as TrainConfig;
  const fail = (field: string, want: string): never => {
    throw new Error(
      `${source}: "${field}" must be ${want}, got ${
        JSON.stringify((cfg as unknown as Record<string, unknown>)[field])
      }`,
    );
  };
  const oneOf = (f: keyof TrainConfig, values: readonly string[]) => {
    if (!values.includes(cfg[f] as string)) fail(f, `one of ${values.join(", ")}`);
  };
  const num = (f: keyof TrainConfig, ok: (v: number) => boolean, want: string) => {
    const v = cfg[f];
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) fail(f, want);
  };
  const int = (v: number) => Number.isInteger(v);
  oneOf("method", ["teskd", "baseline"]);
  oneOf("network", NETWORKS);
  oneOf("dataset", ["cifar100", "cifar10", "synthetic"]);
  oneOf("schedule", ["multistep", "cosine"]);
  oneOf("backend", ["auto", "cpu", "webgpu", "tensorflow"]);
  oneOf("fusion", ["add-concat", "add", "concat"]);
  if (!Array.isArray(cfg.levels) || !cfg.levels.every((l) => LEVELS.includes(l))) {
    fail("levels", `a list of ${LEVELS.join(", ")}`);
  }
  num("widthMultiplier", (v) => v > 0, "a number > 0");
  for (const f of ["trainSubset", "evalSubset"] as const) {
    num(f, (v) => int(v) && v >= 0, "an integer ≥ 0");
  }
  for (
    const f of [
      "syntheticClasses",
      "syntheticTrain",
      "syntheticTest",
      "syntheticSize",
      "batchSize",
      "evalBatchSize",
      "epochs",
    ] as const
  ) num(f, (v) => int(v) && v > 0, "an integer > 0");
  num("syntheticDifficulty", (v) => v >= 0 && v <= 1, "a number in [0, 1]");
  for (const f of ["lr", "momentum", "weightDecay", "ce", "kd", "fea", "warmupEpochs"] as const) {
    num(f, (v) => v >= 0, "a number ≥ 0");
  }
  num("gamma", (v) => v > 0, "a number > 0");
  num("temperature", (v) => v > 0, "a number > 0");
  num("seed", int, "an integer");
  if (cfg.workers !== undefined) num("workers", (v) => int(v) && v >= 0, "an integer ≥ 0");
  for (const f of ["download", "nesterov", "perStepSchedule", "detachTeacher"] as const) {
    if (typeof cfg[f] !== "boolean") fail(f, "true or false");
  }
  if (!Array.isArray(cfg.milestones) || !cfg.milestones.every((m) => typeof m === "number")) {
    fail("milestones", "a list of epochs");
  }
  if (typeof cfg.outDir !== "string" || cfg.outDir === "") fail("outDir", "a directory path");
  if (cfg.dataDir !== undefined && typeof cfg.dataDir !== "string") {
    fail("dataDir", "a directory path");
  }
  return cfg;
}
