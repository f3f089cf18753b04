/**
 * `nn.BatchNorm2d` with PyTorch semantics: in training mode the batch statistics normalise (biased
 * variance) and the running statistics move with momentum 0.1 towards the batch mean and the
 * UNBIASED batch variance; in inference mode the running statistics normalise.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedBatchNormTrain } from "../backend/fused_batchnorm.ts";
import { Layer } from "./layer.ts";

/** Options of {@link BatchNorm2d}. */
export interface BatchNormOptions {
  /** Added to the variance. Default 1e-5. */
  eps?: number;
  /** Weight of the new batch statistics in the running average. Default 0.1. */
  momentum?: number;
}

/**
 * Batch normalisation over N, H, W of NHWC input (also accepts [N, C]).
 *
 * @example
 * ```ts
 * const bn = new BatchNorm2d(64);
 * bn.train(); bn.forward(x); // normalises with batch statistics, updates running_mean/var
 * ```
 */
export class BatchNorm2d extends Layer {
  /** gamma, initialised to 1. */
  readonly weight: tf.Variable;
  /** beta, initialised to 0. */
  readonly bias: tf.Variable;
  /** Running mean (buffer), initialised to 0. */
  readonly runningMean: tf.Variable;
  /** Running variance (buffer), initialised to 1. */
  readonly runningVar: tf.Variable;
  /** Number of training batches seen (buffer, held as float32, exported as int64). */
  readonly numBatchesTracked: tf.Variable;
  /** eps. */
  readonly eps: number;
  /** momentum. */
  readonly momentum: number;

  /** Creates the layer. */
  constructor(readonly channels: number, opts: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(channels) || channels < 1) {
      throw new Error(`BatchNorm2d: channels must be a positive integer, got ${channels}`);
    }
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.weight = this.registerTensor("weight", tf.variable(tf.ones([channels])));
    this.bias = this.registerTensor("bias", tf.variable(tf.zeros([channels])));
    this.runningMean = this.registerTensor(
      "running_mean",
      tf.variable(tf.zeros([channels]), false),
      { kind: "buffer" },
    );
    this.runningVar = this.registerTensor(
      "running_var",
      tf.variable(tf.ones([channels]), false),
      { kind: "buffer" },
    );
    this.numBatchesTracked = this.registerTensor(
      "num_batches_tracked",
      tf.variable(tf.scalar(0), false),
      { kind: "buffer", integer: true },
    );
  }

  /** Normalises; in training mode also updates the running statistics. */
  forward(x: tf.Tensor): tf.Tensor {
    const axes = x.rank === 4 ? [0, 1, 2] : [0];
    if (!this.training) {
      return tf.batchNorm(x, this.runningMean, this.runningVar, this.bias, this.weight, this.eps);
    }
    const n = x.size / this.channels;
    if (n < 2) {
      throw new Error(
        `BatchNorm2d: training needs more than 1 value per channel, got input ${x.shape}`,
      );
    }
    // The backend's fused kernels where it has them (one pass each way instead of a dozen ops).
    const fused = x.rank === 4 || x.rank === 2
      ? fusedBatchNormTrain(x, this.weight, this.bias, this.eps)
      : null;
    const mean = fused?.mean ?? tf.mean(x, axes);
    const centered = fused ? null : tf.sub(x, mean);
    const variance = fused?.variance ?? tf.mean(tf.square(centered!), axes);
    // Running statistics: no gradient may flow here, and the values must survive the caller's tidy.
    const m = this.momentum;
    const newMean = tf.tidy(() => tf.add(tf.mul(this.runningMean, 1 - m), tf.mul(mean, m)) // (1-m)·running + m·batch
    );
    const newVar = tf.tidy(() =>
      tf.add(tf.mul(this.runningVar, 1 - m), tf.mul(variance, (m * n) / (n - 1)))
    );
    const newCount = tf.tidy(() => tf.add(this.numBatchesTracked, 1));
    this.runningMean.assign(newMean);
    this.runningVar.assign(newVar);
    this.numBatchesTracked.assign(newCount);
    newMean.dispose();
    newVar.dispose();
    newCount.dispose();
    if (fused) return fused.y;
    const inv = tf.rsqrt(tf.add(variance, this.eps));
    return tf.add(tf.mul(tf.mul(centered!, inv), this.weight), this.bias);
  }

  /** "BatchNorm2d(C)". */
  describe(): string {
    return `BatchNorm2d(${this.channels})`;
  }
}
