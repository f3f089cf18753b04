/**
 * The parity checker: rebuilds a fixture's network with the fixture's weights and input, and compares
 * parameter summaries, parameter counts, inference outputs and loss terms, and training steps
 * (outputs, loss terms, gradients, state after the SGD step) within the fixture's tolerances.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Level } from "../models/backbone.ts";
import type { Teskd, TeskdOutput } from "../models/teskd.ts";
import { createTeskd } from "../models/zoo.ts";
import { teskdLoss, type TeskdLossOptions } from "../losses/teskd.ts";
import type { NamedTensor } from "../nn/module.ts";
import { SGD } from "../train/sgd.ts";
import { type Fixture, OUTPUT_KEYS, type TensorSummary } from "./fixture.ts";
import { fixtureInput, loadFixtureWeights } from "./generate.ts";
import { flat, rms, scalarRel, summaryErrors, valuesOverMax } from "./metrics.ts";

/** The parts of a fixture that can be checked. */
export type Section = "parameters" | "counts" | "eval" | "train";

/** All sections, in the order they run. */
export const SECTIONS: readonly Section[] = ["parameters", "counts", "eval", "train"];

/** The worst error of one checked quantity. */
export interface CheckLine {
  /** "section/metric", e.g. "train_steps[0].grad/sumsq_rel" (the fixture's tolerance key). */
  quantity: string;
  /** Largest error over every entry checked under this quantity. */
  worst: number;
  /** Where the worst error occurred (tensor or output name). */
  where: string;
  /** The allowed error. */
  tolerance: number;
  /** worst ≤ tolerance. */
  ok: boolean;
  /** Number of entries compared. */
  count: number;
}

/** Options of {@link checkFixture}. */
export interface ParityOptions {
  /** Sections to run. Default all. */
  sections?: readonly Section[];
  /** Training steps to check (≤ the fixture's). Default all of them. */
  steps?: number;
  /** Called with each line as soon as it is known. */
  log?: (line: CheckLine) => void;
  /** Tolerance of the initial-parameter summaries (exact up to float32 rounding). Default 1e-6. */
  parameterTolerance?: number;
}

/** The result of a fixture check. */
export interface ParityReport {
  /** Case, e.g. "cifarresnet18 c100 b4". */
  name: string;
  /** One line per checked quantity. */
  lines: CheckLine[];
  /** Every line within tolerance. */
  ok: boolean;
}

/** Formats a line: status, quantity, worst error (where), tolerance. */
export function formatLine(l: CheckLine): string {
  const e = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
  return `${l.ok ? "ok  " : "FAIL"} ${l.quantity.padEnd(44)} worst ${e(l.worst).padStart(9)}  tol ${
    e(l.tolerance).padStart(9)
  }  n=${String(l.count).padStart(3)}  at ${l.where}`;
}

/** Collects the worst error per quantity. */
class Tally {
  readonly lines: CheckLine[] = [];
  readonly #open = new Map<string, CheckLine>();
  constructor(readonly log?: (l: CheckLine) => void) {}

  add(quantity: string, error: number, where: string, tolerance: number): void {
    let l = this.#open.get(quantity);
    if (l === undefined) {
      l = { quantity, worst: -Infinity, where, tolerance, ok: true, count: 0 };
      this.#open.set(quantity, l);
    }
    l.count++;
    const e = Number.isNaN(error) ? Infinity : error;
    if (e > l.worst) {
      l.worst = e;
      l.where = where;
    }
    l.ok = l.worst <= l.tolerance;
  }

  /** Closes every open quantity (in insertion order) and logs it. */
  flush(): void {
    for (const l of this.#open.values()) {
      this.lines.push(l);
      this.log?.(l);
    }
    this.#open.clear();
  }
}

/** The fixture's tolerance for a key; a missing key is an error (never a silent pass). */
function tol(fx: Fixture, key: string): number {
  const t = fx.tolerance[key];
  if (typeof t !== "number") throw new Error(`fixture has no tolerance "${key}"`);
  return t;
}

/** The eight outputs in the fixtures' naming. */
function outputsByKey(out: TeskdOutput): Map<string, tf.Tensor> {
  const m = new Map<string, tf.Tensor>();
  m.set("logits_teacher", out.teacher.logits);
  m.set("feature_teacher", out.teacher.feature);
  for (const l of ["8x8", "16x16", "32x32"] as Level[]) {
    const s = out.students[l];
    if (s) {
      m.set(`logits_student_${l}`, s.logits);
      m.set(`feature_student_${l}`, s.feature);
    }
  }
  return m;
}

