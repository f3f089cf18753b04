/**
 * The pre-activation Wide ResNets of mdistiller / RepDistiller (`models/cifar/wrn.py`): a 3×3 stem conv
 * (no BN, no ReLU), three `NetworkBlock`s of `n = (depth − 4) / 6` pre-activation BasicBlocks with
 * widths 16k, 32k, 64k and strides 1, 2, 2, a final BN – ReLU, global average pooling and `fc`. Names
 * follow the official state dict (`conv1`, `block1.layer.0.bn1`, `block2.layer.0.convShortcut`, `bn1`,
 * `fc`).
 *
 * Initialisation as the official constructor: conv weights N(0, 2/(k²·C_out)) (kaiming-normal
 * fan_out), BN 1/0, `fc` weight PyTorch's default with bias 0. Dropout (`dropRate`) is 0 in every
 * official variant and is left out.
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

/** conv k×k, no bias, N(0, 2/(k²·C_out)). */
function conv(i: number, o: number, k: 1 | 3, stride: number, rng: Generator): Conv2d {
  return new Conv2d(i, o, k, {
    stride,
    padding: k === 3 ? 1 : 0,
    bias: false,
    init: "kaiming-normal-fan-out",
    rng,
  });
}

/**
 * The pre-activation block: BN – ReLU – conv3x3(s) – BN – ReLU – conv3x3, plus the shortcut. Where the
 * width changes the shortcut is `convShortcut` (1×1, stride s) applied to the *activated* input
 * BN–ReLU(x), as in the official code; otherwise it is the raw input x.
 */
export class WrnBasicBlock extends Layer {
  readonly #bn1: BatchNorm2d;
  readonly #conv1: Conv2d;
  readonly #bn2: BatchNorm2d;
  readonly #conv2: Conv2d;
  readonly #convShortcut: Conv2d | undefined;

