/**
 * CRD, contrastive representation distillation (Tian et al.), as the SimKD toolbox runs it
 * (`--distill crd`, `exact` mode): the pooled vectors of student and teacher are embedded (linear →
 * L2-normalised, 128 wide) and contrasted with a memory bank of one row per training sample on each
 * side: the student's embedding is scored against the teacher-side memory and the teacher's against
 * the student-side memory, over the sample's own row (the positive) and K = 16384 rows of other-class
 * samples; the NCE losses of both sides, weighted by beta = 0.8, are added to `cls·CE + div·KL`. After
 * the scores, the batch's rows are moved halfway to the new embeddings (momentum 0.5) and renormalised.
 *
 * State, under `crd.*` (the official names): the embeddings `embed_s.linear.*`, `embed_t.linear.*`
 * (trained), and the buffers `contrast.params` ([K, τ, Z_v1, Z_v2, momentum]; the normalisers Z are
 * set by the first forward and then fixed), `contrast.memory_v1`, `contrast.memory_v2` (N × 128).
 * The buffers are checkpointed with the rest, so a resumed run continues with the same memory; the
 * negatives are drawn per (seed, step, sample) by {@link ContrastSampler}. The student is deployed.
 *
 * Memory at CIFAR-100 scale (N = 50,000, 128 wide, K = 16,384, batch 64): the two banks are 51 MB;
 * the negatives gathered for one step are 2 × 64 × 16,385 × 128 floats (1.07 GB), as in the official
 * code. `nceK` trades that for fewer negatives (a departure from the paper's setting).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { toolboxLoss } from "../losses/kd.ts";
import { nceLoss } from "../losses/crd.ts";
import type { Network } from "../models/network.ts";
import { Generator, uniformTensor } from "../nn/init.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { ContrastSampler } from "./crd_sampler.ts";
import type { FrozenOutputs, StepOutput, TensorBatch } from "./distiller.ts";
import {
  checkNumber,
  checkToolboxWeights,
  fieldError,
  type Method,
  requireTeacher,
} from "./method.ts";
import { TeacherStudentDistiller, toolboxOutputs } from "./teacher_student.ts";

/** Settings of {@link crd}. */
export interface CrdConfig {
  /** "crd". */
  name: "crd";
  /** Weight of CE. Default 1. */
  cls: number;
  /** Weight of KL. Default 1. */
  div: number;
  /** Weight of the two NCE losses. Default 0.8. */
  beta: number;
  /** Temperature of the KL term. Default 4. */
  temperature: number;
  /** Embedding width (`--feat_dim`). Default 128. */
  featDim: number;
  /** Negatives per sample (`--nce_k`). Default 16384. */
  nceK: number;
  /** Temperature τ of the scores (`--nce_t`). Default 0.07. */
  nceT: number;
  /** Memory momentum (`--nce_m`). Default 0.5. */
  nceM: number;
  /** Positive: the sample itself ("exact", the toolbox's default; the only mode built). */
  mode: "exact";
}

/** The official `Embed`: linear, then each row divided by its L2 norm (no epsilon). */
export class CrdEmbed extends Module {
  /** The linear map. */
  readonly linear: Linear;

  constructor(dimIn: number, dimOut: number, rng: Generator) {
    super();
    this.linear = this.registerModule("linear", new Linear(dimIn, dimOut, { rng }));
  }

  /** `[N, dimIn]` → unit rows `[N, dimOut]`. */
  forward(x: tf.Tensor): tf.Tensor2D {
    return tf.tidy(() => {
      const z = this.linear.forward(tf.reshape(x, [x.shape[0], -1]));
      return tf.div(z, tf.sqrt(tf.sum(tf.square(z), 1, true))) as tf.Tensor2D;
    });
  }
}

/** Scores of both anchors, normalised, and the memory rows after the update. */
export interface ContrastScores {
  /** Student anchor against the teacher-side memory, `[N, K + 1, 1]`, divided by Z_v1. */
  student: tf.Tensor3D;
  /** Teacher anchor against the student-side memory, divided by Z_v2. */
  teacher: tf.Tensor3D;
  /** The normalisers. */
  z: { v1: number; v2: number };
}

/** The official `ContrastMemory`: the two banks and their constants. */
export class ContrastMemory extends Module {
  /** [K, τ, Z_v1, Z_v2, momentum]; Z < 0 until the first forward sets it. */
  readonly params: tf.Variable;
  /** Student-side memory `[n, featDim]`. */
  readonly memoryV1: tf.Variable;
  /** Teacher-side memory. */
  readonly memoryV2: tf.Variable;

