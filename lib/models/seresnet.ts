/**
 * SE-ResNet-18/34/50 as in the official zoo: `pre` = conv3x3 (with bias) – BN – ReLU; stages
 * `stage1..4` of blocks with a `residual` path ending in BN – ReLU, squeeze-excitation
 * (`excitation`, reduction 16) multiplied in, plus `shortcut` (1x1 conv with bias + BN when the shape
 * changes), then ReLU; `linear` classifier. Every conv has a bias.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import type { Generator } from "../nn/init.ts";
import { Layer, ReLU, Sequential, Sigmoid } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { Backbone, type Level } from "./backbone.ts";
import { checkNumClasses } from "./network.ts";
import { toGenerator } from "./resnet.ts";

/** One SE block (basic: two 3x3 convs; bottleneck: 1x1 – 3x3(s) – 1x1(×4)). */
export class SEBlock extends Layer {
  readonly #residual: Sequential;
  readonly #excitation: Sequential;
  readonly #shortcut: Sequential | undefined;

  /** Creates the block. */
  constructor(
    readonly inC: number,
    readonly planes: number,
    readonly stride: number,
    readonly bottleneck: boolean,
    rng: Generator,
  ) {
    super();
    // Official attribute order (state_dict order): residual, shortcut, excitation.
    const out = bottleneck ? planes * 4 : planes;
    const cbr = (i: number, o: number, k: number, s: number): Layer[] => [
      new Conv2d(i, o, k, { stride: s, padding: k === 3 ? 1 : 0, rng }),
      new BatchNorm2d(o),
      new ReLU(),
    ];
    this.#residual = this.registerModule(
      "residual",
      new Sequential(
        bottleneck
          ? [
            ...cbr(inC, planes, 1, 1),
            ...cbr(planes, planes, 3, stride),
            ...cbr(planes, out, 1, 1),
          ]
          : [...cbr(inC, planes, 3, stride), ...cbr(planes, out, 3, 1)],
      ),
    );
    if (stride !== 1 || inC !== out) {
      this.#shortcut = this.registerModule(
        "shortcut",
        new Sequential([new Conv2d(inC, out, 1, { stride, rng }), new BatchNorm2d(out)]),
      );
    }
    const hidden = Math.max(1, Math.floor(out / 16));
    this.#excitation = this.registerModule(
      "excitation",
      new Sequential([
        new Linear(out, hidden, { rng }),
        new ReLU(),
        new Linear(hidden, out, { rng }),
        new Sigmoid(),
      ]),
    );
  }

  /** relu(residual(x) · excitation(mean(residual(x))) + shortcut(x)). */
  forward(x: tf.Tensor): tf.Tensor {
    const r = this.#residual.forward(x);
    const [n, , , c] = r.shape;
    const gate = tf.reshape(this.#excitation.forward(tf.mean(r, [1, 2])), [n, 1, 1, c]);
    const sc = this.#shortcut ? this.#shortcut.forward(x) : x;
    return tf.relu(tf.add(tf.mul(r, gate), sc));
  }

  /** "SEBlock(in→out, stride s)". */
  describe(): string {
    return `SEBlock(${this.inC}→${
      this.bottleneck ? this.planes * 4 : this.planes
    }, stride ${this.stride})`;
  }
}

/** Options of {@link SEResNet}. */
export interface SEResNetOptions {
  /** 18, 34 or 50. */
  depth: 18 | 34 | 50;
  /** Number of classes. */
  numClasses: number;
  /** Seed or generator. */
  seed?: number | Generator;
  /** Scales every width — for small test networks. Default 1. */
  widthMultiplier?: number;
}

/**
 * SE-ResNet for 32×32 inputs.
 *
 * @example
 * ```ts
 * new SEResNet({ depth: 18, numClasses: 100 }).parameterCount(); // 11314012
 * ```
 */
export class SEResNet extends Backbone {
  /** Architecture name. */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** Channels of s1..s4. */
  readonly stageChannels: readonly [number, number, number, number];
  /** Default student head kernel per level. */
  readonly headKernels: Readonly<Record<Level, number>> = { "8x8": 2, "16x16": 4, "32x32": 8 };
  /** Modules of each stage, for summaries. */
  readonly stageModules: readonly string[][] = [["pre", "stage1"], ["stage2"], ["stage3"], [
    "stage4",
  ]];
  readonly #pre: Sequential;
  /** stage1..stage4. */
  protected readonly stages: Sequential[] = [];
  /** The final linear layer. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "linear";

  /** Builds the network with PyTorch's default initialisation. */
  constructor(opts: SEResNetOptions) {
    super();
    const blocks = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3] }[opts.depth];
    if (blocks === undefined) {
      throw new Error(`SEResNet: depth must be 18, 34 or 50, got ${opts.depth}`);
    }
    checkNumClasses("SEResNet", opts.numClasses);
    const bottleneck = opts.depth === 50;
    const exp = bottleneck ? 4 : 1;
    const rng = toGenerator(opts.seed);
    const wm = opts.widthMultiplier ?? 1;
    const widths = [64, 128, 256, 512].map((c) => Math.max(1, Math.round(c * wm)));
    this.arch = `seresnet${opts.depth}`;
    this.numClasses = opts.numClasses;
    this.stageChannels = [widths[0] * exp, widths[1] * exp, widths[2] * exp, widths[3] * exp];
    this.#pre = this.registerModule(
      "pre",
      new Sequential([
        new Conv2d(3, widths[0], 3, { padding: 1, rng }),
        new BatchNorm2d(widths[0]),
        new ReLU(),
      ]),
    );
    let inC = widths[0];
    for (let s = 0; s < 4; s++) {
      const layer: Layer[] = [];
      for (let b = 0; b < blocks[s]; b++) {
        layer.push(new SEBlock(inC, widths[s], b === 0 && s > 0 ? 2 : 1, bottleneck, rng));
        inC = widths[s] * exp;
      }
      this.stages.push(this.registerModule(`stage${s + 1}`, new Sequential(layer)));
    }
    this.classifier = this.registerModule("linear", new Linear(inC, opts.numClasses, { rng }));
  }

  /** `pre`: conv3x3 – BN – ReLU. */
  stem(x: tf.Tensor): tf.Tensor {
    return this.#pre.forward(x);
  }
}
