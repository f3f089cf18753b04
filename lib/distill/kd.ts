/**
 * KD (Hinton et al.): the student matches the teacher's softened logits. The toolbox's `--distill kd`:
 * `1·CE + 1·T²·KL`, T = 4, no extra module; the student is deployed.
 *
 * @module
 */
import type { Network } from "../models/network.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import { checkNumber, type Method, requireTeacher, toolboxLossWeights } from "./method.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link kd}. */
export interface KdConfig {
  /** "kd". */
  name: "kd";
  /** Weight of CE on the student's logits. Default 1. */
  cls: number;
  /** Weight of the KL term. Default 1. */
  div: number;
  /** Temperature T. Default 4. */
  temperature: number;
}

/** The KD distiller: no module of its own. */
export class KdDistiller extends TeacherStudentDistiller {
  /** "kd". */
  readonly method = "kd";

  /** @param cfg weights and temperature */
  constructor(
    student: Network,
    teacher: Network,
    readonly cfg: KdConfig,
  ) {
    super(student, teacher);
  }

  /** `cls·CE + div·KL`. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    return this.toolboxStep(s, t, batch, this.cfg);
  }
}

/** KD with the toolbox's defaults. */
export const kd: Method<KdConfig> = {
  name: "kd",
  description: "Hinton's KD: CE + T²·KL to the teacher's softened logits (SimKD toolbox `kd`)",
  toolboxName: "kd",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "kd", cls: 1, div: 1, temperature: 4 },
  validate(cfg, source) {
    checkNumber(cfg, "cls", source, (v) => v >= 0, "a number ≥ 0");
    checkNumber(cfg, "div", source, (v) => v >= 0, "a number ≥ 0");
    checkNumber(cfg, "temperature", source, (v) => v > 0, "a number > 0");
  },
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new KdDistiller(ctx.student, requireTeacher(ctx, "kd"), cfg),
};
