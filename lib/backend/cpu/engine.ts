/**
 * The compute engine behind teskd-cpu's convolutions and matrix products: oneDNN through FFI when
 * the library is installed and FFI is permitted (faster), the project's WebAssembly SIMD kernels
 * otherwise — chosen automatically and silently, and said in the backend's engine string.
 *
 * @module
 */
import type { KernelRuntime } from "./runtime.ts";
import {
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  type ConvGeometry,
  matmul,
  type MatmulShape,
} from "./ops.ts";
import { type DnnlBinaryOp, geometryKey, OneDnnEngine } from "./onednn.ts";
import { addBias } from "./elementwise.ts";
import { readEnv } from "../env.ts";

/** Which engine to use: "auto" picks oneDNN when it loads, WebAssembly otherwise. */
export type CpuEngineRequest = "auto" | "onednn" | "wasm";

/** The heavy kernels, on NHWC activations and HWIO filters (float32). */
export interface ComputeKernels {
  /** Human-readable engine, e.g. "onednn 2.6.3 x2 threads". */
  readonly label: string;
  conv2d(x: Float32Array, filter: Float32Array, g: ConvGeometry, bias?: Float32Array): Float32Array;
  conv2dBackpropInput(dy: Float32Array, filter: Float32Array, g: ConvGeometry): Float32Array;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array;
  matmul(a: Float32Array, b: Float32Array, shape: MatmulShape): Float32Array;
  /**
   * `a op b` with numpy broadcasting, or null to leave it to the TypeScript kernels (small
   * tensors, shapes the engine does not take). Absent when the engine has no such kernels.
   */
  binary?(
    op: DnnlBinaryOp,
    a: Float32Array,
    aShape: readonly number[],
    b: Float32Array,
    bShape: readonly number[],
  ): Float32Array | null;
  /**
   * `x · scale + shift` per channel of channels-last `x`, or null to leave it to the TypeScript
   * kernels. Absent when the engine has no such kernel.
   */
  scaleShift?(
    x: Float32Array,
    channels: number,
    scale: Float32Array,
    shift: Float32Array,
  ): Float32Array | null;
}

/**
 * Outputs smaller than this stay with the TypeScript kernels: below it a native call's fixed cost
 * (FFI, primitive lookup, thread wake-up) outweighs the faster loop.
 */
const NATIVE_MIN_ELEMENTS = 1 << 15;

/** The WebAssembly SIMD kernels of ops.ts on `rt`'s thread pool. */
export function wasmKernels(rt: KernelRuntime): ComputeKernels {
  return {
    label: rt.engine,
    conv2d(x, filter, g, bias) {
      const out = conv2d(rt, x, filter, g);
      if (bias !== undefined) addBias(out, bias);
      return out;
    },
    conv2dBackpropInput: (dy, filter, g) => conv2dBackpropInput(rt, dy, filter, g),
    conv2dBackpropFilter: (x, dy, g) => conv2dBackpropFilter(rt, x, dy, g),
    matmul: (a, b, shape) => matmul(rt, a, b, shape),
  };
}

/**
 * oneDNN's kernels, each shape falling back to `fallback` for good if oneDNN cannot build a
 * primitive for it (an unsupported geometry must cost speed, never a failed step).
 */
