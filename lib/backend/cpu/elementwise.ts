/**
 * Memory-bound kernels of a training step in plain TypeScript: broadcasting binary ops, reductions
 * over leading or trailing axes, slice and constant pad. tfjs's reference cpu versions compute a
 * multi-index per element (and reduce by transposing first), which made them the largest cost of a
 * ResNet step once convolutions were fast. Each function returns null for a case it does not cover
 * so that the caller falls back to the reference kernel.
 *
 * @module
 */
import { allocOutput, allocZeroed } from "./pool.ts";

/** Element-wise binary operations with tfjs semantics on float32. */
export type BinaryOp = "add" | "sub" | "mul" | "div";

function sizeOf(shape: readonly number[]): number {
  let s = 1;
  for (const d of shape) s *= d;
  return s;
}

/** Shape of broadcasting `a` with `b` (numpy rules), or null when they are incompatible. */
function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** True when `small` broadcast to `out` only repeats along leading axes (e.g. [C] over NHWC). */
function isSuffix(small: readonly number[], out: readonly number[]): boolean {
  let s = small.length - 1;
  let o = out.length - 1;
  // Skip leading 1s of `small`; the rest must equal the trailing dims of `out`.
  let first = 0;
  while (first < small.length && small[first] === 1) first++;
  for (; s >= first; s--, o--) if (small[s] !== out[o]) return false;
  return true;
}

/** out[i] = a[i] op b[i % inner]: `b` repeats along leading axes (inner = 1 for a scalar). */
function rowB(op: BinaryOp, out: Float32Array, a: Float32Array, b: Float32Array): void {
  const n = out.length;
  const inner = b.length;
  if (inner === 1) {
    const v = b[0];
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = a[i] + v;
        return;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = a[i] - v;
        return;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = a[i] * v;
        return;
      case "div":
        for (let i = 0; i < n; i++) out[i] = a[i] / v;
        return;
    }
  }
  for (let base = 0; base < n; base += inner) {
    switch (op) {
      case "add":
        for (let j = 0; j < inner; j++) out[base + j] = a[base + j] + b[j];
        break;
      case "sub":
        for (let j = 0; j < inner; j++) out[base + j] = a[base + j] - b[j];
        break;
      case "mul":
        for (let j = 0; j < inner; j++) out[base + j] = a[base + j] * b[j];
        break;
      case "div":
        for (let j = 0; j < inner; j++) out[base + j] = a[base + j] / b[j];
        break;
    }
  }
}

/** out[i] = a[i % inner] op b[i]: `a` repeats along leading axes. */
function rowA(op: BinaryOp, out: Float32Array, a: Float32Array, b: Float32Array): void {
  switch (op) {
    case "add":
      return rowB("add", out, b, a);
    case "mul":
      return rowB("mul", out, b, a);
    case "sub":
      // a - b = -(b - a), exact in IEEE arithmetic.
      rowB("sub", out, b, a);
      for (let i = 0; i < out.length; i++) out[i] = -out[i];
      return;
    case "div": {
      const n = out.length;
      const inner = a.length;
      for (let base = 0; base < n; base += inner) {
        for (let j = 0; j < inner; j++) out[base + j] = a[j] / b[base + j];
      }
      return;
    }
  }
}

/**
 * `a op b` with numpy broadcasting; fast paths when both shapes are equal or one operand only
 * repeats along leading axes of the other (scalars, per-channel vectors). Returns the output shape
 * and values, or null when the shapes do not broadcast.
 */