/** The loss options of a fixture's hyper-parameters. */
export function fixtureLossOptions(fx: Fixture): TeskdLossOptions {
  return {
    temperature: fx.hyper.temperature,
    ceWeight: fx.hyper.ce_weight,
    kdWeight: fx.hyper.kd_weight,
    feaWeight: fx.hyper.fea_weight,
  };
}

/** Compares summaries of state tensors (PyTorch layout) with reference summaries. */
async function compareSummaries(
  tally: Tally,
  prefix: string,
  refs: Record<string, TensorSummary>,
  tensors: Map<string, tf.Tensor>,
  tolerance: (metric: string) => number,
): Promise<void> {
  const seen = new Set<string>();
  for (const [name, ref] of Object.entries(refs)) {
    const t = tensors.get(name);
    if (t === undefined) {
      tally.add(`${prefix}/missing`, 1, name, 0);
      continue;
    }
    seen.add(name);
    const shapeOk = t.shape.length === ref.shape.length &&
      t.shape.every((d, i) => d === ref.shape[i]);
    tally.add(`${prefix}/shape`, shapeOk ? 0 : 1, name, 0);
    if (!shapeOk) continue;
    const errs = summaryErrors(await t.data(), ref);
    for (const [metric, e] of Object.entries(errs)) {
      tally.add(`${prefix}/${metric}`, e, name, tolerance(metric));
    }
  }
  for (const name of tensors.keys()) {
    if (!seen.has(name) && !name.endsWith("num_batches_tracked")) {
      tally.add(`${prefix}/unexpected`, 1, name, 0);
    }
  }
}

/** Builds the fixture's network with the fixture's weights. */
export function buildFixtureModel(fx: Fixture): Teskd {
  const net = createTeskd(fx.network, { numClasses: fx.num_classes });
  loadFixtureWeights(net, fx.salt);
  return net;
}

/**
 * Runs the checks of one fixture and reports the worst error per quantity.
 *
 * @example
 * ```ts
 * const report = await checkFixture(await loadFixture("cifarresnet18_c100_b4.json"), {
 *   sections: ["parameters", "counts", "eval"],
 *   log: (l) => console.log(formatLine(l)),
 * });
 * if (!report.ok) Deno.exit(1);
 * ```
 */
export async function checkFixture(fx: Fixture, opts: ParityOptions = {}): Promise<ParityReport> {
  const sections = new Set(opts.sections ?? SECTIONS);
  const tally = new Tally(opts.log);
  const name = `${fx.network} c${fx.num_classes} b${fx.batch}${fx.salt ? ` salt ${fx.salt}` : ""}`;
  const net = buildFixtureModel(fx);
  const x = fixtureInput(fx.batch, fx.salt);
  const labels = tf.tensor1d(fx.labels, "int32");
  const lossOpts = fixtureLossOptions(fx);
  try {
    if (sections.has("parameters")) {
      const sd = net.stateDict();
      const ptol = opts.parameterTolerance ?? 1e-6;
      await compareSummaries(tally, "parameters", fx.parameters, sd, () => ptol);
      tf.dispose([...sd.values()]);
      tally.flush();
    }
    if (sections.has("counts")) {
      tally.add("parameter_count", Math.abs(net.parameterCount() - fx.parameter_count), "all", 0);
      tally.add(
        "teacher_parameter_count",
        Math.abs(net.teacher.parameterCount() - fx.teacher_parameter_count),
        "teacher",
        0,
      );
      tally.flush();
    }
    if (sections.has("eval")) {
      net.eval();
      const kept = tf.tidy(() => {
        const out = net.forward(x);
        const loss = teskdLoss(out, labels, lossOpts);
        return {
          outs: Object.fromEntries(outputsByKey(out)),
          total: loss.total,
          terms: loss.terms,
        };
      });
      for (const key of OUTPUT_KEYS) {
        const t = kept.outs[key];
        const err = t ? valuesOverMax(await t.data(), flat(fx.eval[key].values)) : Infinity;
        tally.add("eval/values_over_max", err, key, tol(fx, "eval/values_over_max"));
      }
      for (const [k, ref] of Object.entries(fx.eval.loss)) {
        const t = k === "total" ? kept.total : kept.terms[k];
        const v = t ? (await t.data())[0] : NaN;
        tally.add("eval/scalar_rel", scalarRel(v, ref), `loss.${k}`, tol(fx, "eval/scalar_rel"));
      }
      tf.dispose(kept as unknown as tf.TensorContainer);
      tally.flush();
    }
    if (sections.has("train")) {
      await checkTrainSteps(
        fx,
        net,
        x,
        labels,
        lossOpts,
        tally,
        opts.steps ?? fx.train_steps.length,
      );
    }
  } finally {
    net.dispose();
    tf.dispose([x, labels]);
  }
  return { name, lines: tally.lines, ok: tally.lines.every((l) => l.ok) };
}

