/**
 * GEMM and convolution kernels on the teskd-cpu WebAssembly runtime (NHWC, float32).
 *
 * Convolutions are implicit-im2col GEMMs: the kernels pack patches straight from the image, so no
 * im2col matrix is materialised except for the input gradient, which is built in bounded chunks
 * and scattered back (col2im).
 *
 * Operands and outputs resident in kernel memory (pool.ts) are used in place; others are copied in
 * and out through scratch.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { D, KernelRuntime, KIND_COL2IM, KIND_GEMM } from "./runtime.ts";
import { allocOutput } from "./pool.ts";

/** Geometry of a 2-D convolution, as tfjs's `computeConv2DInfo` reports it. */
export interface ConvGeometry {
  batchSize: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padInfo: { top: number; left: number };
}

/**
 * The geometry of an NHWC convolution of an input of `xShape` with an HWIO filter of `filterShape`
 * (tfjs's `computeConv2DInfo`, channels last). `pad` is a tfjs padding: "same", "valid", a number
 * or explicit per-side pairs.
 */
export function convGeometry(
  xShape: readonly number[],
  filterShape: readonly number[],
  strides: readonly [number, number],
  pad: unknown,
  dilations: readonly [number, number] = [1, 1],
  roundingMode?: "floor" | "round" | "ceil",
): ConvGeometry {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides as [number, number],
    dilations as [number, number],
    pad as "same",
    roundingMode,
    false,
    "channelsLast",
  );
}

/** Rows of the micro-kernel tile (mirror of MR in asm/kernels.as). */
const MR = 6;
/** Float budget of one im2col chunk for the input gradient (16 MiB). */
const CHUNK_FLOATS = 4 * 2 ** 20;

type Fields = Partial<Record<keyof typeof D, number>>;

function split(rt: KernelRuntime, m: number, n: number): number {
  // Rows when there are enough of them for every thread, columns otherwise.
  return m >= n || Math.ceil(m / MR) >= rt.threads * 8 ? 0 : 1;
}

function gemmJob(rt: KernelRuntime, f: Fields & { M: number; N: number; K: number }): void {
  rt.exec({ KIND: KIND_GEMM, SPLIT: split(rt, f.M, f.N), ...f });
}

function convFields(g: ConvGeometry): Fields {
  return {
    H: g.inHeight,
    W: g.inWidth,
    CIN: g.inChannels,
    OH: g.outHeight,
    OW: g.outWidth,
    KH: g.filterHeight,
    KW: g.filterWidth,
    SH: g.strideHeight,
    SW: g.strideWidth,
    DH: g.dilationHeight,
    DW: g.dilationWidth,
    PT: g.padInfo.top,
    PL: g.padInfo.left,
  };
}

/** True when the convolution is a plain per-pixel matrix product (1x1, stride 1, no padding). */
function isPointwise(g: ConvGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && g.strideHeight === 1 &&
    g.strideWidth === 1 && g.padInfo.top === 0 && g.padInfo.left === 0;
}

/**
 * The shape of a batched matrix product C[i] = op(A[i]) · op(B[i]) over `batch` row-major
 * matrices: A is M×K (K×M when `transA`), B is K×N (N×K when `transB`), C is M×N. An operand
 * holding a single matrix is broadcast over the batch.
 */
export interface MatmulShape {
  batch: number;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
}

/**
 * The batched matrix product of `shape` (see {@linkcode MatmulShape}).
 *
 * @example
 * ```ts
 * const c = matmul(rt, a, b, { batch: 1, m: 2, n: 3, k: 4, transA: false, transB: false });
 * ```
 */
export function matmul(
  rt: KernelRuntime,
  a: Float32Array,
  b: Float32Array,
  shape: MatmulShape,
): Float32Array {
  const { batch, m, n, k, transA, transB } = shape;
  rt.reset();
  const pa = rt.put(a);
  const pb = rt.put(b);
  const out = allocOutput(batch * m * n);
  const pc = rt.outputOffset(out);
  const strideA = a.length === m * k ? 0 : m * k * 4;
  const strideB = b.length === k * n ? 0 : k * n * 4;
  for (let i = 0; i < batch; i++) {
    gemmJob(rt, {
      M: m,
      N: n,
      K: k,
      A: pa + i * strideA,
      LDA: transA ? m : k,
      ATRANS: transA ? 1 : 0,
      B: pb + i * strideB,
      LDB: transB ? k : n,
      BTRANS: transB ? 1 : 0,
      C: pc + i * m * n * 4,
      LDC: n,
    });
  }
  return rt.finishOutput(out, pc);
}