export function binary(
  op: BinaryOp,
  a: Float32Array,
  aShape: readonly number[],
  b: Float32Array,
  bShape: readonly number[],
): { shape: number[]; values: Float32Array } | null {
  const shape = broadcastShape(aShape, bShape);
  if (shape === null) return null;
  const n = sizeOf(shape);
  const out = allocOutput(n);
  if (a.length === n && b.length === n) {
    switch (op) {
      case "add":
        for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
        break;
      case "sub":
        for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
        break;
      case "mul":
        for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
        break;
      case "div":
        for (let i = 0; i < n; i++) out[i] = a[i] / b[i];
        break;
    }
    return { shape, values: out };
  }
  if (n === 0) return { shape, values: out };
  const bSmall = a.length === n && isSuffix(bShape, shape);
  const aSmall = b.length === n && isSuffix(aShape, shape);
  if (bSmall) rowB(op, out, a, b);
  else if (aSmall) rowA(op, out, a, b);
  else {strided(
      op,
      out,
      shape,
      a,
      broadcastStrides(aShape, shape),
      b,
      broadcastStrides(bShape, shape),
    );}
  return { shape, values: out };
}

/** Element strides of an operand of shape `s` broadcast to `out` (0 along repeated axes). */
function broadcastStrides(s: readonly number[], out: readonly number[]): number[] {
  const strides = new Array<number>(out.length).fill(0);
  let st = 1;
  for (let i = s.length - 1, o = out.length - 1; i >= 0; i--, o--) {
    if (s[i] !== 1) strides[o] = st;
    st *= s[i];
  }
  return strides;
}

/**
 * General broadcasting (e.g. [N,1,1,C] with [N,H,W,C], the gradient of a spatial mean): walks the
 * output row by row along its last axis, each operand with its own stride there.
 */
function strided(
  op: BinaryOp,
  out: Float32Array,
  shape: readonly number[],
  a: Float32Array,
  sa: readonly number[],
  b: Float32Array,
  sb: readonly number[],
): void {
  const rank = shape.length;
  const inner = shape[rank - 1];
  const ia = sa[rank - 1];
  const ib = sb[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  let pa = 0;
  let pb = 0;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0, qa = pa, qb = pb; j < inner; j++, qa += ia, qb += ib) {
      const x = a[qa];
      const y = b[qb];
      out[o + j] = op === "add" ? x + y : op === "sub" ? x - y : op === "mul" ? x * y : x / y;
    }
    for (let i = rank - 2; i >= 0; i--) {
      pa += sa[i];
      pb += sb[i];
      if (++idx[i] < shape[i]) break;
      pa -= sa[i] * shape[i];
      pb -= sb[i] * shape[i];
      idx[i] = 0;
    }
  }
}

/** Normalised, sorted, de-duplicated axes of a tensor of rank `rank`. */
export function normAxes(axis: number | number[] | undefined, rank: number): number[] | null {
  const list = axis === undefined ? [...Array(rank).keys()] : Array.isArray(axis) ? axis : [axis];
  const out = new Set<number>();
  for (const a of list) {
    const v = a < 0 ? a + rank : a;
    if (!Number.isInteger(v) || v < 0 || v >= rank) return null;
    out.add(v);
  }
  return [...out].sort((p, q) => p - q);
}

/**
 * Sum (or mean) of `x` over `axes` when they are contiguous (per-channel statistics over the
 * leading axes, spatial pooling over the middle ones, row sums over the trailing ones); returns the
 * reduced shape (with kept dims when `keepDims`), or null for other axes.
 */
export function reduce(
  x: Float32Array,
  shape: readonly number[],
  axes: number[],
  keepDims: boolean,
  mean: boolean,
): { shape: number[]; values: Float32Array } | null {
  if (!axes.every((a, i) => i === 0 || a === axes[i - 1] + 1)) return null;
  const outShape = keepDims
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
  const reduced = sizeOf(axes.map((a) => shape[a]));
  const kept = x.length / Math.max(reduced, 1);
  const out = reduced === 0 ? allocZeroed(sizeOf(outShape)) : allocOutput(kept);
  if (reduced === 0) return { shape: outShape, values: mean ? out.fill(NaN) : out };
  // x is [outer, reduced, inner]: each output is a column sum over `reduced` rows of one block.
  const first = axes.length > 0 ? axes[0] : shape.length;
  const inner = sizeOf(shape.slice(first + axes.length));
  const outer = kept / Math.max(inner, 1);
  if (inner === 1) {
    for (let i = 0, base = 0; i < outer; i++, base += reduced) {
      let s = 0;
      for (let j = 0; j < reduced; j++) s += x[base + j];
      out[i] = mean ? s / reduced : s;
    }
    return { shape: outShape, values: out };
  }
  // Column sums accumulated in float64, one block of `inner` columns at a time.
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    const block = o * reduced * inner;
    for (let r = 0, base = block; r < reduced; r++, base += inner) {
      for (let j = 0; j < inner; j++) acc[j] += x[base + j];
    }
    const at = o * inner;
    for (let j = 0; j < inner; j++) out[at + j] = mean ? acc[j] / reduced : acc[j];
  }
  return { shape: outShape, values: out };
}