  /** Creates the block (attributes in the official order: bn1, conv1, bn2, conv2, convShortcut). */
  constructor(
    readonly inPlanes: number,
    readonly outPlanes: number,
    readonly stride: number,
    rng: Generator,
  ) {
    super();
    if (inPlanes === outPlanes && stride !== 1) {
      // The official block adds the raw input then, which cannot match a strided output.
      throw new Error(`WrnBasicBlock: stride ${stride} needs a width change, got ${inPlanes}`);
    }
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(inPlanes));
    this.#conv1 = this.registerModule("conv1", conv(inPlanes, outPlanes, 3, stride, rng));
    this.#bn2 = this.registerModule("bn2", new BatchNorm2d(outPlanes));
    this.#conv2 = this.registerModule("conv2", conv(outPlanes, outPlanes, 3, 1, rng));
    if (inPlanes !== outPlanes) {
      this.#convShortcut = this.registerModule(
        "convShortcut",
        conv(inPlanes, outPlanes, 1, stride, rng),
      );
    }
  }

  /** Applies the block. */
  forward(x: tf.Tensor): tf.Tensor {
    const a = tf.relu(this.#bn1.forward(x));
    const h = tf.relu(this.#bn2.forward(this.#conv1.forward(a)));
    const r = this.#conv2.forward(h);
    const sc = this.#convShortcut ? this.#convShortcut.forward(a) : x;
    return tf.add(sc, r);
  }

  /** "WrnBasicBlock(in→out, stride s)". */
  describe(): string {
    return `WrnBasicBlock(${this.inPlanes}→${this.outPlanes}, stride ${this.stride})`;
  }
}

/** The official `NetworkBlock`: its blocks sit in a Sequential named `layer`. */
export class WrnNetworkBlock extends Layer {
  /** The blocks (`layer.0`, `layer.1`, …). */
  readonly layer: Sequential;

  /** `n` blocks, the first going from `inPlanes` to `outPlanes` with stride `stride`. */
  constructor(n: number, inPlanes: number, outPlanes: number, stride: number, rng: Generator) {
    super();
    const blocks: Layer[] = [];
    for (let i = 0; i < n; i++) {
      blocks.push(
        new WrnBasicBlock(i === 0 ? inPlanes : outPlanes, outPlanes, i === 0 ? stride : 1, rng),
      );
    }
    this.layer = this.registerModule("layer", new Sequential(blocks));
  }

  /** Applies the blocks. */
  forward(x: tf.Tensor): tf.Tensor {
    return this.layer.forward(x);
  }

  /** "NetworkBlock(…)". */
  describe(): string {
    return `NetworkBlock(${this.layer.layers.map((l) => l.describe()).join(", ")})`;
  }
}

/** Options of {@link WideResNet}. */
export interface WideResNetOptions extends NetworkOptions {
  /** 6n + 4 (16, 40, …). */
  depth: number;
  /** k: the stages are 16k, 32k, 64k wide. */
  widenFactor: number;
}

/**
 * A pre-activation Wide ResNet (`WideResNet(depth, num_classes, widen_factor)`). Features as the
 * official `feats["feats"]` (not `preact_feats`): f0 = the stem conv's output, f1..f3 = the outputs
 * of block1..block3. The blocks are pre-activation, so these maps are residual sums that no BN or
 * ReLU has touched; the pooled vector is the global mean of BN – ReLU(f3).
 *
 * The official head pools with `avg_pool2d(·, 8)`, sized for a 32×32 input (8×8 map): the global
 * mean there; the global mean is used here for any input size.
 *
 * @example
 * ```ts
 * const net = WRNS.wrn_40_2({ numClasses: 100 });
 * net.parameterCount(); // 2255156
 * ```
 */
export class WideResNet extends Network {
  /** "wrn_{depth}_{k}". */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** The final linear layer, `fc`. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "fc";
  readonly #conv1: Conv2d;
  readonly #blocks: WrnNetworkBlock[];
  readonly #bn1: BatchNorm2d;

  /** Builds the network with the official initialisation. */
  constructor(opts: WideResNetOptions) {
    super();
    const { depth, widenFactor: k } = opts;
    this.arch = `wrn_${depth}_${k}`;
    if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
      throw new Error(`${this.arch}: depth must be 6n + 4 with n ≥ 1, got ${depth}`);
    }
    if (!Number.isInteger(k) || k < 1) {
      throw new Error(`${this.arch}: widenFactor must be a positive integer, got ${k}`);
    }
    checkNumClasses(this.arch, opts.numClasses);
    this.numClasses = opts.numClasses;
    const rng = new Generator(opts.seed ?? 0);
    const n = (depth - 4) / 6;
    const ch = [16, 16 * k, 32 * k, 64 * k];
    this.#conv1 = this.registerModule("conv1", conv(3, ch[0], 3, 1, rng));
    this.#blocks = [1, 2, 3].map((s) =>
      this.registerModule(
        `block${s}`,
        new WrnNetworkBlock(n, ch[s - 1], ch[s], s === 1 ? 1 : 2, rng),
      )
    );
    this.#bn1 = this.registerModule("bn1", new BatchNorm2d(ch[3]));
    this.classifier = this.registerModule(
      "fc",
      new Linear(ch[3], opts.numClasses, { zeroBias: true, rng }),
    );
  }

  /** f0 (stem conv), f1..f3 (block outputs), the pooled vector and the logits. */
  features(x: tf.Tensor): Features {
    const maps = Network.stageMaps(this.#conv1.forward(x), this.#blocks);
    const pooled = tf.mean(tf.relu(this.#bn1.forward(maps[maps.length - 1])), [1, 2]);
    return { maps, pooled, logits: this.classifier.forward(pooled) };
  }
}

/** The official builders (`wrn_40_2`, `wrn_40_1`, `wrn_16_2`, `wrn_16_1`). */
export const WRNS: Readonly<Record<string, (opts: NetworkOptions) => Network>> = {
  wrn_16_1: (opts) => new WideResNet({ ...opts, depth: 16, widenFactor: 1 }),
  wrn_16_2: (opts) => new WideResNet({ ...opts, depth: 16, widenFactor: 2 }),
  wrn_40_1: (opts) => new WideResNet({ ...opts, depth: 40, widenFactor: 1 }),
  wrn_40_2: (opts) => new WideResNet({ ...opts, depth: 40, widenFactor: 2 }),
};
