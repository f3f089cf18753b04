/**
 * The parity checker of the KD fixtures (`test/fixtures/kd/`, made with the official SimKD toolbox):
 * rebuilds the teacher, the student and the method's modules through the method registry with the
 * fixture's weights, and compares initial state, parameter counts, inference outputs, and two training
 * steps (outputs, loss terms, gradients, state after the SGD step, the teacher unchanged) within the
 * fixture's tolerances. The step is the trainer's: the frozen teacher's forward outside the gradient
 * tape, the method's loss under it, SGD over the trainable parameters only.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Distiller, TensorBatch } from "../distill/distiller.ts";
import { type ForwardBackward, forwardBackward, secondForwardBackward } from "../distill/step.ts";
import type { Method, MethodConfigBase } from "../distill/method.ts";
import { METHODS, resolveMethodConfig } from "../distill/registry.ts";
import { crossEntropy } from "../losses/losses.ts";
import type { Features, Network } from "../models/network.ts";
import { createNetwork } from "../models/registry.ts";
import type { Module, NamedTensor } from "../nn/module.ts";
import { SGD } from "../train/sgd.ts";
import type { FullValues, TensorSummary } from "./fixture.ts";
import { fixtureInput, loadFixtureWeights } from "./generate.ts";
import { flat, scalarRel, valuesOverMax } from "./metrics.ts";
import { compareGradients, compareSummaries, type GradientSummary, Tally, tol } from "./tally.ts";
import type { ParityOptions, ParityReport } from "./check.ts";

/** ATSC's anchor W0 in the distiller's state, under official names. */
const ANCHOR_PREFIX = "module.atsc_w0.";

/** A summary, or full values, of one tensor. */
type Entry = TensorSummary | FullValues;

/** One training step of a KD fixture. */
export interface KdFixtureStep {
  /** `cls`, `div`, `kd`, `total`, and named parts (`kd_pairs`, `kd_parts`: one level deeper). */
  loss: Record<string, number | Record<string, number>>;
  /** Outputs by the toolbox's names; `feat_student` holds `f0`… */
  outputs: Record<string, Entry | Record<string, Entry>>;
  /** Gradient summaries by official name. */
  grad: Record<string, GradientSummary>;
  /** Optimizer parameters that got no gradient. */
  grad_none?: string[];
  /** ATSC: the gradient its second optimizer used (the teacher's classifier bias). */
  grad_last?: Record<string, GradientSummary>;
  /** State after the step. */
  after_step: Record<string, TensorSummary>;
}

/** A case of the KD fixtures (see their README). */
export interface KdFixture {
  /** The toolbox's `--distill` value, or "baseline". */
  method: string;
  /** Teacher network (for baseline: the network, when it is trained as a teacher). */
  teacher?: string | null;
  /** Student network (for baseline: the network, when it is trained as a student). */
  student?: string | null;
  /** Key prefix of each role ("teacher.", "student.", "module.<method>."). */
  key_prefixes: Record<string, string>;
  /** Classes. */
  num_classes: number;
  /** Batch size. */
  batch: number;
  /** Key salt. */
  salt: string;
  /** Flags and optimizer settings. */
  hyper: Record<string, number | string | boolean>;
  /** Labels of the batch. */
  labels: number[];
  /** Sample indices and contrast indices of the batch (CRD). */
  inputs?: { index?: number[]; contrast_idx?: { shape: number[]; values: number[] } };
  /** Initial state summaries by official (prefixed) name. */
  parameters: Record<string, TensorSummary>;
  /** Parameter counts. */
  parameter_count: Record<string, number>;
  /** Names of the optimizer's parameters, in order. */
  optimizer_params: string[];
  /** Inference outputs by role. */
  eval: Record<string, Record<string, unknown>>;
  /** Two training steps. */
  train_steps: KdFixtureStep[];
  /** Tolerances by "section/metric". */
  tolerance: Record<string, number>;
}

/** True for the KD fixture format (a `method` and a `student` or `teacher` field). */
export function isKdFixture(raw: unknown): raw is KdFixture {
  const o = raw as Record<string, unknown>;
  return typeof o === "object" && o !== null && typeof o.method === "string" &&
    (typeof o.student === "string" || typeof o.teacher === "string");
}

