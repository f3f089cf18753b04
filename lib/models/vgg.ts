/**
 * VGG-16/19 with BatchNorm, the official TESKD layout: conv1/bn1, conv2/bn2, 2×2 max-pool, then four
 * stages `layer1..4` of conv3x3-BN-ReLU ending in a 2×2 max-pool (stage outputs 8×8, 4×4, 2×2, 1×1 for a
 * 32×32 input), and `classifier` = Linear(512,512)-ReLU-Linear(512,512)-ReLU-Linear(512,C).
 * Student heads use k = 1, 2, 4 (all end at 2×2). The explicit initialisation (convs kaiming-normal
 * fan_out with zero bias, BN 1/0, linear N(0, 0.01) with zero bias) is applied to the teacher; students
 * attached by `Teskd` use PyTorch's defaults (the parity fixtures overwrite every weight, so they do not
 * pin this down).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import type { Generator } from "../nn/init.ts";
import { type Layer, ReLU, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { MaxPool2d } from "../nn/pooling.ts";
import { Backbone, type Level } from "./backbone.ts";
import { checkNumClasses } from "./network.ts";
import { toGenerator } from "./resnet.ts";

/** Options of {@link Vgg}. */
export interface VggOptions {
  /** 16 or 19. */
  depth: 16 | 19;
  /** Number of classes. */
  numClasses: number;
  /** Seed or generator. */
  seed?: number | Generator;
  /** Scales every width — for small test networks. Default 1. */
  widthMultiplier?: number;
}

/** conv3x3 with the official VGG init (kaiming-normal fan_out, zero bias). */
function vggConv(i: number, o: number, rng: Generator): Conv2d {
  return new Conv2d(i, o, 3, { padding: 1, init: "kaiming-normal-fan-out", zeroBias: true, rng });
}

/**
 * VGG with BatchNorm as a TESKD teacher.
 *
 * @example
 * ```ts
 * new Vgg({ depth: 16, numClasses: 100, seed: 27 }).parameterCount(); // 15299748
 * ```
 */
export class Vgg extends Backbone {
  /** Architecture name. */
  readonly arch: string;
  /** Number of classes. */
  readonly numClasses: number;
  /** Channels of s1..s4. */
  readonly stageChannels: readonly [number, number, number, number];
  /** Default student head kernel per level. */
  readonly headKernels: Readonly<Record<Level, number>> = { "8x8": 1, "16x16": 2, "32x32": 4 };
  /** Modules of each stage, for summaries. */
  readonly stageModules: readonly string[][] = [
    ["conv1", "bn1", "conv2", "bn2", "layer1"],
    ["layer2"],
    ["layer3"],
    ["layer4"],
  ];
  readonly #stem: Layer[];
  /** layer1..layer4. */
  protected readonly stages: Sequential[] = [];
  /** Linear-ReLU-Linear-ReLU-Linear. */
  readonly classifier: Sequential;
  /** Official name of the classifier. */
  readonly classifierName = "classifier";

  /** Builds the network with the official explicit initialisation. */
  constructor(opts: VggOptions) {
    super();
    if (opts.depth !== 16 && opts.depth !== 19) {
      throw new Error(`Vgg: depth must be 16 or 19, got ${opts.depth}`);
    }
    checkNumClasses("Vgg", opts.numClasses);
    const rng = toGenerator(opts.seed);
    const wm = opts.widthMultiplier ?? 1;
    const w = (c: number) => Math.max(1, Math.round(c * wm));
    this.arch = `vgg${opts.depth}`;
    this.numClasses = opts.numClasses;
    const n = opts.depth === 16 ? 3 : 4;
    const stages: [number, number][] = [[w(128), 2], [w(256), n], [w(512), n], [w(512), n]];
    this.stageChannels = [stages[0][0], stages[1][0], stages[2][0], stages[3][0]];
    this.#stem = [
      this.registerModule("conv1", vggConv(3, w(64), rng)),
      this.registerModule("bn1", new BatchNorm2d(w(64))),
      new ReLU(),
      this.registerModule("conv2", vggConv(w(64), w(64), rng)),
      this.registerModule("bn2", new BatchNorm2d(w(64))),
      new ReLU(),
      new MaxPool2d(2, 2),
    ];
    let inC = w(64);
    stages.forEach(([c, reps], s) => {
      const layers: Layer[] = [];
      for (let r = 0; r < reps; r++) {
        layers.push(vggConv(inC, c, rng), new BatchNorm2d(c), new ReLU());
        inC = c;
      }
      layers.push(new MaxPool2d(2, 2));
      this.stages.push(this.registerModule(`layer${s + 1}`, new Sequential(layers)));
    });
    const lin = (i: number, o: number) =>
      new Linear(i, o, { init: "normal-0.01", zeroBias: true, rng });
    this.classifier = this.registerModule(
      "classifier",
      new Sequential([
        lin(inC, w(512)),
        new ReLU(),
        lin(w(512), w(512)),
        new ReLU(),
        lin(w(512), opts.numClasses),
      ]),
    );
  }

  /** conv1/bn1, conv2/bn2 with ReLUs, then the 2×2 max-pool. */
  stem(x: tf.Tensor): tf.Tensor {
    let h = x;
    for (const l of this.#stem) h = l.forward(h);
    return h;
  }
}
