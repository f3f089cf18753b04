/**
 * VID, variational information distillation (Ahn et al.), as the SimKD toolbox runs it (`--distill
 * vid`): for each stage pair (as AT pairs them), a regressor predicts the teacher's map from the
 * student's as the mean of a Gaussian with a learned per-channel variance; the negative
 * log-likelihoods of the pairs are summed, weighted by beta = 1, and added to `cls·CE + div·KL`.
 * The regressors and variances are trained and checkpointed under `vid.<pair>.*`; the student is
 * deployed.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { alignPair, VID_EPS, vidNll } from "../losses/feature_kd.ts";
import type { Network } from "../models/network.ts";
import { ModuleList } from "../nn/container.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { ReLU, Sequential } from "../nn/layer.ts";
import { Module } from "../nn/module.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import {
  checkNumber,
  checkToolboxWeights,
  type Method,
  requireTeacher,
  toolboxLossWeights,
} from "./method.ts";
import { pairTerms, stagePairs } from "./pairs.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link vid}. */
export interface VidConfig {
  /** "vid". */
  name: "vid";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the summed negative log-likelihoods. Default 1. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
  /** Initial predicted variance of every channel (the official `init_pred_var`). Default 5. */
  initPredVar: number;
}

/**
 * One pair's module (the official `VIDLoss`): `regressor` = 1×1 conv (C_s→C_t) → ReLU → 1×1 conv →
 * ReLU → 1×1 conv, no biases, and `log_scale` (`[C_t]`), the variance being `softplus(log_scale) + 1e-5`.
 */
export class VidRegressor extends Module {
  /** The three 1×1 convolutions with ReLUs between them (official indices 0, 2, 4). */
  readonly regressor: Sequential;
  /** Per-channel pre-softplus variance. */
  readonly logScale: tf.Variable;

  /** @param initPredVar the variance every channel starts at */
  constructor(sC: number, tC: number, initPredVar: number, rng: Generator) {
    super();
    // softplus⁻¹(initPredVar − eps), as the official constructor: log(exp(v − eps) − 1)
    const init = Math.log(Math.expm1(initPredVar - VID_EPS));
    this.logScale = this.registerTensor("log_scale", tf.variable(tf.fill([tC], init)));
    this.regressor = this.registerModule(
      "regressor",
      new Sequential([
        new Conv2d(sC, tC, 1, { bias: false, rng }),
        new ReLU(),
        new Conv2d(tC, tC, 1, { bias: false, rng }),
        new ReLU(),
        new Conv2d(tC, tC, 1, { bias: false, rng }),
      ]),
    );
  }

  /** The pair's negative log-likelihood (sizes aligned: the larger map pooled to the smaller). */
  nll(s: tf.Tensor, t: tf.Tensor): tf.Scalar {
    return tf.tidy(() => {
      const [src, target] = alignPair(s, t);
      return vidNll(this.regressor.forward(src), target, this.logScale as tf.Tensor1D);
    });
  }
}

/** VID's distiller. */
export class VidDistiller extends TeacherStudentDistiller {
  /** "vid". */
  readonly method = "vid";
  /** One module per stage pair, registered as `vid`. */
  readonly pairs: ModuleList<VidRegressor>;

  /** Builds one regressor per pair from the feature shapes of a dry forward. */
  constructor(student: Network, teacher: Network, readonly cfg: VidConfig, ctx: {
    inputSize: number;
    seed: number;
  }) {
    super(student, teacher);
    const rng = new Generator(ctx.seed);
    this.pairs = this.module.add("vid", new ModuleList<VidRegressor>());
    stagePairs(
      student.featureShapes(ctx.inputSize).maps,
      teacher.featureShapes(ctx.inputSize).maps,
    ).forEach(([s, t], i) => this.pairs.set(i, new VidRegressor(s[2], t[2], cfg.initPredVar, rng)));
  }

  /** `cls·CE + div·KL + beta·Σ_pairs NLL`; terms `kd_pairs.<i>` per pair. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const pairs = stagePairs(s.maps, t.maps).map(([fs, ft], i) => this.pairs.at(i).nll(fs, ft));
    return this.toolboxStep(s, t, batch, this.cfg, pairTerms(pairs, this.cfg.beta));
  }
}

/** VID with the toolbox's defaults. */
export const vid: Method<VidConfig> = {
  name: "vid",
  description:
    "variational information distillation: CE + KL + beta·Σ over stage pairs of a Gaussian NLL of the teacher's map given the student's (toolbox `vid`)",
  toolboxName: "vid",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "vid", cls: 1, div: 1, beta: 1, temperature: 4, initPredVar: 5 },
  validate(cfg, source) {
    checkToolboxWeights(cfg, source);
    checkNumber(cfg, "initPredVar", source, (v) => v > VID_EPS, "a number > 1e-5");
  },
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new VidDistiller(ctx.student, requireTeacher(ctx, "vid"), cfg, ctx),
};