/** The method of a fixture, found by its toolbox name. */
export function fixtureMethod(fx: KdFixture): Method<MethodConfigBase> {
  for (const m of Object.values(METHODS) as Method<MethodConfigBase>[]) {
    if (m.toolboxName === fx.method || (fx.method === "baseline" && m.name === "baseline")) {
      return m;
    }
  }
  throw new Error(`no method of the registry is the toolbox's "${fx.method}"`);
}

/** The toolbox flags by their names in this library's method configs. */
const FLAG_NAMES: Record<string, string> = {
  kd_T: "temperature",
  hint_layer: "hintLayer",
  feat_dim: "featDim",
  nce_k: "nceK",
  nce_t: "nceT",
  nce_m: "nceM",
};

/** The method config of a fixture: its flags where the method has such a field. */
export function fixtureMethodConfig(fx: KdFixture): MethodConfigBase {
  const method = fixtureMethod(fx);
  const fields = method.defaults as unknown as Record<string, unknown>;
  const cfg: Record<string, unknown> = { name: method.name };
  for (const [flag, v] of Object.entries(fx.hyper)) {
    const field = FLAG_NAMES[flag] ?? flag;
    if (field !== "name" && field in fields) cfg[field] = v;
  }
  return resolveMethodConfig(cfg, `fixture ${fx.method}`);
}

/** The fixture's parts, built and loaded. */
export interface KdFixtureModel {
  /** The distiller. */
  distiller: Distiller;
  /** The teacher (absent for baseline). */
  teacher?: Network;
  /** The student. */
  student: Network;
  /** Official name of each of the distiller's tensors (`student.*`, `module.<method>.*`). */
  officialName(name: string): string;
}

/** Builds the teacher, the student and the method with the fixture's weights. */
export function buildKdFixtureModel(fx: KdFixture): KdFixtureModel {
  const method = fixtureMethod(fx);
  const numClasses = fx.num_classes;
  // The trained network: the student, or for a baseline case whichever role the fixture gives it.
  const studentName = fx.student ?? fx.teacher;
  const studentPrefix = fx.student ? "student." : "teacher.";
  if (!studentName) throw new Error(`fixture ${fx.method}: no student or teacher network`);
  const student = createNetwork(studentName, { numClasses });
  loadFixtureWeights(student, fx.salt + studentPrefix);
  let teacher: Network | undefined;
  if (fx.teacher && method.needsTeacher) {
    teacher = createNetwork(fx.teacher, { numClasses });
    loadFixtureWeights(teacher, fx.salt + "teacher.");
  }
  const distiller = method.build(
    {
      student,
      teacher,
      inputSize: 32,
      seed: 0,
      batchSize: fx.batch,
      // Only the memory bank's size matters: the fixture gives every contrast index (CRD).
      trainLabels: new Int32Array(Number(fx.hyper.n_data ?? 0)),
    },
    fixtureMethodConfig(fx),
  );
  const isStudent = distiller.module === student;
  // The method's own module is registered under its toolbox name, like the fixture's `module.<name>`.
  for (const [child, m] of distiller.module.namedChildren()) {
    if (!isStudent && child === method.toolboxName) {
      loadFixtureWeights(m, `${fx.salt}module.${child}.`);
    }
  }
  return {
    distiller,
    teacher,
    student,
    officialName: (n) =>
      isStudent
        ? studentPrefix + n
        : n.startsWith("student.") || n.startsWith("teacher.")
        ? n
        : `module.${n}`,
  };
}

/** The state of modules under official names (PyTorch layout; the caller disposes). */
function stateOf(parts: [string, Module][], rename: (n: string) => string): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [prefix, m] of parts) {
    for (const [n, t] of m.stateDict()) out.set(rename(prefix + n), t);
  }
  return out;
}

/**
 * A step's loss entries with nested groups flattened: the per-pair terms `kd_pairs: { 0, 1, 2 }` are
 * the methods' `kd_pairs.0` …; the named parts `kd_parts: { s_loss, … }` are terms of their own names.
 */
function flattenLoss(loss: KdFixtureStep["loss"]): [string, number][] {
  return Object.entries(loss).flatMap(([k, v]) =>
    typeof v === "number"
      ? [[k, v] as [string, number]]
      : Object.entries(v).map(([sub, x]) =>
        [k === "kd_parts" ? sub : `${k}.${sub}`, x] as [string, number]
      )
  );
}

/**
 * Compares a state with its reference; ATSC's anchor W0 (`module.atsc_w0.<teacher tensor>`, no
 * official entry) is compared with the teacher's initial values instead, which it must keep.
 */