/**
 * `x` gathered along one axis: `x` seen as `[outer, dim, inner]`, the output `[outer, n, inner]`
 * holds `x[o, indices[i], :]` at `[o, i, :]`. Null when an index is outside `0..dim-1`, so that the
 * caller's reference kernel reports it. Row copies instead of tfjs's per-element index arithmetic:
 * CRD gathers 64 × 16,385 memory rows of 128 floats per step.
 */
export function gatherAxis(
  x: Float32Array,
  outer: number,
  dim: number,
  inner: number,
  indices: Int32Array,
): Float32Array | null {
  const n = indices.length;
  for (let i = 0; i < n; i++) {
    const r = indices[i];
    if (r < 0 || r >= dim) return null;
  }
  const out = allocOutput(outer * n * inner);
  for (let o = 0; o < outer; o++) {
    const from = o * dim * inner;
    let to = o * n * inner;
    for (let i = 0; i < n; i++, to += inner) {
      const src = from + indices[i] * inner;
      // Short rows copy faster element by element than through a subarray view.
      if (inner < 64) { for (let j = 0; j < inner; j++) out[to + j] = x[src + j]; }
      else out.set(x.subarray(src, src + inner), to);
    }
  }
  return out;
}

/** Copies the box `begin`..`begin+size` out of `x` (row-major), innermost runs at once. */
export function slice(
  x: Float32Array,
  shape: readonly number[],
  begin: readonly number[],
  size: readonly number[],
): Float32Array {
  const rank = shape.length;
  const out = allocOutput(sizeOf(size));
  if (out.length === 0) return out;
  const strides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  const run = size[rank - 1] ?? 1;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let o = 0; o < out.length; o += run) {
    let src = rank === 0 ? 0 : begin[rank - 1];
    for (let i = 0; i < rank - 1; i++) src += (begin[i] + idx[i]) * strides[i];
    // Short runs (a few channels) copy faster element by element than through a subarray view.
    if (run < 64) { for (let j = 0; j < run; j++) out[o + j] = x[src + j]; }
    else out.set(x.subarray(src, src + run), o);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i] < size[i]) break;
      idx[i] = 0;
    }
  }
  return out;
}

/** Constant padding of `x` by `paddings[i] = [before, after]` per axis. */
export function pad(
  x: Float32Array,
  shape: readonly number[],
  paddings: readonly (readonly [number, number])[],
  value: number,
): { shape: number[]; values: Float32Array } {
  const rank = shape.length;
  const outShape = shape.map((d, i) => paddings[i][0] + d + paddings[i][1]);
  const out = allocZeroed(sizeOf(outShape));
  if (value !== 0) out.fill(value);
  if (x.length === 0) return { shape: outShape, values: out };
  const strides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= outShape[i];
  }
  const run = shape[rank - 1] ?? 1;
  const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let src = 0; src < x.length; src += run) {
    let dst = rank === 0 ? 0 : paddings[rank - 1][0];
    for (let i = 0; i < rank - 1; i++) dst += (paddings[i][0] + idx[i]) * strides[i];
    if (run < 64) { for (let j = 0; j < run; j++) out[dst + j] = x[src + j]; }
    else out.set(x.subarray(src, src + run), dst);
    for (let i = rank - 2; i >= 0; i--) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
  return { shape: outShape, values: out };
}

