/**
 * ATSC (adaptive teaching with a shared classifier; Wang et al., arXiv 2406.08528), as its official
 * repository implements it on the SimKD toolbox: SimKD's projector onto the teacher's last map and
 * the reused teacher classifier, but the teacher adapts too. It trains in training mode with
 * gradient: the feature MSE (its target, the teacher's map, is not detached) pulls the teacher
 * towards the projected student features, and `w · Σ‖W − W0‖²` anchors its weights to those it was
 * loaded with (every parameter but the last that has more than one dimension: the convolutions and
 * the classifier weight). After each main step, a second forward of the teacher (its BatchNorm
 * statistics move twice per iteration) and the CE of its logits step the teacher's classifier bias
 * alone, with a second SGD of the same settings and its own momentum ({@link Distiller.secondStep}).
 * Defaults: cls = div = 0, beta = 1, w = 1, factor 2.
 *
 * Where this library diverges from the official code, on purpose:
 * - Evaluation and deployment. The official validation scores the student's own classifier, which
 *   gets no loss when cls = div = 0 (only simkd is special-cased there), and the official checkpoint
 *   holds neither the projector nor the adapted classifier. The method is meant to be used as SimKD
 *   is: the student backbone, the projector and the adapted teacher classifier. That is what is
 *   evaluated (head `student`), exported (`student.*`, `proj.transfer.*`, `cls_t.*`) and scored.
 *   The adapted teacher's own accuracy is reported as head `teacher`.
 * - The teacher is a copy: the network handed in (e.g. a teacher shared by several runs of a
 *   notebook) stays as it was; training checkpoints hold the adapted copy (`teacher.*`), its anchor
 *   W0 (`atsc_w0.*`) and both optimizers' momentum, so a resumed run continues exactly.
 *
 * Several teachers: the paper describes it, the repository has no code. This library's reading (not
 * the official code): one projector and one anchor per teacher, each teacher adapted as above with its
 * own classifier-bias step; the loss sums the per-teacher terms (each pair then trains as single-teacher
 * ATSC would), the KL term (weight 0 by default) uses the mean of the teachers' logits, and the
 * deployed logits are the mean of the teachers' classifiers on their projections. Training state is
 * `teacher.<k>.*`, `atsc.<k>.transfer.*`, `atsc_w0.<k>.*`; the deployed file `proj.<k>.*`, `cls_t.<k>.*`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mse, toolboxLoss } from "../losses/kd.ts";
import { crossEntropy } from "../losses/losses.ts";
import type { Network } from "../models/network.ts";
import { createNetwork } from "../models/registry.ts";
import { ModuleList } from "../nn/container.ts";
import { Generator } from "../nn/init.ts";
import type { Layer } from "../nn/layer.ts";
import { Module, type NamedTensor } from "../nn/module.ts";
import { poolToSize } from "./align.ts";
import type {
  DeployedNetwork,
  Distiller,
  SecondStep,
  StepOutput,
  TensorBatch,
} from "./distiller.ts";
import {
  checkNumber,
  checkToolboxWeights,
  type Method,
  toolboxLossWeights,
  weightField,
} from "./method.ts";
import { SimkdProjector, SimkdStudent } from "./simkd.ts";
import { DistillState, toolboxOutputs } from "./teacher_student.ts";

/** Settings of {@link atsc}. */
export interface AtscConfig {
  /** "atsc". */
  name: "atsc";
  /** Weight of CE on the student's own logits. Default 0. */
  cls: number;
  /** Weight of KL on the student's own logits. Default 0. */
  div: number;
  /** Weight of the feature MSE. Default 1. */
  beta: number;
  /** Weight of the teacher's weight-drift anchor (`-w`). Default 1 (the README uses 10 on ImageNet). */
  w: number;
  /** Temperature of the (logged) KL term. Default 4. */
  temperature: number;
  /** Projector bottleneck factor f: hidden channels = teacher channels / f. Default 2. */
  factor: number;
}