async function compareState(
  tally: Tally,
  section: string,
  refs: Record<string, TensorSummary>,
  sd: Map<string, tf.Tensor>,
  tolerance: (metric: string) => number,
  fx: KdFixture,
): Promise<void> {
  const anchors = new Map<string, tf.Tensor>();
  const rest = new Map<string, tf.Tensor>();
  for (const [n, t] of sd) {
    if (n.startsWith(ANCHOR_PREFIX)) anchors.set(`teacher.${n.slice(ANCHOR_PREFIX.length)}`, t);
    else rest.set(n, t);
  }
  await compareSummaries(tally, section, refs, rest, tolerance);
  if (anchors.size === 0) return;
  const initial = Object.fromEntries([...anchors.keys()].map((n) => [n, fx.parameters[n]]));
  await compareSummaries(tally, `${section}.anchor`, initial, anchors, () => 1e-6);
}

/** NHWC maps to the NCHW order the fixtures' summaries and samples use. */
function toTorchLayout(t: tf.Tensor): tf.Tensor {
  return t.rank === 4 ? tf.transpose(t, [0, 3, 1, 2]) : t.clone();
}

/** Compares one output (full values or a summary) with its reference. */
async function compareOutput(
  tally: Tally,
  section: string,
  key: string,
  ref: Entry,
  t: tf.Tensor | undefined,
  fx: KdFixture,
): Promise<void> {
  if (t === undefined) {
    tally.add(`${section}/missing`, 1, key, 0);
    return;
  }
  const torch = toTorchLayout(t);
  try {
    if ("values" in ref) {
      const err = valuesOverMax(await torch.data(), flat(ref.values));
      tally.add(`${section}/values_over_max`, err, key, tol(fx, `${section}/values_over_max`));
    } else {
      await compareSummaries(
        tally,
        section,
        { [key]: ref },
        new Map([[key, torch]]),
        (m) => tol(fx, `${section}/${m}`),
      );
    }
  } finally {
    torch.dispose();
  }
}

/**
 * Runs the checks of one KD fixture; one line per quantity, like {@link checkFixture}.
 *
 * @example
 * ```ts
 * const fx = JSON.parse(await Deno.readTextFile("test/fixtures/kd/resnet32x4_resnet8x4_kd_b4.json"));
 * const report = await checkKdFixture(fx, { log: (l) => console.log(formatLine(l)) });
 * ```
 */
export async function checkKdFixture(
  fx: KdFixture,
  opts: ParityOptions = {},
): Promise<ParityReport> {
  const sections = new Set(opts.sections ?? ["parameters", "counts", "eval", "train"]);
  const tally = new Tally(opts.log);
  const pair = fx.teacher && fx.student
    ? `${fx.teacher} → ${fx.student}`
    : fx.student ?? fx.teacher;
  const name = `${pair} ${fx.method} b${fx.batch}${fx.salt ? ` salt ${fx.salt}` : ""}`;
  const built = buildKdFixtureModel(fx);
  const { distiller, teacher } = built;
  const x = fixtureInput(fx.batch, fx.salt);
  const y = tf.tensor1d(fx.labels, "int32");
  // A method that adapts the teacher (ATSC) trains its own copy, registered as `teacher`.
  const ownTeacher = [...distiller.module.namedChildren()].some(([n]) => n === "teacher");
  const separateTeacher = teacher && !ownTeacher ? [["teacher.", teacher] as [string, Module]] : [];
  const allState = () =>
    stateOf(
      [["", distiller.module], ...separateTeacher],
      (n) => (n.startsWith("teacher.") && teacher ? n : built.officialName(n)),
    );
  try {
    if (sections.has("parameters")) {
      const sd = allState();
      const ptol = opts.parameterTolerance ?? 1e-6;
      await compareState(tally, "parameters", fx.parameters, sd, () => ptol, fx);
      tf.dispose([...sd.values()]);
      tally.flush();
    }
    if (sections.has("counts")) checkCounts(fx, built, tally);
    if (sections.has("eval")) await checkEval(fx, built, x, y, tally);
    if (sections.has("train")) {
      await checkTrain(fx, built, x, y, tally, allState, opts.steps ?? fx.train_steps.length);
    }
  } finally {
    distiller.dispose();
    tf.dispose([x, y]);
  }
  return { name, lines: tally.lines, ok: tally.lines.every((l) => l.ok) };
}

