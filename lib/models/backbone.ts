/**
 * What a teacher network offers the students: four stage outputs and a classification head.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Layer } from "../nn/layer.ts";
import { type Features, type HeadOutput, Network } from "./network.ts";

export type { HeadOutput };

/**
 * Student levels, named by where they sit on the CIFAR ResNet (32×32 input): "8x8" is fed by stages
 * 4 and 3 (official `downsample3` / `fc_b3`), "16x16" by stages 4..2 (`downsample2` / `fc_b2`), "32x32"
 * by stages 4..1 (`downsample1` / `fc_b1`). Other backbones keep the names by stage, not by size: on
 * VGG the "8x8" level works at 2×2 (stage 3), "16x16" at 4×4, "32x32" at 8×8; on ImageNet ResNets
 * (224 input) at 14×14, 28×28 and 56×56.
 */
export type Level = "8x8" | "16x16" | "32x32";

/** All levels, deepest first (the order in which the top-down pathway reaches them). */
export const LEVELS: readonly Level[] = ["8x8", "16x16", "32x32"];

/** Official index of a level: "8x8" → 3, "16x16" → 2, "32x32" → 1 (`downsample<i>`, `fc_b<i>`). */
export function levelIndex(level: Level): 1 | 2 | 3 {
  return level === "8x8" ? 3 : level === "16x16" ? 2 : 1;
}

/**
 * A network of four stages that TESKD's students can tap (the TESKD paper's backbones). Its
 * {@link features} are the stem's output f0 and the stage outputs s1..s4 as f1..f4.
 */
export abstract class Backbone extends Network {
  /** Channels of the stage outputs s1..s4. */
  abstract readonly stageChannels: readonly [number, number, number, number];
  /** Default student head kernel (= stride) per level, so that every head ends at one size. */
  abstract readonly headKernels: Readonly<Record<Level, number>>;
  /** Names of the modules that make each stage, for summaries. */
  abstract readonly stageModules: readonly string[][];

  /** The four stages, in order. */
  protected abstract readonly stages: readonly Layer[];

  /** The stem: what runs before stage 1 (f0). */
  abstract stem(x: tf.Tensor): tf.Tensor;

  /** Stage outputs s1..s4 (NHWC). */
  forwardStages(x: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
    return Backbone.chainStages(this.stages, this.stem(x));
  }

  /** The official head: global average pool of s4 → feature g → classifier. */
  head(s4: tf.Tensor): HeadOutput {
    return Backbone.poolAndClassify(s4, this.classifier);
  }

  /** The whole teacher: logits and feature. */
  override forward(x: tf.Tensor): HeadOutput {
    return this.head(this.forwardStages(x)[3]);
  }

  /** f0 (stem), f1..f4 (stages), the pooled feature g and the logits. */
  features(x: tf.Tensor): Features {
    const f0 = this.stem(x);
    const s = Backbone.chainStages(this.stages, f0);
    const { logits, feature } = this.head(s[3]);
    return { maps: [f0, ...s], pooled: feature, logits };
  }

  /** Runs the four stages one after another on the stem's output `h`; returns s1..s4. */
  protected static chainStages(
    stages: readonly TensorMap[],
    h: tf.Tensor,
  ): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
    const s1 = stages[0].forward(h);
    const s2 = stages[1].forward(s1);
    const s3 = stages[2].forward(s2);
    return [s1, s2, s3, stages[3].forward(s3)];
  }

  /** The official head: global average pool of s4 → feature g → `classifier`. */
  protected static poolAndClassify(s4: tf.Tensor, classifier: TensorMap): HeadOutput {
    const feature = tf.mean(s4, [1, 2]);
    return { logits: classifier.forward(feature), feature };
  }
}

/** Anything with a tensor-to-tensor `forward` (a stage, a classifier). */
interface TensorMap {
  forward(x: tf.Tensor): tf.Tensor;
}
