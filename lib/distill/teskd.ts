/**
 * TESKD (Li et al., arXiv 2110.00329) as a method: the trained network is the teacher backbone, the
 * method attaches its FPN-like students and trains all of them jointly with
 * `ce·Σ CE + kd·Σ KL_T(student ‖ teacher) + fea·Σ FEA`; the teacher alone is deployed. The state
 * dict keeps the official TESKD names (the backbone's own names, then `laterals.*`, `fuse_*`, …).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { teskdLoss } from "../losses/teskd.ts";
import { Backbone, type Level, LEVELS } from "../models/backbone.ts";
import { type Fusion, Teskd, type TeskdOutput } from "../models/teskd.ts";
import type { DeployedNetwork, Distiller, StepOutput, TensorBatch } from "./distiller.ts";
import { checkNumber, fieldError, type Method, weightField } from "./method.ts";

/** Settings of {@link teskd} (defaults: the official recipe). */
export interface TeskdConfig {
  /** "teskd". */
  name: "teskd";
  /** Student levels. Default all three: ["8x8", "16x16", "32x32"]. */
  levels: Level[];
  /** Weight of the CE sum. Default 0.2. */
  ce: number;
  /** Weight of the KD sum. Default 0.8. */
  kd: number;
  /** Weight of the feature-loss sum. Default 1e-7. */
  fea: number;
  /** KD temperature T. Default 4. */
  temperature: number;
  /** How the top-down pathway merges the upsampled map with the lateral one. Default "add-concat". */
  fusion: Fusion;
  /** Detach the teacher's logits in the KD terms (the official code does not). Default false. */
  detachTeacher: boolean;
}

/** The logits of the teacher and of every student present. */
export function teskdHeads(out: TeskdOutput): Record<string, tf.Tensor2D> {
  const heads: Record<string, tf.Tensor2D> = { teacher: out.teacher.logits as tf.Tensor2D };
  for (const [level, s] of Object.entries(out.students)) {
    if (s !== undefined) heads[level] = s.logits as tf.Tensor2D;
  }
  return heads;
}

/**
 * The outputs under the TESKD fixtures' names: `logits_teacher`, `feature_teacher`,
 * `logits_student_8x8`, `feature_student_8x8`, … for every attached student.
 */
export function teskdOutputs(out: TeskdOutput): Record<string, tf.Tensor> {
  const m: Record<string, tf.Tensor> = {
    logits_teacher: out.teacher.logits,
    feature_teacher: out.teacher.feature,
  };
  for (const l of LEVELS) {
    const s = out.students[l];
    if (s) {
      m[`logits_student_${l}`] = s.logits;
      m[`feature_student_${l}`] = s.feature;
    }
  }
  return m;
}

/** The TESKD model and its loss. */
export class TeskdDistiller implements Distiller {
  /** "teskd". */
  readonly method = "teskd";
  /** The teacher is deployed. */
  readonly deployedHead = "teacher";

  /** @param module the teacher with its students */
  constructor(readonly module: Teskd, readonly cfg: TeskdConfig) {}

  /** The TESKD loss of a batch. */
  loss(batch: TensorBatch): StepOutput {
    const out = this.module.forward(batch.x);
    const { total, terms } = teskdLoss(out, batch.y, {
      ceWeight: this.cfg.ce,
      kdWeight: this.cfg.kd,
      feaWeight: this.cfg.fea,
      temperature: this.cfg.temperature,
      detachTeacher: this.cfg.detachTeacher,
    });
    return { total, terms, heads: teskdHeads(out), outputs: teskdOutputs(out) };
  }

  /** Every head: the teacher and each student. */
  predict(x: tf.Tensor): Record<string, tf.Tensor2D> {
    return teskdHeads(this.module.forward(x));
  }

  /** The teacher backbone alone. */
  deployed(): DeployedNetwork {
    const teacher = this.module.teacher;
    return {
      module: teacher,
      predict: (x) => teacher.forward(x).logits as tf.Tensor2D,
      description: `teacher ${teacher.arch} (students dropped)`,
    };
  }

  /** Training or inference mode. */
  train(mode: boolean): void {
    this.module.train(mode);
  }

  /** Frees the model. */
  dispose(): void {
    this.module.dispose();
  }
}

/** TESKD with the official defaults. */
export const teskd: Method<TeskdConfig> = {
  name: "teskd",
  description:
    "TESKD: FPN-like students on the teacher's stages, trained jointly; the teacher is deployed",
  recipe: "teskd",
  defaultNetwork: "cifarresnet18",
  needsTeacher: false,
  defaults: {
    name: "teskd",
    levels: ["8x8", "16x16", "32x32"],
    ce: 0.2,
    kd: 0.8,
    fea: 1e-7,
    temperature: 4,
    fusion: "add-concat",
    detachTeacher: false,
  },
  validate(cfg, source) {
    if (!Array.isArray(cfg.levels) || !cfg.levels.every((l) => LEVELS.includes(l))) {
      fieldError(source, "levels", `a list of ${LEVELS.join(", ")}`, cfg.levels);
    }
    for (const f of ["ce", "kd", "fea"]) checkNumber(cfg, f, source, (v) => v >= 0, "a number ≥ 0");
    checkNumber(cfg, "temperature", source, (v) => v > 0, "a number > 0");
    if (!["add-concat", "add", "concat"].includes(cfg.fusion)) {
      fieldError(source, "fusion", "one of add-concat, add, concat", cfg.fusion);
    }
    if (typeof cfg.detachTeacher !== "boolean") {
      fieldError(source, "detachTeacher", "true or false", cfg.detachTeacher);
    }
  },
  lossWeights(cfg) {
    // the three sums make the total; each head's part of a sum has the sum's weight (head CE
    // weights are 1 in this distiller)
    const [ce, kd, fea] = (["ce", "kd", "fea"] as const).map((f) => weightField(cfg, f));
    if (!Array.isArray(cfg.levels) || !cfg.levels.every((l) => typeof l === "string")) {
      throw new Error(`lossWeights: method "teskd" has no list of levels`);
    }
    const w: Record<string, number> = { ce_sum: ce, kd_sum: kd, fea_sum: fea, ce_teacher: ce };
    for (const l of cfg.levels) {
      Object.assign(w, { [`ce_${l}`]: ce, [`kd_${l}`]: kd, [`fea_${l}`]: fea });
    }
    return w;
  },
  build(ctx, cfg) {
    if (!(ctx.student instanceof Backbone)) {
      throw new Error(
        `teskd: "${ctx.student.arch}" has no four-stage backbone for the students; use one of the ` +
          `TESKD backbones (cifarresnet18/34/50, seresnet18/34/50, vgg16, vgg19, resnet18/34/50)`,
      );
    }
    const net = new Teskd(ctx.student, { fusion: cfg.fusion, seed: ctx.seed });
    for (const l of cfg.levels) net.attachStudent(l);
    return new TeskdDistiller(net, cfg);
  },
};
