/**
 * SemCKD (Chen et al., cross-layer distillation with semantic calibration), as the SimKD toolbox runs
 * it (`--distill semckd`): every student stage map i is projected onto every teacher stage map j
 * (sizes aligned by pooling the larger), and each sample weighs the pairs' MSEs by an attention over
 * the teacher stages, computed from the batch Gram matrices of the maps through small query/key MLPs
 * (not detached: they and the student learn from it). The weighted sum, times beta = 400, is added
 * to `cls·CE + div·KL`. The student is deployed.
 *
 * The MLPs' input width is the batch size, so the method trains on full batches of the configured
 * size only (`fixedBatch`; the data are loaded drop-last and any other batch is skipped, as the
 * official loop skips the last partial batch). Modules, under `semckd.*` with the official names:
 * `query_<i>`, `key_<j>` (each with an unused `regressor` that the official `MLPEmbed` also builds:
 * kept for identical names and parameter counts; it gets no gradient and never changes) and
 * `regressor<i><j>`. Their size grows with S·T·C_t²: 10.2M parameters for ResNet-32x4 → ResNet-8x4.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { pairMse, semckdLoss } from "../losses/semckd.ts";
import type { Network } from "../models/network.ts";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { Conv2d } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { Layer, ReLU, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { poolToSize } from "./align.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import {
  checkNumber,
  checkToolboxWeights,
  type Method,
  requireTeacher,
  toolboxLossWeights,
} from "./method.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

/** Settings of {@link semckd}. */
export interface SemckdConfig {
  /** "semckd". */
  name: "semckd";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the attention-weighted MSE. Default 400. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
  /** Temperature of the attention softmax (`--soft`). Default 1. */
  soft: number;
}

/** The official `Normalize(2)`: each row divided by its L2 norm, with no epsilon (a zero row gives NaN). */
export class L2Normalize extends Layer {
  /** `[N, D]` → rows of unit length. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => tf.div(x, tf.sqrt(tf.sum(tf.square(x), 1, true))));
  }
  /** "L2Normalize". */
  describe(): string {
    return "L2Normalize";
  }
}

/**
 * The official `MLPEmbed`: linear (B → B/2) → ReLU → linear (→ B/4) → rows L2-normalised. It also
 * holds the official unused `regressor` (linear → normalise → ReLU → linear), kept so that names,
 * parameter counts and the optimizer's parameter order match the toolbox; it is never run, so its
 * parameters get no gradient and SGD leaves them as they are.
 */
export class MlpEmbed extends Module {
  /** First layer. */
  readonly linear1: Linear;
  /** Second layer. */
  readonly linear2: Linear;
  readonly #l2norm = new L2Normalize();

  /** @param dimOut the embedding width (the hidden layer is twice as wide) */
  constructor(dimIn: number, dimOut: number, rng: Generator) {
    super();
    this.linear1 = this.registerModule("linear1", new Linear(dimIn, 2 * dimOut, { rng }));
    this.linear2 = this.registerModule("linear2", new Linear(2 * dimOut, dimOut, { rng }));
    this.registerModule(
      "regressor",
      new Sequential([
        new Linear(dimIn, 2 * dimOut, { rng }),
        new L2Normalize(),
        new ReLU(),
        new Linear(2 * dimOut, dimOut, { rng }),
      ]),
    );
  }

  /** `[N, dimIn]` → unit rows `[N, dimOut]`. */
  forward(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() =>
      this.#l2norm.forward(this.linear2.forward(tf.relu(this.linear1.forward(x))))
    ) as tf.Tensor2D;
  }
}

/** The official `Proj`: 1×1 (C_s → 2C_t) → BN → ReLU → 3×3 (2C_t → 2C_t) → BN → ReLU → 1×1 (→ C_t), no biases. */
export class SemckdProj extends Module {
  /** Layers 0…6. */
  readonly regressor: Sequential;

  constructor(sC: number, tC: number, rng: Generator) {
    super();
    this.regressor = this.registerModule(
      "regressor",
      new Sequential([
        new Conv2d(sC, 2 * tC, 1, { bias: false, rng }),
        new BatchNorm2d(2 * tC),
        new ReLU(),
        new Conv2d(2 * tC, 2 * tC, 3, { padding: 1, bias: false, rng }),
        new BatchNorm2d(2 * tC),
        new ReLU(),
        new Conv2d(2 * tC, tC, 1, { bias: false, rng }),
      ]),
    );
  }
}

/** What {@link SemckdAttention.forward} gives. */
export interface SemckdPairs {
  /** `[B, S, T]`: softmax over the teacher stages. */
  attention: tf.Tensor3D;
  /** `projected[i][j]`: student map i projected to teacher stage j's channels. */
  projected: tf.Tensor[][];
  /** `target[i][j]`: teacher map j at the pair's common size. */
  target: tf.Tensor[][];
}

/** The official `SelfA`: the query/key MLPs and every pair's projection. */
export class SemckdAttention extends Module {
  readonly #queries: MlpEmbed[];
  readonly #keys: MlpEmbed[];
  readonly #projs: SemckdProj[][];

