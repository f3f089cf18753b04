/**
 * FitNet (Romero et al.), single-stage as in the SimKD toolbox (`--distill hint`): a regressor maps
 * the student's map `f[hintLayer]` onto the teacher's, and `beta · MSE(regressor(f_s), f_t)` is added
 * to `cls·CE + div·KL`. Defaults: tap 1, beta 100, cls = div = 1, T = 4. The student is deployed;
 * the regressor is trained and checkpointed under `hint.*` (official `conv`, `bn` names).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mse } from "../losses/kd.ts";
import type { Network } from "../models/network.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { ConvTranspose2d } from "../nn/conv_transpose.ts";
import { Generator } from "../nn/init.ts";
import { Layer } from "../nn/layer.ts";
import { poolToSize } from "./align.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import { checkNumber, type Method, requireTeacher, toolboxLossWeights } from "./method.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link fitnet}. */
export interface FitnetConfig {
  /** "fitnet". */
  name: "fitnet";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the hint MSE. Default 100. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
  /** Index of the feature map tapped on both networks (`--hint_layer`). Default 1. */
  hintLayer: number;
}

/**
 * The official ConvReg: a conv chosen by the map sizes, then BatchNorm and ReLU.
 * Student side s, teacher side t: s = 2t → 3×3 conv stride 2; 2s = t → 4×4 transposed conv stride 2;
 * s ≥ t → a (1+s−t)-kernel conv (1×1 when equal); otherwise a 3×3 conv, the teacher map pooled to s.
 */
export class ConvReg extends Layer {
  readonly #conv: Conv2d | ConvTranspose2d;
  readonly #bn: BatchNorm2d;
  /** Side the teacher map is pooled to before the MSE (when the student map is smaller). */
  readonly targetSide: number;

  /**
   * @param s student map `[H, W, C]`
   * @param t teacher map `[H, W, C]`
   */
  constructor(s: readonly number[], t: readonly number[], rng: Generator) {
    super();
    const [sH, , sC] = s;
    const [tH, , tC] = t;
    this.targetSide = tH;
    let conv: Conv2d | ConvTranspose2d;
    if (sH === 2 * tH) conv = new Conv2d(sC, tC, 3, { stride: 2, padding: 1, rng });
    else if (2 * sH === tH) conv = new ConvTranspose2d(sC, tC, 4, { stride: 2, padding: 1, rng });
    else if (sH >= tH) conv = new Conv2d(sC, tC, 1 + sH - tH, { rng });
    else {
      conv = new Conv2d(sC, tC, 3, { padding: 1, rng });
      this.targetSide = sH;
    }
    this.#conv = this.registerModule("conv", conv);
    this.#bn = this.registerModule("bn", new BatchNorm2d(tC));
  }

  /** ReLU(BN(conv(x))). */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(this.#bn.forward(this.#conv.forward(x)));
  }

  /** "ConvReg(…)". */
  describe(): string {
    return `ConvReg(${this.#conv.describe()}, BatchNorm, ReLU)`;
  }
}

/** FitNet's distiller. */
export class FitnetDistiller extends TeacherStudentDistiller {
  /** "fitnet". */
  readonly method = "fitnet";
  /** The regressor, registered as `hint`. */
  readonly regressor: ConvReg;

  /** Builds the regressor from the feature shapes of a dry forward. */
  constructor(student: Network, teacher: Network, readonly cfg: FitnetConfig, ctx: {
    inputSize: number;
    seed: number;
  }) {
    super(student, teacher);
    const sMaps = student.featureShapes(ctx.inputSize).maps;
    const tMaps = teacher.featureShapes(ctx.inputSize).maps;
    const s = sMaps[cfg.hintLayer];
    const t = tMaps[cfg.hintLayer];
    if (s === undefined || t === undefined) {
      throw new Error(
        `fitnet: hintLayer ${cfg.hintLayer} is not a feature map of both networks (they have ` +
          `${sMaps.length} and ${tMaps.length})`,
      );
    }
    this.regressor = this.module.add("hint", new ConvReg(s, t, new Generator(ctx.seed)));
  }

  /** `cls·CE + div·KL + beta·MSE(regressor(f_s), f_t)`. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const l = this.cfg.hintLayer;
    const regressed = this.regressor.forward(s.maps[l]);
    const target = poolToSize(t.maps[l], this.regressor.targetSide);
    return this.toolboxStep(
      s,
      t,
      batch,
      this.cfg,
      { term: mse(regressed, target), beta: this.cfg.beta },
      { hint_regressor_output: regressed, hint_target: target },
    );
  }
}

/** FitNet with the toolbox's defaults. */
export const fitnet: Method<FitnetConfig> = {
  name: "fitnet",
  description:
    "FitNet hints, single stage: CE + KL + beta·MSE of a regressed student map to the teacher's (toolbox `hint`)",
  toolboxName: "hint",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "fitnet", cls: 1, div: 1, beta: 100, temperature: 4, hintLayer: 1 },
  validate(cfg, source) {
    for (const f of ["cls", "div", "beta"]) {
      checkNumber(cfg, f, source, (v) => v >= 0, "a number ≥ 0");
    }
    checkNumber(cfg, "temperature", source, (v) => v > 0, "a number > 0");
    checkNumber(cfg, "hintLayer", source, (v) => Number.isInteger(v) && v >= 0, "an integer ≥ 0");
  },
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new FitnetDistiller(ctx.student, requireTeacher(ctx, "fitnet"), cfg, ctx),
};
