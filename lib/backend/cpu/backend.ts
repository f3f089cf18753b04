/**
 * The "teskd-cpu" tfjs backend: tfjs's own CPU backend with its heavy kernels replaced by
 * WebAssembly SIMD ones (see ops.ts) that run on a pool of threads.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { WASM_URLS } from "./artifacts.ts";
import { KernelRuntime } from "./runtime.ts";
import { readEnv } from "../env.ts";
import { defaultTensorMemoryLimit, TensorMemoryBudget } from "./memory_budget.ts";
import { checkKernelsOf } from "../interrupt_check.ts";
import {
  allocOutput,
  isResident,
  noteEscaped,
  noteRegistered,
  noteReleased,
  useResidentStore,
} from "./pool.ts";
import {
  batchNorm,
  type BatchNormAffine,
  batchNormAffine,
  binary,
  type BinaryOp,
  gatherAxis,
  normAxes,
  pad,
  reduce,
  relu,
  slice,
  square,
  step,
  transpose,
} from "./elementwise.ts";
import { type ConvGeometry, convGeometry } from "./ops.ts";
import {
  batchNormGradArrays,
  batchNormTrainArrays,
  BN_GRAD_KERNEL,
  BN_TRAIN_KERNEL,
} from "../fused_batchnorm.ts";
import { SGD_MOMENTUM_KERNEL, sgdMomentumArrays, type SgdMomentumAttrs } from "../fused_sgd.ts";
import {
  chooseComputeKernels,
  type ComputeKernels,
  type CpuEngineRequest,
  parseCpuEngineRequest,
} from "./engine.ts";

/** Name the backend is registered under. */
export const BACKEND_NAME = "teskd-cpu";

/** What {@link registerFastCpuBackend} set up. */
export interface FastCpuBackendInfo {
  name: "teskd-cpu";
  /**
   * Human-readable engine of the convolutions and matrix products, e.g.
   * "onednn 2.6.3 x2 threads (wasm-simd-relaxed x2 threads fallback)" or "wasm-simd-relaxed x2 threads".
   */
  engine: string;
  /** Which kernels run convolutions and matrix products. */
  computeEngine: "onednn" | "wasm";
  /** Why oneDNN is not used, when it was considered and is not. */
  oneDnnUnavailable?: string;
  threads: number;
}

