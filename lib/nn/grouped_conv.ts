/**
 * Grouped 2-D convolution with PyTorch semantics, `nn.Conv2d(in, out, k, stride, padding,
 * groups=g)`: input channels and filters are cut into g equal groups, group j's filters see only
 * group j's input channels. The weight is held as HWIO `[k, k, in/g, out]` and exported as PyTorch's
 * `[out, in/g, k, k]`; output channel o belongs to group ⌊o·g/out⌋, as in PyTorch.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { conv2dValid, hwioToOihw, oihwToHwio } from "./conv.ts";
import { Layer } from "./layer.ts";
import { Generator, initBias, initWeight, type WeightInit } from "./init.ts";

/** Options of {@link GroupedConv2d}. */
export interface GroupedConv2dOptions {
  /** Number of groups; must divide both channel counts. */
  groups: number;
  /** Stride (both directions). Default 1. */
  stride?: number;
  /** Zero padding on every side. Default 0. */
  padding?: number;
  /** Whether the layer has a bias. Default true (as in PyTorch). */
  bias?: boolean;
  /** Weight initialisation (fan_in = in/g · k², as PyTorch computes it). Default "torch-default". */
  init?: WeightInit;
  /** Initialise the bias to zero instead of U(±1/√fan_in). */
  zeroBias?: boolean;
  /** Seeded generator for the initial values. */
  rng: Generator;
}

/**
 * `nn.Conv2d(inChannels, outChannels, kernel, groups=g)` on NHWC input (ShuffleNetV1's grouped 1×1
 * convolutions). With g = 1 it is an ordinary convolution.
 *
 * @example
 * ```ts
 * const gc = new GroupedConv2d(240, 60, 1, { groups: 3, bias: false, rng: new Generator(1) });
 * gc.forward(tf.zeros([2, 16, 16, 240])).shape; // [2, 16, 16, 60]
 * gc.namedParameters()[0].torchShape; // [60, 80, 1, 1]
 * ```
 */
export class GroupedConv2d extends Layer {
  /** Weight, HWIO `[k, k, in/g, out]`. */
  readonly weight: tf.Variable;
  /** Bias, or undefined. */
  readonly bias: tf.Variable | undefined;
  /** Number of groups. */
  readonly groups: number;
  /** Stride. */
  readonly stride: number;
  /** Symmetric padding. */
  readonly padding: number;

  /** Creates the layer with freshly initialised weights. */
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    opts: GroupedConv2dOptions,
  ) {
    super();
    const g = opts.groups;
    for (
      const [k, v] of [
        ["inChannels", inChannels],
        ["outChannels", outChannels],
        ["kernel", kernel],
        ["groups", g],
      ] as const
    ) {
      if (!Number.isInteger(v) || v < 1) {
        throw new Error(`GroupedConv2d: ${k} must be a positive integer, got ${v}`);
      }
    }
    if (inChannels % g !== 0 || outChannels % g !== 0) {
      throw new Error(
        `GroupedConv2d: groups ${g} must divide inChannels ${inChannels} and outChannels ${outChannels}`,
      );
    }
    this.groups = g;
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const torchShape = [outChannels, inChannels / g, kernel, kernel];
    const w = initWeight(torchShape, opts.init ?? "torch-default", opts.rng);
    this.weight = this.registerTensor("weight", tf.variable(tf.tidy(() => oihwToHwio(w))), {
      torchShape,
      toTorch: hwioToOihw,
      fromTorch: oihwToHwio,
    });
    w.dispose();
    if (opts.bias ?? true) {
      const fanIn = (inChannels / g) * kernel * kernel;
      const b = opts.zeroBias ? tf.zeros([outChannels]) : initBias(outChannels, fanIn, opts.rng);
      this.bias = this.registerTensor("bias", tf.variable(b));
    }
  }

  /**
   * One ordinary convolution per group on its slice of the channels, concatenated: tfjs has no
   * grouped convolution, and slice/concat have exact gradients on every backend.
   */
  forward(x: tf.Tensor): tf.Tensor {
    const p = this.padding;
    const padded =
      (p > 0 ? tf.pad(x as tf.Tensor4D, [[0, 0], [p, p], [p, p], [0, 0]]) : x) as tf.Tensor4D;
    const w = this.weight as tf.Tensor4D;
    let y: tf.Tensor4D;
    if (this.groups === 1) {
      y = conv2dValid(padded, w, this.stride);
    } else {
      // tf.slice rather than tf.split: tfjs 4.22's CPU SplitV is ~100× slower than slicing.
      const [n, h, wd] = padded.shape;
      const k = this.kernel;
      const ig = this.inChannels / this.groups;
      const og = this.outChannels / this.groups;
      const ys: tf.Tensor4D[] = [];
      for (let j = 0; j < this.groups; j++) {
        const xj = tf.slice(padded, [0, 0, 0, j * ig], [n, h, wd, ig]);
        const wj = tf.slice(w, [0, 0, 0, j * og], [k, k, ig, og]);
        ys.push(conv2dValid(xj, wj, this.stride));
      }
      y = tf.concat(ys, 3);
    }
    return this.bias ? tf.add(y, this.bias) : y;
  }

  /** E.g. "GroupedConv2d(240→60, 1x1, groups 3, no bias)". */
  describe(): string {
    return `GroupedConv2d(${this.inChannels}→${this.outChannels}, ${this.kernel}x${this.kernel}` +
      `, groups ${this.groups}${this.stride !== 1 ? `, stride ${this.stride}` : ""}` +
      `${this.padding !== 0 ? `, pad ${this.padding}` : ""}${this.bias ? "" : ", no bias"})`;
  }
}
