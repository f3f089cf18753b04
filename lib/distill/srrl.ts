/**
 * SRRL (Yang et al., knowledge distillation via softmax regression representation learning), as the
 * SimKD toolbox runs it (`--distill srrl`): a 1×1 conv → BatchNorm → ReLU maps the student's pooled
 * vector to the teacher's width; the result should match the teacher's pooled vector, and the
 * teacher's classifier (frozen, but differentiable) applied to it should give the teacher's logits.
 * Both MSEs, weighted by beta = 1, are added to `cls·CE + div·KL`. The transfer module is trained and
 * checkpointed under `srrl.transfer.*`; the student's own classifier is deployed (as the official
 * validation does).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mse } from "../losses/kd.ts";
import type { Network } from "../models/network.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { ReLU, Sequential } from "../nn/layer.ts";
import { Module } from "../nn/module.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import { checkToolboxWeights, type Method, requireTeacher, toolboxLossWeights } from "./method.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link srrl}. */
export interface SrrlConfig {
  /** "srrl". */
  name: "srrl";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the two MSEs. Default 1. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
}

/** The official `transfer`: 1×1 conv (C_s → C_t, no bias) → BatchNorm → ReLU, on a 1×1 map. */
export class SrrlTransfer extends Module {
  /** Layers 0 (conv), 1 (BatchNorm), 2 (ReLU). */
  readonly transfer: Sequential;

  constructor(sC: number, tC: number, rng: Generator) {
    super();
    this.transfer = this.registerModule(
      "transfer",
      new Sequential([
        new Conv2d(sC, tC, 1, { bias: false, rng }),
        new BatchNorm2d(tC),
        new ReLU(),
      ]),
    );
  }

  /** `[N, C_s]` → `[N, C_t]`. */
  forward(pooled: tf.Tensor): tf.Tensor2D {
    const [n, c] = pooled.shape;
    const map = this.transfer.forward(tf.reshape(pooled, [n, 1, 1, c]));
    return tf.reshape(map, [n, -1]);
  }
}

/** SRRL's distiller. */
export class SrrlDistiller extends TeacherStudentDistiller {
  /** "srrl". */
  readonly method = "srrl";
  /** The transfer module, registered as `srrl`. */
  readonly transfer: SrrlTransfer;

  /** Builds the transfer module from the pooled widths of a dry forward. */
  constructor(student: Network, teacher: Network, readonly cfg: SrrlConfig, ctx: {
    inputSize: number;
    seed: number;
  }) {
    super(student, teacher);
    const sC = student.featureShapes(ctx.inputSize).pooled;
    const tC = teacher.featureShapes(ctx.inputSize).pooled;
    this.transfer = this.module.add("srrl", new SrrlTransfer(sC, tC, new Generator(ctx.seed)));
  }

  /** `cls·CE + div·KL + beta·(MSE(h, t_pooled) + MSE(cls_t(h), z_t))`. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const feature = this.transfer.forward(s.pooled);
    const logits = this.teacher.classifier.forward(feature) as tf.Tensor2D;
    const featureMse = mse(feature, t.pooled);
    const logitMse = mse(logits, t.logits);
    return this.toolboxStep(s, t, batch, this.cfg, {
      term: tf.add(featureMse, logitMse) as tf.Scalar,
      beta: this.cfg.beta,
      parts: { feature_mse: featureMse, logit_mse: logitMse },
    }, { srrl_feature: feature, srrl_logits: logits });
  }
}

/** SRRL with the toolbox's defaults. */
export const srrl: Method<SrrlConfig> = {
  name: "srrl",
  description:
    "SRRL: CE + KL + beta·(MSE of the transferred pooled vector to the teacher's + MSE of the teacher classifier's logits on it) (toolbox `srrl`)",
  toolboxName: "srrl",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "srrl", cls: 1, div: 1, beta: 1, temperature: 4 },
  validate: checkToolboxWeights,
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new SrrlDistiller(ctx.student, requireTeacher(ctx, "srrl"), cfg, ctx),
};
