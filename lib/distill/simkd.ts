/**
 * SimKD (Chen et al., "Knowledge Distillation with the Reused Teacher Classifier"): a projector maps
 * the student's last map onto the teacher's, trained by MSE alone (cls = div = 0, beta = 1), and the
 * teacher's classifier, frozen, classifies the pooled projection. Deployed: the student backbone,
 * the projector and the teacher's classifier (`student.*`, `proj.transfer.*`, `cls_t.*`); the teacher
 * itself is never run at test time (its map size is recorded once, from a dry forward). In training
 * checkpoints the projector is `simkd.transfer.*` (the toolbox's module name).
 *
 * CE and KL on the student's own logits are still computed and logged (weight 0), as the official
 * loop does, so the student's own classifier gets a zero gradient and only shrinks by weight decay.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mse, toolboxLoss } from "../losses/kd.ts";
import type { Network } from "../models/network.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { type Layer, ReLU, Sequential } from "../nn/layer.ts";
import { Module } from "../nn/module.ts";
import { poolToSize } from "./align.ts";
import type { DeployedNetwork, FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import { checkNumber, type Method, requireTeacher, toolboxLossWeights } from "./method.ts";
import { TeacherStudentDistiller, toolboxOutputs } from "./teacher_student.ts";

/** Settings of {@link simkd}. */
export interface SimkdConfig {
  /** "simkd". */
  name: "simkd";
  /** Weight of CE on the student's own logits. Default 0. */
  cls: number;
  /** Weight of KL on the student's own logits. Default 0. */
  div: number;
  /** Weight of the feature MSE. Default 1. */
  beta: number;
  /** Temperature of the (logged) KL term. Default 4. */
  temperature: number;
  /** Projector bottleneck factor f: hidden channels = teacher channels / f. Default 2. */
  factor: number;
}

/** The official projector `transfer`: 1×1 (C_s→c) → 3×3 (c→c) → 1×1 (c→C_t), each BN-ReLU, no bias. */
export class SimkdProjector extends Module {
  /** The nine layers, named 0…8 as in the official `nn.Sequential`. */
  readonly transfer: Sequential;

  /** @param factor c = tC / factor */
  constructor(sC: number, tC: number, factor: number, rng: Generator) {
    super();
    const c = Math.floor(tC / factor);
    if (c < 1) throw new Error(`simkd: factor ${factor} leaves no channel of the teacher's ${tC}`);
    this.transfer = this.registerModule(
      "transfer",
      new Sequential([
        new Conv2d(sC, c, 1, { bias: false, rng }),
        new BatchNorm2d(c),
        new ReLU(),
        new Conv2d(c, c, 3, { padding: 1, bias: false, rng }),
        new BatchNorm2d(c),
        new ReLU(),
        new Conv2d(c, tC, 1, { bias: false, rng }),
        new BatchNorm2d(tC),
        new ReLU(),
      ]),
    );
  }
}

/** The deployed SimKD network: student backbone → pool to the teacher's size → projector → GAP → teacher classifier. */
export class SimkdStudent extends Module {
  /**
   * @param side the common map side (the smaller of the two last maps)
   */
  constructor(
    readonly student: Network,
    readonly proj: SimkdProjector,
    readonly clsT: Layer,
    readonly side: number,
  ) {
    super();
    this.registerModule("student", student);
    this.registerModule("proj", proj);
    this.registerModule("cls_t", clsT);
  }

  /** The projected map (before pooling). */
  project(lastMap: tf.Tensor): tf.Tensor {
    return this.proj.transfer.forward(poolToSize(lastMap, this.side));
  }

  /** Logits of the reused classifier on the pooled projection. */
  classify(projected: tf.Tensor): tf.Tensor2D {
    return this.clsT.forward(tf.mean(projected, [1, 2])) as tf.Tensor2D;
  }

  /** The whole deployed network. */
  predict(x: tf.Tensor): tf.Tensor2D {
    return this.classify(this.project(this.student.features(x).maps.at(-1) as tf.Tensor));
  }
}

/** SimKD's distiller. */
export class SimkdDistiller extends TeacherStudentDistiller {
  /** "simkd". */
  readonly method = "simkd";
  /** The projector, registered as `proj`. */
  readonly projector: SimkdProjector;
  readonly #net: SimkdStudent;

  /** Builds the projector from the feature shapes of a dry forward. */
  constructor(student: Network, teacher: Network, readonly cfg: SimkdConfig, ctx: {
    inputSize: number;
    seed: number;
  }) {
    super(student, teacher);
    const s = student.featureShapes(ctx.inputSize).maps.at(-1) as number[];
    const t = teacher.featureShapes(ctx.inputSize).maps.at(-1) as number[];
    this.projector = this.module.add(
      "simkd",
      new SimkdProjector(s[2], t[2], cfg.factor, new Generator(ctx.seed)),
    );
    this.#net = new SimkdStudent(student, this.projector, teacher.classifier, Math.min(s[0], t[0]));
  }

  /** `cls·CE + div·KL + beta·MSE(P(f_s), f_t)`; the head is the reused classifier's. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const projected = this.#net.project(s.maps.at(-1) as tf.Tensor);
    const target = poolToSize(t.maps.at(-1) as tf.Tensor, this.#net.side);
    const { total, terms } = toolboxLoss(s.logits, t.logits, batch.y, this.cfg, {
      term: mse(projected, target),
      beta: this.cfg.beta,
    });
    const head = this.#net.classify(projected);
    return {
      total,
      terms,
      heads: { student: head },
      outputs: {
        ...toolboxOutputs(s, t),
        simkd_projected: projected,
        simkd_target: target,
        logits_simkd_head: head,
      },
    };
  }

  /** Student, projector and the teacher's classifier. */
  override deployed(): DeployedNetwork {
    return {
      module: this.#net,
      predict: (x) => this.#net.predict(x),
      description:
        `student ${this.student.arch} + projector + teacher ${this.teacher.arch}'s classifier`,
    };
  }
}

/** SimKD with the toolbox's defaults. */
export const simkd: Method<SimkdConfig> = {
  name: "simkd",
  description:
    "SimKD: a projector onto the teacher's last map, MSE only, classified by the reused teacher classifier",
  toolboxName: "simkd",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "simkd", cls: 0, div: 0, beta: 1, temperature: 4, factor: 2 },
  validate(cfg, source) {
    for (const f of ["cls", "div", "beta"]) {
      checkNumber(cfg, f, source, (v) => v >= 0, "a number ≥ 0");
    }
    checkNumber(cfg, "temperature", source, (v) => v > 0, "a number > 0");
    checkNumber(cfg, "factor", source, (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
  },
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => new SimkdDistiller(ctx.student, requireTeacher(ctx, "simkd"), cfg, ctx),
};
