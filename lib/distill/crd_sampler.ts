/**
 * CRD's contrast indices, drawn as the official CIFAR-100 loader draws them: for each sample, column 0
 * is the positive (`exact` mode: the sample's own index; `relax`: a uniformly drawn sample of its
 * class) and columns 1…K are indices of samples of other classes, uniformly without replacement
 * (with replacement only when K exceeds the number of other-class samples, as the official loader's
 * `np.random.choice` does).
 *
 * The draws are a pure function of (seed, step, sample index): a resumed run, which restores the
 * global step, draws exactly what an uninterrupted one draws, and a sample's negatives do not depend
 * on which other samples share its batch. Everything is plain typed-array work (no tensors): a batch
 * of 64 × 16384 negatives takes a few tens of milliseconds.
 *
 * @module
 */
import { hash4, streamRandom } from "../data/rng.ts";

/** Stream id of CRD's draws, so they never coincide with the data augmentation's (seed, epoch, index) draws. */
const CRD_STREAM = 0x43524431; // "CRD1"

/**
 * Draws the `[B, K + 1]` contrast indices of the batches of one training set.
 *
 * @example
 * ```ts
 * const sampler = new ContrastSampler(trainLabels, 16384, seed);
 * const rows = sampler.draw(batchIndex, globalStep); // Int32Array, row-major [batch, 16385]
 * ```
 */
export class ContrastSampler {
  /** Negatives per sample. */
  readonly k: number;
  /** The seed the draws derive from. */
  readonly seed: number;
  /** How the positive is chosen. */
  readonly mode: "exact" | "relax";
  /** Sample indices of each class (built once). */
  readonly #members: Int32Array[];
  /** Sample indices of every class but one, by that class (built once). */
  readonly #others: Int32Array[];
  readonly #labels: Int32Array;
  /** Working copy of one class complement for the partial shuffle (reused across samples). */
  readonly #pool: Int32Array;
  readonly #streamSeed: number;

  /**
   * @param labels the training set's labels, by sample index (integers ≥ 0)
   * @param k negatives per sample
   * @param seed the seed of the draws (the method's seed)
   * @param mode the positive: the sample itself ("exact") or a random sample of its class ("relax")
   */
  constructor(labels: Int32Array, k: number, seed: number, mode: "exact" | "relax" = "exact") {
    if (!Number.isInteger(k) || k < 1) throw new Error(`ContrastSampler: K must be ≥ 1, got ${k}`);
    if (!Number.isFinite(seed)) {
      throw new Error(`ContrastSampler: seed must be finite, got ${seed}`);
    }
    this.k = k;
    this.seed = seed;
    this.mode = mode;
    this.#labels = labels;
    let classes = 0;
    for (const c of labels) {
      if (!(c >= 0)) throw new Error(`ContrastSampler: labels must be ≥ 0, got ${c}`);
      classes = Math.max(classes, c + 1);
    }
    const counts = new Int32Array(classes);
    for (const c of labels) counts[c]++;
    this.#members = Array.from({ length: classes }, (_, c) => {
      const out = new Int32Array(counts[c]);
      let j = 0;
      for (let i = 0; i < labels.length; i++) if (labels[i] === c) out[j++] = i;
      return out;
    });
    this.#others = Array.from({ length: classes }, (_, c) => {
      const out = new Int32Array(labels.length - counts[c]);
      let j = 0;
      for (let i = 0; i < labels.length; i++) if (labels[i] !== c) out[j++] = i;
      return out;
    });
    this.#pool = new Int32Array(labels.length);
    this.#streamSeed = hash4(Math.floor(seed) >>> 0, CRD_STREAM, 0, 0);
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
   * @throws Error for an index outside the training set, or a sample with no other-class sample
   */
  draw(index: Int32Array, step: number): Int32Array {
    if (!Number.isInteger(step) || step < 0) {
      throw new Error(`ContrastSampler: step must be an integer ≥ 0, got ${step}`);
    }
    const k = this.k;
    const out = new Int32Array(index.length * (k + 1));
    for (let b = 0; b < index.length; b++) {
      const sample = index[b];
      if (!(sample >= 0 && sample < this.#labels.length)) {
        throw new Error(`ContrastSampler: sample index ${sample} outside 0…${this.size - 1}`);
      }
      const others = this.#others[this.#labels[sample]];
      if (others.length === 0) {
        throw new Error(
          `ContrastSampler: sample ${sample} has no sample of another class to contrast with`,
        );
      }
      const row = out.subarray(b * (k + 1), (b + 1) * (k + 1));
      const next = streamRandom(hash4(this.#streamSeed, step, sample, 0));
      if (this.mode === "exact") row[0] = sample;
      else {
        const same = this.#members[this.#labels[sample]];
        row[0] = same[Math.floor(next() * same.length)];
      }
      if (k > others.length) {
        for (let j = 1; j <= k; j++) row[j] = others[Math.floor(next() * others.length)];
        continue;
      }
      // A partial Fisher–Yates shuffle: the first K entries of a uniform random permutation.
      const pool = this.#pool.subarray(0, others.length);
      pool.set(others);
      for (let j = 0; j < k; j++) {
        const r = j + Math.floor(next() * (pool.length - j));
        const v = pool[r];
        pool[r] = pool[j];
        pool[j] = v;
        row[j + 1] = v;
      }
    }
    return out;
  }
}