/**
 * Copies of a teacher's anchored weights, taken when it is loaded: every parameter but the last
 * one that has more than one dimension, as the official `get_w0`. Buffers, so checkpoints keep them.
 */
export class WeightAnchor extends Module {
  readonly #pairs: [tf.Variable, tf.Variable][] = [];

  /** Snapshots `teacher`'s anchored parameters now. */
  constructor(teacher: Network) {
    super();
    const params = teacher.namedParameters().slice(0, -1);
    for (const p of params.filter((q) => q.torchShape.length > 1)) {
      const w0 = this.registerTensor(p.name, tf.variable(p.variable, false), {
        kind: "buffer",
        torchShape: p.torchShape,
        toTorch: p.toTorch,
        fromTorch: p.fromTorch,
      });
      this.#pairs.push([p.variable, w0]);
    }
  }

  /** Number of anchored tensors. */
  get size(): number {
    return this.#pairs.length;
  }

  /** `Σ ‖W − W0‖²` over the anchored tensors. */
  drift(): tf.Scalar {
    return tf.tidy(() =>
      tf.addN(this.#pairs.map(([w, w0]) => tf.sum(tf.square(tf.sub(w, w0))))) as tf.Scalar
    );
  }
}

/** The deployed network of several teachers: the mean of each teacher classifier on its projection. */
export class MultiTeacherStudent extends Module {
  /** The projectors, `proj.<k>`. */
  readonly proj: ModuleList<SimkdProjector>;
  /** The adapted teacher classifiers, `cls_t.<k>`. */
  readonly clsT: ModuleList<Layer>;

  /** @param sides each teacher's common map side with the student */
  constructor(
    readonly student: Network,
    projectors: SimkdProjector[],
    classifiers: Layer[],
    readonly sides: number[],
  ) {
    super();
    this.registerModule("student", student);
    this.proj = this.registerModule("proj", new ModuleList<SimkdProjector>());
    this.clsT = this.registerModule("cls_t", new ModuleList<Layer>());
    projectors.forEach((p, k) => this.proj.set(k, p));
    classifiers.forEach((c, k) => this.clsT.set(k, c));
  }

  /** The mean of the heads' logits. */
  predict(x: tf.Tensor): tf.Tensor2D {
    const last = this.student.features(x).maps.at(-1) as tf.Tensor;
    const heads = this.sides.map((side, k) => {
      const projected = this.proj.at(k).transfer.forward(poolToSize(last, side));
      return this.clsT.at(k).forward(tf.mean(projected, [1, 2]));
    });
    return tf.div(tf.addN(heads), heads.length) as tf.Tensor2D;
  }
}

/** One adapted teacher with its projector and anchor. */
interface AdaptedTeacher {
  teacher: Network;
  projector: SimkdProjector;
  anchor: WeightAnchor;
  head: SimkdStudent;
  /** The teacher's last parameter (its classifier bias): what the second step trains. */
  last: NamedTensor;
}

/** ATSC's distiller, for one teacher or several. */
export class AtscDistiller implements Distiller {
  /** "atsc". */
  readonly method = "atsc";
  /** Student, projectors, adapted teachers and anchors. */
  readonly module: DistillState;
  /** The deployed head. */
  readonly deployedHead = "student";
  /** The classifier-bias step of every teacher. */
  readonly secondStep: SecondStep;
  readonly #teachers: AdaptedTeacher[];
  readonly #deployed: SimkdStudent | MultiTeacherStudent;

