/**
 * ShuffleNetV2, CIFAR variant of the SimKD / RepDistiller toolboxes (`models/ShuffleNetv2.py`): a 1×1
 * stem (no stride, no max-pool), three stages of one DownBlock and `n` BasicBlocks, a 1×1 conv to C4,
 * global pooling and `linear`. Names follow the official state dict (`conv1`, `bn1`,
 * `layer1.0.conv1`, …, `conv2`, `bn2`, `linear`). Initialisation: PyTorch's defaults.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { DepthwiseConv2d } from "../nn/depthwise.ts";
import { Generator } from "../nn/init.ts";
import { Layer, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { channelShuffle } from "../nn/shuffle.ts";
import { checkNumClasses, type Features, Network, type NetworkOptions } from "./network.ts";

/** 1×1 conv without bias (PyTorch default init). */
function pointwise(i: number, o: number, rng: Generator): Conv2d {
  return new Conv2d(i, o, 1, { bias: false, rng });
}

/** 3×3 depthwise conv without bias, padding 1. */
function depthwise(c: number, stride: number, rng: Generator): DepthwiseConv2d {
  return new DepthwiseConv2d(c, 3, { stride, padding: 1, bias: false, rng });
}

/**
 * The stride-1 unit: split the channels in halves, 1×1–BN–ReLU, dw3×3–BN, 1×1–BN–ReLU on the second
 * half, concat `[first half, branch]`, channel shuffle (g = 2).
 */
export class ShuffleV2Block extends Layer {
  readonly #convs: [Conv2d, DepthwiseConv2d, Conv2d];
  readonly #bns: [BatchNorm2d, BatchNorm2d, BatchNorm2d];
  /** Channels of each half (the official `int(in_channels · 0.5)`). */
  readonly half: number;

  /** Creates the block. */
  constructor(readonly channels: number, rng: Generator) {
    super();
    const c = Math.floor(channels * 0.5);
    this.half = c;
    const conv1 = this.registerModule("conv1", pointwise(c, c, rng));
    const bn1 = this.registerModule("bn1", new BatchNorm2d(c));
    const conv2 = this.registerModule("conv2", depthwise(c, 1, rng));
    const bn2 = this.registerModule("bn2", new BatchNorm2d(c));
    const conv3 = this.registerModule("conv3", pointwise(c, c, rng));
    const bn3 = this.registerModule("bn3", new BatchNorm2d(c));
    this.#convs = [conv1, conv2, conv3];
    this.#bns = [bn1, bn2, bn3];
  }

  /** Applies the block (the official `out`, not `preact`). */
  forward(x: tf.Tensor): tf.Tensor {
    const c = x.shape[3] as number;
    const [n, h, w] = x.shape as [number, number, number, number];
    // SplitBlock: the first int(C·0.5) channels pass through, the rest go through the branch.
    const x1 = tf.slice(x, [0, 0, 0, 0], [n, h, w, this.half]);
    const x2 = tf.slice(x, [0, 0, 0, this.half], [n, h, w, c - this.half]);
    const [c1, c2, c3] = this.#convs;
    const [b1, b2, b3] = this.#bns;
    let out = tf.relu(b1.forward(c1.forward(x2)));
    out = b2.forward(c2.forward(out)); // no ReLU after the depthwise conv
    out = tf.relu(b3.forward(c3.forward(out)));
    return channelShuffle(tf.concat([x1, out], 3), 2);
  }

  /** "ShuffleV2Block(C)". */
  describe(): string {
    return `ShuffleV2Block(${this.channels})`;
  }
}

/**
 * The stride-2 unit: left branch dw3×3/2–BN, 1×1–BN–ReLU; right branch 1×1–BN–ReLU, dw3×3/2–BN,
 * 1×1–BN–ReLU; each to `out/2` channels; concat `[left, right]`, channel shuffle (g = 2).
 */
export class ShuffleV2DownBlock extends Layer {
  readonly #conv: [DepthwiseConv2d, Conv2d, Conv2d, DepthwiseConv2d, Conv2d];
  readonly #bn: BatchNorm2d[];

  /** Creates the block. */
  constructor(readonly inChannels: number, readonly outChannels: number, rng: Generator) {
    super();
    const mid = Math.floor(outChannels / 2);
    // Official attribute order: conv1, bn1, …, conv5, bn5 (left branch first).
    const conv1 = this.registerModule("conv1", depthwise(inChannels, 2, rng));
    const bn1 = this.registerModule("bn1", new BatchNorm2d(inChannels));
    const conv2 = this.registerModule("conv2", pointwise(inChannels, mid, rng));
    const bn2 = this.registerModule("bn2", new BatchNorm2d(mid));
    const conv3 = this.registerModule("conv3", pointwise(inChannels, mid, rng));
    const bn3 = this.registerModule("bn3", new BatchNorm2d(mid));
    const conv4 = this.registerModule("conv4", depthwise(mid, 2, rng));
    const bn4 = this.registerModule("bn4", new BatchNorm2d(mid));
    const conv5 = this.registerModule("conv5", pointwise(mid, mid, rng));
    const bn5 = this.registerModule("bn5", new BatchNorm2d(mid));
    this.#conv = [conv1, conv2, conv3, conv4, conv5];
    this.#bn = [bn1, bn2, bn3, bn4, bn5];
  }

