/**
 * CRD's contrast indices, drawn as the official CIFAR-100 loader draws them (`exact` mode): for each
 * sample, column 0 is its own index (the positive) and columns 1…K are indices of samples of other
 * classes, uniformly without replacement (with replacement only when K exceeds the number of
 * other-class samples, as the official loader does). The draws are a pure function of (seed, step,
 * sample index), so a resumed run draws exactly what an uninterrupted one does.
 *
 * @module
 */
import { SampleRandom } from "../data/rng.ts";

/** Draws the `[N, K + 1]` contrast indices of batches of one training set. */
export class ContrastSampler {
  /** Sample indices of each class's complement, by class. */
  readonly #others: Int32Array[];
  readonly #labels: Int32Array;
  readonly #scratch: Int32Array;

  /**
   * @param labels the training set's labels, by sample index
   * @param k negatives per sample
   * @param seed the stream of the draws
   */
  constructor(labels: Int32Array, readonly k: number, readonly seed: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`ContrastSampler: K must be ≥ 1, got ${k}`);
    this.#labels = labels;
    const classes = labels.reduce((m, c) => Math.max(m, c), -1) + 1;
    const counts = new Int32Array(classes);
    for (const c of labels) counts[c]++;
    this.#others = Array.from({ length: classes }, (_, c) => {
      const out = new Int32Array(labels.length - counts[c]);
      let j = 0;
      for (let i = 0; i < labels.length; i++) if (labels[i] !== c) out[j++] = i;
      return out;
    });
    this.#scratch = new Int32Array(labels.length);
  }

  /** Number of samples the indices range over. */
  get size(): number {
    return this.#labels.length;
  }

  /**
   * The contrast indices of a batch, row-major `[index.length, K + 1]`.
   *
   * @param index the batch's sample indices
   * @param step the global training step (part of the draws' key)
   */
  draw(index: Int32Array, step: number): Int32Array {
    const k = this.k;
    const out = new Int32Array(index.length * (k + 1));
    index.forEach((sample, b) => {
      if (!(sample >= 0 && sample < this.#labels.length)) {
        throw new Error(`ContrastSampler: sample index ${sample} outside 0…${this.size - 1}`);
      }
      const row = out.subarray(b * (k + 1), (b + 1) * (k + 1));
      row[0] = sample;
      const others = this.#others[this.#labels[sample]];
      if (others.length === 0) {
        throw new Error("ContrastSampler: every sample has the same class; there are no negatives");
      }
      const rng = new SampleRandom(this.seed, step, sample);
      if (k > others.length) {
        for (let j = 1; j <= k; j++) row[j] = others[rng.int(others.length)];
        return;
      }
      // A partial Fisher–Yates shuffle: the first K positions of a uniform permutation.
      const pool = this.#scratch.subarray(0, others.length);
      pool.set(others);
      for (let j = 0; j < k; j++) {
        const r = j + rng.int(pool.length - j);
        const v = pool[r];
        pool[r] = pool[j];
        pool[j] = v;
        row[j + 1] = v;
      }
    });
    return out;
  }
}
