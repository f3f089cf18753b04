/**
 * MobileNetV2, CIFAR variant of the SimKD / RepDistiller toolboxes (`models/mobilenetv2.py`, from
 * "Knowledge Distillation via Route Constrained Optimization"): a 3×3 stride-2 stem, seven groups of
 * inverted residuals, a 1×1 conv to 1280, global pooling and `classifier`. Names follow the official
 * state dict (`conv1.0`, `conv1.1`, `blocks.3.0.conv.0`, …, `conv2.0`, `classifier.0`).
 *
 * Initialisation as the official `_initialize_weights`: conv weights N(0, 2/(k²·C_out)), Linear
 * weights N(0, 0.01²) with bias 0, BatchNorm 1/0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { DepthwiseConv2d } from "../nn/depthwise.ts";
import { Generator } from "../nn/init.ts";
import { Layer, ReLU, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { checkNumClasses, type Features, Network, type NetworkOptions } from "./network.ts";

/** conv k×k (stride s, padding ⌊k/2⌋, no bias) – BN – ReLU: the official `conv_bn` / `conv_1x1_bn`. */
function convBnRelu(i: number, o: number, k: number, stride: number, rng: Generator): Sequential {
  return new Sequential([
    new Conv2d(i, o, k, {
      stride,
      padding: (k - 1) / 2,
      bias: false,
      init: "kaiming-normal-fan-out",
      rng,
    }),
    new BatchNorm2d(o),
    new ReLU(),
  ]);
}

/**
 * The inverted residual: `conv` = 1×1 expand (×t) – BN – ReLU – dw3×3(s) – BN – ReLU – 1×1 project –
 * BN, plus the input when the stride is 1 and the width does not change. As in the official code the
 * expanding 1×1 conv is there even when t = 1.
 */
export class InvertedResidual extends Layer {
  readonly #conv: Sequential;
  /** Whether the input is added to the output. */
  readonly useResConnect: boolean;

  /** Creates the block. */
  constructor(
    readonly inp: number,
    readonly oup: number,
    readonly stride: 1 | 2,
    readonly expandRatio: number,
    rng: Generator,
  ) {
    super();
    const hidden = inp * expandRatio;
    const init = "kaiming-normal-fan-out" as const;
    this.useResConnect = stride === 1 && inp === oup;
    this.#conv = this.registerModule(
      "conv",
      new Sequential([
        new Conv2d(inp, hidden, 1, { bias: false, init, rng }),
        new BatchNorm2d(hidden),
        new ReLU(),
        new DepthwiseConv2d(hidden, 3, { stride, padding: 1, bias: false, init, rng }),
        new BatchNorm2d(hidden),
        new ReLU(),
        new Conv2d(hidden, oup, 1, { bias: false, init, rng }),
        new BatchNorm2d(oup),
      ]),
    );
  }

  /** Applies the block. */
  forward(x: tf.Tensor): tf.Tensor {
    const y = this.#conv.forward(x);
    return this.useResConnect ? tf.add(x, y) : y;
  }

  /** "InvertedResidual(in→out, stride s, t)". */
  describe(): string {
    return `InvertedResidual(${this.inp}→${this.oup}, stride ${this.stride}, t ${this.expandRatio})`;
  }
}

/** The official `interverted_residual_setting` rows `[t, c, n, s]`; t = 0 stands for T. */
const SETTING: readonly (readonly [number, number, number, 1 | 2])[] = [
  [1, 16, 1, 1],
  [0, 24, 2, 1],
  [0, 32, 3, 2],
  [0, 64, 4, 2],
  [0, 96, 3, 1],
  [0, 160, 3, 2],
  [0, 320, 1, 1],
];

/** Options of {@link MobileNetV2}. */
export interface MobileNetV2Options extends NetworkOptions {
  /** Width multiplier (official `W`): 0.5 for "MobileNetV2", 1 for "MobileNetV2_1_0". */
  widthMult: number;
  /** Expansion ratio T. Default 6 (both official models). */
  expansion?: number;
}

