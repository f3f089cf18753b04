/**
 * Per-class counts as plain rows, ready for a table library.
 *
 * @module
 */

/** One row of {@linkcode classCounts}. */
export interface ClassCount {
  /** Label index. */
  label: number;
  /** Label name ("" when unknown). */
  name: string;
  /** Number of samples with this label. */
  count: number;
  /** count / total. */
  fraction: number;
}

/**
 * Counts samples per class.
 *
 * @example
 * ```ts
 * const rows = classCounts(set.labels, set.numClasses, set.labelNames);
 * // [{ label: 0, name: "airplane", count: 5000, fraction: 0.1 }, ...]
 * ```
 */
export function classCounts(
  labels: ArrayLike<number>,
  numClasses: number,
  names: readonly string[] = [],
): ClassCount[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!(l >= 0 && l < numClasses)) {
      throw new Error(`classCounts: label ${l} at ${i} outside 0..${numClasses - 1}`);
    }
    counts[l]++;
  }
  return counts.map((count, label) => ({
    label,
    name: names[label] ?? "",
    count,
    fraction: labels.length ? count / labels.length : 0,
  }));
}
