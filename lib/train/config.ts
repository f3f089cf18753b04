/**
 * The configuration of a training run, one type for notebooks, `deno task train --config <file.json>`
 * and ablations: nested (`data`, `model`, `method`, `optim`, `schedule`) and typed, the method a
 * union discriminated on its name (each method's fields and official defaults live in its own file).
 *
 * A recipe fills in the optimizer, schedule and batch size: `"teskd"` (the TESKD paper: SGD 0.1,
 * Nesterov, batch 128, 200 epochs, ×0.1 at 100 and 150) or `"toolbox"` (the SimKD toolbox: SGD 0.05 —
 * 0.01 for MobileNet/ShuffleNet students — batch 64, 240 epochs, ×0.1 at 150, 180 and 210). The
 * default recipe is the method's own (`Method.recipe`: TESKD's for `teskd`, the toolbox's for the
 * others). Fields given in the config override the recipe's.
 *
 * @example
 * ```ts
 * const cfg = resolveTrainConfig({
 *   model: { network: "resnet8x4", teacher: { network: "resnet32x4", checkpoint: "resnet32x4.pth" } },
 *   method: { name: "simkd", factor: 4 },
 * });
 * cfg.optim.lr; // 0.05 (the toolbox recipe)
 * ```
 *
 * @module
 */
import { getMethod, type MethodConfig, resolveMethodConfig } from "../distill/registry.ts";
import { mergeChecked } from "../io/merge_checked.ts";
import { networkNames } from "../models/registry.ts";
import type { ScheduleKind } from "./schedule.ts";

/** Synthetic CIFAR-shaped images (generated, no download). */
export interface SyntheticConfig {
  /** Classes. Default 10. */
  classes: number;
  /** Training images. Default 5000. */
  train: number;
  /** Test images. Default 1000. */
  test: number;
  /** Image side in pixels. Default 32. */
  size: number;
  /** 0 (easy) .. 1 (hard). Default 0.3. */
  difficulty: number;
}

/** The data of a run. */
export interface DataConfig {
  /** "cifar100", "cifar10", or "synthetic". Default "cifar100". */
  dataset: "cifar100" | "cifar10" | "synthetic";
  /** Where the CIFAR files are (folder or archive). Default: the repository's data/ folder. */
  dataDir?: string;
  /** Download CIFAR when missing. Default false. */
  download: boolean;
  /** Train on the first N training images only (0 = all). Default 0. */
  trainSubset: number;
  /** Evaluate on the first N test images only (0 = all). Default 0. */
  evalSubset: number;
  /** Settings of the synthetic data set. */
  synthetic: SyntheticConfig;
  /** Training batch size. Default: the recipe's (128 TESKD, 64 toolbox). */
  batchSize: number;
  /** Evaluation batch size. Default 256. */
  evalBatchSize: number;
  /** Data workers (0 = build batches on the main thread). Default: all cores but one. */
  workers?: number;
}

/** The pretrained teacher of a teacher→student method. */
export interface TeacherConfig {
  /** Network of the zoo, e.g. "resnet32x4". */
  network: string;
  /**
   * Its weights: a PyTorch `.pth` (the official checkpoints: `{"model": state_dict, …}`) or a
   * safetensors file. Absent: the teacher was handed over in memory (notebooks), or is untrained.
   */
  checkpoint?: string;
  /** Scales its widths (TESKD backbones only; small test runs). Default 1. */
  widthMultiplier: number;
}

/** The networks of a run. */
export interface ModelConfig {
  /**
   * The network being trained (the student; for TESKD the teacher backbone). Default: the method's
   * (`cifarresnet18` for TESKD, `resnet8x4` for the toolbox's methods).
   */
  network: string;
  /** Scales every width of a TESKD backbone, for small CPU runs. Default 1. */
  widthMultiplier: number;
  /** The teacher, for teacher→student methods. */
  teacher?: TeacherConfig;
  /**
   * Several teachers, instead of `teacher`, for a method that distills from more than one (ATSC).
   */
  teachers?: TeacherConfig[];
}