/**
 * MobileNetV2 for 32×32 inputs (`mobilenetv2_T_w(T, W)`). Features: f0 = stem (16×16² at W 0.5),
 * f1 after group 1, f2 after group 2, f3 after group 4, f4 after group 6 (the last inverted residual,
 * 160×2² at W 0.5), pooled = the 1×1 conv → BN → ReLU map (1280) averaged over space.
 *
 * The official head pools with `AvgPool2d(input_size/16, ceil_mode=True)` sized for a 32×32 input,
 * the global mean on its 2×2 map; the global mean is used here for any input size.
 *
 * @example
 * ```ts
 * new MobileNetV2({ numClasses: 100, widthMult: 0.5 }).parameterCount(); // 812836
 * ```
 */
export class MobileNetV2 extends Network {
  /** "MobileNetV2" (W 0.5), "MobileNetV2_1_0" (W 1), else "mobilenetv2_T{T}_w{W}". */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** The final linear layer (the official `classifier.0`, inside the `classifier` Sequential). */
  readonly classifier: Linear;
  /** Official name of the classifier module (a Sequential holding the Linear at index 0). */
  readonly classifierName = "classifier";
  readonly #conv1: Sequential;
  readonly #blocks: Sequential;
  readonly #conv2: Sequential;

  /** Builds the network with the official initialisation. */
  constructor(opts: MobileNetV2Options) {
    super();
    const w = opts.widthMult;
    const t = opts.expansion ?? 6;
    if (!(w > 0) || !Number.isInteger(t) || t < 1) {
      throw new Error(
        `MobileNetV2: needs widthMult > 0 and an integer expansion ≥ 1, got ${w}, ${t}`,
      );
    }
    this.arch = t === 6 && w === 0.5
      ? "MobileNetV2"
      : t === 6 && w === 1
      ? "MobileNetV2_1_0"
      : `mobilenetv2_T${t}_w${w}`;
    checkNumClasses(this.arch, opts.numClasses);
    this.numClasses = opts.numClasses;
    const rng = new Generator(opts.seed ?? 0);
    let inCh = Math.trunc(32 * w);
    this.#conv1 = this.registerModule("conv1", convBnRelu(3, inCh, 3, 2, rng));
    const groups: Sequential[] = [];
    for (const [tt, c, n, s] of SETTING) {
      const outCh = Math.trunc(c * w);
      const layers: Layer[] = [];
      for (let i = 0; i < n; i++) {
        layers.push(new InvertedResidual(inCh, outCh, i === 0 ? s : 1, tt === 0 ? t : tt, rng));
        inCh = outCh;
      }
      groups.push(new Sequential(layers));
    }
    // The official `blocks` is a ModuleList (never run as a chain); a Sequential names it the same.
    this.#blocks = this.registerModule("blocks", new Sequential(groups));
    const last = w > 1 ? Math.trunc(1280 * w) : 1280;
    this.#conv2 = this.registerModule("conv2", convBnRelu(inCh, last, 1, 1, rng));
    this.classifier = new Linear(last, opts.numClasses, {
      init: "normal-0.01",
      zeroBias: true,
      rng,
    });
    this.registerModule("classifier", new Sequential([this.classifier]));
  }

  /** f0 (stem), f1..f4 (after groups 1, 2, 4, 6), the pooled head vector and the logits. */
  features(x: tf.Tensor): Features {
    const g = this.#blocks.layers;
    const f0 = this.#conv1.forward(x);
    const f1 = g[1].forward(g[0].forward(f0));
    const f2 = g[2].forward(f1);
    const f3 = g[4].forward(g[3].forward(f2));
    const f4 = g[6].forward(g[5].forward(f3));
    const pooled = tf.mean(this.#conv2.forward(f4), [1, 2]);
    return { maps: [f0, f1, f2, f3, f4], pooled, logits: this.classifier.forward(pooled) };
  }
}

/** The official builders by `model_dict` name (`mobile_half`, `mobile_half_double`). */
export const MOBILENETS_V2: Readonly<Record<string, (opts: NetworkOptions) => Network>> = {
  MobileNetV2: (opts) => new MobileNetV2({ ...opts, widthMult: 0.5 }),
  MobileNetV2_1_0: (opts) => new MobileNetV2({ ...opts, widthMult: 1 }),
};