interface CpuBackendLike {
  data: { get(id: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

let registered: Promise<FastCpuBackendInfo> | null = null;
let runtime: KernelRuntime | null = null;

/** The kernel runtime of the registered backend (for benchmarks); null before registration. */
export function fastCpuRuntime(): KernelRuntime | null {
  return runtime;
}

function values(backend: CpuBackendLike, t: tf.TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  if (v instanceof Float32Array) return v;
  // tfjs's cpu kernels may leave float32 data in another numeric array (e.g. after a no-op Cast).
  if (ArrayBuffer.isView(v) || Array.isArray(v)) return Float32Array.from(v as ArrayLike<number>);
  throw new Error(`teskd-cpu: tensor of dtype ${t.dtype} holds no numeric values on this backend`);
}

type Attrs = Record<string, unknown>;

function geometry(
  xShape: number[],
  filterShape: number[],
  attrs: Attrs,
  dilations: unknown,
): ConvGeometry {
  return convGeometry(
    xShape,
    filterShape,
    attrs.strides as [number, number],
    attrs.pad,
    dilations as [number, number],
    attrs.dimRoundingMode as "floor" | undefined,
  );
}

function isNhwc(attrs: Attrs): boolean {
  return attrs.dataFormat === undefined || attrs.dataFormat === "NHWC" ||
    attrs.dataFormat === "channelsLast";
}

function allFloat(inputs: tf.NamedTensorInfoMap, names: string[]): boolean {
  return names.every((n) => inputs[n] !== undefined && inputs[n]!.dtype === "float32");
}

/** Wraps `fast` so that inputs it does not handle go to tfjs's reference cpu kernel. */
function withFallback(
  name: string,
  fast: (inputs: tf.NamedTensorInfoMap, b: CpuBackendLike, attrs: Attrs) => tf.TensorInfo | null,
): tf.KernelConfig {
  const ref = tf.getKernel(name, "cpu");
  if (ref === undefined) throw new Error(`teskd-cpu: tfjs has no cpu kernel ${name}`);
  const kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const out = fast(args.inputs, args.backend as unknown as CpuBackendLike, args.attrs ?? {});
    return out ?? ref.kernelFunc(args);
  }) as tf.KernelFunc;
  return { kernelName: name, backendName: BACKEND_NAME, kernelFunc };
}

function fastKernels(k: ComputeKernels): tf.KernelConfig[] {
  return [
    withFallback(tf.Conv2D, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["x", "filter"]) || !isNhwc(attrs)) return null;
      const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      const g = geometry(x.shape, filter.shape, attrs, attrs.dilations);
      const out = k.conv2d(values(b, x), values(b, filter), g);
      return b.makeTensorInfo(
        [g.batchSize, g.outHeight, g.outWidth, g.outChannels],
        "float32",
        out,
      );
    }),
    withFallback(tf.Conv2DBackpropFilter, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["x", "dy"]) || !isNhwc(attrs)) return null;
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const fs = attrs.filterShape as number[];
      const g = geometry(x.shape, fs, attrs, [1, 1]);
      return b.makeTensorInfo(
        fs,
        "float32",
        k.conv2dBackpropFilter(values(b, x), values(b, dy), g),
      );
    }),
    withFallback(tf.Conv2DBackpropInput, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["dy", "filter"]) || !isNhwc(attrs)) return null;
      const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const xs = attrs.inputShape as number[];
      const g = geometry(xs, filter.shape, attrs, [1, 1]);
      const dx = k.conv2dBackpropInput(values(b, dy), values(b, filter), g);
      return b.makeTensorInfo(xs, "float32", dx);
    }),
    withFallback(tf.FusedConv2D, (inputs, b, attrs) => {
      const act = attrs.activation as string | undefined;
      if (!allFloat(inputs, ["x", "filter"]) || !isNhwc(attrs)) return null;
      if (inputs.preluActivationWeights !== undefined) return null;
      if (act !== undefined && act !== "linear" && act !== "relu") return null;
      const { x, filter, bias } = inputs as {
        x: tf.TensorInfo;
        filter: tf.TensorInfo;
        bias?: tf.TensorInfo;
      };
      const g = geometry(x.shape, filter.shape, attrs, attrs.dilations);
      const c = g.outChannels;
      if (bias !== undefined && (bias.dtype !== "float32" || sizeOf(bias.shape) !== c)) return null;
      const bv = bias === undefined ? undefined : values(b, bias);
      const out = k.conv2d(values(b, x), values(b, filter), g, bv);
      if (act === "relu") {
        for (let i = 0; i < out.length; i++) if (out[i] < 0) out[i] = 0;
      }
      return b.makeTensorInfo([g.batchSize, g.outHeight, g.outWidth, c], "float32", out);
    }),
    withFallback(tf.BatchMatMul, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["a", "b"])) return null;
      const { a, b: bb } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const ra = a.shape.length;
      const rb = bb.shape.length;
      if (ra < 2 || rb < 2) return null;
      const ta = attrs.transposeA === true;
      const tb = attrs.transposeB === true;
      const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
      const kk = ta ? a.shape[ra - 2] : a.shape[ra - 1];
      const n = tb ? bb.shape[rb - 2] : bb.shape[rb - 1];
      const batchA = sizeOf(a.shape.slice(0, -2));
      const batchB = sizeOf(bb.shape.slice(0, -2));
      // Same batch dims, or one side a single matrix; other broadcasts go to the reference kernel.
      const lead = (batchA >= batchB ? a.shape : bb.shape).slice(0, -2);
      if (batchA !== batchB && Math.min(batchA, batchB) !== 1) return null;
      if (batchA === batchB && ra !== rb) return null;
      const batch = Math.max(batchA, batchB);
      const shape = { batch, m, n, k: kk, transA: ta, transB: tb };
      const out = k.matmul(values(b, a), values(b, bb), shape);
      return b.makeTensorInfo([...lead, m, n], "float32", out);
    }),
  ];
}

