/**
 * ResNets: the CIFAR variant (3×3 stem, no max-pool) used by the paper, and the torchvision-style
 * ImageNet variant (7×7/2 stem, 3×3/2 max-pool). Names follow the official state dicts
 * (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator, type WeightInit } from "../nn/init.ts";
import { Layer, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { MaxPool2d } from "../nn/pooling.ts";
import { Backbone, type Level } from "./backbone.ts";
import { checkNumClasses } from "./network.ts";

/** The shortcut where a block changes shape: 1×1 conv (stride s, no bias) then BatchNorm. */
function projectionShortcut(
  inPlanes: number,
  out: number,
  stride: number,
  rng: Generator,
  init: WeightInit = "torch-default",
): Sequential {
  return new Sequential([
    new Conv2d(inPlanes, out, 1, { stride, bias: false, init, rng }),
    new BatchNorm2d(out),
  ]);
}

/**
 * The post-activation BasicBlock: conv3x3(s) – BN – ReLU – conv3x3 – BN, plus the input (or its
 * `downsample` = conv1x1(s) – BN where the shape changes), then ReLU. The TESKD ResNets and the KD
 * toolboxes' CIFAR ResNets share it; they differ in the convolutions' initialisation.
 */
export class BasicBlock extends Layer {
  /** Output channels = planes × 1. */
  static readonly expansion = 1;
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #conv2: Conv2d;
  readonly #bn2: BatchNorm2d;
  readonly #downsample: Sequential | undefined;

  /**
   * Creates the block (attributes in the official order: conv1, bn1, conv2, bn2, downsample).
   *
   * @param init the convolutions' initialisation (PyTorch's default, or the CIFAR toolboxes'
   *   kaiming-normal fan_out)
   */
  constructor(
    readonly inPlanes: number,
    readonly planes: number,
    readonly stride: number,
    rng: Generator,
    init: WeightInit = "torch-default",
  ) {
    super();
    this.#conv1 = this.registerModule(
      "conv1",
      new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, init, rng }),
    );
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(planes));
    this.#conv2 = this.registerModule(
      "conv2",
      new Conv2d(planes, planes, 3, { padding: 1, bias: false, init, rng }),
    );
    this.#bn2 = this.registerModule("bn2", new BatchNorm2d(planes));
    if (stride !== 1 || inPlanes !== planes) {
      this.#downsample = this.registerModule(
        "downsample",
        projectionShortcut(inPlanes, planes, stride, rng, init),
      );
    }
  }

  /** Applies the block. */
  forward(x: tf.Tensor): tf.Tensor {
    const h = tf.relu(this.#bn1.forward(this.#conv1.forward(x)));
    const r = this.#bn2.forward(this.#conv2.forward(h));
    const sc = this.#downsample ? this.#downsample.forward(x) : x;
    return tf.relu(tf.add(r, sc));
  }

  /** "BasicBlock(in→out, stride s)". */
  describe(): string {
    return `BasicBlock(${this.inPlanes}→${this.planes}, stride ${this.stride})`;
  }
}

/** conv1x1 – BN – ReLU – conv3x3(s) – BN – ReLU – conv1x1(×4) – BN, + shortcut, ReLU. */
export class Bottleneck extends Layer {
  /** Output channels = planes × 4. */
  static readonly expansion = 4;
  readonly #convs: Conv2d[];
  readonly #bns: BatchNorm2d[];
  readonly #downsample: Sequential | undefined;

  /** Creates the block. */
  constructor(
    readonly inPlanes: number,
    readonly planes: number,
    readonly stride: number,
    rng: Generator,
  ) {
    super();
    const out = planes * 4;
    this.#convs = [];
    this.#bns = [];
    const specs: [number, number, number, number, number][] = [
      [inPlanes, planes, 1, 1, 0],
      [planes, planes, 3, stride, 1],
      [planes, out, 1, 1, 0],
    ];
    specs.forEach(([i, o, k, s, p], j) => {
      this.#convs.push(
        this.registerModule(
          `conv${j + 1}`,
          new Conv2d(i, o, k, { stride: s, padding: p, bias: false, rng }),
        ),
      );
      this.#bns.push(this.registerModule(`bn${j + 1}`, new BatchNorm2d(o)));
    });
    if (stride !== 1 || inPlanes !== out) {
      this.#downsample = this.registerModule(
        "downsample",
        projectionShortcut(inPlanes, out, stride, rng),
      );
    }
  }

  /** Applies the block. */
  forward(x: tf.Tensor): tf.Tensor {
    let h = x;
    for (let j = 0; j < 3; j++) {
      h = this.#bns[j].forward(this.#convs[j].forward(h));
      if (j < 2) h = tf.relu(h);
    }
    const sc = this.#downsample ? this.#downsample.forward(x) : x;
    return tf.relu(tf.add(h, sc));
  }

  /** "Bottleneck(in→out, stride s)". */
  describe(): string {
    return `Bottleneck(${this.inPlanes}→${this.planes * 4}, stride ${this.stride})`;
  }
}

