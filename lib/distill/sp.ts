/**
 * SP, similarity-preserving KD (Tung & Mori), as the SimKD toolbox runs it (`--distill similarity`):
 * the row-normalised B×B Gram matrices of the last maps `f_s[-2]`, `f_t[-2]` should agree; their
 * squared difference over B², weighted by beta = 3000, is added to `cls·CE + div·KL`. No module of
 * its own; the student is deployed.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { similarityLoss } from "../losses/feature_kd.ts";
import type { Network } from "../models/network.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import { checkToolboxWeights, type Method, requireTeacher, toolboxLossWeights } from "./method.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link sp}. */
export interface SpConfig {
  /** "sp". */
  name: "sp";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the similarity term. Default 3000. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
}

/** SP's distiller. */
export class SpDistiller extends TeacherStudentDistiller {
  /** "sp". */
  readonly method = "sp";

  /** @param cfg weights and temperature */
  constructor(student: Network, teacher: Network, readonly cfg: SpConfig) {
    super(student, teacher);
  }

  /** `cls·CE + div·KL + beta·SP(f_s[-2], f_t[-2])`. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    return this.toolboxStep(s, t, batch, this.cfg, {
      term: similarityLoss(s.maps.at(-1) as tf.Tensor, t.maps.at(-1) as tf.Tensor),
      beta: this.cfg.beta,
    });
  }
}

/** SP with the toolbox's defaults. */
export const sp: Method<SpConfig> = {
  name: "sp",
  description:
    "similarity preserving: CE + KL + beta·(difference of the batch Gram matrices of the last maps)² / B² (toolbox `similarity`)",
  toolboxName: "similarity",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "sp", cls: 1, div: 1, beta: 3000, temperature: 4 },
  validate: checkToolboxWeights,
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new SpDistiller(ctx.student, requireTeacher(ctx, "sp"), cfg),
};
