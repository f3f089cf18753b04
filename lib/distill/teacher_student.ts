/**
 * The common part of the toolbox's teacher→student methods: a frozen teacher whose forward pass runs
 * outside the gradient tape, a student that is trained, and a container module holding the student
 * and the method's own modules (the checkpointed state: `student.*`, then the method's modules under
 * their names).
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { type MethodTerm, toolboxLoss, type ToolboxWeights } from "../losses/kd.ts";
import type { Features, Network } from "../models/network.ts";
import { Module } from "../nn/module.ts";
import type {
  DeployedNetwork,
  Distiller,
  FrozenOutputs,
  StepOutput,
  TensorBatch,
} from "./distiller.ts";

/**
 * The intermediate values every toolbox method reports, under the toolbox's names: the student's own
 * logits and feature maps (`feat_student.f0` …, the pooled vector last) and the teacher's logits.
 */
export function toolboxOutputs(s: Features, t: Features): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = { logits_student: s.logits, logits_teacher: t.logits };
  s.maps.forEach((m, i) => (out[`feat_student.f${i}`] = m));
  out[`feat_student.f${s.maps.length}`] = s.pooled;
  return out;
}

/** The trained state of a teacher→student method: the student and the method's modules. */
export class DistillState extends Module {
  /** @param student the network being distilled into, registered as `student` */
  constructor(readonly student: Network) {
    super();
    this.registerModule("student", student);
  }

  /** Adds one of the method's modules (a projector, a regressor) under its name. */
  add<M extends Module>(name: string, module: M): M {
    return this.registerModule(name, module);
  }
}

/**
 * Base of the teacher→student distillers: the teacher is frozen (inference mode, no optimizer state,
 * its forward pass in {@link frozenForward}), the student's own classifier is the deployed head unless
 * a method says otherwise.
 */
export abstract class TeacherStudentDistiller implements Distiller {
  /** The method's name. */
  abstract readonly method: string;
  /** The student and the method's modules. */
  readonly module: DistillState;
  /** The deployed head's name. */
  readonly deployedHead: string = "student";

  /**
   * @param student the network being trained
   * @param teacher the pretrained teacher (frozen here if it is not already)
   */
  constructor(readonly student: Network, readonly teacher: Network) {
    this.module = new DistillState(student);
    teacher.freeze();
  }

  /** The teacher's features, computed outside the gradient tape. */
  frozenForward(x: tf.Tensor): FrozenOutputs {
    return { teacher: this.teacher.features(x) };
  }

  /** The frozen teacher's features, computed now when the caller gave none (inference). */
  protected teacherFeatures(x: tf.Tensor, frozen: FrozenOutputs | undefined): Features {
    return (frozen ?? this.frozenForward(x)).teacher;
  }

  /** Training-mode loss of a batch. */
  abstract loss(batch: TensorBatch, frozen: FrozenOutputs | undefined): StepOutput;

  /**
   * A step of the toolbox's shape: `cls·CE + div·KL (+ beta·method)` on the student's own logits,
   * which are the `student` head, with the toolbox outputs and the method's own (`extra`).
   */
  protected toolboxStep(
    s: Features,
    t: Features,
    batch: TensorBatch,
    weights: ToolboxWeights,
    method?: MethodTerm,
    extra: Record<string, tf.Tensor> = {},
  ): StepOutput {
    const { total, terms } = toolboxLoss(s.logits, t.logits, batch.y, weights, method);
    return {
      total,
      terms,
      heads: { student: s.logits as tf.Tensor2D },
      outputs: { ...toolboxOutputs(s, t), ...extra },
    };
  }

  /** The deployed head (the student's own classifier by default). */
  predict(x: tf.Tensor): Record<string, tf.Tensor2D> {
    return { [this.deployedHead]: this.deployed().predict(x) };
  }

  /** The student alone, by default. */
  deployed(): DeployedNetwork {
    return {
      module: this.student,
      predict: (x) => this.student.forward(x).logits as tf.Tensor2D,
      description: `student ${this.student.arch}`,
    };
  }

  /** Training or inference mode; the teacher stays in inference mode. */
  train(mode: boolean): void {
    this.module.train(mode);
  }

  /** Frees the student, the method's modules and the teacher. */
  dispose(): void {
    this.module.dispose();
    this.teacher.dispose();
  }
}