export function oneDnnKernels(
  dnnl: OneDnnEngine,
  fallback: ComputeKernels,
  threads: number,
): ComputeKernels {
  const refused = new Set<string>();
  const attempt = <T>(key: string, fast: () => T, slow: () => T): T => {
    if (refused.has(key)) return slow();
    try {
      return fast();
    } catch (e) {
      if (!(e instanceof Error) || !e.message.startsWith("oneDNN:")) throw e;
      refused.add(key);
      return slow();
    }
  };
  const gk = (kind: string, g: ConvGeometry) => `${kind} ${geometryKey(g)}`;
  return {
    label: `${dnnl.label} x${threads} thread${
      threads === 1 ? "" : "s"
    } (${fallback.label} fallback)`,
    conv2d: (x, f, g, bias) =>
      attempt(
        gk(bias ? "fwd+b" : "fwd", g),
        () => dnnl.conv2d(x, f, g, bias),
        () => fallback.conv2d(x, f, g, bias),
      ),
    conv2dBackpropInput: (dy, f, g) =>
      attempt(
        gk("bwd-data", g),
        () => dnnl.conv2dBackpropInput(dy, f, g),
        () => fallback.conv2dBackpropInput(dy, f, g),
      ),
    conv2dBackpropFilter: (x, dy, g) =>
      // oneDNN 2.6.3's strided 1x1 filter gradient (jit_1x1 with its reduce-to-unit-stride copy)
      // returned wrong values on a freshly built primitive's first run in our tests, at random.
      isStridedPointwise(g) ? fallback.conv2dBackpropFilter(x, dy, g) : attempt(
        gk("bwd-weights", g),
        () => dnnl.conv2dBackpropFilter(x, dy, g),
        () => fallback.conv2dBackpropFilter(x, dy, g),
      ),
    matmul: (a, b, s) =>
      attempt(
        `mm ${a.length} ${b.length} ${s.batch} ${s.m} ${s.n} ${s.k} ${s.transA} ${s.transB}`,
        () => dnnl.matmul(a, b, s),
        () => fallback.matmul(a, b, s),
      ),
    binary(op, a, aShape, b, bShape) {
      if (Math.max(a.length, b.length) < NATIVE_MIN_ELEMENTS) return null;
      // oneDNN broadcasts only its second operand: put the full-shape one first when op commutes.
      const swap = b.length > a.length && (op === "add" || op === "mul");
      const [x, xs, y, ys] = swap ? [b, bShape, a, aShape] : [a, aShape, b, bShape];
      return attempt(
        `binary ${op} ${xs} ${ys}`,
        () => dnnl.binary(op, x, xs, y, ys),
        () => null,
      );
    },
    scaleShift(x, channels, scale, shift) {
      if (x.length < NATIVE_MIN_ELEMENTS) return null;
      return attempt(
        `scale-shift ${x.length} ${channels}`,
        () => dnnl.scaleShift(x, channels, scale, shift),
        () => null,
      );
    },
  };
}

function isStridedPointwise(g: ConvGeometry): boolean {
  return g.filterHeight === 1 && g.filterWidth === 1 && (g.strideHeight > 1 || g.strideWidth > 1);
}

/** oneDNN opened, or why it cannot be used here: FFI support and permission, then the library. */
function openOneDnn(threads: number): { reason: string } | { engine: OneDnnEngine } {
  if (typeof Deno === "undefined" || typeof Deno.dlopen !== "function") {
    return { reason: "this runtime has no FFI" };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { reason: "FFI is not permitted (run Deno with --allow-ffi)" };
  }
  // oneDNN's OpenMP runtime reads its thread count once, when it loads.
  if (readEnv("OMP_NUM_THREADS") === undefined) {
    try {
      Deno.env.set("OMP_NUM_THREADS", String(threads));
    } catch { /* no env permission: OpenMP uses every core */ }
  }
  try {
    return { engine: OneDnnEngine.open(readEnv("TESKD_ONEDNN_LIB") || undefined) };
  } catch (e) {
    return { reason: (e as Error).message };
  }
}

/** The engine chosen by {@link chooseComputeKernels}, and why oneDNN was not, when it was not. */
export interface ComputeChoice {
  kernels: ComputeKernels;
  /** Which engine runs convolutions and matrix products. */
  engine: "onednn" | "wasm";
  /** Set when oneDNN was considered and not used. */
  oneDnnUnavailable?: string;
}

/**
 * Picks the kernels for `request`: "wasm" always gives the WebAssembly kernels; "onednn" throws
 * when oneDNN cannot be used; "auto" uses oneDNN when it can and WebAssembly otherwise.
 */
export function chooseComputeKernels(
  request: CpuEngineRequest,
  rt: KernelRuntime,
  threads: number,
): ComputeChoice {
  const wasm = wasmKernels(rt);
  if (request === "wasm") return { kernels: wasm, engine: "wasm" };
  const probe = openOneDnn(threads);
  if ("engine" in probe) {
    return { kernels: oneDnnKernels(probe.engine, wasm, threads), engine: "onednn" };
  }
  if (request === "onednn") {
    throw new Error(`teskd-cpu: the oneDNN engine was requested but ${probe.reason}`);
  }
  return { kernels: wasm, engine: "wasm", oneDnnUnavailable: probe.reason };
}

/** Parses `TESKD_CPU_ENGINE`-style input. */
export function parseCpuEngineRequest(value: string): CpuEngineRequest {
  const v = value.trim().toLowerCase();
  if (v === "auto" || v === "onednn" || v === "wasm") return v;
  throw new Error(`teskd-cpu: unknown CPU engine "${value}"; expected auto, onednn or wasm`);
}
