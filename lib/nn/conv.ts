/**
 * 2-D convolution with PyTorch semantics: explicit symmetric zero padding, then a "valid"
 * convolution. (TensorFlow's "same" pads asymmetrically at stride 2 on even sizes; PyTorch does not.)
 * The weight is held as HWIO and exported as OIHW.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";
import { Generator, initBias, initWeight, type WeightInit } from "./init.ts";

/** Options of {@link Conv2d}. */
export interface Conv2dOptions {
  /** Stride (both directions). Default 1. */
  stride?: number;
  /** Zero padding on every side. Default 0. */
  padding?: number;
  /** Whether the layer has a bias. Default true (as in PyTorch). */
  bias?: boolean;
  /** Weight initialisation. Default "torch-default" (kaiming-uniform a = √5). */
  init?: WeightInit;
  /** Initialise the bias to zero instead of U(±1/√fan_in). */
  zeroBias?: boolean;
  /** Seeded generator for the initial values. */
  rng: Generator;
}

/** OIHW → HWIO. */
export function oihwToHwio(t: tf.Tensor): tf.Tensor {
  return tf.transpose(t, [2, 3, 1, 0]);
}

/** HWIO → OIHW. */
export function hwioToOihw(t: tf.Tensor): tf.Tensor {
  return tf.transpose(t, [3, 2, 0, 1]);
}

/**
 * The filter gradient of a "valid" convolution, dW[a, b, i, o] = Σ_{n,y,x} x[n, s·y + a, s·x + b, i] ·
 * dy[n, y, x, o], computed as a forward convolution of x (batch and channels swapped) with dy as a
 * filter dilated by the stride. tfjs 4.22's CPU `Conv2DBackpropFilter` kernel is about 100× slower.
 */
export function conv2dFilterGrad(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  kernel: number,
  stride: number,
): tf.Tensor4D {
  return tf.tidy(() => {
    const xt = tf.transpose(x, [3, 1, 2, 0]); // [I, H, W, N]
    const dyt = tf.transpose(dy, [1, 2, 0, 3]); // [Ho, Wo, N, O]
    const g = tf.conv2d(xt, dyt, 1, "valid", "NHWC", stride); // [I, ≥K, ≥K, O]
    const gk = g.shape[1] === kernel && g.shape[2] === kernel
      ? g
      : tf.slice(g, [0, 0, 0, 0], [g.shape[0], kernel, kernel, g.shape[3]]);
    return tf.transpose(gk, [1, 2, 0, 3]);
  });
}

/**
 * `tf.conv2d(x, w, stride, "valid")` with a fast filter gradient ({@link conv2dFilterGrad}); the
 * input gradient uses tfjs's transposed convolution.
 */
export function conv2dValid(x: tf.Tensor4D, w: tf.Tensor4D, stride: number): tf.Tensor4D {
  // Only the stock tfjs "cpu" backend needs the workaround; other engines have fast kernels.
  if (tf.getBackend() !== "cpu") return tf.conv2d(x, w, stride, "valid");
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.conv2d(xi, wi, stride, "valid"),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const d = dy as tf.Tensor4D;
        const dx = tf.conv2dTranspose(d, ws, xs.shape, stride, "valid");
        return [dx, conv2dFilterGrad(xs, d, ws.shape[0], stride)];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

/**
 * Backends whose convolution kernels (forward and both gradients) take explicit padding: there the
 * padding stays inside the convolution instead of a padded copy of the input (and a slice of its
 * gradient). Elsewhere the input is padded first, which every backend supports.
 */
const INNER_PADDING_BACKENDS = new Set(["teskd-cpu", "webgpu"]);

/**
 * `nn.Conv2d(inChannels, outChannels, kernel, stride, padding, bias)` on NHWC input.
 *
 * @example
 * ```ts
 * const conv = new Conv2d(3, 64, 3, { padding: 1, bias: false, rng: new Generator(1) });
 * conv.forward(tf.zeros([2, 32, 32, 3])).shape; // [2, 32, 32, 64]
 * ```
 */
export class Conv2d extends Layer {
  /** Weight, HWIO. */
  readonly weight: tf.Variable;
  /** Bias, or undefined. */
  readonly bias: tf.Variable | undefined;
  /** Stride. */
  readonly stride: number;
  /** Symmetric padding. */
  readonly padding: number;

  /** Creates the layer with freshly initialised weights. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    opts: Conv2dOptions,
  ) {
    super();
    for (
      const [k, v] of [["inChannels", inChannels], ["outChannels", outChannels], ["kernel", kernel]]
    ) {
      if (!Number.isInteger(v) || (v as number) < 1) {
        throw new Error(`Conv2d: ${k} must be a positive integer, got ${v}`);
      }
    }
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const torchShape = [outChannels, inChannels, kernel, kernel];
    const w = initWeight(torchShape, opts.init ?? "torch-default", opts.rng);
    this.weight = this.registerTensor("weight", tf.variable(tf.tidy(() => oihwToHwio(w))), {
      torchShape,
      toTorch: hwioToOihw,
      fromTorch: oihwToHwio,
    });
    w.dispose();
    if (opts.bias ?? true) {
      const fanIn = inChannels * kernel * kernel;
      const b = opts.zeroBias ? tf.zeros([outChannels]) : initBias(outChannels, fanIn, opts.rng);
      this.bias = this.registerTensor("bias", tf.variable(b));
    }
  }

  /** Convolves with symmetric zero padding, adds the bias. */
  forward(x: tf.Tensor): tf.Tensor {
    const p = this.padding;
    const w = this.weight as tf.Tensor4D;
    let y: tf.Tensor4D;
    if (p > 0 && INNER_PADDING_BACKENDS.has(tf.getBackend())) {
      y = tf.conv2d(x as tf.Tensor4D, w, this.stride, [[0, 0], [p, p], [p, p], [0, 0]]);
    } else {
      const padded = p > 0 ? tf.pad(x as tf.Tensor4D, [[0, 0], [p, p], [p, p], [0, 0]]) : x;
      y = conv2dValid(padded as tf.Tensor4D, w, this.stride);
    }
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** E.g. "Conv2d(64→128, 3x3, stride 2, pad 1, no bias)". */
  describe(): string {
    return `Conv2d(${this.inChannels}→${this.outChannels}, ${this.kernel}x${this.kernel}` +
      `${this.stride !== 1 ? `, stride ${this.stride}` : ""}` +
      `${this.padding !== 0 ? `, pad ${this.padding}` : ""}${this.bias ? "" : ", no bias"})`;
  }
}