  /** Applies the block. */
  forward(x: tf.Tensor): tf.Tensor {
    const [c1, c2, c3, c4, c5] = this.#conv;
    const [b1, b2, b3, b4, b5] = this.#bn;
    const left = tf.relu(b2.forward(c2.forward(b1.forward(c1.forward(x)))));
    let right = tf.relu(b3.forward(c3.forward(x)));
    right = b4.forward(c4.forward(right));
    right = tf.relu(b5.forward(c5.forward(right)));
    return channelShuffle(tf.concat([left, right], 3), 2);
  }

  /** "ShuffleV2DownBlock(in→out, stride 2)". */
  describe(): string {
    return `ShuffleV2DownBlock(${this.inChannels}→${this.outChannels}, stride 2)`;
  }
}

/** Official `configs[net_size]` for the sizes the zoo offers. */
export const SHUFFLENETV2_CONFIGS: Readonly<
  Record<string, { outChannels: readonly number[]; numBlocks: readonly number[] }>
> = {
  "1": { outChannels: [116, 232, 464, 1024], numBlocks: [3, 7, 3] },
  "1.5": { outChannels: [176, 352, 704, 1024], numBlocks: [3, 7, 3] },
};

/**
 * ShuffleNetV2 for 32×32 inputs. Features: f0 = stem (24×32²), f1..f3 = stage outputs (after the
 * last shuffle), pooled = the 1×1 conv → BN → ReLU map averaged over space.
 *
 * The official head pools with a fixed 4×4 window (`avg_pool2d(out, 4)`), which on its 4×4 map of a
 * 32×32 input is the global mean; the global mean is used here, so other input sizes still give a
 * C4-vector (where the official code would fail at `linear`).
 *
 * @example
 * ```ts
 * const net = new ShuffleNetV2(1, { numClasses: 100 });
 * net.parameterCount(); // 1355528
 * ```
 */
export class ShuffleNetV2 extends Network {
  /** "ShuffleV2" or "ShuffleV2_1_5". */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** The final linear layer, `linear`. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "linear";
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #layers: Sequential[] = [];
  readonly #conv2: Conv2d;
  readonly #bn2: BatchNorm2d;

  /** Builds the network with PyTorch's default initialisation. */
  constructor(readonly netSize: 1 | 1.5, opts: NetworkOptions) {
    super();
    const cfg = SHUFFLENETV2_CONFIGS[String(netSize)];
    if (cfg === undefined) {
      throw new Error(`ShuffleNetV2: net size must be 1 or 1.5, got ${netSize}`);
    }
    this.arch = netSize === 1 ? "ShuffleV2" : "ShuffleV2_1_5";
    checkNumClasses(this.arch, opts.numClasses);
    this.numClasses = opts.numClasses;
    const rng = new Generator(opts.seed ?? 0);
    this.#conv1 = this.registerModule("conv1", pointwise(3, 24, rng));
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(24));
    let inCh = 24;
    for (let s = 0; s < 3; s++) {
      const out = cfg.outChannels[s];
      const blocks: Layer[] = [new ShuffleV2DownBlock(inCh, out, rng)];
      for (let b = 0; b < cfg.numBlocks[s]; b++) blocks.push(new ShuffleV2Block(out, rng));
      this.#layers.push(this.registerModule(`layer${s + 1}`, new Sequential(blocks)));
      inCh = out;
    }
    const c4 = cfg.outChannels[3];
    this.#conv2 = this.registerModule("conv2", pointwise(inCh, c4, rng));
    this.#bn2 = this.registerModule("bn2", new BatchNorm2d(c4));
    this.classifier = this.registerModule("linear", new Linear(c4, opts.numClasses, { rng }));
  }

  /** f0 (stem), f1..f3 (stages), the pooled head vector and the logits. */
  features(x: tf.Tensor): Features {
    const maps = Network.stageMaps(
      tf.relu(this.#bn1.forward(this.#conv1.forward(x))),
      this.#layers,
    );
    const head = tf.relu(this.#bn2.forward(this.#conv2.forward(maps[maps.length - 1])));
    const pooled = tf.mean(head, [1, 2]);
    return { maps, pooled, logits: this.classifier.forward(pooled) };
  }
}

/** The official builders by `model_dict` name. */
export const SHUFFLENETS_V2: Readonly<Record<string, (opts: NetworkOptions) => Network>> = {
  ShuffleV2: (opts) => new ShuffleNetV2(1, opts),
  ShuffleV2_1_5: (opts) => new ShuffleNetV2(1.5, opts),
};