/** Depth → block type and blocks per stage. */
const RESNET_DEPTHS: Record<
  number,
  { bottleneck: boolean; blocks: [number, number, number, number] }
> = {
  18: { bottleneck: false, blocks: [2, 2, 2, 2] },
  34: { bottleneck: false, blocks: [3, 4, 6, 3] },
  50: { bottleneck: true, blocks: [3, 4, 6, 3] },
};

/** Options of the ResNet constructors. */
export interface ResNetOptions {
  /** 18, 34 or 50. */
  depth: 18 | 34 | 50;
  /** Number of classes. */
  numClasses: number;
  /** Seed or generator for the initial weights. */
  seed?: number | Generator;
  /** Scales every width (64/128/256/512) — for small test networks. Default 1. */
  widthMultiplier?: number;
}

/** Turns a seed option into a generator. */
export function toGenerator(seed: number | Generator | undefined): Generator {
  return seed instanceof Generator ? seed : new Generator(seed ?? 0);
}

/**
 * A ResNet backbone. `variant: "cifar"` has a 3×3/1 stem and no max-pool; `"imagenet"` the
 * torchvision 7×7/2 stem and 3×3/2 max-pool.
 *
 * @example
 * ```ts
 * const teacher = new ResNet("cifar", { depth: 18, numClasses: 100, seed: 27 });
 * teacher.parameterCount(); // 11220132
 * ```
 */
export class ResNet extends Backbone {
  /** Architecture name. */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** Channels of s1..s4. */
  readonly stageChannels: readonly [number, number, number, number];
  /** Default student head kernel per level. */
  readonly headKernels: Readonly<Record<Level, number>> = { "8x8": 2, "16x16": 4, "32x32": 8 };
  /** Modules of each stage, for summaries. */
  readonly stageModules: readonly string[][] = [["conv1", "bn1", "layer1"], ["layer2"], [
    "layer3",
  ], ["layer4"]];
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #maxpool: MaxPool2d | undefined;
  /** layer1..layer4. */
  protected readonly stages: Sequential[] = [];
  /** The final linear layer. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "fc";

  /** Builds the network with PyTorch's default initialisation. */
  constructor(readonly variant: "cifar" | "imagenet", opts: ResNetOptions) {
    super();
    const spec = RESNET_DEPTHS[opts.depth];
    if (spec === undefined) {
      throw new Error(`ResNet: depth must be 18, 34 or 50, got ${opts.depth}`);
    }
    checkNumClasses("ResNet", opts.numClasses);
    const rng = toGenerator(opts.seed);
    const wm = opts.widthMultiplier ?? 1;
    const widths = [64, 128, 256, 512].map((w) => Math.max(1, Math.round(w * wm)));
    const exp = spec.bottleneck ? 4 : 1;
    this.arch = `${variant === "cifar" ? "cifarresnet" : "resnet"}${opts.depth}`;
    this.numClasses = opts.numClasses;
    this.stageChannels = [widths[0] * exp, widths[1] * exp, widths[2] * exp, widths[3] * exp];
    this.#conv1 = this.registerModule(
      "conv1",
      variant === "cifar"
        ? new Conv2d(3, widths[0], 3, { padding: 1, bias: false, rng })
        : new Conv2d(3, widths[0], 7, { stride: 2, padding: 3, bias: false, rng }),
    );
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(widths[0]));
    if (variant === "imagenet") {
      this.#maxpool = new MaxPool2d(3, 2, 1);
      this.stageModules = [["conv1", "bn1", "maxpool", "layer1"], ["layer2"], ["layer3"], [
        "layer4",
      ]];
    }
    let inPlanes = widths[0];
    for (let s = 0; s < 4; s++) {
      const blocks: Layer[] = [];
      for (let b = 0; b < spec.blocks[s]; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        blocks.push(
          spec.bottleneck
            ? new Bottleneck(inPlanes, widths[s], stride, rng)
            : new BasicBlock(inPlanes, widths[s], stride, rng),
        );
        inPlanes = widths[s] * exp;
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, new Sequential(blocks)));
    }
    this.classifier = this.registerModule("fc", new Linear(inPlanes, opts.numClasses, { rng }));
  }

  /** conv1 – bn1 – ReLU (– max-pool on the ImageNet variant). */
  stem(x: tf.Tensor): tf.Tensor {
    const h = tf.relu(this.#bn1.forward(this.#conv1.forward(x)));
    return this.#maxpool ? this.#maxpool.forward(h) : h;
  }
}
