/**
 * What every parity checker shares: one line per checked quantity with its worst error, the
 * fixtures' tolerance lookup, and the comparison of tensor summaries.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { TensorSummary } from "./fixture.ts";
import { rms, summaryErrors } from "./metrics.ts";

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

/** Formats a line: status, quantity, worst error (where), tolerance. */
export function formatLine(l: CheckLine): string {
  const e = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));
  return `${l.ok ? "ok  " : "FAIL"} ${l.quantity.padEnd(44)} worst ${e(l.worst).padStart(9)}  tol ${
    e(l.tolerance).padStart(9)
  }  n=${String(l.count).padStart(3)}  at ${l.where}`;
}

/** Collects the worst error per quantity. */
export class Tally {
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
export function tol(fx: { tolerance: Record<string, number> }, key: string): number {
  const t = fx.tolerance[key];
  if (typeof t !== "number") throw new Error(`fixture has no tolerance "${key}"`);
  return t;
}

/** Compares summaries of state tensors (PyTorch layout) with reference summaries. */
export async function compareSummaries(
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

/** A gradient's reference summary, with the fixtures' flags for (nearly) zero gradients. */
export type GradientSummary = TensorSummary & { below_float32_resolution?: boolean };

/**
 * Compares gradients (PyTorch layout, keyed like `refs`) with their reference summaries. Gradients
 * flagged zero (`expected_zero`, `below_float32_resolution`) are judged by their RMS against the
 * step's largest gradient RMS (at most 1e-6 of it); those listed in `none` must be absent.
 *
 * @param section the quantity's section, e.g. "train_steps[0].grad"
 */
export async function compareGradients(
  tally: Tally,
  section: string,
  refs: Record<string, GradientSummary>,
  grads: Map<string, tf.Tensor>,
  tolerance: (metric: string) => number,
  none: readonly string[] = [],
): Promise<void> {
  const zeroRefs: Record<string, TensorSummary> = {};
  const otherRefs: Record<string, TensorSummary> = {};
  for (const [n, s] of Object.entries(refs)) {
    (s.expected_zero || s.below_float32_resolution ? zeroRefs : otherRefs)[n] = s;
  }
  await compareSummaries(
    tally,
    section,
    otherRefs,
    new Map([...grads].filter(([n]) => !(n in zeroRefs) && !none.includes(n))),
    tolerance,
  );
  const rmsBy = new Map<string, number>();
  for (const [n, g] of grads) rmsBy.set(n, rms(await g.data()));
  const maxRms = Math.max(...rmsBy.values());
  for (const n of Object.keys(zeroRefs)) {
    tally.add(
      `${section}/expected_zero_rms_over_max`,
      (rmsBy.get(n) ?? Infinity) / maxRms,
      n,
      1e-6,
    );
  }
  for (const n of none) tally.add(`${section}/none`, grads.has(n) ? 1 : 0, n, 0);
}
