/**
 * The CIFAR VGGs with BatchNorm of the SimKD / RepDistiller toolboxes (`models/vgg.py`, `vgg*_bn`):
 * five blocks `block0..block4` of conv3x3 (padding 1, with bias) – BN – ReLU, max-pools after blocks
 * 0, 1 and 2, global average pooling and one `classifier` Linear(512 → classes). Names follow the
 * official state dict (`block0.0` conv, `block0.1` BN, `block0.3` conv, …, `classifier`).
 *
 * This is not the TESKD VGG of `vgg.ts` (registered as "vgg16" / "vgg19"): that one has other names,
 * pools and head.
 *
 * Initialisation as the official `_initialize_weights`: conv weights N(0, 2/(k²·C_out)) with bias 0,
 * BN 1/0, Linear N(0, 0.01²) with bias 0.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { type Layer, ReLU, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { MaxPool2d } from "../nn/pooling.ts";
import { checkNumClasses, type Features, Network, type NetworkOptions } from "./network.ts";

/** The official `cfg`: conv widths of block0..block4 (no 'M' entries: the pools are separate). */
export const VGG_BN_CFGS: Readonly<Record<string, readonly (readonly number[])[]>> = {
  /** cfg 'S' (vgg8). */
  vgg8: [[64], [128], [256], [512], [512]],
  /** cfg 'A' (vgg11). */
  vgg11: [[64], [128], [256, 256], [512, 512], [512, 512]],
  /** cfg 'B' (vgg13). */
  vgg13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
  /** cfg 'D' (vgg16). */
  vgg16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
  /** cfg 'E' (vgg19). */
  vgg19: [
    [64, 64],
    [128, 128],
    [256, 256, 256, 256],
    [512, 512, 512, 512],
    [512, 512, 512, 512],
  ],
};

/**
 * One block as the official `_make_layers(cfg, batch_norm=True)`: (conv – BN – ReLU) per width, the
 * last ReLU dropped (the network applies it, so that the block's output is the pre-ReLU map). The
 * ReLUs keep their indices, so the names are `0`, `1`, `3`, `4`, ….
 */
function makeBlock(widths: readonly number[], inChannels: number, rng: Generator): Sequential {
  const layers: Layer[] = [];
  let c = inChannels;
  for (const w of widths) {
    layers.push(
      new Conv2d(c, w, 3, { padding: 1, init: "kaiming-normal-fan-out", zeroBias: true, rng }),
      new BatchNorm2d(w),
      new ReLU(),
    );
    c = w;
  }
  layers.pop();
  return new Sequential(layers);
}

/** Options of {@link VggBn}. */
export interface VggBnOptions extends NetworkOptions {
  /** Conv widths of block0..block4 (see {@link VGG_BN_CFGS}). */
  cfg: readonly (readonly number[])[];
  /** Architecture name, e.g. "vgg8". */
  arch: string;
}

/**
 * A CIFAR VGG with BatchNorm (`VGG(cfg, batch_norm=True)`). Features: f0..f4 = the outputs of
 * block0..block4 after ReLU (32², 16², 8², 4², 4² for a 32×32 input: `pool3` only runs on 64×64
 * inputs, as in the official forward), pooled = the global mean of f4 (`pool4`, AdaptiveAvgPool2d).
 *
 * @example
 * ```ts
 * const net = VGG_BNS.vgg8({ numClasses: 100 });
 * net.parameterCount(); // 3965028
 * ```
 */
export class VggBn extends Network {
  /** The registry name, e.g. "vgg8" or "vgg16_bn". */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** The final linear layer, `classifier`. */
  readonly classifier: Linear;
  /** Official name of the classifier. */
  readonly classifierName = "classifier";
  readonly #blocks: Sequential[];
  /** pool0..pool3: MaxPool2d(2, 2), parameter-free (not in the state dict). */
  readonly #pool = new MaxPool2d(2, 2);

  /** Builds the network with the official initialisation. */
  constructor(opts: VggBnOptions) {
    super();
    this.arch = opts.arch;
    const cfg = opts.cfg;
    if (cfg.length !== 5 || cfg.some((b) => b.length === 0) || cfg[4].at(-1) !== 512) {
      throw new Error(`${this.arch}: cfg must have 5 non-empty blocks ending in 512 channels`);
    }
    checkNumClasses(this.arch, opts.numClasses);
    this.numClasses = opts.numClasses;
    const rng = new Generator(opts.seed ?? 0);
    let c = 3;
    this.#blocks = cfg.map((widths, i) => {
      const block = this.registerModule(`block${i}`, makeBlock(widths, c, rng));
      c = widths[widths.length - 1];
      return block;
    });
    // The official classifier is hard-wired to 512 inputs.
    this.classifier = this.registerModule(
      "classifier",
      new Linear(512, opts.numClasses, { init: "normal-0.01", zeroBias: true, rng }),
    );
  }

  /** f0..f4 (blocks, after ReLU), the pooled vector and the logits. */
  features(x: tf.Tensor): Features {
    const size = x.shape[1];
    const maps: tf.Tensor[] = [];
    let h = x;
    for (let i = 0; i < 5; i++) {
      // pool0..pool2 always; pool3 only for 64-pixel inputs (official `if h == 64`).
      if (i > 0 && (i < 4 || size === 64)) h = this.#pool.forward(h);
      h = tf.relu(this.#blocks[i].forward(h));
      maps.push(h);
    }
    const pooled = tf.mean(h, [1, 2]);
    return { maps, pooled, logits: this.classifier.forward(pooled) };
  }
}

/** A builder of one official cfg under a registry name. */
function builder(depth: 8 | 11 | 13 | 16 | 19, arch: string) {
  return (opts: NetworkOptions): Network =>
    new VggBn({ ...opts, cfg: VGG_BN_CFGS[`vgg${depth}`], arch });
}

/**
 * The builders: "vgg8", "vgg11", "vgg13" (SimKD's `model_dict` keys, all `vgg*_bn`) with aliases
 * "vgg8_bn", "vgg11_bn", "vgg13_bn", and "vgg16_bn", "vgg19_bn" (plain "vgg16" / "vgg19" are the
 * TESKD VGGs).
 */
export const VGG_BNS: Readonly<Record<string, (opts: NetworkOptions) => Network>> = {
  vgg8: builder(8, "vgg8"),
  vgg11: builder(11, "vgg11"),
  vgg13: builder(13, "vgg13"),
  vgg16_bn: builder(16, "vgg16_bn"),
  vgg19_bn: builder(19, "vgg19_bn"),
  vgg8_bn: builder(8, "vgg8"),
  vgg11_bn: builder(11, "vgg11"),
  vgg13_bn: builder(13, "vgg13"),
};