  /**
   * @param teachers the pretrained teachers (copied: these stay as they are)
   */
  constructor(
    readonly student: Network,
    teachers: Network[],
    readonly cfg: AtscConfig,
    ctx: { inputSize: number; seed: number },
  ) {
    if (teachers.length === 0) throw new Error("atsc: needs at least one teacher");
    for (const t of teachers) {
      if (t.numClasses !== student.numClasses) {
        throw new Error(
          `atsc: the teacher ${t.arch} has ${t.numClasses} classes, the student ${student.numClasses}` +
            " (the student is classified by the teachers' classifiers)",
        );
      }
    }
    this.module = new DistillState(student);
    const rng = new Generator(ctx.seed);
    const s = student.featureShapes(ctx.inputSize).maps.at(-1) as number[];
    this.#teachers = teachers.map((given) => {
      const teacher = copyNetwork(given);
      const t = teacher.featureShapes(ctx.inputSize).maps.at(-1) as number[];
      const projector = new SimkdProjector(s[2], t[2], cfg.factor, rng);
      const side = Math.min(s[0], t[0]);
      return {
        teacher,
        projector,
        anchor: new WeightAnchor(teacher),
        head: new SimkdStudent(student, projector, teacher.classifier, side),
        last: teacher.namedParameters().at(-1) as NamedTensor,
      };
    });
    const one = this.#teachers.length === 1;
    // The official order (student, projector, teacher) is the optimizer's order.
    const attach = <M extends Module>(name: string, pick: (a: AdaptedTeacher) => M) => {
      if (one) return void this.module.add(name, pick(this.#teachers[0]));
      const list = this.module.add(name, new ModuleList<M>());
      this.#teachers.forEach((a, k) => list.set(k, pick(a)));
    };
    attach("atsc", (a) => a.projector);
    attach("teacher", (a) => a.teacher);
    attach("atsc_w0", (a) => a.anchor);
    this.#deployed = one ? this.#teachers[0].head : new MultiTeacherStudent(
      student,
      this.#teachers.map((a) => a.projector),
      this.#teachers.map((a) => a.teacher.classifier),
      this.#teachers.map((a) => a.head.side),
    );
    const byVariable = new Set(this.#teachers.map((a) => a.last.variable));
    this.secondStep = {
      parameters: () => this.module.trainableParameters().filter((p) => byVariable.has(p.variable)),
      loss: (batch) => this.#secondLoss(batch),
    };
  }

  /** The adapted teachers (copies of the ones given). */
  get teachers(): Network[] {
    return this.#teachers.map((a) => a.teacher);
  }

  /**
   * `cls·CE + div·KL + Σ_k (beta·MSE(P_k(f_s), f_t,k) + w·Σ‖W_k − W0_k‖²)`, the teachers in training
   * mode with gradient; heads: the deployed `student`, and the adapted `teacher` (the mean of the
   * teachers' logits).
   */
  loss(batch: TensorBatch): StepOutput {
    const s = this.student.features(batch.x);
    const last = s.maps.at(-1) as tf.Tensor;
    const parts = this.#teachers.map((a) => {
      const t = a.teacher.features(batch.x);
      const projected = a.head.project(last);
      const target = poolToSize(t.maps.at(-1) as tf.Tensor, a.head.side);
      return { t, projected, target, head: a.head.classify(projected), drift: a.anchor.drift() };
    });
    const mean = (xs: tf.Tensor[]) => (xs.length === 1 ? xs[0] : tf.div(tf.addN(xs), xs.length));
    const teacherLogits = mean(parts.map((p) => p.t.logits)) as tf.Tensor2D;
    const feature = tf.addN(parts.map((p) => mse(p.projected, p.target))) as tf.Scalar;
    const drift = tf.addN(parts.map((p) => p.drift)) as tf.Scalar;
    const base = toolboxLoss(s.logits, teacherLogits, batch.y, this.cfg, {
      term: feature,
      beta: this.cfg.beta,
    });
    const head = mean(parts.map((p) => p.head)) as tf.Tensor2D;
    const outputs: Record<string, tf.Tensor> = {
      ...toolboxOutputs(s, parts[0].t),
      logits_simkd_head: head,
    };
    if (parts.length === 1) {
      const [p] = parts;
      p.t.maps.forEach((m, i) => (outputs[`feat_teacher.f${i}`] = m));
      outputs[`feat_teacher.f${p.t.maps.length}`] = p.t.pooled;
      outputs.simkd_projected = p.projected;
      outputs.simkd_target = p.target;
    }
    return {
      total: tf.add(base.total, tf.mul(drift, this.cfg.w)) as tf.Scalar,
      terms: {
        ...base.terms,
        w: drift,
        // The official loop computes the teacher's CE here and never uses it; logged for parity.
        cls_teacher_unused: crossEntropy(teacherLogits, batch.y),
      },
      heads: { student: head, teacher: teacherLogits },
      outputs,
    };
  }

  /** The second forward of every teacher (training mode) and the sum of their CEs. */
  #secondLoss(batch: TensorBatch): Omit<StepOutput, "heads"> {
    const logits = this.#teachers.map((a) => a.teacher.forward(batch.x).logits);
    const ces = logits.map((z) => crossEntropy(z, batch.y));
    return {
      total: tf.addN(ces) as tf.Scalar,
      terms: { cls_teacher_second_forward: tf.addN(ces) as tf.Scalar },
      outputs: { logits_teacher_second_forward: logits[0] },
    };
  }

  /** The deployed head (student + projector(s) + adapted classifier(s)) and the adapted teacher(s). */
  predict(x: tf.Tensor): Record<string, tf.Tensor2D> {
    const zs = this.#teachers.map((a) => a.teacher.forward(x).logits);
    const teacher = (zs.length === 1 ? zs[0] : tf.div(tf.addN(zs), zs.length)) as tf.Tensor2D;
    return { student: this.#deployed.predict(x), teacher };
  }

  /** Student backbone, projector(s) and the adapted teacher classifier(s). */
  deployed(): DeployedNetwork {
    const names = this.#teachers.map((a) => a.teacher.arch).join(", ");
    return {
      module: this.#deployed,
      predict: (x) => this.#deployed.predict(x),
      description: `student ${this.student.arch} + projector + adapted classifier of ${names}`,
    };
  }

  /** Training or inference mode, teachers included (they train). */
  train(mode: boolean): void {
    this.module.train(mode);
  }

  /** Frees the student, projectors, the adapted copies and the anchors. */
  dispose(): void {
    this.module.dispose();
  }
}

