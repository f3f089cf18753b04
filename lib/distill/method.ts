/**
 * The shape of a distillation method: a name, its official defaults as a typed config, a check of
 * that config, and `build`, which turns a student (and a teacher, for teacher→student methods) into a
 * {@link Distiller}. One file per method implements it; `registry.ts` lists them.
 *
 * @module
 */
import type { Network } from "../models/network.ts";
import type { Distiller } from "./distiller.ts";

/** Every method config names its method; the rest are the method's own fields. */
export interface MethodConfigBase {
  /** The method's registry name. */
  name: string;
}

/** What a method is built from. */
export interface BuildContext {
  /** The network being trained (the student; for TESKD and the baseline, the network itself). */
  student: Network;
  /** The pretrained teacher, already frozen (teacher→student methods only). */
  teacher?: Network;
  /** Side of the square training images (feature shapes are taken from a dry forward at this size). */
  inputSize: number;
  /** Seed of the method's own modules (projectors, regressors). */
  seed: number;
  /**
   * Labels of the training set in sample-index order (CRD: its memory bank has one row per sample,
   * and it draws negatives from other classes).
   */
  trainLabels?: Int32Array;
  /**
   * Several pretrained teachers, for a method that takes more than one (ATSC); `teacher` is then the
   * first of them.
   */
  teachers?: Network[];
  /** Training batch size (SemCKD sizes its attention MLPs by it). */
  batchSize?: number;
}

/**
 * A distillation method.
 *
 * @example
 * ```ts
 * const kd = getMethod("kd");
 * const distiller = kd.build({ student, teacher, inputSize: 32, seed: 0 }, kd.defaults);
 * ```
 */
export interface Method<C extends MethodConfigBase> {
  /** Registry name, e.g. "kd". */
  readonly name: C["name"];
  /** One line: what the method does, and its source. */
  readonly description: string;
  /**
   * The method's `--distill` name in the official SimKD toolbox ("hint" for FitNet), when it has one.
   * Its modules are registered under this name (the toolbox's `module.<name>.*` in the fixtures).
   */
  readonly toolboxName?: string;
  /** Whether it needs a pretrained (frozen) teacher. */
  readonly needsTeacher: boolean;
  /** Whether it can distill from several teachers (`BuildContext.teachers`, `model.teachers`). */
  readonly multiTeacher?: boolean;
  /**
   * The training recipe its paper's code uses (`TrainConfig.recipe`'s default): "teskd" (the TESKD
   * paper) or "toolbox" (the SimKD toolbox's `train_student.py`).
   */
  readonly recipe: "teskd" | "toolbox";
  /** The network trained when the config names none. */
  readonly defaultNetwork: string;
  /** The official defaults (loss weights, temperatures, projector factors). */
  readonly defaults: Readonly<C>;
  /** Extra checks beyond the field types (ranges, allowed values); throw naming `source` and the field. */
  validate?(cfg: C, source: string): void;
  /** Builds the method for a student (and teacher). */
  build(ctx: BuildContext, cfg: C): Distiller;
  /**
   * The weight of each logged loss term in the training total, from a resolved config: what each
   * term contributes (`lossCurves(…, { weighted })`). Terms that are breakdowns of another (per-pair
   * parts) or outside the total have none.
   */
  lossWeights(cfg: C): Record<string, number>;
}

/** The teacher of a context, or a clear error for a method that needs one. */
export function requireTeacher(ctx: BuildContext, method: string): Network {
  if (ctx.teacher === undefined) {
    throw new Error(`method "${method}" needs a teacher (model.teacher in the config)`);
  }
  return ctx.teacher;
}

/** Throws `source: "field" must be want, got value`. */
export function fieldError(source: string, field: string, want: string, got: unknown): never {
  throw new Error(`${source}: "${field}" must be ${want}, got ${JSON.stringify(got)}`);
}

/** Checks that `cfg[field]` is a finite number satisfying `ok`. */
export function checkNumber(
  cfg: object,
  field: string,
  source: string,
  ok: (v: number) => boolean = () => true,
  want = "a number",
): void {
  const v = (cfg as Record<string, unknown>)[field];
  if (typeof v !== "number" || !Number.isFinite(v) || !ok(v)) fieldError(source, field, want, v);
}

/**
 * A loss weight of a config, checked: a config that is not resolved (a field missing) is an error
 * naming the field, not a NaN in a chart.
 */
export function weightField(cfg: MethodConfigBase, field: string): number {
  const v = (cfg as unknown as Record<string, unknown>)[field];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(
      `lossWeights: method "${cfg.name}" has no numeric field "${field}" (pass a resolved ` +
        "config: config.json's method, or resolveTrainConfig(…).method)",
    );
  }
  return v;
}

/**
 * The toolbox's loss weights (`cls·CE + div·KL (+ beta·method term)`, lib/losses/kd.ts
 * `toolboxLoss`): `cls`, `div`, and the method's term `kd` × beta where the method has one.
 */
export function toolboxLossWeights(cfg: MethodConfigBase): Record<string, number> {
  const w: Record<string, number> = { cls: weightField(cfg, "cls"), div: weightField(cfg, "div") };
  if ("beta" in cfg) w.kd = weightField(cfg, "beta");
  return w;
}

/** Checks the toolbox's shared fields: `cls`, `div` (and `beta` when present) ≥ 0, `temperature` > 0. */
export function checkToolboxWeights(cfg: object, source: string): void {
  for (const f of ["cls", "div", "beta"]) {
    if (f === "beta" && !("beta" in cfg)) continue;
    checkNumber(cfg, f, source, (v) => v >= 0, "a number ≥ 0");
  }
  checkNumber(cfg, "temperature", source, (v) => v > 0, "a number > 0");
}