function binaryKernel(name: string, op: BinaryOp, k: ComputeKernels): tf.KernelConfig {
  return withFallback(name, (inputs, b) => {
    if (!allFloat(inputs, ["a", "b"])) return null;
    const { a, b: bb } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const va = values(b, a);
    const vb = values(b, bb);
    const native = k.binary?.(op, va, a.shape, vb, bb.shape) ?? null;
    if (native !== null) {
      const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, bb.shape);
      return b.makeTensorInfo(shape, "float32", native);
    }
    const r = binary(op, va, a.shape, vb, bb.shape);
    return r === null ? null : b.makeTensorInfo(r.shape, "float32", r.values);
  });
}

function reduceKernel(name: string, mean: boolean): tf.KernelConfig {
  return withFallback(name, (inputs, b, attrs) => {
    if (!allFloat(inputs, ["x"])) return null;
    const x = inputs.x as tf.TensorInfo;
    const axes = normAxes(attrs.axis as number | number[] | undefined, x.shape.length);
    if (axes === null) return null;
    const r = reduce(values(b, x), x.shape, axes, attrs.keepDims === true, mean);
    return r === null ? null : b.makeTensorInfo(r.shape, "float32", r.values);
  });
}

/** Inference batch norm as the engine's one-pass `x · scale + shift`, or null where it has none. */
function nativeBatchNorm(
  k: ComputeKernels,
  x: Float32Array,
  a: BatchNormAffine,
): Float32Array | null {
  if (k.scaleShift === undefined) return null;
  const scale = Float32Array.from(a.mul);
  const shift = a.add.map((add, c) => add - a.sub[c] * a.mul[c]);
  return k.scaleShift(x, a.mul.length, scale, Float32Array.from(shift));
}

/** Kernels whose tfjs cpu versions are slow for memory-bound reasons (see elementwise.ts). */
function memoryKernels(k: ComputeKernels): tf.KernelConfig[] {
  return [
    withFallback(tf.Relu, (inputs, b) => {
      if (!allFloat(inputs, ["x"])) return null;
      const x = inputs.x as tf.TensorInfo;
      return b.makeTensorInfo(x.shape, "float32", relu(values(b, x)));
    }),
    withFallback(tf.Step, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["x"])) return null;
      const x = inputs.x as tf.TensorInfo;
      return b.makeTensorInfo(x.shape, "float32", step(values(b, x), Number(attrs.alpha ?? 0)));
    }),
    withFallback(tf.Transpose, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["x"])) return null;
      const x = inputs.x as tf.TensorInfo;
      const r = transpose(values(b, x), x.shape, attrs.perm as number[]);
      return b.makeTensorInfo(r.shape, "float32", r.values);
    }),
    withFallback(tf.Square, (inputs, b) => {
      if (!allFloat(inputs, ["x"])) return null;
      const x = inputs.x as tf.TensorInfo;
      return b.makeTensorInfo(x.shape, "float32", square(values(b, x)));
    }),
    withFallback(tf.FusedBatchNorm, (inputs, b, attrs) => {
      const names = ["x", "mean", "variance", "offset", "scale"].filter((n) => inputs[n]);
      if (!allFloat(inputs, names)) return null;
      const x = inputs.x as tf.TensorInfo;
      const get = (n: string) => (inputs[n] === undefined ? null : values(b, inputs[n]!));
      const channels = x.shape[x.shape.length - 1] ?? 1;
      const vx = values(b, x);
      if (vx.length % channels !== 0) return null;
      const a = batchNormAffine(
        channels,
        get("mean")!,
        get("variance")!,
        get("offset"),
        get("scale"),
        Number(attrs.varianceEpsilon ?? 0.001),
      );
      if (a === null) return null;
      return b.makeTensorInfo(x.shape, "float32", nativeBatchNorm(k, vx, a) ?? batchNorm(vx, a));
    }),
    binaryKernel(tf.Add, "add", k),
    binaryKernel(tf.Sub, "sub", k),
    binaryKernel(tf.Multiply, "mul", k),
    binaryKernel(tf.RealDiv, "div", k),
    reduceKernel(tf.Sum, false),
    reduceKernel(tf.Mean, true),
    withFallback(tf.Slice, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["x"])) return null;
      const x = inputs.x as tf.TensorInfo;
      const [begin, size] = tf.slice_util.parseSliceParams(
        x as tf.Tensor,
        attrs.begin as number[],
        attrs.size as number[],
      );
      return b.makeTensorInfo(size, "float32", slice(values(b, x), x.shape, begin, size));
    }),
    withFallback(tf.GatherV2, (inputs, b, attrs) => {
      const { x, indices } = inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
      if (
        x.dtype !== "float32" || indices.dtype !== "int32" || Number(attrs.batchDims ?? 0) !== 0
      ) {
        return null;
      }
      const rank = x.shape.length;
      const axis = Number(attrs.axis ?? 0) < 0
        ? Number(attrs.axis) + rank
        : Number(attrs.axis ?? 0);
      if (!(axis >= 0 && axis < rank)) return null;
      const idx = b.data.get(indices.dataId).values;
      if (!(idx instanceof Int32Array)) return null;
      const outer = sizeOf(x.shape.slice(0, axis));
      const inner = sizeOf(x.shape.slice(axis + 1));
      const out = gatherAxis(values(b, x), outer, x.shape[axis], inner, idx);
      if (out === null) return null;
      const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
      return b.makeTensorInfo(shape, "float32", out);
    }),
    withFallback(tf.PadV2, (inputs, b, attrs) => {
      if (!allFloat(inputs, ["x"])) return null;
      const x = inputs.x as tf.TensorInfo;
      const paddings = attrs.paddings as [number, number][];
      const r = pad(values(b, x), x.shape, paddings, Number(attrs.constantValue ?? 0));
      return b.makeTensorInfo(r.shape, "float32", r.values);
    }),
  ];
}

