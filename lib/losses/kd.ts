/**
 * The loss terms the SimKD toolbox's teacher→student methods share:
 *
 * ```
 * loss = cls · CE(z_s, y) + div · T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)) + beta · L_method
 * ```
 * with KL `batchmean` (summed over classes and batch, divided by B). CE and KL are always computed on
 * the student's own logits and logged, even when their weight is 0 (as the official loop does).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { crossEntropy } from "./losses.ts";

/**
 * T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)), batchmean: the toolbox's `DistillKL` (no epsilon, unlike
 * TESKD's {@link kdLoss}).
 *
 * @example
 * ```ts
 * distillKL(studentLogits, teacherLogits, 4).dataSync()[0];
 * ```
 */
export function distillKL(student: tf.Tensor, teacher: tf.Tensor, temperature: number): tf.Scalar {
  if (!(temperature > 0)) throw new Error(`distillKL: temperature must be > 0, got ${temperature}`);
  if (student.rank !== 2 || student.shape.join() !== teacher.shape.join()) {
    throw new Error(
      `distillKL: logits must both be [N, classes], got [${student.shape}] and [${teacher.shape}]`,
    );
  }
  return tf.tidy(() => {
    const logPt = tf.logSoftmax(tf.div(teacher, temperature));
    const logPs = tf.logSoftmax(tf.div(student, temperature));
    const kl = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)));
    return tf.mul(kl, (temperature * temperature) / (student.shape[0] as number)) as tf.Scalar;
  });
}

/** Mean squared error over every element (PyTorch's `nn.MSELoss()`). */
export function mse(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  if (a.shape.join() !== b.shape.join()) {
    throw new Error(`mse: shapes differ: [${a.shape}] vs [${b.shape}]`);
  }
  return tf.tidy(() => tf.mean(tf.square(tf.sub(a, b))));
}

/** The toolbox's loss weights. */
export interface ToolboxWeights {
  /** Weight of CE on the student's own logits (`-c`). */
  cls: number;
  /** Weight of the KL term (`-d`). */
  div: number;
  /** KD temperature T (`--kd_T`). */
  temperature: number;
}

/** A method's own term, its weight, and named parts of it (logged). */
export interface MethodTerm {
  /** The term before its weight (logged as `kd`). */
  term: tf.Scalar;
  /** Its weight (`-b`). */
  beta: number;
  /** Named parts, logged beside it (per-pair terms, the two sides of a loss). */
  parts?: Record<string, tf.Scalar>;
}

/**
 * The toolbox total: `cls·CE + div·KL + beta·method`, with terms `cls`, `div` and (when the method
 * has one) `kd`, the method's term before its weight, plus any named parts of it.
 */
export function toolboxLoss(
  studentLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  labels: tf.Tensor1D,
  w: ToolboxWeights,
  method?: MethodTerm,
): { total: tf.Scalar; terms: Record<string, tf.Scalar> } {
  const terms: Record<string, tf.Scalar> = {
    cls: crossEntropy(studentLogits, labels),
    div: distillKL(studentLogits, teacherLogits, w.temperature),
  };
  const parts = [tf.mul(terms.cls, w.cls), tf.mul(terms.div, w.div)];
  if (method !== undefined) {
    terms.kd = method.term;
    Object.assign(terms, method.parts ?? {});
    parts.push(tf.mul(method.term, method.beta));
  }
  return { total: tf.addN(parts) as tf.Scalar, terms };
}