  constructor(featDim: number, n: number, k: number, t: number, momentum: number, rng: Generator) {
    super();
    this.params = this.registerTensor(
      "params",
      tf.variable(tf.tensor1d([k, t, -1, -1, momentum])),
      {
        kind: "buffer",
      },
    );
    const stdv = 1 / Math.sqrt(featDim / 3);
    const bank = () => tf.variable(uniformTensor([n, featDim], stdv, rng));
    this.memoryV1 = this.registerTensor("memory_v1", bank(), { kind: "buffer" });
    this.memoryV2 = this.registerTensor("memory_v2", bank(), { kind: "buffer" });
  }

  /** Rows of the bank. */
  get size(): number {
    return this.memoryV1.shape[0] as number;
  }

  /**
   * Scores `v1` (student) and `v2` (teacher) embeddings against the rows `contrastIndex` of the other
   * side's memory, sets Z on the first call, then writes the rows `index` (no gradient).
   */
  forward(
    v1: tf.Tensor2D,
    v2: tf.Tensor2D,
    index: tf.Tensor1D,
    contrastIndex: tf.Tensor2D,
  ): ContrastScores {
    const p = this.params.dataSync();
    const tau = p[1];
    const momentum = p[4];
    const [n, cols] = contrastIndex.shape;
    const score = (memory: tf.Variable, v: tf.Tensor2D) =>
      tf.tidy(() => {
        // The gathered rows are constants of the step (the memory is no parameter): only v gets gradient.
        const rows = tf.reshape(tf.gather(memory, tf.reshape(contrastIndex, [-1])), [n, cols, -1]);
        return tf.exp(tf.div(tf.matMul(rows, tf.expandDims(v, 2)), tau)) as tf.Tensor3D;
      });
    const outV1 = score(this.memoryV2, v1);
    const outV2 = score(this.memoryV1, v2);
    let [zV1, zV2] = [p[2], p[3]];
    if (zV1 < 0 || zV2 < 0) {
      // Set once, from the first batch, then fixed (the official code stores them as float32).
      const size = this.size;
      if (zV1 < 0) zV1 = Math.fround(tf.tidy(() => tf.mean(outV1)).dataSync()[0] * size);
      if (zV2 < 0) zV2 = Math.fround(tf.tidy(() => tf.mean(outV2)).dataSync()[0] * size);
      tf.tidy(() => this.params.assign(tf.tensor1d([p[0], tau, zV1, zV2, momentum])));
    }
    const student = tf.div(outV1, zV1) as tf.Tensor3D;
    const teacher = tf.div(outV2, zV2) as tf.Tensor3D;
    tf.dispose([outV1, outV2]);
    this.#update(this.memoryV1, index, v1, momentum);
    this.#update(this.memoryV2, index, v2, momentum);
    return { student, teacher, z: { v1: zV1, v2: zV2 } };
  }

  /** `memory[index] = normalise(m·memory[index] + (1 − m)·v)`. */
  #update(memory: tf.Variable, index: tf.Tensor1D, v: tf.Tensor2D, momentum: number): void {
    tf.tidy(() => {
      const old = tf.gather(memory, index);
      const moved = tf.add(tf.mul(old, momentum), tf.mul(v, 1 - momentum));
      const rows = tf.div(moved, tf.sqrt(tf.sum(tf.square(moved), 1, true)));
      memory.assign(tf.tensorScatterUpdate(memory, tf.expandDims(index, 1), rows));
    });
  }
}

/** The official `CRDLoss` module: both embeddings and the memory. */
export class CrdCriterion extends Module {
  /** Student embedding. */
  readonly embedS: CrdEmbed;
  /** Teacher embedding. */
  readonly embedT: CrdEmbed;
  /** The memory bank. */
  readonly contrast: ContrastMemory;

  /** @param sC, tC widths of the pooled vectors; n rows of memory */
  constructor(sC: number, tC: number, n: number, cfg: CrdConfig, rng: Generator) {
    super();
    this.embedS = this.registerModule("embed_s", new CrdEmbed(sC, cfg.featDim, rng));
    this.embedT = this.registerModule("embed_t", new CrdEmbed(tC, cfg.featDim, rng));
    this.contrast = this.registerModule(
      "contrast",
      new ContrastMemory(cfg.featDim, n, cfg.nceK, cfg.nceT, cfg.nceM, rng),
    );
  }
}

/** CRD's distiller. */
export class CrdDistiller extends TeacherStudentDistiller {
  /** "crd". */
  readonly method = "crd";
  /** Embeddings and memory, registered as `crd`. */
  readonly criterion: CrdCriterion;
  readonly #sampler: ContrastSampler;
  readonly #seed: number;