/** The fused optimizer update (see ../fused_sgd.ts): one pass instead of six elementwise ops. */
function sgdKernel(): tf.KernelConfig {
  const kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const b = args.backend as unknown as CpuBackendLike;
    const { param, grad, buf, ok } = args.inputs as {
      param: tf.TensorInfo;
      grad: tf.TensorInfo;
      buf?: tf.TensorInfo;
      ok?: tf.TensorInfo;
    };
    const p = values(b, param);
    const g = values(b, grad);
    const old = buf === undefined ? null : values(b, buf);
    if (g.length !== p.length || (old !== null && old.length !== p.length)) {
      throw new Error(`${SGD_MOMENTUM_KERNEL}: parameter, gradient and buffer sizes differ`);
    }
    const pOut = allocOutput(p.length);
    const bOut = allocOutput(p.length);
    const apply = ok === undefined || values(b, ok)[0] !== 0;
    sgdMomentumArrays(p, g, old, args.attrs as unknown as SgdMomentumAttrs, pOut, bOut, apply);
    return [
      b.makeTensorInfo(param.shape, "float32", pOut),
      b.makeTensorInfo(param.shape, "float32", bOut),
    ];
  }) as tf.KernelFunc;
  return { kernelName: SGD_MOMENTUM_KERNEL, backendName: BACKEND_NAME, kernelFunc };
}

/** The fused training batch norm (see ../fused_batchnorm.ts): forward and gradient kernels. */
function batchNormKernels(): tf.KernelConfig[] {
  const train = ((args: Parameters<tf.KernelFunc>[0]) => {
    const b = args.backend as unknown as CpuBackendLike;
    const { x, gamma, beta } = args.inputs as Record<string, tf.TensorInfo>;
    const c = gamma.shape[0];
    checkChannels(BN_TRAIN_KERNEL, x, [gamma, beta], c);
    const y = allocOutput(sizeOf(x.shape));
    const eps = Number(args.attrs?.eps);
    const { mean, variance } = batchNormTrainArrays(
      values(b, x),
      values(b, gamma),
      values(b, beta),
      eps,
      y,
    );
    return [
      b.makeTensorInfo(x.shape, "float32", y),
      b.makeTensorInfo([c], "float32", mean),
      b.makeTensorInfo([c], "float32", variance),
    ];
  }) as tf.KernelFunc;
  const grad = ((args: Parameters<tf.KernelFunc>[0]) => {
    const b = args.backend as unknown as CpuBackendLike;
    const { dy, x, mean, variance, gamma } = args.inputs as Record<string, tf.TensorInfo>;
    const c = gamma.shape[0];
    checkChannels(BN_GRAD_KERNEL, x, [mean, variance, gamma], c);
    if (sizeOf(dy.shape) !== sizeOf(x.shape)) {
      throw new Error(`${BN_GRAD_KERNEL}: dy has shape [${dy.shape}], x has [${x.shape}]`);
    }
    const dx = allocOutput(sizeOf(x.shape));
    const { dGamma, dBeta } = batchNormGradArrays(
      values(b, dy),
      values(b, x),
      values(b, mean),
      values(b, variance),
      values(b, gamma),
      Number(args.attrs?.eps),
      dx,
    );
    return [
      b.makeTensorInfo(x.shape, "float32", dx),
      b.makeTensorInfo([c], "float32", dGamma),
      b.makeTensorInfo([c], "float32", dBeta),
    ];
  }) as tf.KernelFunc;
  return [
    { kernelName: BN_TRAIN_KERNEL, backendName: BACKEND_NAME, kernelFunc: train },
    { kernelName: BN_GRAD_KERNEL, backendName: BACKEND_NAME, kernelFunc: grad },
  ];
}

