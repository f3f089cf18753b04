/**
 * Counter-based randomness: every random number is a pure function of (seed, epoch, index, draw),
 * so results do not depend on which worker computes a sample or in which order.
 *
 * @module
 */

/** Final avalanche of MurmurHash3: spreads every input bit over the whole 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Hashes four 32-bit integers into one uniformly distributed unsigned 32-bit integer.
 *
 * @example
 * ```ts
 * const h = hash4(42, 0, 17, 3); // same inputs, same output, on any thread
 * ```
 */
export function hash4(a: number, b: number, c: number, d: number): number {
  // Chained rounds, each keyed by a different odd constant, so permuted inputs give different hashes.
  let h = fmix32((a ^ 0x9e3779b9) >>> 0);
  h = fmix32((h ^ Math.imul(b >>> 0, 0x85ebca77) ^ 0x27d4eb2f) >>> 0);
  h = fmix32((h ^ Math.imul(c >>> 0, 0xc2b2ae3d) ^ 0x165667b1) >>> 0);
  h = fmix32((h ^ Math.imul(d >>> 0, 0x27d4eb2f) ^ 0x61c88647) >>> 0);
  return h;
}

/**
 * A uniform float in [0, 1) from (seed, epoch, index, draw), using 53 random bits.
 *
 * @example
 * ```ts
 * const u = uniform(1, 0, 5, 0); // 0 <= u < 1
 * ```
 */
export function uniform(seed: number, epoch: number, index: number, draw: number): number {
  const hi = hash4(seed, epoch, index, draw * 2) >>> 5; // 27 bits
  const lo = hash4(seed, epoch, index, draw * 2 + 1) >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/**
 * A stateful view of the counter-based generator for one (seed, epoch, index): successive calls take
 * successive draws. Cheap to create, one per sample.
 *
 * @example
 * ```ts
 * const r = new SampleRandom(1, 0, 5);
 * const flip = r.next() < 0.5;
 * const offset = r.int(9); // 0..8
 * ```
 */
export class SampleRandom {
  #draw = 0;
  /** Creates the generator for one sample. */
  constructor(readonly seed: number, readonly epoch: number, readonly index: number) {}
  /** Next uniform float in [0, 1). */
  next(): number {
    return uniform(this.seed, this.epoch, this.index, this.#draw++);
  }
  /** Next integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Next float in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
}

/**
 * A stream of uniform floats in [0, 1) from one 32-bit seed (mulberry32, 32 random bits a draw):
 * for keys that need many draws each (CRD's 16,384 negatives per sample), where hashing every
 * draw would cost most of the time. Seed it with {@link hash4} of the key.
 *
 * @example
 * ```ts
 * const next = streamRandom(hash4(seed, step, sample, 0));
 * const j = Math.floor(next() * n); // 0..n-1
 * ```
 */
export function streamRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Stream id for shuffles, far from the sample indices that per-sample draws use. */
const SHUFFLE_STREAM = 0x5f3759df;

/**
 * The permutation of `0..n-1` used for epoch `epoch`: a Fisher–Yates shuffle whose swaps come from
 * the counter-based hash, so it is the same on every thread.
 *
 * @example
 * ```ts
 * const order = permutation(10, 7, 0); // Int32Array of 0..9 in a seeded order
 * ```
 */
export function permutation(n: number, seed: number, epoch: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(uniform(seed, epoch, SHUFFLE_STREAM, i) * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}
