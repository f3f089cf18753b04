/**
 * Depthwise 2-D convolution with PyTorch semantics: `nn.Conv2d(C, C, k, stride, padding, groups=C)`,
 * one k×k filter per channel, explicit symmetric zero padding. The weight is held in tfjs's depthwise
 * layout `[k, k, C, 1]` and exported in PyTorch's `[C, 1, k, k]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";
import { Generator, initBias, initWeight, type WeightInit } from "./init.ts";

/** Options of {@link DepthwiseConv2d}. */
export interface DepthwiseConv2dOptions {
  /** Stride (both directions). Default 1. */
  stride?: number;
  /** Zero padding on every side. Default 0. */
  padding?: number;
  /** Whether the layer has a bias. Default true (as in PyTorch). */
  bias?: boolean;
  /**
   * Weight initialisation. Default "torch-default" (U(±1/√fan_in) with fan_in = k², PyTorch's
   * default for a grouped conv); "kaiming-normal-fan-out" uses fan_out = C·k² as PyTorch does.
   */
  init?: WeightInit;
  /** Initialise the bias to zero instead of U(±1/√fan_in). */
  zeroBias?: boolean;
  /** Seeded generator for the initial values. */
  rng: Generator;
}

/**
 * `[k, k, C, 1]` ↔ `[C, 1, k, k]`: the permutation swaps the two pairs of axes, so it is its own
 * inverse and serves both directions.
 */
export function depthwiseLayoutSwap(t: tf.Tensor): tf.Tensor {
  return tf.transpose(t, [2, 3, 0, 1]);
}

/**
 * `nn.Conv2d(channels, channels, kernel, stride, padding, groups=channels)` on NHWC input.
 *
 * @example
 * ```ts
 * const dw = new DepthwiseConv2d(24, 3, { stride: 2, padding: 1, bias: false, rng: new Generator(1) });
 * dw.forward(tf.zeros([2, 32, 32, 24])).shape; // [2, 16, 16, 24]
 * dw.namedParameters()[0].torchShape; // [24, 1, 3, 3]
 * ```
 */
export class DepthwiseConv2d extends Layer {
  /** Weight, `[k, k, C, 1]`. */
  readonly weight: tf.Variable;
  /** Bias, or undefined. */
  readonly bias: tf.Variable | undefined;
  /** Stride. */
  readonly stride: number;
  /** Symmetric padding. */
  readonly padding: number;

  /** Creates the layer with freshly initialised weights. */
  constructor(readonly channels: number, readonly kernel: number, opts: DepthwiseConv2dOptions) {
    super();
    for (const [k, v] of [["channels", channels], ["kernel", kernel]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`DepthwiseConv2d: ${k} must be a positive integer, got ${v}`);
      }
    }
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const torchShape = [channels, 1, kernel, kernel];
    const w = initWeight(torchShape, opts.init ?? "torch-default", opts.rng);
    this.weight = this.registerTensor(
      "weight",
      tf.variable(tf.tidy(() => depthwiseLayoutSwap(w))),
      { torchShape, toTorch: depthwiseLayoutSwap, fromTorch: depthwiseLayoutSwap },
    );
    w.dispose();
    if (opts.bias ?? true) {
      const b = opts.zeroBias
        ? tf.zeros([channels])
        : initBias(channels, kernel * kernel, opts.rng);
      this.bias = this.registerTensor("bias", tf.variable(b));
    }
  }

  /**
   * Pads explicitly, then convolves "valid": tfjs's "same" pads asymmetrically at stride 2 on even
   * sizes (PyTorch does not), and padding by `tf.pad` keeps the gradient on tfjs's plain kernels.
   */
  forward(x: tf.Tensor): tf.Tensor {
    const p = this.padding;
    const padded = p > 0 ? tf.pad(x as tf.Tensor4D, [[0, 0], [p, p], [p, p], [0, 0]]) : x;
    const y = tf.depthwiseConv2d(
      padded as tf.Tensor4D,
      this.weight as tf.Tensor4D,
      this.stride,
      "valid",
    );
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** E.g. "DepthwiseConv2d(116, 3x3, stride 2, pad 1, no bias)". */
  describe(): string {
    return `DepthwiseConv2d(${this.channels}, ${this.kernel}x${this.kernel}` +
      `${this.stride !== 1 ? `, stride ${this.stride}` : ""}` +
      `${this.padding !== 0 ? `, pad ${this.padding}` : ""}${this.bias ? "" : ", no bias"})`;
  }
}
