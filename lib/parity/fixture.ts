/**
 * The parity fixture format (see the fixtures' README) and a validating loader.
 *
 * @module
 */

/** Summary of one tensor: shape, sum, sum of squares, samples at flat (PyTorch-layout) indices. */
export interface TensorSummary {
  /** Shape in PyTorch layout. */
  shape: number[];
  /** Σ values. */
  sum: number;
  /** Σ values². */
  sumsq: number;
  /** Flat indices of the samples. */
  sample_index: number[];
  /** Values at those indices. */
  sample: number[];
  /** Mathematically zero gradient (only in `grad`). */
  expected_zero?: boolean;
}

/** A full output: shape and values ([batch, features]). */
export interface FullValues {
  /** [batch, features]. */
  shape: number[];
  /** Row-major values (nested or flat). */
  values: number[] | number[][];
}

/** One training step of a fixture. */
export interface FixtureStep {
  /** Loss terms: ce_sum, kd_sum, fea_sum, total. */
  loss: Record<string, number>;
  /** The four logits. */
  outputs: Record<string, FullValues>;
  /** Gradient summaries by parameter name. */
  grad: Record<string, TensorSummary>;
  /** State summaries after the optimizer step. */
  after_step: Record<string, TensorSummary>;
}

/** One parity case. */
export interface Fixture {
  /** Network name, e.g. "cifarresnet18". */
  network: string;
  /** Classes. */
  num_classes: number;
  /** Batch size. */
  batch: number;
  /** Key prefix of the generated values. */
  salt: string;
  /** temperature, ce_weight, kd_weight, fea_weight, lr, momentum, weight_decay. */
  hyper: Record<string, number>;
  /** Labels of the batch. */
  labels: number[];
  /** Initial state summaries. */
  parameters: Record<string, TensorSummary>;
  /** Trainable scalars, teacher plus students. */
  parameter_count: number;
  /** Trainable scalars of the teacher alone. */
  teacher_parameter_count: number;
  /** Inference-mode outputs and loss. */
  eval: Record<string, FullValues> & { loss: Record<string, number> };
  /** Two training steps. */
  train_steps: FixtureStep[];
  /** Tolerances by "section/metric". */
  tolerance: Record<string, number>;
  /** PyTorch float32 drift by "section/metric". */
  float32_drift?: Record<string, number>;
}

/** Output keys of the fixtures, in the official order. */
export const OUTPUT_KEYS = [
  "logits_teacher",
  "logits_student_8x8",
  "logits_student_16x16",
  "logits_student_32x32",
  "feature_teacher",
  "feature_student_8x8",
  "feature_student_16x16",
  "feature_student_32x32",
] as const;

/** Checks the fields the checker relies on; throws naming the file and the field. */
export function parseFixture(text: string, source = "fixture"): Fixture {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null) throw new Error(`${source}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  const need = (k: string, t: string) => {
    const v = o[k];
    const ok = t === "array" ? Array.isArray(v) : typeof v === t && v !== null;
    if (!ok) {
      throw new Error(
        `${source}: field "${k}" missing or not ${t === "array" ? "an array" : `a ${t}`}`,
      );
    }
  };
  need("network", "string");
  need("num_classes", "number");
  need("batch", "number");
  need("hyper", "object");
  need("labels", "array");
  need("parameters", "object");
  need("parameter_count", "number");
  need("teacher_parameter_count", "number");
  need("eval", "object");
  need("train_steps", "array");
  need("tolerance", "object");
  if (typeof o.salt !== "string") o.salt = "";
  return o as unknown as Fixture;
}

/** Reads and validates a fixture file. */
export async function loadFixture(path: string): Promise<Fixture> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read fixture ${path}: ${(e as Error).message}`);
  }
  return parseFixture(text, path);
}
