/**
 * ShuffleNetV1 (g = 3), CIFAR variant of the SimKD / RepDistiller toolboxes (`models/ShuffleNetv1.py`):
 * a 1×1 stem (no stride, no max-pool), three stages of bottlenecks with grouped 1×1 convolutions and
 * a channel shuffle, global pooling and `linear`. Names follow the official state dict (`conv1`,
 * `bn1`, `layer1.0.conv1`, …, `linear`). Initialisation: PyTorch's defaults.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { AvgPool2d } from "../nn/avg_pool.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { DepthwiseConv2d } from "../nn/depthwise.ts";
import { GroupedConv2d } from "../nn/grouped_conv.ts";
import { Generator } from "../nn/init.ts";
import { Layer, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { channelShuffle } from "../nn/shuffle.ts";
import { checkNumClasses, type Features, Network, type NetworkOptions } from "./network.ts";

/**
 * The ShuffleNetV1 unit: grouped 1×1 (to out/4) – BN – ReLU – shuffle – dw3×3(s) – BN – ReLU –
 * grouped 1×1 (to out) – BN, then `+ x` (stride 1) or `concat [branch, avgpool3×3/2(x)]` (stride 2),
 * then ReLU. As in the official code, the first 1×1 of the block fed by the 24-channel stem is not
 * grouped (g = 1, so its shuffle is the identity), and the depthwise conv is followed by a ReLU.
 */
export class ShuffleV1Bottleneck extends Layer {
  readonly #conv1: GroupedConv2d;
  readonly #bn1: BatchNorm2d;
  readonly #conv2: DepthwiseConv2d;
  readonly #bn2: BatchNorm2d;
  readonly #conv3: GroupedConv2d;
  readonly #bn3: BatchNorm2d;
  /** The stride-2 shortcut (AvgPool2d(3, 2, 1), zero padding counted), or undefined at stride 1. */
  readonly #shortcut: AvgPool2d | undefined;
  /** Groups of the first 1×1 conv and of the shuffle after it. */
  readonly firstGroups: number;

  /**
   * Creates the block.
   *
   * @param outPlanes channels of the branch (the official `out_planes − cat_planes`): at stride 2
   *   the block outputs `outPlanes + inPlanes` channels
   */
  constructor(
    readonly inPlanes: number,
    readonly outPlanes: number,
    readonly stride: 1 | 2,
    readonly groups: number,
    rng: Generator,
  ) {
    super();
    const mid = Math.floor(outPlanes / 4);
    this.firstGroups = inPlanes === 24 ? 1 : groups;
    this.#conv1 = this.registerModule(
      "conv1",
      new GroupedConv2d(inPlanes, mid, 1, { groups: this.firstGroups, bias: false, rng }),
    );
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(mid));
    this.#conv2 = this.registerModule(
      "conv2",
      new DepthwiseConv2d(mid, 3, { stride, padding: 1, bias: false, rng }),
    );
    this.#bn2 = this.registerModule("bn2", new BatchNorm2d(mid));
    this.#conv3 = this.registerModule(
      "conv3",
      new GroupedConv2d(mid, outPlanes, 1, { groups, bias: false, rng }),
    );
    this.#bn3 = this.registerModule("bn3", new BatchNorm2d(outPlanes));
    if (stride === 2) this.#shortcut = new AvgPool2d(3, 2, 1);
  }

  /** Applies the block (the official `out`, not `preact`). */
  forward(x: tf.Tensor): tf.Tensor {
    let out = tf.relu(this.#bn1.forward(this.#conv1.forward(x)));
    out = channelShuffle(out, this.firstGroups);
    out = tf.relu(this.#bn2.forward(this.#conv2.forward(out)));
    out = this.#bn3.forward(this.#conv3.forward(out));
    const pre = this.#shortcut ? tf.concat([out, this.#shortcut.forward(x)], 3) : tf.add(out, x);
    return tf.relu(pre);
  }

  /** "ShuffleV1Bottleneck(in→out, stride s, groups g)". */
  describe(): string {
    const out = this.stride === 2 ? this.outPlanes + this.inPlanes : this.outPlanes;
    return `ShuffleV1Bottleneck(${this.inPlanes}→${out}, stride ${this.stride}, groups ${this.groups})`;
  }
}

/** The official `ShuffleV1` configuration. */
export const SHUFFLENETV1_CONFIG = {
  outPlanes: [240, 480, 960],
  numBlocks: [4, 8, 4],
  groups: 3,
} as const;

/**
 * ShuffleNetV1 (g = 3) for 32×32 inputs. Features: f0 = stem (24×32²), f1..f3 = stage outputs
 * (240×16², 480×8², 960×4²), pooled = f3 averaged over space (960).
 *
 * The official head pools with a fixed 4×4 window (`avg_pool2d(out, 4)`), the global mean on the
 * 4×4 map of a 32×32 input; the global mean is used here for any input size.
 *
 * @example
 * ```ts
 * new ShuffleNetV1({ numClasses: 100 }).parameterCount(); // 949258
 * ```
 */
export class ShuffleNetV1 extends Network {
  /** "ShuffleV1". */
  readonly arch = "ShuffleV1";
  /** Number of classes. */
  readonly numClasses: number;
  /** The final linear layer, `linear`. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "linear";
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #layers: Sequential[] = [];

  /** Builds the network with PyTorch's default initialisation. */
  constructor(opts: NetworkOptions) {
    super();
    checkNumClasses("ShuffleV1", opts.numClasses);
    this.numClasses = opts.numClasses;
    const rng = new Generator(opts.seed ?? 0);
    const { outPlanes, numBlocks, groups } = SHUFFLENETV1_CONFIG;
    this.#conv1 = this.registerModule("conv1", new Conv2d(3, 24, 1, { bias: false, rng }));
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(24));
    let inPlanes = 24;
    for (let s = 0; s < 3; s++) {
      const blocks: Layer[] = [];
      for (let b = 0; b < numBlocks[s]; b++) {
        // The first block concatenates its input to the branch, so the branch makes the rest.
        const catPlanes = b === 0 ? inPlanes : 0;
        blocks.push(
          new ShuffleV1Bottleneck(inPlanes, outPlanes[s] - catPlanes, b === 0 ? 2 : 1, groups, rng),
        );
        inPlanes = outPlanes[s];
      }
      this.#layers.push(this.registerModule(`layer${s + 1}`, new Sequential(blocks)));
    }
    this.classifier = this.registerModule("linear", new Linear(inPlanes, opts.numClasses, { rng }));
  }

  /** f0 (stem), f1..f3 (stages), the pooled f3 and the logits. */
  features(x: tf.Tensor): Features {
    const maps = Network.stageMaps(
      tf.relu(this.#bn1.forward(this.#conv1.forward(x))),
      this.#layers,
    );
    const pooled = tf.mean(maps[maps.length - 1], [1, 2]);
    return { maps, pooled, logits: this.classifier.forward(pooled) };
  }
}

/** The official builder by `model_dict` name. */
export const SHUFFLENETS_V1: Readonly<Record<string, (opts: NetworkOptions) => Network>> = {
  ShuffleV1: (opts) => new ShuffleNetV1(opts),
};