/** Forward NHWC convolution of `x` with an HWIO `filter`; returns the NHWC output values. */
export function conv2d(
  rt: KernelRuntime,
  x: Float32Array,
  filter: Float32Array,
  g: ConvGeometry,
): Float32Array {
  rt.reset();
  const px = rt.put(x);
  const pw = rt.put(filter);
  const m = g.batchSize * g.outHeight * g.outWidth;
  const k = g.filterHeight * g.filterWidth * g.inChannels;
  const out = allocOutput(m * g.outChannels);
  const pc = rt.outputOffset(out);
  gemmJob(rt, {
    ...convFields(g),
    M: m,
    N: g.outChannels,
    K: k,
    AMODE: isPointwise(g) ? 0 : 1,
    A: px,
    LDA: k,
    B: pw,
    LDB: g.outChannels,
    C: pc,
    LDC: g.outChannels,
  });
  return rt.finishOutput(out, pc);
}

/** Filter gradient (HWIO) of an NHWC convolution from its input `x` and output gradient `dy`. */
export function conv2dBackpropFilter(
  rt: KernelRuntime,
  x: Float32Array,
  dy: Float32Array,
  g: ConvGeometry,
): Float32Array {
  rt.reset();
  const px = rt.put(x);
  const pdy = rt.put(dy);
  const taps = g.filterHeight * g.filterWidth * g.inChannels;
  const pixels = g.batchSize * g.outHeight * g.outWidth;
  const out = allocOutput(taps * g.outChannels);
  const pc = rt.outputOffset(out);
  const pointwise = isPointwise(g);
  gemmJob(rt, {
    ...convFields(g),
    M: taps,
    N: g.outChannels,
    K: pixels,
    AMODE: pointwise ? 0 : 2,
    A: px,
    LDA: g.inChannels,
    ATRANS: pointwise ? 1 : 0,
    B: pdy,
    LDB: g.outChannels,
    C: pc,
    LDC: g.outChannels,
  });
  return rt.finishOutput(out, pc);
}

/** Input gradient (NHWC) of a convolution from its output gradient `dy` and HWIO `filter`. */
export function conv2dBackpropInput(
  rt: KernelRuntime,
  dy: Float32Array,
  filter: Float32Array,
  g: ConvGeometry,
): Float32Array {
  rt.reset();
  const pdy = rt.put(dy);
  const pw = rt.put(filter);
  const taps = g.filterHeight * g.filterWidth * g.inChannels;
  const pixels = g.batchSize * g.outHeight * g.outWidth;
  const size = g.batchSize * g.inHeight * g.inWidth * g.inChannels;
  const dx = allocOutput(size);
  const pdx = rt.outputOffset(dx);
  const b = { B: pw, LDB: g.outChannels, BTRANS: 1 };
  if (isPointwise(g)) {
    gemmJob(rt, {
      M: pixels,
      N: taps,
      K: g.outChannels,
      A: pdy,
      LDA: g.outChannels,
      C: pdx,
      LDC: taps,
      ...b,
    });
    return rt.finishOutput(dx, pdx);
  }
  rt.f32.fill(0, pdx / 4, pdx / 4 + size);
  const rows = Math.max(1, Math.min(pixels, Math.floor(CHUNK_FLOATS / taps)));
  const pcol = rt.alloc(rows * taps);
  const geo = convFields(g);
  for (let row0 = 0; row0 < pixels; row0 += rows) {
    const m = Math.min(rows, pixels - row0);
    gemmJob(rt, {
      M: m,
      N: taps,
      K: g.outChannels,
      A: pdy + row0 * g.outChannels * 4,
      LDA: g.outChannels,
      C: pcol,
      LDC: taps,
      ...b,
    });
    rt.exec({ ...geo, KIND: KIND_COL2IM, M: m, ROW0: row0, A: pcol, C: pdx });
  }
  return rt.finishOutput(dx, pdx);
}
