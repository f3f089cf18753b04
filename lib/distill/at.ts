/**
 * AT, attention transfer (Zagoruyko & Komodakis), as the SimKD toolbox runs it (`--distill
 * attention`): for each pair of stage outputs `(f_s[i], f_t[i])`, i = 1 … last map (zipped, so the
 * shorter list decides), the mean squared difference of their normalised attention maps; the pairs
 * summed, weighted by beta = 1000, added to `cls·CE + div·KL`. No module of its own; the student is
 * deployed.
 *
 * @module
 */
import { attentionLoss } from "../losses/feature_kd.ts";
import type { Network } from "../models/network.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import { checkToolboxWeights, type Method, requireTeacher, toolboxLossWeights } from "./method.ts";
import { pairTerms, stagePairs } from "./pairs.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link at}. */
export interface AtConfig {
  /** "at". */
  name: "at";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the attention term. Default 1000. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
}

/** AT's distiller. */
export class AtDistiller extends TeacherStudentDistiller {
  /** "at". */
  readonly method = "at";

  /** @param cfg weights and temperature */
  constructor(student: Network, teacher: Network, readonly cfg: AtConfig) {
    super(student, teacher);
  }

  /** `cls·CE + div·KL + beta·Σ_pairs AT(f_s[i], f_t[i])`; terms `kd_pairs.<i>` per pair. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const pairs = stagePairs(s.maps, t.maps).map(([fs, ft]) => attentionLoss(fs, ft));
    return this.toolboxStep(s, t, batch, this.cfg, pairTerms(pairs, this.cfg.beta));
  }
}

/** AT with the toolbox's defaults. */
export const at: Method<AtConfig> = {
  name: "at",
  description:
    "attention transfer: CE + KL + beta·Σ over stage pairs of the normalised attention maps' MSE (toolbox `attention`)",
  toolboxName: "attention",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "at", cls: 1, div: 1, beta: 1000, temperature: 4 },
  validate: checkToolboxWeights,
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new AtDistiller(ctx.student, requireTeacher(ctx, "at"), cfg),
};