  /**
   * @param batch the (fixed) batch size: the MLPs' input width
   * @param sC channels of the student's stage maps; tC the teacher's
   */
  constructor(batch: number, sC: number[], tC: number[], readonly soft: number, rng: Generator) {
    super();
    const dim = Math.floor(batch / 4);
    this.#queries = sC.map((_, i) =>
      this.registerModule(`query_${i}`, new MlpEmbed(batch, dim, rng))
    );
    this.#keys = tC.map((_, j) => this.registerModule(`key_${j}`, new MlpEmbed(batch, dim, rng)));
    this.#projs = sC.map((s, i) =>
      tC.map((t, j) => this.registerModule(`regressor${i}${j}`, new SemckdProj(s, t, rng)))
    );
  }

  /** Attention and projected pairs of the student's and teacher's stage maps. */
  forward(s: tf.Tensor[], t: tf.Tensor[]): SemckdPairs {
    const gram = (f: tf.Tensor) =>
      tf.tidy(() => {
        const flat = tf.reshape(f, [f.shape[0], -1]);
        return tf.matMul(flat, flat, false, true);
      });
    const attention = tf.tidy(() => {
      const q = tf.stack(s.map((f, i) => this.#queries[i].forward(gram(f))), 1); // [B, S, d]
      const k = tf.stack(t.map((f, j) => this.#keys[j].forward(gram(f))), 2); // [B, d, T]
      return tf.softmax(
        tf.div(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D), this.soft),
      ) as tf.Tensor3D;
    });
    const projected: tf.Tensor[][] = [];
    const target: tf.Tensor[][] = [];
    s.forEach((fs, i) => {
      projected.push([]);
      target.push([]);
      t.forEach((ft, j) => {
        // The larger map is pooled to the smaller; on a tie the teacher's is "pooled" to its own size.
        const side = Math.min(fs.shape[1] as number, ft.shape[1] as number);
        projected[i].push(this.#projs[i][j].regressor.forward(poolToSize(fs, side)));
        target[i].push(poolToSize(ft, side));
      });
    });
    return { attention, projected, target };
  }
}

/** SemCKD's distiller. */
export class SemckdDistiller extends TeacherStudentDistiller {
  /** "semckd". */
  readonly method = "semckd";
  /** The attention and projections, registered as `semckd`. */
  readonly attention: SemckdAttention;
  /** The batch size the MLPs are built for. */
  readonly fixedBatch: number;

  /** Builds the MLPs for `batchSize` and the projections from the shapes of a dry forward. */
  constructor(student: Network, teacher: Network, readonly cfg: SemckdConfig, ctx: {
    inputSize: number;
    seed: number;
    batchSize: number;
  }) {
    super(student, teacher);
    const sC = student.featureShapes(ctx.inputSize).maps.slice(1).map((m) => m[2]);
    const tC = teacher.featureShapes(ctx.inputSize).maps.slice(1).map((m) => m[2]);
    this.fixedBatch = ctx.batchSize;
    this.attention = this.module.add(
      "semckd",
      new SemckdAttention(ctx.batchSize, sC, tC, cfg.soft, new Generator(ctx.seed)),
    );
  }

  /** `cls·CE + div·KL + beta·Σ attention·MSE / (B·S)`. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    if (batch.x.shape[0] !== this.fixedBatch) {
      throw new Error(
        `semckd: its attention MLPs are built for batches of ${this.fixedBatch}, got ${
          batch.x.shape[0]
        }`,
      );
    }
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const pairs = this.attention.forward(s.maps.slice(1), t.maps.slice(1));
    const mse = pairMse(pairs.projected, pairs.target);
    const outputs: Record<string, tf.Tensor> = {
      semckd_attention: pairs.attention,
      semckd_pair_mse: mse,
    };
    pairs.projected.forEach((row, i) =>
      row.forEach((p, j) => (outputs[`semckd_projected.${i}${j}`] = p))
    );
    return this.toolboxStep(s, t, batch, this.cfg, {
      term: semckdLoss(pairs.attention, mse),
      beta: this.cfg.beta,
    }, outputs);
  }
}

/** SemCKD with the toolbox's defaults. */
export const semckd: Method<SemckdConfig> = {
  name: "semckd",
  description:
    "SemCKD: CE + KL + beta·(every student stage projected onto every teacher stage, MSEs weighted by a per-sample attention) (toolbox `semckd`)",
  toolboxName: "semckd",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: { name: "semckd", cls: 1, div: 1, beta: 400, temperature: 4, soft: 1 },
  validate(cfg, source) {
    checkToolboxWeights(cfg, source);
    checkNumber(cfg, "soft", source, (v) => v > 0, "a number > 0");
  },
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => {
    const b = ctx.batchSize;
    if (b === undefined || !Number.isInteger(b) || b < 4 || b % 4 !== 0) {
      throw new Error(
        `semckd: its attention MLPs are as wide as the batch (B → B/2 → B/4), so it needs the ` +
          `training batch size (BuildContext.batchSize), a multiple of 4; got ${b}`,
      );
    }
    return new SemckdDistiller(ctx.student, requireTeacher(ctx, "semckd"), cfg, {
      ...ctx,
      batchSize: b,
    });
  },
};