function checkChannels(kernel: string, x: tf.TensorInfo, perChannel: tf.TensorInfo[], c: number) {
  const last = x.shape[x.shape.length - 1];
  if (last !== c || perChannel.some((t) => t.shape.length !== 1 || t.shape[0] !== c)) {
    throw new Error(
      `${kernel}: x has shape [${x.shape}]; every per-channel input must have shape [${last}]`,
    );
  }
}

/**
 * tfjs's cpu backend telling the output pool (pool.ts) when an array is registered, read out or
 * freed, so that the arrays of disposed intermediate tensors are reused instead of re-faulted.
 * Values resident in kernel memory are read out as copies: the memory is reused once the tensor
 * is freed, and what `dataSync` returned must not change then.
 */
class PoolingCpuBackend extends tf.MathBackendCPU {
  /** Counts the tensors' bytes against the engine's limit (memory_budget.ts). */
  constructor(readonly budget: TensorMemoryBudget) {
    super();
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType) {
    // Refused before it is registered: the cell fails and nothing else changes.
    const bytes = valuesBytes(values, shape, dtype);
    this.budget.ensureRoom(bytes);
    noteRegistered(values);
    const dataId = super.write(values, shape, dtype);
    this.budget.count(dataId, bytes);
    return dataId;
  }

