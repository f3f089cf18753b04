/**
 * Fast CPU training backend for TensorFlow.js under Deno ("teskd-cpu"): tfjs's CPU backend with
 * convolutions and matrix products replaced by multi-threaded WebAssembly SIMD kernels.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { registerFastCpuBackend } from "./mod.ts";
 * const { name, engine } = await registerFastCpuBackend({ threads: 2 });
 * await tf.setBackend(name);
 * console.log(engine); // "wasm-simd-relaxed x2 threads"
 * ```
 *
 * @module
 */
export { BACKEND_NAME, type FastCpuBackendInfo, registerFastCpuBackend } from "./backend.ts";