/** max(x, 0) with NaN passed through, as tfjs's Relu. */
export function relu(x: Float32Array): Float32Array {
  const out = allocOutput(x.length);
  // Branch-free (the sign of activations is unpredictable): exact in float64, NaN stays NaN.
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = (v + Math.abs(v)) * 0.5;
  }
  return out;
}

/** 1 where x > 0, `alpha` elsewhere, NaN for NaN: tfjs's Step (the ReLU gradient mask). */
export function step(x: Float32Array, alpha: number): Float32Array {
  const out = allocOutput(x.length);
  // Branch-free select (the sign of activations is unpredictable); NaN is rare and predictable.
  const pick = Float32Array.of(alpha, 1);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    out[i] = v !== v ? v : pick[+(v > 0)];
  }
  return out;
}

/** x², element-wise. */
export function square(x: Float32Array): Float32Array {
  const out = allocOutput(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * x[i];
  return out;
}

/** Adds `bias` (one value per trailing channel) to channels-last `out` in place. */
export function addBias(out: Float32Array, bias: Float32Array): void {
  const c = bias.length;
  for (let i = 0; i < out.length; i += c) {
    for (let j = 0; j < c; j++) out[i + j] += bias[j];
  }
}

/** Per-channel form of an inference batch norm: y = add + (x − sub) · mul (float64). */
export interface BatchNormAffine {
  mul: Float64Array;
  sub: Float64Array;
  add: Float64Array;
}

/**
 * The per-channel coefficients of tfjs's FusedBatchNorm, `offset + (x - mean) * scale /
 * sqrt(variance + eps)`, each parameter repeating with its own length (per channel, or a scalar).
 * Null when a parameter's length does not divide the channel count (the reference handles those
 * odd layouts).
 */
export function batchNormAffine(
  channels: number,
  mean: Float32Array,
  variance: Float32Array,
  offset: Float32Array | null,
  scale: Float32Array | null,
  eps: number,
): BatchNormAffine | null {
  const params = [mean, variance, offset, scale].filter((p) => p !== null) as Float32Array[];
  if (channels === 0) return null;
  if (params.some((p) => p.length === 0 || channels % p.length !== 0)) return null;
  const mul = new Float64Array(channels);
  const sub = new Float64Array(channels);
  const add = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = scale === null ? 1 : scale[c % scale.length];
    mul[c] = s / Math.sqrt(variance[c % variance.length] + eps);
    sub[c] = mean[c % mean.length];
    add[c] = offset === null ? 0 : offset[c % offset.length];
  }
  return { mul, sub, add };
}

/** Applies {@link batchNormAffine}'s coefficients to channels-last `x`. */
export function batchNorm(x: Float32Array, a: BatchNormAffine): Float32Array {
  const { mul, sub, add } = a;
  const channels = mul.length;
  const out = allocOutput(x.length);
  for (let base = 0; base < x.length; base += channels) {
    for (let c = 0; c < channels; c++) out[base + c] = add[c] + (x[base + c] - sub[c]) * mul[c];
  }
  return out;
}

/** Transposes `x` by `perm` (out axis i = input axis perm[i]), walking the output in order. */
export function transpose(
  x: Float32Array,
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; values: Float32Array } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const out = allocOutput(x.length);
  if (x.length === 0 || rank === 0) {
    out.set(x);
    return { shape: outShape, values: out };
  }
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strides = perm.map((p) => inStrides[p]);
  const inner = outShape[rank - 1];
  const innerStride = strides[rank - 1];
  const idx = new Array<number>(rank - 1).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o += inner) {
    // Permutations that keep the last axis (NHWC ⇄ HNWC) move whole contiguous rows.
    if (innerStride === 1 && inner >= 64) out.set(x.subarray(src, src + inner), o);
    else for (let j = 0, q = src; j < inner; j++, q += innerStride) out[o + j] = x[q];
    for (let i = rank - 2; i >= 0; i--) {
      src += strides[i];
      if (++idx[i] < outShape[i]) break;
      src -= strides[i] * outShape[i];
      idx[i] = 0;
    }
  }
  return { shape: outShape, values: out };
}