  override move(
    dataId: tf.DataId,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    const bytes = valuesBytes(values, shape, dtype);
    this.budget.release(dataId);
    this.budget.reserve(dataId, bytes);
    noteRegistered(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: tf.DataId): tf.backend_util.BackendValues {
    const values = super.readSync(dataId);
    if (isResident(values)) return values.slice();
    noteEscaped(values);
    return values;
  }

  // `read` goes through `readSync` (tfjs's cpu backend), so reads out copies too.

  override disposeData(dataId: tf.DataId, force = false): boolean {
    // `data.get` of an id this backend does not hold would move it here: look first.
    const values = this.data.has(dataId) ? this.data.get(dataId).values : undefined;
    const freed = super.disposeData(dataId, force);
    if (freed && !this.data.has(dataId)) {
      this.budget.release(dataId);
      if (values !== undefined) noteReleased(values);
    }
    return freed;
  }
}

/** Bytes a tensor's values take (its shape's worth when they are not there yet). */
function valuesBytes(
  values: tf.backend_util.BackendValues | null,
  shape: number[],
  dtype: tf.DataType,
): number {
  if (ArrayBuffer.isView(values)) return values.byteLength;
  if (Array.isArray(values)) {
    return (values as Uint8Array[]).reduce((n, v) => n + (v?.byteLength ?? 0), 0);
  }
  return sizeOf(shape) * (dtype === "complex64" ? 8 : 4);
}

let budget: TensorMemoryBudget | null = null;

/**
 * The CPU engine's tensor memory: bytes held and the limit (memory_budget.ts). Set `limitBytes`
 * to change the limit; null before the backend is registered.
 */
export function cpuTensorMemory(): TensorMemoryBudget | null {
  return budget;
}

function sizeOf(shape: number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

function defaultThreads(): number {
  const n = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 1;
  return Math.max(1, Math.min(16, n || 1));
}

/** Options of {@link registerFastCpuBackend}. */
export interface FastCpuOptions {
  /** Threads for the kernels (default: all cores, at most 16). */
  threads?: number;
  /**
   * Engine of convolutions and matrix products: "auto" (default, or `TESKD_CPU_ENGINE`) uses
   * oneDNN when `libdnnl.so.2` loads and FFI is permitted, WebAssembly otherwise; "onednn" fails
   * when oneDNN cannot be used; "wasm" never tries it. `TESKD_ONEDNN_LIB` names the library file.
   */
  engine?: CpuEngineRequest;
}

/**
 * Registers the fast CPU backend with tfjs under the name "teskd-cpu" (idempotent) and returns
 * what engine runs it. Every tfjs cpu kernel is available; convolutions (plain and fused) and
 * matrix products run on oneDNN through FFI when it is installed, else as WebAssembly SIMD kernels,
 * on `threads` threads (default: all cores), and the memory-bound ops of a training step
 * (broadcasting arithmetic, reductions, ReLU, batch norm, transpose, slice, pad) have faster
 * TypeScript versions. The first call decides threads and engine; later calls return the same
 * registration.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * const info = await registerFastCpuBackend();
 * await tf.setBackend(info.name);
 * ```
 */
export function registerFastCpuBackend(opts: FastCpuOptions = {}): Promise<FastCpuBackendInfo> {
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    return Promise.reject(
      new Error(`registerFastCpuBackend: threads must be an integer in 1..64, got ${threads}`),
    );
  }
  if (registered === null) {
    let request: CpuEngineRequest;
    try {
      request = opts.engine ?? parseCpuEngineRequest(readEnv("TESKD_CPU_ENGINE") ?? "auto");
    } catch (e) {
      return Promise.reject(e);
    }
    registered = setup(threads, request).catch((e) => {
      registered = null; // let a later call retry
      throw e;
    });
  }
  return registered;
}

async function setup(threads: number, request: CpuEngineRequest): Promise<FastCpuBackendInfo> {
  // Relaxed SIMD (fused multiply-add) where the runtime validates it, plain SIMD otherwise.
  const relaxed = await Deno.readFile(WASM_URLS.relaxed);
  const rt = WebAssembly.validate(relaxed as Uint8Array<ArrayBuffer>)
    ? await KernelRuntime.create(relaxed, threads, "wasm-simd-relaxed")
    : await KernelRuntime.create(await Deno.readFile(WASM_URLS.simd), threads, "wasm-simd");
  runtime = rt;
  const choice = chooseComputeKernels(request, rt, threads);
  // oneDNN reads ordinary arrays in place; only the WebAssembly kernels need operands in their memory.
  useResidentStore(choice.engine === "wasm" ? rt : null);
  const fast = [...fastKernels(choice.kernels), ...memoryKernels(choice.kernels)];
  const replaced = new Set(fast.map((k) => k.kernelName));
  const tensorBudget = new TensorMemoryBudget(defaultTensorMemoryLimit(), BACKEND_NAME);
  budget = tensorBudget;
  tf.registerBackend(BACKEND_NAME, () => {
    const backend = new PoolingCpuBackend(tensorBudget);
    // The cpu backend's first write prints advice to install tfjs-node, which does not apply here.
    (backend as unknown as { firstUse: boolean }).firstUse = false;
    return backend;
  }, 0);
  for (const k of tf.getKernelsForBackend("cpu")) {
    if (!replaced.has(k.kernelName)) tf.registerKernel({ ...k, backendName: BACKEND_NAME });
  }
  for (const k of [...fast, sgdKernel(), ...batchNormKernels()]) tf.registerKernel(k);
  // Every kernel first asks the Jupyter kernel's interrupt check (interrupt_check.ts), as on WebGPU.
  checkKernelsOf(BACKEND_NAME);
  return {
    name: BACKEND_NAME,
    engine: choice.kernels.label,
    computeEngine: choice.engine,
    ...(choice.oneDnnUnavailable ? { oneDnnUnavailable: choice.oneDnnUnavailable } : {}),
    threads: rt.threads,
  };
}
