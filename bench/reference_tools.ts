/**
 * What the benchmarks share: the median they report, and the Python that runs the PyTorch
 * references.
 *
 * @module
 */

/** The median (the mean of the two middle values for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * The Python of the PyTorch references: `TESKD_PYTHON` (on a GPU machine, the one that holds its
 * CUDA PyTorch), else Debian's `/usr/bin/python3` (the first python3 on PATH may lack torch).
 */
export function referencePython(): string {
  return Deno.env.get("TESKD_PYTHON") || "/usr/bin/python3";
}
