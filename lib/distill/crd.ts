/**
 * CRD, contrastive representation distillation (Tian et al.), as the SimKD toolbox runs it
 * (`--distill crd`): the pooled vectors of student and teacher are embedded (linear → L2-normalised,
 * 128 wide) and contrasted with a memory bank of one row per training sample on each side: the
 * student's embedding is scored against the teacher-side memory and the teacher's against the
 * student-side memory, over a positive row (the sample's own in `exact` mode) and K = 16384 rows of
 * other-class samples; the NCE losses of both sides, weighted by beta = 0.8, are added to
 * `cls·CE + div·KL`. After the scores, the batch's rows are moved halfway to the new embeddings
 * (momentum 0.5) and renormalised.
 *
 * State, under `crd.*` (the official names): the embeddings `embed_s.linear.*`, `embed_t.linear.*`
 * (trained), and the buffers `contrast.params` ([K, τ, Z_v1, Z_v2, momentum]; the normalisers Z are
 * set by the first forward and then fixed), `contrast.memory_v1`, `contrast.memory_v2` (N × 128).
 * The buffers are checkpointed with the rest, so a resumed run continues with the same memory, and
 * the trainer restores them when a step fails (the memory is written during the forward). The
 * negatives are drawn per (seed, step, sample) by {@link ContrastSampler}, so a resumed run draws
 * what an uninterrupted one draws. The student is deployed.
 *
 * Memory at CIFAR-100 scale (N = 50,000, 128 wide, K = 16,384, batch 64): the two banks are 51 MB;
 * the rows gathered for one step are 2 × 64 × 16,385 × 128 floats (1.07 GB), as in the official
 * code, and they stay alive until the backward pass is done. `nceK` trades that for fewer negatives
 * (a departure from the paper's setting).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { contrastScores, nceLoss, updatedMemory } from "../losses/crd.ts";
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
  toolboxLossWeights,
} from "./method.ts";
import { TeacherStudentDistiller } from "./teacher_student.ts";

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
  /**
   * The positive: "exact", the sample itself (the toolbox's default), or "relax", a random sample of
   * the same class.
   */
  mode: "exact" | "relax";
}

/** The official `Embed`: linear, then each row divided by its L2 norm (no epsilon). */
export class CrdEmbed extends Module {
  /** The linear map. */
  readonly linear: Linear;

  /** PyTorch's default init of the linear layer, from `rng`. */
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

/** The normalised scores of both anchors, and the normalisers used. */
export interface ContrastScores {
  /** Student anchor against the teacher-side memory, `[N, K + 1, 1]`, divided by Z_v1. */
  student: tf.Tensor3D;
  /** Teacher anchor against the student-side memory, divided by Z_v2. */
  teacher: tf.Tensor3D;
  /** The normalisers (float32 values, as stored). */
  z: { v1: number; v2: number };
}

/** The official `ContrastMemory`: the two banks and their constants. */
export class ContrastMemory extends Module {
  /** [K, τ, Z_v1, Z_v2, momentum], float32; Z < 0 until the first forward sets it. */
  readonly params: tf.Variable;
  /** Student-side memory `[n, featDim]`. */
  readonly memoryV1: tf.Variable;
  /** Teacher-side memory. */
  readonly memoryV2: tf.Variable;

  /**
   * @param n rows (training samples)
   * @param k negatives per sample
   * @param t the temperature τ
   * @param rng draws both banks, U(±1/√(featDim/3)) as the official init
   */
  constructor(featDim: number, n: number, k: number, t: number, momentum: number, rng: Generator) {
    super();
    // Buffers, not parameters: checkpointed with the state dict, never offered to an optimizer.
    // The tidy frees the initial values (a variable holds its own copy).
    const buffer = (make: () => tf.Tensor) => tf.tidy(() => tf.variable(make(), false));
    this.params = this.registerTensor(
      "params",
      buffer(() => tf.tensor1d([k, t, -1, -1, momentum])),
      { kind: "buffer" },
    );
    const stdv = 1 / Math.sqrt(featDim / 3);
    const bank = () => buffer(() => uniformTensor([n, featDim], stdv, rng));
    this.memoryV1 = this.registerTensor("memory_v1", bank(), { kind: "buffer" });
    this.memoryV2 = this.registerTensor("memory_v2", bank(), { kind: "buffer" });
  }

  /** Rows of each bank. */
  get size(): number {
    return this.memoryV1.shape[0] as number;
  }

  /**
   * Scores `v1` (student) and `v2` (teacher) embeddings against the rows `contrastIndex` of the other
   * side's memory, sets Z on the first call, then writes the rows `index` of both banks (no
   * gradient). The constants are read back from `params`, so τ is its float32 value.
   *
   * @param index `[N]` the batch's sample indices (the rows updated)
   * @param contrastIndex `[N, K + 1]`, column 0 the positive
   */
  forward(
    v1: tf.Tensor2D,
    v2: tf.Tensor2D,
    index: tf.Tensor1D,
    contrastIndex: tf.Tensor2D,
  ): ContrastScores {
    const p = this.params.dataSync();
    const [k, tau, , , momentum] = p;
    const [n, cols] = contrastIndex.shape;
    if (cols !== k + 1 || n !== v1.shape[0] || index.shape[0] !== n) {
      const want = `[${v1.shape[0]}, ${k + 1}] (K = ${k})`;
      throw new Error(
        `ContrastMemory: contrast indices [${contrastIndex.shape}] and ${index.shape[0]} sample ` +
          `indices for a batch of ${v1.shape[0]}; expected ${want} and ${v1.shape[0]}`,
      );
    }
    // The student anchor against the teacher-side memory, and the other way round.
    const outV1 = contrastScores(this.memoryV2 as tf.Tensor2D, v1, contrastIndex, tau);
    const outV2 = contrastScores(this.memoryV1 as tf.Tensor2D, v2, contrastIndex, tau);
    let [zV1, zV2] = [p[2], p[3]];
    if (zV1 < 0 || zV2 < 0) {
      // Set once, from the first batch, then fixed; stored (and so used) as float32.
      const meanOf = (t: tf.Tensor) => {
        const m = tf.mean(t);
        const v = m.dataSync()[0];
        m.dispose();
        return v;
      };
      if (zV1 < 0) zV1 = Math.fround(meanOf(outV1) * this.size);
      if (zV2 < 0) zV2 = Math.fround(meanOf(outV2) * this.size);
      const next = tf.tensor1d([k, tau, zV1, zV2, momentum]);
      this.params.assign(next);
      next.dispose();
    }
    const student = tf.div(outV1, zV1) as tf.Tensor3D;
    const teacher = tf.div(outV2, zV2) as tf.Tensor3D;
    tf.dispose([outV1, outV2]);
    ContrastMemory.#update(this.memoryV1, index, v1, momentum);
    ContrastMemory.#update(this.memoryV2, index, v2, momentum);
    return { student, teacher, z: { v1: zV1, v2: zV2 } };
  }

