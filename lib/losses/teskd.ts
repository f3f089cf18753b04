/**
 * The TESKD training loss, every weight a parameter:
 *
 * ```
 * L = ce_w · Σ_heads w_h · CE(head) + kd_w · Σ_students KL_T(s ‖ teacher) + fea_w · Σ_students FEA(f_s, g)
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Level } from "../models/backbone.ts";
import type { TeskdOutput } from "../models/teskd.ts";
import { crossEntropy, featureLoss, kdLoss } from "./losses.ts";

/** Weights of the TESKD loss (defaults: the official ones). */
export interface TeskdLossOptions {
  /** Weight of the cross-entropy sum. Default 0.2. */
  ceWeight?: number;
  /** Weight of the KD sum. Default 0.8. */
  kdWeight?: number;
  /** Weight of the feature-loss sum. Default 1e-7. */
  feaWeight?: number;
  /** KD temperature. Default 4. */
  temperature?: number;
  /** Per-head CE weights, keyed "teacher" or by student resolution. Default 1 each. */
  headCeWeights?: Partial<Record<"teacher" | Level, number>>;
  /** Detach the teacher logits in KD. Default false (official). */
  detachTeacher?: boolean;
}

/** The loss and its terms, each a tf scalar (the caller disposes them, or runs inside tf.tidy). */
export interface TeskdLossResult {
  /** The weighted total (the quantity to minimise). */
  total: tf.Scalar;
  /**
   * `ce_sum` (Σ of per-head-weighted CEs), `kd_sum`, `fea_sum`, and per head: `ce_teacher`,
   * `ce_8x8`, `kd_8x8`, `fea_8x8`, … for every attached student level.
   */
  terms: Record<string, tf.Scalar>;
}

/**
 * Computes the TESKD loss on the named outputs of {@link Teskd.forward}. With no students it is the
 * baseline's CE (scaled by ceWeight · the teacher's head weight).
 *
 * @example
 * ```ts
 * const { total, terms } = teskdLoss(net.forward(x), labels);
 * terms.kd_sum.dataSync()[0];
 * ```
 */
export function teskdLoss(
  out: TeskdOutput,
  labels: tf.Tensor1D,
  opts: TeskdLossOptions = {},
): TeskdLossResult {
  return tf.tidy(() => teskdLossUntidy(out, labels, opts)) as unknown as TeskdLossResult;
}

function teskdLossUntidy(
  out: TeskdOutput,
  labels: tf.Tensor1D,
  opts: TeskdLossOptions,
): tf.TensorContainer {
  const ceW = opts.ceWeight ?? 0.2;
  const kdW = opts.kdWeight ?? 0.8;
  const feaW = opts.feaWeight ?? 1e-7;
  const headW = (h: "teacher" | Level) => opts.headCeWeights?.[h] ?? 1;
  const terms: Record<string, tf.Scalar> = {};
  terms.ce_teacher = crossEntropy(out.teacher.logits, labels);
  const ce: tf.Scalar[] = [tf.mul(terms.ce_teacher, headW("teacher"))];
  const kd: tf.Scalar[] = [];
  const fea: tf.Scalar[] = [];
  const levels = (["8x8", "16x16", "32x32"] as Level[]).filter((l) => out.students[l]);
  for (const l of levels) {
    const s = out.students[l] as { logits: tf.Tensor; feature: tf.Tensor };
    terms[`ce_${l}`] = crossEntropy(s.logits, labels);
    terms[`kd_${l}`] = kdLoss(s.logits, out.teacher.logits, {
      temperature: opts.temperature ?? 4,
      detachTeacher: opts.detachTeacher,
    });
    terms[`fea_${l}`] = featureLoss(s.feature, out.teacher.feature);
    ce.push(tf.mul(terms[`ce_${l}`], headW(l)));
    kd.push(terms[`kd_${l}`]);
    fea.push(terms[`fea_${l}`]);
  }
  const sum = (xs: tf.Scalar[]): tf.Scalar =>
    (xs.length === 0 ? tf.scalar(0) : tf.addN(xs)) as tf.Scalar;
  terms.ce_sum = sum(ce);
  terms.kd_sum = sum(kd);
  terms.fea_sum = sum(fea);
  const total = tf.addN([
    tf.mul(terms.ce_sum, ceW),
    tf.mul(terms.kd_sum, kdW),
    tf.mul(terms.fea_sum, feaW),
  ]) as tf.Scalar;
  return { total, terms } as unknown as tf.TensorContainer;
}
