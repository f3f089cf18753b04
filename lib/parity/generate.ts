/**
 * The fixtures' deterministic weights and inputs: every value is a pure function of a string key and
 * a flat index (fnv1a32 / mix32 / u), computed in float64 and rounded to float32.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { mix32 } from "../nn/init.ts";
import type { Module } from "../nn/module.ts";

export { mix32 };

/** FNV-1a 32-bit hash of the UTF-8 bytes of `key`. */
export function fnv1a32(key: string): number {
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(key)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}

/** u(key, i) = (mix32(fnv1a32(key) ⊕ mix32(i)) + 0.5) / 2³², a float64 in (0, 1). */
export function u(key: string, i: number): number {
  return uFromHash(fnv1a32(key), i);
}

/** {@link u} with the key already hashed (fast path for big tensors). */
export function uFromHash(h: number, i: number): number {
  return (mix32((h ^ mix32(i >>> 0)) >>> 0) + 0.5) / 4294967296;
}

/** Fills `n` values `f(u(key, i))` rounded to float32. */
export function fill(key: string, n: number, f: (u: number) => number): Float32Array {
  const h = fnv1a32(key);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = f(uFromHash(h, i));
  return out;
}

/** The value rule of one state_dict entry, by its name and the shapes of its siblings. */
export function valueRule(
  name: string,
  shapes: ReadonlyMap<string, readonly number[]>,
): ((u: number) => number) | undefined {
  const shape = shapes.get(name);
  if (shape === undefined) throw new Error(`valueRule: unknown tensor "${name}"`);
  const dot = name.lastIndexOf(".");
  const leaf = name.slice(dot + 1);
  const owner = name.slice(0, dot);
  const fanIn = (s: readonly number[]) => s.slice(1).reduce((a, b) => a * b, 1);
  switch (leaf) {
    case "running_mean":
      return (x) => 0.1 * (2 * x - 1);
    case "running_var":
      return (x) => 0.75 + 0.5 * x;
    case "num_batches_tracked":
    case "params": // CRD's [K, τ, Z_v1, Z_v2, momentum]: the constructor's values, not generated
      return undefined;
    case "log_scale": // VID's per-channel variance parameter
      return (x) => 4.5 + x;
    case "memory_v1":
    case "memory_v2": { // CRD's memory bank, in the official init range ±1/sqrt(featDim / 3)
      const stdv = 1 / Math.sqrt(shape[1] / 3);
      return (x) => (2 * x - 1) * stdv;
    }
    case "weight":
      if (shape.length === 1) return (x) => 0.5 + 0.5 * x; // BatchNorm gamma
      return (x) => (2 * x - 1) * Math.sqrt(6 / fanIn(shape));
    case "bias": {
      const w = shapes.get(`${owner}.weight`);
      if (w === undefined) throw new Error(`valueRule: bias "${name}" has no matching weight`);
      if (w.length === 1) return (x) => 0.1 * (2 * x - 1); // BatchNorm beta
      const s = Math.sqrt(fanIn(w));
      return (x) => (2 * x - 1) / s;
    }
  }
  throw new Error(`valueRule: no rule for "${name}"`);
}

/**
 * The fixture state dict for `model` (PyTorch layout, official names; `num_batches_tracked` left out).
 * The caller disposes the tensors.
 */
export function fixtureStateDict(model: Module, salt = ""): Map<string, tf.Tensor> {
  const entries = model.namedTensors();
  const shapes = new Map(entries.map((e) => [e.name, e.torchShape] as const));
  const sd = new Map<string, tf.Tensor>();
  for (const e of entries) {
    const rule = valueRule(e.name, shapes);
    if (rule === undefined) {
      // Not generated: the value the module was built with (BatchNorm counters are reset below).
      if (!e.name.endsWith("num_batches_tracked")) sd.set(e.name, e.toTorch(e.variable));
      continue;
    }
    const n = e.torchShape.reduce((a, b) => a * b, 1);
    sd.set(e.name, tf.tensor(fill(salt + e.name, n, rule), e.torchShape));
  }
  return sd;
}

/** Loads the fixture values into `model` (BatchNorm counters reset to 0). */
export function loadFixtureWeights(model: Module, salt = ""): void {
  const sd = fixtureStateDict(model, salt);
  try {
    model.loadStateDict(sd);
  } finally {
    for (const t of sd.values()) t.dispose();
  }
  for (const b of model.namedBuffers()) {
    if (b.name.endsWith("num_batches_tracked")) b.variable.assign(tf.zerosLike(b.variable));
  }
}

/** The fixture input x as NHWC [batch, size, size, 3] (generated in NCHW order, key salt + "input"). */
export function fixtureInput(batch: number, salt = "", size = 32): tf.Tensor4D {
  const v = fill(salt + "input", batch * 3 * size * size, (x) => 2 * x - 1);
  return tf.tidy(() => tf.transpose(tf.tensor4d(v, [batch, 3, size, size]), [0, 2, 3, 1]));
}

/** The fixture labels: floor(u(salt + "label", i) · classes). */
export function fixtureLabels(batch: number, numClasses: number, salt = ""): number[] {
  const h = fnv1a32(salt + "label");
  return Array.from({ length: batch }, (_, i) => Math.floor(uFromHash(h, i) * numClasses));
}
