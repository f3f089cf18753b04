/**
 * The parity checker: rebuilds a fixture's network with the fixture's weights and input, and compares
 * parameter summaries, parameter counts, inference outputs and loss terms, and training steps
 * (outputs, loss terms, gradients, state after the SGD step) within the fixture's tolerances.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { resolveMethodConfig } from "../distill/registry.ts";
import { forwardBackward } from "../distill/step.ts";
import { teskd, type TeskdConfig, TeskdDistiller } from "../distill/teskd.ts";
import type { Teskd } from "../models/teskd.ts";
import { createTeacher } from "../models/zoo.ts";
import type { NamedTensor } from "../nn/module.ts";
import { SGD } from "../train/sgd.ts";
import { type Fixture, OUTPUT_KEYS } from "./fixture.ts";
import { fixtureInput, loadFixtureWeights } from "./generate.ts";
import { flat, scalarRel, valuesOverMax } from "./metrics.ts";
import { type CheckLine, compareGradients, compareSummaries, Tally, tol } from "./tally.ts";

export { type CheckLine, formatLine } from "./tally.ts";

/** The parts of a fixture that can be checked. */
export type Section = "parameters" | "counts" | "eval" | "train";

/** All sections, in the order they run. */
export const SECTIONS: readonly Section[] = ["parameters", "counts", "eval", "train"];

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

/** The TESKD method config of a fixture's hyper-parameters. */
export function fixtureTeskdConfig(fx: Fixture): TeskdConfig {
  return resolveMethodConfig({
    name: "teskd",
    temperature: fx.hyper.temperature,
    ce: fx.hyper.ce_weight,
    kd: fx.hyper.kd_weight,
    fea: fx.hyper.fea_weight,
  }, `fixture ${fx.network}`) as TeskdConfig;
}

/** Builds the fixture's model through the `teskd` method, with the fixture's weights. */
export function buildFixtureModel(fx: Fixture): TeskdDistiller {
  const backbone = createTeacher(fx.network, { numClasses: fx.num_classes });
  const distiller = teskd.build(
    { student: backbone, inputSize: 32, seed: 1 },
    fixtureTeskdConfig(fx),
  );
  loadFixtureWeights(distiller.module, fx.salt);
  return distiller as TeskdDistiller;
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
  const distiller = buildFixtureModel(fx);
  const net = distiller.module;
  const x = fixtureInput(fx.batch, fx.salt);
  const labels = tf.tensor1d(fx.labels, "int32");
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
      distiller.train(false);
      const kept = tf.tidy(() => {
        const out = distiller.loss({ x, y: labels });
        return { outs: out.outputs ?? {}, total: out.total, terms: out.terms };
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
      await checkTrainSteps(fx, distiller, x, labels, tally, opts.steps ?? fx.train_steps.length);
    }
  } finally {
    distiller.dispose();
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

/**
 * Forward + backward in training mode through the `teskd` method (a TESKD model, or a distiller);
 * gradients keyed by official name (tfjs layout).
 */
export function trainForwardBackward(
  model: Teskd | TeskdDistiller,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  cfg: Partial<Omit<TeskdConfig, "name">> = {},
): StepResult {
  const distiller = model instanceof TeskdDistiller
    ? model
    : new TeskdDistiller(model, resolveMethodConfig({ name: "teskd", ...cfg }) as TeskdConfig);
  distiller.train(true);
  const step = forwardBackward(distiller, { x: x as tf.Tensor4D, y: labels });
  for (const p of distiller.module.trainableParameters()) {
    if (!step.grads.has(p.name)) {
      step.dispose();
      throw new Error(`no gradient for ${p.name}`);
    }
  }
  // TESKD's heads are among its outputs (the logits), so outputs, terms, total and grads are all.
  return {
    outputs: new Map(Object.entries(step.outputs ?? {})),
    terms: step.terms,
    total: step.total,
    grads: step.grads,
  };
}

async function checkTrainSteps(
  fx: Fixture,
  distiller: TeskdDistiller,
  x: tf.Tensor,
  labels: tf.Tensor1D,
  tally: Tally,
  steps: number,
): Promise<void> {
  const net = distiller.module;
  const params = net.trainableParameters();
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
      const r = trainForwardBackward(distiller, x, labels);
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
        await compareGradients(
          tally,
          `${p}.grad`,
          ref.grad,
          torchGrads,
          (m) => tol(fx, `${p}.grad/${m}`),
        );
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