  /**
   * Writes the batch's rows (see {@link updatedMemory}) as a new whole tensor assigned to the
   * variable: what the variable held before stays intact for whoever kept it (the trainer's rollback
   * of a failed step). Nothing here leads to the loss, so no gradient flows through it.
   */
  static #update(memory: tf.Variable, index: tf.Tensor1D, v: tf.Tensor2D, momentum: number): void {
    const updated = updatedMemory(memory as tf.Tensor2D, index, v, momentum);
    memory.assign(updated);
    updated.dispose();
  }
}

/** The official `CRDLoss` module's state: both embeddings and the memory. */
export class CrdCriterion extends Module {
  /** Student embedding. */
  readonly embedS: CrdEmbed;
  /** Teacher embedding. */
  readonly embedT: CrdEmbed;
  /** The memory bank. */
  readonly contrast: ContrastMemory;

  /**
   * @param sC width of the student's pooled vector
   * @param tC width of the teacher's
   * @param n rows of memory (training samples)
   */
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

  /**
   * Builds the embeddings from the pooled widths of a dry forward, and one memory row per sample.
   *
   * @param ctx.trainLabels the training set's labels by sample index (negatives come from other classes)
   */
  constructor(student: Network, teacher: Network, readonly cfg: CrdConfig, ctx: {
    inputSize: number;
    seed: number;
    trainLabels: Int32Array;
  }) {
    super(student, teacher);
    const sC = student.featureShapes(ctx.inputSize).pooled;
    const tC = teacher.featureShapes(ctx.inputSize).pooled;
    this.criterion = this.module.add(
      "crd",
      new CrdCriterion(sC, tC, ctx.trainLabels.length, cfg, new Generator(ctx.seed)),
    );
    this.#sampler = new ContrastSampler(ctx.trainLabels, cfg.nceK, ctx.seed, cfg.mode);
  }

  /** The batch's contrast indices: the caller's, or drawn for the batch's step. */
  #contrastIndex(batch: TensorBatch, index: tf.Tensor1D): tf.Tensor2D {
    if (batch.contrastIndex !== undefined) return batch.contrastIndex;
    if (batch.step === undefined) {
      throw new Error(
        "crd: the batch has neither contrast indices nor its training step (the negatives are " +
          "drawn per step, so that a resumed run draws what an uninterrupted one does)",
      );
    }
    const rows = this.#sampler.draw(index.dataSync() as Int32Array, batch.step);
    return tf.tensor2d(rows, [index.shape[0], this.cfg.nceK + 1], "int32");
  }

  /** `cls·CE + div·KL + beta·(ℓ(P_s) + ℓ(P_t))`; terms `kd`, `s_loss`, `t_loss`. */
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
    let scores: ContrastScores;
    try {
      scores = this.criterion.contrast.forward(embedS, embedT, index, contrastIndex);
    } finally {
      if (contrastIndex !== batch.contrastIndex) contrastIndex.dispose();
    }
    const n = this.criterion.contrast.size;
    const sLoss = nceLoss(scores.student, n);
    const tLoss = nceLoss(scores.teacher, n);
    const memory = this.criterion.contrast;
    return this.toolboxStep(s, t, batch, this.cfg, {
      term: tf.add(sLoss, tLoss) as tf.Scalar,
      beta: this.cfg.beta,
      parts: { s_loss: sLoss, t_loss: tLoss },
    }, {
      crd_embed_s: embedS,
      crd_embed_t: embedT,
      crd_scores_s: scores.student,
      crd_scores_t: scores.teacher,
      "crd_Z.Z_v1": tf.scalar(scores.z.v1),
      "crd_Z.Z_v2": tf.scalar(scores.z.v2),
      crd_memory_v1_rows: tf.gather(memory.memoryV1, index),
      crd_memory_v2_rows: tf.gather(memory.memoryV2, index),
    });
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
    if (cfg.mode !== "exact" && cfg.mode !== "relax") {
      fieldError(source, "mode", '"exact" or "relax"', cfg.mode);
    }
  },
  lossWeights: toolboxLossWeights,
  build: (ctx, cfg) => {
    if (ctx.trainLabels === undefined || ctx.trainLabels.length === 0) {
      throw new Error(
        "crd: needs the training set's labels (BuildContext.trainLabels): its memory has one row " +
          "per training sample",
      );
    }
    return new CrdDistiller(ctx.student, requireTeacher(ctx, "crd"), cfg, {
      ...ctx,
      trainLabels: ctx.trainLabels,
    });
  },
};
