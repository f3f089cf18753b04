/**
 * `nn.ConvTranspose2d(in, out, kernel, stride, padding)` on NHWC input, as FitNet's regressor uses it
 * to bring a student map up to twice its size.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";
import { type Generator, initBias, initWeight } from "./init.ts";

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dOptions {
  /** Stride. Default 1. */
  stride?: number;
  /** PyTorch's padding: the output is cropped by this much on every side. Default 0. */
  padding?: number;
  /** Whether the layer has a bias. Default true. */
  bias?: boolean;
  /** Seeded generator for PyTorch's default initialisation. */
  rng: Generator;
}

/**
 * A transposed convolution; output side `(H − 1)·stride − 2·padding + kernel`. The weight is held as
 * `[k, k, out, in]` (tfjs's transposed-convolution filter) and exported in PyTorch's `[in, out, k, k]`.
 *
 * @example
 * ```ts
 * const up = new ConvTranspose2d(116, 64, 4, { stride: 2, padding: 1, rng: new Generator(0) });
 * up.forward(tf.zeros([1, 16, 16, 116])).shape; // [1, 32, 32, 64]
 * ```
 */
export class ConvTranspose2d extends Layer {
  /** Weight, `[k, k, out, in]`. */
  readonly weight: tf.Variable;
  /** Bias, or undefined. */
  readonly bias: tf.Variable | undefined;
  /** Stride. */
  readonly stride: number;
  /** Cropping on every side. */
  readonly padding: number;

  /** Creates the layer with PyTorch's default initialisation. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    opts: ConvTranspose2dOptions,
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const torchShape = [inChannels, outChannels, kernel, kernel];
    // PyTorch's fan_in of a transposed conv weight is out·k·k (its dim 1 onwards), as initWeight takes it.
    const w = initWeight(torchShape, "torch-default", opts.rng);
    const toTorch = (t: tf.Tensor) => tf.transpose(t, [3, 2, 0, 1]);
    const fromTorch = (t: tf.Tensor) => tf.transpose(t, [2, 3, 1, 0]);
    this.weight = this.registerTensor("weight", tf.variable(tf.tidy(() => fromTorch(w))), {
      torchShape,
      toTorch,
      fromTorch,
    });
    w.dispose();
    if (opts.bias ?? true) {
      this.bias = this.registerTensor(
        "bias",
        tf.variable(initBias(outChannels, outChannels * kernel * kernel, opts.rng)),
      );
    }
  }

  /** The transposed convolution, cropped by `padding`, plus the bias. */
  forward(x: tf.Tensor): tf.Tensor {
    const [n, h, w] = x.shape as number[];
    const s = this.stride;
    const k = this.kernel;
    const full = [n, (h - 1) * s + k, (w - 1) * s + k, this.outChannels] as [
      number,
      number,
      number,
      number,
    ];
    let y: tf.Tensor = tf.conv2dTranspose(
      x as tf.Tensor4D,
      this.weight as tf.Tensor4D,
      full,
      s,
      "valid",
    );
    const p = this.padding;
    if (p > 0) y = tf.slice(y, [0, p, p, 0], [n, full[1] - 2 * p, full[2] - 2 * p, -1]);
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** E.g. "ConvTranspose2d(116→64, 4x4, stride 2, pad 1)". */
  describe(): string {
    return `ConvTranspose2d(${this.inChannels}→${this.outChannels}, ${this.kernel}x${this.kernel}` +
      `${this.stride !== 1 ? `, stride ${this.stride}` : ""}` +
      `${this.padding !== 0 ? `, pad ${this.padding}` : ""}${this.bias ? "" : ", no bias"})`;
  }
}