/** SGD settings (PyTorch's formulation; weight decay on every parameter). */
export interface OptimConfig {
  /** Base learning rate. */
  lr: number;
  /** Momentum. Default 0.9. */
  momentum: number;
  /** Nesterov momentum (TESKD: true; toolbox: false). */
  nesterov: boolean;
  /** Weight decay. Default 5e-4. */
  weightDecay: number;
}

/** The learning-rate schedule. */
export interface ScheduleSettings {
  /** Shape. Default "multistep". */
  kind: ScheduleKind;
  /** Epochs. */
  epochs: number;
  /** Multistep: 0-based epochs at whose start the rate is multiplied by `gamma`. */
  milestones: number[];
  /** Multistep factor. Default 0.1. */
  gamma: number;
  /** Linear warm-up epochs. Default 0. */
  warmupEpochs: number;
  /** Update the rate every step instead of every epoch. Default false. */
  perStep: boolean;
}

/** A training recipe: optimizer, schedule and batch size. */
export type RecipeName = "teskd" | "toolbox";

/** A training run. */
export interface TrainConfig {
  /** The recipe the defaults came from. Default: the method's (TESKD's for teskd, else the toolbox's). */
  recipe: RecipeName;
  /** Data set and batching. */
  data: DataConfig;
  /** The networks. */
  model: ModelConfig;
  /** The method and its settings (defaults: the official ones). Default TESKD. */
  method: MethodConfig;
  /** SGD. */
  optim: OptimConfig;
  /** Learning-rate schedule. */
  schedule: ScheduleSettings;
  /** Seed of weights, shuffling and augmentation. Default 27. */
  seed: number;
  /** Engine: "auto", "cpu", "webgpu" or "tensorflow". Default "auto". */
  backend: "auto" | "cpu" | "webgpu" | "tensorflow";
  /** Output directory (checkpoints, history.json, config.json). Default "runs/<method>". */
  outDir: string;
}

/** What a config file or a notebook gives: any part of a {@link TrainConfig}. */
export type TrainConfigInput = {
  recipe?: RecipeName;
  data?: Partial<Omit<DataConfig, "synthetic">> & { synthetic?: Partial<SyntheticConfig> };
  model?: Partial<Omit<ModelConfig, "teacher" | "teachers">> & {
    teacher?: Partial<TeacherConfig>;
    teachers?: Partial<TeacherConfig>[];
  };
  method?: string | ({ name: string } & Record<string, unknown>);
  optim?: Partial<OptimConfig>;
  schedule?: Partial<ScheduleSettings>;
  seed?: number;
  backend?: TrainConfig["backend"];
  outDir?: string;
};

/** Students whose official learning rate is 0.01 instead of 0.05 (`train_student.py`). */
const SMALL_LR_STUDENTS = [
  "MobileNetV2",
  "MobileNetV2_1_0",
  "ShuffleV1",
  "ShuffleV2",
  "ShuffleV2_1_5",
];

/** The recipe's optimizer, schedule and batch size for a student network. */
export function recipe(
  name: RecipeName,
  network: string,
): { optim: OptimConfig; schedule: ScheduleSettings; batchSize: number } {
  const common = { kind: "multistep" as const, gamma: 0.1, warmupEpochs: 0, perStep: false };
  if (name === "teskd") {
    return {
      optim: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
      schedule: { ...common, epochs: 200, milestones: [100, 150] },
      batchSize: 128,
    };
  }
  return {
    optim: {
      lr: SMALL_LR_STUDENTS.includes(network) ? 0.01 : 0.05,
      momentum: 0.9,
      nesterov: false,
      weightDecay: 5e-4,
    },
    // The official `lr = base · 0.1^#(epoch > m)` with 1-based epochs: 0-based epochs 150, 180, 210.
    schedule: { ...common, epochs: 240, milestones: [150, 180, 210] },
    batchSize: 64,
  };
}

/**
 * The defaults of a run for a method, recipe and network (before any field of a config applies).
 *
 * @example
 * ```ts
 * defaultTrainConfig(resolveMethodConfig("kd"), "toolbox", "resnet8x4").optim.lr; // 0.05
 * ```
 */
