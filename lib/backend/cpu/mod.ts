/**
 * Fast CPU training backend for TensorFlow.js under Deno ("teskd-cpu"): tfjs's CPU backend with
 * convolutions and matrix products replaced by oneDNN's (through FFI, where `libdnnl.so.2` is
 * installed) or by multi-threaded WebAssembly SIMD kernels, and fused BatchNorm and SGD kernels.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerFastCpuBackend } from "./mod.ts";
 * const { name, engine } = await registerFastCpuBackend({ threads: 2 });
 * await tf.setBackend(name);
 * console.log(engine); // "onednn 2.6.3 x2 threads (wasm-simd-relaxed x2 threads fallback)"
 * ```
 *
 * @module
 */
export {
  BACKEND_NAME,
  cpuTensorMemory,
  type FastCpuBackendInfo,
  type FastCpuOptions,
  registerFastCpuBackend,
} from "./backend.ts";
export type { CpuEngineRequest } from "./engine.ts";
export { TENSOR_MEMORY_ENV, TensorMemoryBudget, TensorMemoryError } from "./memory_budget.ts";
