/**
 * Seeded initialisation: a small explicit random generator (no global hidden state) and PyTorch's
 * default initialisers (kaiming-uniform with a = √5, uniform bias bound 1/√fan_in) plus the
 * explicit ones used by the official VGG (kaiming-normal fan_out, N(0, 0.01)).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** 32-bit integer mixer (a murmur3-style finaliser); also used by the parity generator. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x = (x ^ (x >>> 16)) >>> 0;
  return x;
}

/**
 * A seeded random generator (counter-based: value i = mix32(seed ⊕ mix32(i))). Pass one to every
 * layer constructor so that a model is a pure function of its seed.
 *
 * @example
 * ```ts
 * const rng = new Generator(27);
 * rng.uniform(); // a float in (0, 1), the same for every run with seed 27
 * ```
 */
export class Generator {
  #state: number;
  #counter = 0;
  #spare: number | undefined;

  /** Creates a generator from an integer seed. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new Error(`Generator: seed must be a finite number, got ${seed}`);
    }
    this.#state = mix32((Math.floor(seed) >>> 0) ^ 0x9e3779b9);
  }

  /** A float in the open interval (0, 1). */
  uniform(): number {
    const x = mix32((this.#state ^ mix32(this.#counter++)) >>> 0);
    return (x + 0.5) / 4294967296;
  }

  /** A standard normal variate (Box–Muller). */
  normal(): number {
    if (this.#spare !== undefined) {
      const s = this.#spare;
      this.#spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const th = 2 * Math.PI * this.uniform();
    this.#spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** An independent child generator (so that adding a layer does not shift the others' streams). */
  fork(): Generator {
    return new Generator(mix32(this.#state ^ mix32(0x51ed270b + this.#counter++)));
  }
}

/** Fills a tensor of `shape` with U(-bound, bound). */
export function uniformTensor(shape: number[], bound: number, rng: Generator): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng.uniform() - 1) * bound;
  return tf.tensor(v, shape);
}

/** Fills a tensor of `shape` with N(0, std²). */
export function normalTensor(shape: number[], std: number, rng: Generator): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * std;
  return tf.tensor(v, shape);
}

/** How a weight is initialised: PyTorch's default, or the explicit schemes of the official VGG. */
export type WeightInit = "torch-default" | "kaiming-normal-fan-out" | "normal-0.01";

/**
 * Initial weight values in PyTorch layout (`[out, in, ...]`): fan_in is the product of all dims
 * but the first, fan_out the first dim times the kernel size. `torch-default` is kaiming-uniform
 * with a = √5, i.e. U(±1/√fan_in).
 */
export function initWeight(torchShape: number[], init: WeightInit, rng: Generator): tf.Tensor {
  const fanIn = torchShape.slice(1).reduce((a, b) => a * b, 1);
  const receptive = torchShape.slice(2).reduce((a, b) => a * b, 1);
  const fanOut = torchShape[0] * receptive;
  switch (init) {
    case "torch-default":
      return uniformTensor(torchShape, 1 / Math.sqrt(fanIn), rng);
    case "kaiming-normal-fan-out":
      return normalTensor(torchShape, Math.sqrt(2 / fanOut), rng);
    case "normal-0.01":
      return normalTensor(torchShape, 0.01, rng);
  }
}

/** PyTorch's default bias: U(±1/√fan_in) of the matching weight. */
export function initBias(n: number, fanIn: number, rng: Generator): tf.Tensor {
  return uniformTensor([n], 1 / Math.sqrt(fanIn), rng);
}