export function defaultTrainConfig(
  method: MethodConfig,
  recipeName: RecipeName,
  network: string,
): TrainConfig {
  const r = recipe(recipeName, network);
  const cfg: TrainConfig = {
    recipe: recipeName,
    data: {
      dataset: "cifar100",
      download: false,
      trainSubset: 0,
      evalSubset: 0,
      synthetic: { classes: 10, train: 5000, test: 1000, size: 32, difficulty: 0.3 },
      batchSize: r.batchSize,
      evalBatchSize: 256,
    },
    model: { network, widthMultiplier: 1 },
    method,
    optim: r.optim,
    schedule: r.schedule,
    seed: 27,
    backend: "auto",
    outDir: `runs/${method.name}`,
  };
  return cfg;
}

/** Fields that may be absent from a resolved config (no default). */
const OPTIONAL = new Set([
  "data.dataDir",
  "data.workers",
  "model.teacher",
  "model.teacher.checkpoint",
  "model.teachers",
]);

/**
 * Fills in defaults and checks every field.
 *
 * @param input the config (e.g. parsed from a JSON file); `null` and non-objects are errors
 * @param source a name for error messages (e.g. the file)
 * @throws Error naming the source and the field (dotted path): unknown fields, wrong types, bad values
 */
export function resolveTrainConfig(input: unknown, source = "config"): TrainConfig {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new Error(
      `${source}: expected an object of TrainConfig fields (data, model, method, optim, schedule, …), got ${
        input === null ? "null" : Array.isArray(input) ? "a list" : typeof input
      }`,
    );
  }
  const given = input as TrainConfigInput;
  const method = resolveMethodConfig(given.method ?? "teskd", `${source}: method`);
  const { recipe: methodRecipe, defaultNetwork } = getMethod(method.name);
  const network = typeof given.model?.network === "string" ? given.model.network : defaultNetwork;
  const recipeName = given.recipe ?? methodRecipe;
  if (recipeName !== "teskd" && recipeName !== "toolbox") {
    throw new Error(
      `${source}: "recipe" must be "teskd" or "toolbox", got ${JSON.stringify(recipeName)}`,
    );
  }
  const defaults = defaultTrainConfig(method, recipeName, network);
  const { method: _m, ...rest } = given;
  const merged = mergeChecked(defaults, rest, source, {
    optional: OPTIONAL,
  }) as unknown as TrainConfig;
  merged.method = method;
  const teacherConfig = (t: unknown, path: string) =>
    mergeChecked({ network: "", widthMultiplier: 1 }, t, source, {
      path,
      optional: new Set([...OPTIONAL].map((f) => f.replace("model.teacher.", path))),
    }) as unknown as TeacherConfig;
  if (merged.model.teacher !== undefined) {
    merged.model.teacher = teacherConfig(merged.model.teacher, "model.teacher.");
  }
  const teachers = merged.model.teachers as unknown;
  if (teachers !== undefined) {
    if (!Array.isArray(teachers) || teachers.length === 0) {
      throw new Error(`${source}: "model.teachers" must be a non-empty list of teachers`);
    }
    if (merged.model.teacher !== undefined) {
      throw new Error(`${source}: give "model.teacher" or "model.teachers", not both`);
    }
    if (!getMethod(method.name).multiTeacher) {
      throw new Error(
        `${source}: method "${method.name}" distills from one teacher ("model.teacher"); ` +
          `"model.teachers" is for methods that take several (atsc)`,
      );
    }
    merged.model.teachers = teachers.map((t, i) => teacherConfig(t, `model.teachers.${i}.`));
  }
  validate(merged, source);
  return merged;
}

