/**
 * The feature contract every network of the zoo offers, so that a distillation method never
 * special-cases an architecture: the feature maps in the official `is_feat` order, the pooled vector,
 * the logits, and the classifier as a module (SimKD, SRRL and ATSC reuse the teacher's).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Layer } from "../nn/layer.ts";
import { Module } from "../nn/module.ts";

/** What one forward pass of a network gives a distillation method (NHWC maps). */
export interface Features {
  /**
   * The feature maps f0 … f(k−1) of the official `model(x, is_feat=True)` list without its last
   * (pooled) entry: f0 is the stem's output, then one map per stage, each after its activation.
   * `maps.at(-1)` is the official `feat[-2]` (the last conv map), `maps.slice(1)` the official
   * `feat[1:-1]`.
   */
  maps: tf.Tensor[];
  /** The pooled vector before the classifier, [N, C] (the official `feat[-1]`). */
  pooled: tf.Tensor;
  /** [N, classes]. */
  logits: tf.Tensor;
}

/** Logits and the pooled feature of a network. */
export interface HeadOutput {
  /** [N, classes]. */
  logits: tf.Tensor;
  /** [N, C]. */
  feature: tf.Tensor;
}

/** Shapes of a network's features for one input size (from a dry forward pass in eval mode). */
export interface FeatureShapes {
  /** `[H, W, C]` of each map f0 … f(k−1). */
  maps: [number, number, number][];
  /** Channels of the pooled vector. */
  pooled: number;
}

/** Options every network constructor of the zoo accepts. */
export interface NetworkOptions {
  /** Number of classes. */
  numClasses: number;
  /** Seed of the initial weights. Default 0. */
  seed?: number;
}

/** Throws `<arch>: numClasses must be a positive integer, got …` unless it is one. */
export function checkNumClasses(arch: string, numClasses: number): void {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new Error(`${arch}: numClasses must be a positive integer, got ${numClasses}`);
  }
}

/**
 * A classification network with the feature contract. Sub-classes register their modules under the
 * official state_dict names and implement {@link features}.
 *
 * @example
 * ```ts
 * const net = createNetwork("resnet8x4", { numClasses: 100 });
 * const { maps, pooled, logits } = tf.tidy(() => net.features(x));
 * ```
 */
export abstract class Network extends Module {
  /** Architecture name as the registry knows it (e.g. "resnet8x4"). */
  abstract readonly arch: string;
  /** Number of classes. */
  abstract readonly numClasses: number;
  /** The classifier applied to the pooled vector. */
  abstract readonly classifier: Layer;
  /**
   * Official state_dict name of the module that holds the classifier ("fc", "classifier", "linear");
   * MobileNetV2's is a one-layer Sequential, so its weight is `classifier.0.weight`.
   */
  abstract readonly classifierName: string;

  /** Every feature of one forward pass. Wrap in `tf.tidy`. */
  abstract features(x: tf.Tensor): Features;

  /** Runs `stages` one after another from the stem's output `f0`; returns `[f0, s1, s2, …]`. */
  protected static stageMaps(
    f0: tf.Tensor,
    stages: readonly { forward(x: tf.Tensor): tf.Tensor }[],
  ): tf.Tensor[] {
    const maps = [f0];
    for (const stage of stages) maps.push(stage.forward(maps[maps.length - 1]));
    return maps;
  }

  /** Logits and pooled feature. Wrap in `tf.tidy`. */
  forward(x: tf.Tensor): HeadOutput {
    const f = this.features(x);
    return { logits: f.logits, feature: f.pooled };
  }

  /**
   * The feature shapes for a `size`×`size` RGB input, from a dry forward of two images in eval mode
   * (as the official `train_student.py` sizes the methods' modules). Running statistics are untouched.
   */
  featureShapes(size = 32): FeatureShapes {
    const wasTraining = this.training;
    this.eval();
    try {
      return tf.tidy(() => {
        const f = this.features(tf.zeros([2, size, size, 3]));
        return {
          maps: f.maps.map((m) => m.shape.slice(1) as [number, number, number]),
          pooled: f.pooled.shape[1] as number,
        };
      });
    } finally {
      this.train(wasTraining);
    }
  }
}
