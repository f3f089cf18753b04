/**
 * The CIFAR ResNets of the SimKD / RepDistiller toolboxes (`models/resnet.py`): a 3×3 stem (conv – BN –
 * ReLU, no stride, no max-pool), three stages of `n = (depth − 2) / 6` post-activation BasicBlocks
 * with strides 1, 2, 2, global average pooling and `fc`. Names follow the official state dict
 * (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, `fc`).
 *
 * Initialisation as the official constructor: conv weights kaiming-normal (fan_out, ReLU gain), BN
 * 1/0, `fc` PyTorch's default.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { Layer, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { checkNumClasses, type Features, Network, type NetworkOptions } from "./network.ts";
import { BasicBlock } from "./resnet.ts";

/** Depth and `num_filters` [stem, stage 1, stage 2, stage 3] of one official variant. */
export interface CifarResNetConfig {
  /** 6n + 2. */
  depth: number;
  /** Widths of the stem and the three stages. */
  filters: readonly [number, number, number, number];
}

const W1 = [16, 16, 32, 64] as const;
const W2 = [16, 32, 64, 128] as const;
// RepDistiller's "x4" nets double the stem too (32); the "x2" ones keep 16.
const W4 = [32, 64, 128, 256] as const;

/**
 * The official variants by `model_dict` name: SimKD's keys (resnet38, resnet110, resnet116,
 * resnet14x2, resnet38x2, resnet110x2, resnet8x4, resnet14x4, resnet32x4, resnet38x4) and the
 * RepDistiller / mdistiller ones (resnet8 … resnet110).
 */
export const CIFAR_RESNET_CONFIGS: Readonly<Record<string, CifarResNetConfig>> = {
  resnet8: { depth: 8, filters: W1 },
  resnet14: { depth: 14, filters: W1 },
  resnet20: { depth: 20, filters: W1 },
  resnet32: { depth: 32, filters: W1 },
  resnet38: { depth: 38, filters: W1 },
  resnet44: { depth: 44, filters: W1 },
  resnet56: { depth: 56, filters: W1 },
  resnet110: { depth: 110, filters: W1 },
  resnet116: { depth: 116, filters: W1 },
  resnet14x2: { depth: 14, filters: W2 },
  resnet38x2: { depth: 38, filters: W2 },
  resnet110x2: { depth: 110, filters: W2 },
  resnet8x4: { depth: 8, filters: W4 },
  resnet14x4: { depth: 14, filters: W4 },
  resnet32x4: { depth: 32, filters: W4 },
  resnet38x4: { depth: 38, filters: W4 },
};

/** Options of {@link CifarResNet}. */
export interface CifarResNetOptions extends NetworkOptions {
  /** 6n + 2 (8, 14, 20, 32, …). */
  depth: number;
  /** `num_filters`: widths of the stem and the three stages. */
  filters: readonly [number, number, number, number];
  /** Architecture name. Default `resnet{depth}`. */
  arch?: string;
}

/**
 * A CIFAR ResNet (`ResNet(depth, num_filters, 'basicblock')`). Features: f0 = stem (after its ReLU),
 * f1..f3 = the stage outputs (post-ReLU; 32², 16², 8² for a 32×32 input), pooled = their global mean.
 *
 * @example
 * ```ts
 * const net = CIFAR_RESNETS.resnet8x4({ numClasses: 100 });
 * net.parameterCount(); // 1233540
 * net.featureShapes(32).maps; // [[32,32,32], [32,32,64], [16,16,128], [8,8,256]]
 * ```
 */
export class CifarResNet extends Network {
  /** The registry name, e.g. "resnet8x4". */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** The final linear layer, `fc`. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "fc";
  readonly #conv1: Conv2d;
  readonly #bn1: BatchNorm2d;
  readonly #stages: Sequential[] = [];

  /** Builds the network with the official initialisation. */
  constructor(opts: CifarResNetOptions) {
    super();
    const { depth, filters } = opts;
    this.arch = opts.arch ?? `resnet${depth}`;
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
      throw new Error(`${this.arch}: depth must be 6n + 2 with n ≥ 1, got ${depth}`);
    }
    if (filters.length !== 4 || filters.some((w) => !Number.isInteger(w) || w < 1)) {
      throw new Error(`${this.arch}: filters must be 4 positive integers, got [${filters}]`);
    }
    checkNumClasses(this.arch, opts.numClasses);
    this.numClasses = opts.numClasses;
    const rng = new Generator(opts.seed ?? 0);
    const n = (depth - 2) / 6;
    this.#conv1 = this.registerModule(
      "conv1",
      new Conv2d(3, filters[0], 3, {
        padding: 1,
        bias: false,
        init: "kaiming-normal-fan-out",
        rng,
      }),
    );
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(filters[0]));
    let inPlanes = filters[0];
    for (let s = 0; s < 3; s++) {
      const planes = filters[s + 1];
      const blocks: Layer[] = [];
      for (let b = 0; b < n; b++) {
        blocks.push(
          new BasicBlock(inPlanes, planes, b === 0 && s > 0 ? 2 : 1, rng, "kaiming-normal-fan-out"),
        );
        inPlanes = planes;
      }
      this.#stages.push(this.registerModule(`layer${s + 1}`, new Sequential(blocks)));
    }
    this.classifier = this.registerModule("fc", new Linear(inPlanes, opts.numClasses, { rng }));
  }

  /** f0 (stem), f1..f3 (stages), the pooled vector and the logits. */
  features(x: tf.Tensor): Features {
    const maps = Network.stageMaps(
      tf.relu(this.#bn1.forward(this.#conv1.forward(x))),
      this.#stages,
    );
    // AdaptiveAvgPool2d((1, 1)) + flatten.
    const pooled = tf.mean(maps[maps.length - 1], [1, 2]);
    return { maps, pooled, logits: this.classifier.forward(pooled) };
  }
}

/** The official builders by `model_dict` name (see {@link CIFAR_RESNET_CONFIGS}). */
export const CIFAR_RESNETS: Readonly<Record<string, (opts: NetworkOptions) => Network>> = Object
  .fromEntries(
    Object.entries(CIFAR_RESNET_CONFIGS).map(([arch, cfg]) => [
      arch,
      (opts: NetworkOptions) => new CifarResNet({ ...opts, ...cfg, arch }),
    ]),
  );
