/**
 * `nn.Linear`: y = x·Wᵀ + b. The weight is held as [in, out] and exported as [out, in].
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";
import { Generator, initBias, initWeight, type WeightInit } from "./init.ts";

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Whether the layer has a bias. Default true. */
  bias?: boolean;
  /** Weight initialisation. Default "torch-default". */
  init?: WeightInit;
  /** Initialise the bias to zero. */
  zeroBias?: boolean;
  /** Seeded generator. */
  rng: Generator;
}

const transpose2d = (t: tf.Tensor) => tf.transpose(t);

/**
 * A fully connected layer on [N, in] input.
 *
 * @example
 * ```ts
 * new Linear(512, 100, { rng: new Generator(1) }).forward(tf.zeros([4, 512])).shape; // [4, 100]
 * ```
 */
export class Linear extends Layer {
  /** Weight, [in, out]. */
  readonly weight: tf.Variable;
  /** Bias, or undefined. */
  readonly bias: tf.Variable | undefined;

  /** Creates the layer. */
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions) {
    super();
    if (
      !Number.isInteger(inFeatures) || inFeatures < 1 || !Number.isInteger(outFeatures) ||
      outFeatures < 1
    ) {
      throw new Error(`Linear: sizes must be positive integers, got ${inFeatures}→${outFeatures}`);
    }
    const torchShape = [outFeatures, inFeatures];
    const w = initWeight(torchShape, opts.init ?? "torch-default", opts.rng);
    this.weight = this.registerTensor("weight", tf.variable(tf.tidy(() => tf.transpose(w))), {
      torchShape,
      toTorch: transpose2d,
      fromTorch: transpose2d,
    });
    w.dispose();
    if (opts.bias ?? true) {
      const b = opts.zeroBias
        ? tf.zeros([outFeatures])
        : initBias(outFeatures, inFeatures, opts.rng);
      this.bias = this.registerTensor("bias", tf.variable(b));
    }
  }

  /** x·W + b. */
  forward(x: tf.Tensor): tf.Tensor {
    const y = tf.matMul(x as tf.Tensor2D, this.weight as tf.Tensor2D);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** "Linear(in→out)". */
  describe(): string {
    return `Linear(${this.inFeatures}→${this.outFeatures})`;
  }
}