  /**
   * Builds the embeddings from the pooled widths of a dry forward, and one memory row per sample.
   *
   * @param trainLabels the training set's labels by sample index (negatives come from other classes)
   */
  constructor(student: Network, teacher: Network, readonly cfg: CrdConfig, ctx: {
    inputSize: number;
    seed: number;
    trainLabels: Int32Array;
  }) {
    super(student, teacher);
    const sC = student.featureShapes(ctx.inputSize).pooled;
    const tC = teacher.featureShapes(ctx.inputSize).pooled;
    const rng = new Generator(ctx.seed);
    this.criterion = this.module.add(
      "crd",
      new CrdCriterion(sC, tC, ctx.trainLabels.length, cfg, rng),
    );
    this.#seed = ctx.seed;
    this.#sampler = new ContrastSampler(ctx.trainLabels, cfg.nceK, ctx.seed);
  }

  /** The batch's contrast indices: the caller's, or drawn for the batch's step. */
  #contrastIndex(batch: TensorBatch, index: tf.Tensor1D): tf.Tensor2D {
    if (batch.contrastIndex !== undefined) return batch.contrastIndex;
    const rows = this.#sampler.draw(index.dataSync() as Int32Array, batch.step ?? 0);
    return tf.tensor2d(rows, [index.shape[0], this.cfg.nceK + 1], "int32");
  }

  /** `cls·CE + div·KL + beta·(ℓ(P_s) + ℓ(P_t))`; terms `s_loss`, `t_loss`. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput {
    const index = batch.index;
    if (index === undefined) {
      throw new Error(
        "crd: the batch has no sample indices (its memory bank has one row per training sample)",
      );
    }
    const t = this.teacherFeatures(batch.x, frozen);
    const s = this.student.features(batch.x);
    const contrastIndex = this.#contrastIndex(batch, index);
    const embedS = this.criterion.embedS.forward(s.pooled);
    const embedT = this.criterion.embedT.forward(t.pooled);
    const scores = this.criterion.contrast.forward(embedS, embedT, index, contrastIndex);
    if (contrastIndex !== batch.contrastIndex) contrastIndex.dispose();
    const n = this.criterion.contrast.size;
    const sLoss = nceLoss(scores.student, n);
    const tLoss = nceLoss(scores.teacher, n);
    const { total, terms } = toolboxLoss(s.logits, t.logits, batch.y, this.cfg, {
      term: tf.add(sLoss, tLoss) as tf.Scalar,
      beta: this.cfg.beta,
      parts: { s_loss: sLoss, t_loss: tLoss },
    });
    const memory = this.criterion.contrast;
    return {
      total,
      terms,
      heads: { student: s.logits as tf.Tensor2D },
      outputs: {
        ...toolboxOutputs(s, t),
        crd_embed_s: embedS,
        crd_embed_t: embedT,
        crd_scores_s: scores.student,
        crd_scores_t: scores.teacher,
        "crd_Z.Z_v1": tf.scalar(scores.z.v1),
        "crd_Z.Z_v2": tf.scalar(scores.z.v2),
        crd_memory_v1_rows: tf.gather(memory.memoryV1, index),
        crd_memory_v2_rows: tf.gather(memory.memoryV2, index),
      },
    };
  }

  /** The seed of the negatives' draws. */
  get seed(): number {
    return this.#seed;
  }
}

/** CRD with the toolbox's defaults. */
export const crd: Method<CrdConfig> = {
  name: "crd",
  description:
    "contrastive representation distillation: CE + KL + beta·NCE of embedded pooled vectors against a per-sample memory bank (toolbox `crd`)",
  toolboxName: "crd",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  defaults: {
    name: "crd",
    cls: 1,
    div: 1,
    beta: 0.8,
    temperature: 4,
    featDim: 128,
    nceK: 16384,
    nceT: 0.07,
    nceM: 0.5,
    mode: "exact",
  },
  validate(cfg, source) {
    checkToolboxWeights(cfg, source);
    checkNumber(cfg, "featDim", source, (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
    checkNumber(cfg, "nceK", source, (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
    checkNumber(cfg, "nceT", source, (v) => v > 0, "a number > 0");
    checkNumber(cfg, "nceM", source, (v) => v >= 0 && v < 1, "a number in [0, 1)");
    if (cfg.mode !== "exact") fieldError(source, "mode", '"exact" (the only mode built)', cfg.mode);
  },
  build: (ctx, cfg) => {
    if (ctx.trainLabels === undefined || ctx.trainLabels.length === 0) {
      throw new Error("crd: needs the training set's labels (its memory has one row per sample)");
    }
    return new CrdDistiller(ctx.student, requireTeacher(ctx, "crd"), cfg, {
      ...ctx,
      trainLabels: ctx.trainLabels,
    });
  },
};
