/**
 * The fixtures' comparison metrics (README "Tolerances"), on plain numbers.
 *
 * @module
 */
import type { TensorSummary } from "./fixture.ts";

/** Flattens nested number arrays. */
export function flat(v: number[] | number[][]): number[] {
  return (v as (number | number[])[]).flat() as number[];
}

/** max |a − ref| / max |ref|. */
export function valuesOverMax(actual: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (actual.length !== ref.length) return Infinity;
  let d = 0;
  let m = 0;
  for (let i = 0; i < ref.length; i++) {
    d = Math.max(d, Math.abs(actual[i] - ref[i]));
    m = Math.max(m, Math.abs(ref[i]));
  }
  return m === 0 ? d : d / m;
}

/** |a − ref| / |ref| (absolute difference when ref is 0). */
export function scalarRel(actual: number, ref: number): number {
  const d = Math.abs(actual - ref);
  return ref === 0 ? d : d / Math.abs(ref);
}

/** The same summary computed from values (float64 sums) in PyTorch layout. */
export function summarize(values: ArrayLike<number>, sampleIndex: readonly number[]): {
  sum: number;
  sumsq: number;
  sample: number[];
} {
  let sum = 0;
  let sumsq = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    sumsq += values[i] * values[i];
  }
  return { sum, sumsq, sample: sampleIndex.map((i) => values[i]) };
}

/** The three summary metrics of `values` against a reference summary. */
export function summaryErrors(values: ArrayLike<number>, ref: TensorSummary): {
  sumsq_rel: number;
  sum_over_sqrt_n_sumsq: number;
  sample_over_rms: number;
} {
  const s = summarize(values, ref.sample_index);
  const n = values.length;
  const rms = Math.sqrt(ref.sumsq / n);
  const scale = Math.sqrt(ref.sumsq * n);
  let sampleDiff = 0;
  ref.sample.forEach((r, k) => (sampleDiff = Math.max(sampleDiff, Math.abs(s.sample[k] - r))));
  return {
    sumsq_rel: ref.sumsq === 0 ? s.sumsq : Math.abs(s.sumsq - ref.sumsq) / ref.sumsq,
    sum_over_sqrt_n_sumsq: scale === 0
      ? Math.abs(s.sum - ref.sum)
      : Math.abs(s.sum - ref.sum) / scale,
    sample_over_rms: rms === 0 ? sampleDiff : sampleDiff / rms,
  };
}

/** Root mean square. */
export function rms(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i] * values[i];
  return values.length === 0 ? 0 : Math.sqrt(s / values.length);
}