function validate(cfg: TrainConfig, source: string): void {
  const fail = (field: string, want: string, got: unknown): never => {
    throw new Error(`${source}: "${field}" must be ${want}, got ${JSON.stringify(got)}`);
  };
  const int = (v: number) => Number.isInteger(v);
  const num = (field: string, v: number, ok: (v: number) => boolean, want: string) => {
    if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) fail(field, want, v);
  };
  const oneOf = (field: string, v: string, values: readonly string[]) => {
    if (!values.includes(v)) fail(field, `one of ${values.join(", ")}`, v);
  };
  const names = networkNames();
  const d = cfg.data;
  oneOf("data.dataset", d.dataset, ["cifar100", "cifar10", "synthetic"]);
  num("data.trainSubset", d.trainSubset, (v) => int(v) && v >= 0, "an integer ≥ 0");
  num("data.evalSubset", d.evalSubset, (v) => int(v) && v >= 0, "an integer ≥ 0");
  for (const f of ["classes", "train", "test", "size"] as const) {
    num(`data.synthetic.${f}`, d.synthetic[f], (v) => int(v) && v > 0, "an integer > 0");
  }
  num("data.synthetic.difficulty", d.synthetic.difficulty, (v) => v >= 0 && v <= 1, "in [0, 1]");
  num("data.batchSize", d.batchSize, (v) => int(v) && v > 0, "an integer > 0");
  num("data.evalBatchSize", d.evalBatchSize, (v) => int(v) && v > 0, "an integer > 0");
  if (d.workers !== undefined) {
    num("data.workers", d.workers, (v) => int(v) && v >= 0, "an integer ≥ 0");
  }
  if (d.dataDir !== undefined && typeof d.dataDir !== "string") {
    fail("data.dataDir", "a path", d.dataDir);
  }
  oneOf("model.network", cfg.model.network, names);
  num("model.widthMultiplier", cfg.model.widthMultiplier, (v) => v > 0, "a number > 0");
  const teachers: [string, TeacherConfig][] = [
    ...(cfg.model.teacher ? [["model.teacher", cfg.model.teacher] as [string, TeacherConfig]] : []),
    ...(cfg.model.teachers ?? []).map((t, i) =>
      [`model.teachers.${i}`, t] as [string, TeacherConfig]
    ),
  ];
  for (const [path, t] of teachers) {
    oneOf(`${path}.network`, t.network, names);
    num(`${path}.widthMultiplier`, t.widthMultiplier, (v) => v > 0, "a number > 0");
    if (t.checkpoint !== undefined && (typeof t.checkpoint !== "string" || t.checkpoint === "")) {
      fail(`${path}.checkpoint`, "a file path", t.checkpoint);
    }
  }
  const o = cfg.optim;
  for (const f of ["lr", "momentum", "weightDecay"] as const) {
    num(`optim.${f}`, o[f], (v) => v >= 0, "a number ≥ 0");
  }
  const s = cfg.schedule;
  oneOf("schedule.kind", s.kind, ["multistep", "cosine", "constant"]);
  num("schedule.epochs", s.epochs, (v) => int(v) && v > 0, "an integer > 0");
  if (!s.milestones.every((m) => typeof m === "number" && int(m) && m >= 0)) {
    fail("schedule.milestones", "a list of epochs (integers ≥ 0)", s.milestones);
  }
  num("schedule.gamma", s.gamma, (v) => v > 0, "a number > 0");
  num("schedule.warmupEpochs", s.warmupEpochs, (v) => v >= 0, "a number ≥ 0");
  num("seed", cfg.seed, int, "an integer");
  oneOf("backend", cfg.backend, ["auto", "cpu", "webgpu", "tensorflow"]);
  if (cfg.outDir === "") fail("outDir", "a directory path", cfg.outDir);
}

/**
 * The dotted paths of the fields where two resolved configs differ (`outDir` and `backend` are where
 * and how a run goes, not what it computes, and are left out). For `--resume`.
 *
 * @example
 * ```ts
 * configDiff(saved, wanted); // ["method.factor", "optim.lr"]
 * ```
 */
export function configDiff(a: TrainConfig, b: TrainConfig): string[] {
  const out: string[] = [];
  const walk = (x: unknown, y: unknown, path: string) => {
    const isObj = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
    if (isObj(x) && isObj(y)) {
      const keys = new Set([...Object.keys(x as object), ...Object.keys(y as object)]);
      for (const k of keys) {
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], path + k + ".");
      }
    } else if (JSON.stringify(x) !== JSON.stringify(y)) out.push(path.slice(0, -1));
  };
  walk({ ...a, outDir: undefined, backend: undefined }, {
    ...b,
    outDir: undefined,
    backend: undefined,
  }, "");
  return out;
}