/** A trainable copy of a network (same architecture, same weights and statistics). */
function copyNetwork(net: Network): Network {
  const copy = createNetwork(net.arch, { numClasses: net.numClasses });
  const sd = net.stateDict();
  try {
    copy.loadStateDict(sd);
  } catch (e) {
    copy.dispose();
    throw new Error(`atsc: cannot copy the teacher ${net.arch}: ${(e as Error).message}`);
  } finally {
    for (const t of sd.values()) t.dispose();
  }
  return copy;
}

/** ATSC with the official defaults (CIFAR). */
export const atsc: Method<AtscConfig> = {
  name: "atsc",
  description:
    "ATSC: SimKD with an adaptive teacher (trained, anchored to its loaded weights) and a second classifier-bias step; one or several teachers",
  toolboxName: "atsc",
  recipe: "toolbox",
  defaultNetwork: "resnet8x4",
  needsTeacher: true,
  multiTeacher: true,
  defaults: { name: "atsc", cls: 0, div: 0, beta: 1, w: 1, temperature: 4, factor: 2 },
  validate(cfg, source) {
    checkToolboxWeights(cfg, source);
    checkNumber(cfg, "w", source, (v) => v >= 0, "a number ≥ 0");
    checkNumber(cfg, "factor", source, (v) => Number.isInteger(v) && v >= 1, "an integer ≥ 1");
  },
  // and the weight-drift anchor `w·Σ‖W − W0‖²`
  lossWeights: (cfg) => ({ ...toolboxLossWeights(cfg), w: weightField(cfg, "w") }),
  build: (ctx, cfg) => {
    const teachers = ctx.teachers ?? (ctx.teacher ? [ctx.teacher] : []);
    if (teachers.length === 0) {
      throw new Error('method "atsc" needs a teacher (model.teacher in the config)');
    }
    return new AtscDistiller(ctx.student, teachers, cfg, ctx);
  },
};