function checkCounts(fx: KdFixture, built: KdFixtureModel, tally: Tally): void {
  const { distiller, teacher, student } = built;
  const trainable = distiller.module.trainableParameters();
  const size = (ps: NamedTensor[]) => ps.reduce((n, p) => n + p.variable.size, 0);
  const counts: Record<string, number> = {
    student: student.parameterCount(),
    model: student.parameterCount(),
    trainable_total: size(trainable),
    module_trainable: size(
      trainable.filter((p) => !p.name.startsWith("student.") && !p.name.startsWith("teacher.")),
    ),
    deployed_student_projector_teacher_classifier: distiller.deployed().module.parameterCount() -
      student.classifier.parameterCount(),
  };
  if (teacher) counts.teacher = teacher.parameterCount();
  for (const [k, want] of Object.entries(fx.parameter_count)) {
    tally.add("parameter_count", Math.abs((counts[k] ?? NaN) - want), k, 0);
  }
  const ours = trainable.map((p) => built.officialName(p.name));
  const same = ours.length === fx.optimizer_params.length &&
    ours.every((n, i) => n === fx.optimizer_params[i]);
  tally.add("optimizer_params", same ? 0 : 1, same ? "all" : `ours: ${ours.slice(0, 3)}…`, 0);
  tally.flush();
}

async function checkEval(
  fx: KdFixture,
  built: KdFixtureModel,
  x: tf.Tensor,
  y: tf.Tensor1D,
  tally: Tally,
): Promise<void> {
  const { distiller, teacher, student } = built;
  distiller.train(false);
  // The fixture's teacher in inference mode too (a method that adapts a copy leaves it as given).
  teacher?.train(false);
  const roles: [string, Network | undefined][] = [
    ["teacher", teacher],
    ["student", student],
    ["model", student],
  ];
  for (const [role, net] of roles) {
    const ref = fx.eval[role] as
      | { logits: FullValues; feats: Record<string, Entry>; ce: number }
      | undefined;
    if (ref === undefined || net === undefined) continue;
    const f = tf.tidy(() =>
      net.features(x) as unknown as tf.TensorContainer
    ) as unknown as Features;
    await compareOutput(tally, "eval", `${role}.logits`, ref.logits, f.logits, fx);
    const maps = [...f.maps, f.pooled];
    for (const [k, r] of Object.entries(ref.feats)) {
      await compareOutput(tally, "eval", `${role}.feats.${k}`, r, maps[Number(k.slice(1))], fx);
    }
    const ce = crossEntropy(f.logits, y);
    tally.add(
      "eval/scalar_rel",
      scalarRel((await ce.data())[0], ref.ce),
      `${role}.ce`,
      tol(fx, "eval/scalar_rel"),
    );
    tf.dispose([ce, f as unknown as tf.TensorContainer]);
  }
  for (const [key, ref] of Object.entries(fx.eval)) {
    if (!key.endsWith("_head")) continue;
    const head = tf.tidy(() => distiller.predict(x)[distiller.deployedHead]);
    await compareOutput(
      tally,
      "eval",
      `${key}.logits`,
      (ref as { logits: FullValues }).logits,
      head,
      fx,
    );
    head.dispose();
  }
  distiller.train(true);
  tally.flush();
}

