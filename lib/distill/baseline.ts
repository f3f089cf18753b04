/**
 * The baseline: one network trained alone with cross-entropy (`train_teacher.py` of the toolbox, and
 * TESKD's baseline: its backbone without students). Used to pretrain teachers, and as every table's
 * "student alone" row. The network is deployed; its head is named "model", its loss term `cls` (the
 * toolbox's name for the CE of a network's own classifier).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { crossEntropy } from "../losses/losses.ts";
import type { Network } from "../models/network.ts";
import type { DeployedNetwork, Distiller, StepOutput, TensorBatch } from "./distiller.ts";
import type { Method } from "./method.ts";

/** Settings of {@link baseline}: none beyond the name. */
export interface BaselineConfig {
  /** "baseline". */
  name: "baseline";
}

/** Plain cross-entropy training of one network. */
export class BaselineDistiller implements Distiller {
  /** "baseline". */
  readonly method = "baseline";
  /** The deployed head. */
  readonly deployedHead = "model";

  /** @param module the network */
  constructor(readonly module: Network) {}

  /** CE of the network's logits. */
  loss(batch: TensorBatch): StepOutput {
    const logits = this.module.forward(batch.x).logits as tf.Tensor2D;
    const cls = crossEntropy(logits, batch.y);
    return { total: cls, terms: { cls }, heads: { model: logits }, outputs: { logits } };
  }

  /** The network's logits. */
  predict(x: tf.Tensor): Record<string, tf.Tensor2D> {
    return { model: this.module.forward(x).logits as tf.Tensor2D };
  }

  /** The network itself. */
  deployed(): DeployedNetwork {
    return {
      module: this.module,
      predict: (x) => this.module.forward(x).logits as tf.Tensor2D,
      description: this.module.arch,
    };
  }

  /** Training or inference mode. */
  train(mode: boolean): void {
    this.module.train(mode);
  }

  /** Frees the network. */
  dispose(): void {
    this.module.dispose();
  }
}

/** The baseline method. */
export const baseline: Method<BaselineConfig> = {
  name: "baseline",
  description: "the network alone, trained with cross-entropy (teacher pretraining, student alone)",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: false,
  defaults: { name: "baseline" },
  lossWeights: () => ({ cls: 1 }),
  build: (ctx) => new BaselineDistiller(ctx.student),
};