/** Result of one training step's forward/backward. */
interface StepResult {
  outputs: Map<string, tf.Tensor>;
  terms: Record<string, tf.Scalar>;
  total: tf.Scalar;
  grads: Map<string, tf.Tensor>;
}

/** Forward + backward in training mode; gradients keyed by official name (tfjs layout). */
export function trainForwardBackward(
  net: Teskd,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  lossOpts: TeskdLossOptions,
): StepResult {
  net.train();
  const params = net.namedParameters();
  let outputs = new Map<string, tf.Tensor>();
  let terms: Record<string, tf.Scalar> = {};
  const { value, grads } = tf.variableGrads(() => {
    const out = net.forward(x);
    const loss = teskdLoss(out, labels, lossOpts);
    outputs = new Map([...outputsByKey(out)].map(([k, t]) => [k, tf.keep(t)]));
    terms = Object.fromEntries(Object.entries(loss.terms).map(([k, t]) => [k, tf.keep(t)]));
    return loss.total;
  }, params.map((p) => p.variable));
  const byName = new Map<string, tf.Tensor>();
  for (const p of params) {
    const g = grads[p.variable.name];
    if (g === undefined) throw new Error(`no gradient for ${p.name}`);
    byName.set(p.name, g);
  }
  return { outputs, terms, total: value, grads: byName };
}

async function checkTrainSteps(
  fx: Fixture,
  net: Teskd,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  lossOpts: TeskdLossOptions,
  tally: Tally,
  steps: number,
): Promise<void> {
  const params = net.namedParameters();
  const byName = new Map<string, NamedTensor>(params.map((p) => [p.name, p]));
  const sgd = new SGD(params, {
    lr: fx.hyper.lr,
    momentum: fx.hyper.momentum,
    weightDecay: fx.hyper.weight_decay,
    nesterov: true,
  });
  try {
    for (let k = 0; k < Math.min(steps, fx.train_steps.length); k++) {
      const ref = fx.train_steps[k];
      const p = `train_steps[${k}]`;
      const r = trainForwardBackward(net, x, labels, lossOpts);
      try {
        for (const [key, refOut] of Object.entries(ref.outputs)) {
          const t = r.outputs.get(key);
          const err = t ? valuesOverMax(await t.data(), flat(refOut.values)) : Infinity;
          tally.add(
            `${p}.outputs/values_over_max`,
            err,
            key,
            tol(fx, `${p}.outputs/values_over_max`),
          );
        }
        for (const [key, v] of Object.entries(ref.loss)) {
          const t = key === "total" ? r.total : r.terms[key];
          const val = t ? (await t.data())[0] : NaN;
          tally.add(
            `${p}.loss/scalar_rel`,
            scalarRel(val, v),
            `loss.${key}`,
            tol(fx, `${p}.loss/scalar_rel`),
          );
        }
        // Gradients in PyTorch layout; the expected-zero ones are judged against the largest RMS.
        const torchGrads = new Map<string, tf.Tensor>();
        for (const [n, g] of r.grads) {
          const nt = byName.get(n) as NamedTensor;
          torchGrads.set(n, tf.tidy(() => nt.toTorch(g)));
        }
        const zeroRefs: Record<string, TensorSummary> = {};
        const otherRefs: Record<string, TensorSummary> = {};
        for (const [n, s] of Object.entries(ref.grad)) {
          (s.expected_zero ? zeroRefs : otherRefs)[n] = s;
        }
        await compareSummaries(
          tally,
          `${p}.grad`,
          otherRefs,
          new Map([...torchGrads].filter(([n]) => !(n in zeroRefs))),
          (m) => tol(fx, `${p}.grad/${m}`),
        );
        const rmsBy = new Map<string, number>();
        for (const [n, g] of torchGrads) rmsBy.set(n, rms(await g.data()));
        const maxRms = Math.max(...rmsBy.values());
        for (const n of Object.keys(zeroRefs)) {
          tally.add(
            `${p}.grad/expected_zero_rms_over_max`,
            (rmsBy.get(n) ?? Infinity) / maxRms,
            n,
            1e-6,
          );
        }
        tf.dispose([...torchGrads.values()]);
        sgd.step(r.grads);
      } finally {
        tf.dispose([
          ...r.outputs.values(),
          ...Object.values(r.terms),
          r.total,
          ...r.grads.values(),
        ]);
      }
      const sd = net.stateDict();
      await compareSummaries(
        tally,
        `${p}.after_step`,
        ref.after_step,
        sd,
        (m) => tol(fx, `${p}.after_step/${m}`),
      );
      tf.dispose([...sd.values()]);
      tally.flush();
    }
  } finally {
    sgd.dispose();
  }
}