async function checkTrain(
  fx: KdFixture,
  built: KdFixtureModel,
  x: tf.Tensor4D,
  y: tf.Tensor1D,
  tally: Tally,
  allState: () => Map<string, tf.Tensor>,
  steps: number,
): Promise<void> {
  const { distiller } = built;
  const params = distiller.module.trainableParameters();
  const byName = new Map(params.map((p) => [p.name, p]));
  const batchInputs = fixtureBatchInputs(fx);
  const hyper = fx.hyper as Record<string, number | boolean>;
  const settings = {
    lr: hyper.lr as number,
    momentum: hyper.momentum as number,
    weightDecay: hyper.weight_decay as number,
    nesterov: hyper.nesterov as boolean,
    dampening: (hyper.dampening as number | undefined) ?? 0,
  };
  const sgd = new SGD(params, settings);
  // ATSC's second optimizer (the teacher's classifier bias), with its own momentum.
  const second = distiller.secondStep;
  const sgdLast = second ? new SGD(second.parameters(), settings) : undefined;
  try {
    for (let k = 0; k < Math.min(steps, fx.train_steps.length); k++) {
      const ref = fx.train_steps[k];
      const p = `train_steps[${k}]`;
      distiller.train(true);
      const batch = { x, y, ...batchInputs };
      const step = forwardBackward(distiller, batch);
      let last: ForwardBackward | undefined;
      try {
        // The trainer's order: main step, then the second pass on the updated weights.
        sgd.step(step.grads);
        if (sgdLast !== undefined) last = secondForwardBackward(distiller, batch);
      } catch (e) {
        step.dispose();
        throw e;
      }
      const outputs = { ...step.outputs, ...last?.outputs };
      const terms = { ...step.terms, ...last?.terms };
      try {
        for (const [key, r] of Object.entries(ref.outputs)) {
          if ("values" in r || "sumsq" in r) {
            await compareOutput(tally, `${p}.outputs`, key, r as Entry, outputs[key], fx);
          } else {
            for (const [sub, rr] of Object.entries(r as Record<string, Entry | number>)) {
              if (typeof rr === "number") { // a named scalar (CRD's Z)
                const t = outputs[`${key}.${sub}`];
                const val = t ? (await t.data())[0] : NaN;
                tally.add(
                  `${p}.outputs/scalar_rel`,
                  scalarRel(val, rr),
                  `${key}.${sub}`,
                  tol(fx, `${p}.loss/scalar_rel`),
                );
                continue;
              }
              await compareOutput(
                tally,
                `${p}.outputs`,
                `${key}.${sub}`,
                rr,
                outputs[`${key}.${sub}`],
                fx,
              );
            }
          }
        }
        for (const [key, v] of flattenLoss(ref.loss)) {
          const t = key === "total" ? step.total : terms[key];
          // A method without a term of its own (kd: the toolbox logs its "kd" term as 0) has none.
          const val = t ? (await t.data())[0] : v === 0 ? 0 : NaN;
          tally.add(
            `${p}.loss/scalar_rel`,
            scalarRel(val, v),
            `loss.${key}`,
            tol(fx, `${p}.loss/scalar_rel`),
          );
        }
        await checkGrads(
          fx,
          built,
          `${p}.grad`,
          ref.grad,
          ref.grad_none,
          step.grads,
          byName,
          tally,
        );
        if (last !== undefined && sgdLast !== undefined) {
          const refLast = ref.grad_last ?? {};
          await checkGrads(fx, built, `${p}.grad_last`, refLast, [], last.grads, byName, tally);
          sgdLast.step(last.grads);
        }
      } finally {
        step.dispose();
        last?.dispose();
      }
      const sd = allState();
      await compareState(
        tally,
        `${p}.after_step`,
        ref.after_step,
        sd,
        (m) => tol(fx, `${p}.after_step/${m}`),
        fx,
      );
      tf.dispose([...sd.values()]);
      tally.flush();
    }
  } finally {
    sgd.dispose();
    sgdLast?.dispose();
    tf.dispose(Object.values(batchInputs));
  }
}

/** The batch's sample indices and contrast indices, where the fixture fixes them (CRD). */
function fixtureBatchInputs(fx: KdFixture): Partial<TensorBatch> {
  const inputs = fx.inputs ?? {};
  const out: Partial<TensorBatch> = {};
  if (inputs.index !== undefined) out.index = tf.tensor1d(inputs.index, "int32");
  if (inputs.contrast_idx !== undefined) {
    const { shape, values } = inputs.contrast_idx;
    out.contrastIndex = tf.tensor2d(values, shape as [number, number], "int32");
  }
  return out;
}

async function checkGrads(
  fx: KdFixture,
  built: KdFixtureModel,
  section: string,
  ref: Record<string, GradientSummary>,
  none: string[] | undefined,
  gradByName: Map<string, tf.Tensor>,
  byName: Map<string, NamedTensor>,
  tally: Tally,
): Promise<void> {
  // Gradients in PyTorch layout under official names; the (near-)zero ones against the largest RMS.
  const torchGrads = new Map<string, tf.Tensor>();
  for (const [n, g] of gradByName) {
    const nt = byName.get(n) as NamedTensor;
    torchGrads.set(built.officialName(n), tf.tidy(() => nt.toTorch(g)));
  }
  await compareGradients(tally, section, ref, torchGrads, (m) => tol(fx, `${section}/${m}`), none);
  tf.dispose([...torchGrads.values()]);
}
