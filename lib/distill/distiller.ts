/**
 * What a distillation method builds and the trainer runs: the {@link Distiller}. The trainer, the
 * CLI, checkpoints and the analysis only talk to this interface; they never name a method.
 *
 * One training step, as the trainer runs it:
 * ```
 * frozen = distiller.frozenForward?.(x)           // outside the gradient tape: a frozen teacher
 * { total, terms, heads } = distiller.loss(batch, frozen)   // under the tape, training mode
 * gradients of total w.r.t. distiller.module.trainableParameters() → SGD step
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Module, NamedTensor } from "../nn/module.ts";
import type { Features, Network } from "../models/network.ts";

/** A training batch as tensors. */
export interface TensorBatch {
  /** Images, NHWC. */
  x: tf.Tensor4D;
  /** int32 labels. */
  y: tf.Tensor1D;
  /** int32 sample indices in the training set (methods with a memory bank need them). */
  index?: tf.Tensor1D;
  /**
   * The global optimizer step this batch is trained at (0-based). A method that draws random numbers
   * per step (CRD's negatives) keys them by it, so a resumed run draws what an uninterrupted one does.
   */
  step?: number;
  /**
   * int32 `[N, K + 1]` contrast indices given by the caller (CRD: column 0 the positive, then the K
   * negatives); when absent, a method that needs them draws its own.
   */
  contrastIndex?: tf.Tensor2D;
}

/** The loss of a batch, its named terms, and the logits of every head to score. */
export interface StepOutput {
  /** What is minimised. */
  total: tf.Scalar;
  /** Named parts, logged as epoch averages (e.g. `cls`, `div`, `kd`). */
  terms: Record<string, tf.Scalar>;
  /** Logits `[N, classes]` by head name; training accuracy is counted for each. */
  heads: Record<string, tf.Tensor2D>;
  /**
   * The method's intermediate values (logits, feature maps, projections, targets) under the SimKD
   * toolbox's names (`logits_student`, `feat_student.f1`, `simkd_projected`, …), for inspection and
   * the parity checks.
   */
  outputs?: Record<string, tf.Tensor>;
}

/** The network a method deploys: what `exportDeployed` writes and what is evaluated. */
export interface DeployedNetwork {
  /** Its modules; the state dict under these names is the exported file. */
  module: Module;
  /** Logits of a batch (inference mode is the caller's business). Wrap in `tf.tidy`. */
  predict(x: tf.Tensor): tf.Tensor2D;
  /** What it is, in words (e.g. "student resnet8x4 + projector + teacher classifier"). */
  description: string;
}

/**
 * A method built for one teacher/student pair (or one TESKD model).
 *
 * @example
 * ```ts
 * const d = buildDistiller({ name: "kd", cls: 1, div: 1, temperature: 4 }, { student, teacher });
 * d.module.trainableParameters().length; // the student's parameters only
 * ```
 */
export interface Distiller {
  /** The method's registry name ("kd", "teskd", …). */
  readonly method: string;
  /**
   * Everything the method trains and checkpoints: its parameters that are not frozen go to the
   * optimizer; its state dict (official names) is the checkpoint. A frozen teacher is not part of it.
   */
  readonly module: Module;
  /** The frozen teacher, for methods that have one (never trained, never checkpointed). */
  readonly teacher?: Network;
  /** Name of the head that the method deploys (scored as the run's result). */
  readonly deployedHead: string;
  /**
   * The only batch size the method can train on (SemCKD: its attention MLPs are as wide as the
   * batch). Training data is then loaded drop-last, and the trainer skips any batch of another size,
   * as the official loop does.
   */
  readonly fixedBatch?: number;
  /**
   * Forward passes that need no gradient (a frozen teacher's), run by the trainer outside the
   * gradient tape, so nothing is recorded or computed backwards for them.
   */
  frozenForward?(x: tf.Tensor): FrozenOutputs;
  /** Training-mode forward and loss; runs under the gradient tape. */
  loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput;
  /**
   * A second optimizer step taken after the main one on the same batch (ATSC's classifier-bias
   * step), by a second SGD with the same settings and schedule and its own momentum.
   */
  readonly secondStep?: SecondStep;
  /** Inference-mode logits of every head, the deployed head among them. Wrap in `tf.tidy`. */
  predict(x: tf.Tensor): Record<string, tf.Tensor2D>;
  /** The deployed network. */
  deployed(): DeployedNetwork;
  /** Sets training or inference mode (a frozen teacher stays in inference mode). */
  train(mode: boolean): void;
  /** Frees the method's modules (and the teacher, when the distiller owns it). */
  dispose(): void;
}

/** A second optimizer step: its parameters and its training-mode loss. */
export interface SecondStep {
  /** The parameters the second optimizer steps (they may also be in the main optimizer). */
  parameters(): NamedTensor[];
  /** Its loss, run under the gradient tape after the main step (terms and outputs are logged). */
  loss(batch: TensorBatch): Omit<StepOutput, "heads">;
}

/** What a frozen teacher's forward pass gives the loss. */
export interface FrozenOutputs {
  /** The teacher's features (maps, pooled vector, logits). */
  teacher: Features;
}
