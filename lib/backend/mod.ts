/**
 * The one place that decides which TensorFlow.js engine runs the library, and says what it chose and why.
 *
 * Order of preference under `"auto"`: `tensorflow` (when `@tensorflow/tfjs-node-gpu` or
 * `@tensorflow/tfjs-node` is installed and loads), `webgpu` (when `navigator.gpu` offers a hardware
 * adapter; a software rasterizer such as llvmpipe only when allowed), otherwise the CPU path.
 * The environment variable `TESKD_BACKEND` (auto, tensorflow, webgpu, cpu) and the `request` argument of
 * {@link initBackend} override the choice; an impossible choice throws {@link BackendUnavailableError}.
 * `TESKD_ALLOW_SOFTWARE_GPU=1` admits software WebGPU adapters.
 *
 * @example
 * ```ts
 * import { initBackend } from "teskd";
 * const info = await initBackend();      // or initBackend("webgpu")
 * console.log(info.name, info.reason);
 * ```
 *
 * @module
 */
import { checkKernelsOf } from "./interrupt_check.ts";
import * as tf from "@tensorflow/tfjs";
import { readEnv } from "./env.ts";
import { registerFastCpuBackend } from "./cpu/mod.ts";
import { tensorMemoryLimitFromEnv } from "./cpu/memory_budget.ts";
import type { WebGpuBackendLike } from "./webgpu_memory.ts";
import { type EngineProbe, type GpuAdapterSummary, probeEngines } from "./probe.ts";
import {
  type BackendName,
  type BackendRequest,
  BackendUnavailableError,
  chooseBackend,
  parseBackendRequest,
} from "./choose.ts";

export { BackendUnavailableError, chooseBackend, parseBackendRequest };
export type { BackendName, BackendRequest, EngineProbe, GpuAdapterSummary };

/** What {@link initBackend} chose, and why. */
export interface BackendInfo {
  /** The engine running the library. */
  name: BackendName;
  /** The tfjs backend name registered for it ("tensorflow", "webgpu", "teskd-cpu"). */
  tfjsBackend: string;
  /** What was asked for, and where the request came from. */
  requested: BackendRequest;
  /** "argument", "environment (TESKD_BACKEND)" or "default". */
  requestSource: string;
  /** One sentence saying why this engine was chosen. */
  reason: string;
  /** The WebGPU adapter, when the engine is webgpu (or when one was seen). */
  adapter?: GpuAdapterSummary;
  /** The native binding, when the engine is tensorflow. */
  tensorflowPackage?: string;
  /**
   * The CPU kernels that run when the engine is cpu, e.g. "onednn 2.6.3 x2 threads
   * (wasm-simd-relaxed x2 threads fallback)", or "wasm-simd-relaxed x2 threads; oneDNN not used: …".
   */
  cpuEngine?: string;
  /** The tfjs version. */
  tfjsVersion: string;
}

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Admit a software WebGPU adapter. Default: `TESKD_ALLOW_SOFTWARE_GPU=1`, else false. */
  allowSoftwareGpu?: boolean;
  /** Environment lookup (tests pass their own); default reads `Deno.env`. */
  env?: (name: string) => string | undefined;
}

// tfjs registers WebGL first; under Deno (no canvas) it can only fail, loudly, whenever code touches
// tensors before initBackend(). Without it tfjs falls back to its cpu backend quietly.
if (tf.findBackendFactory("webgl")) tf.removeBackend("webgl");

let current: BackendInfo | undefined;

/**
 * Chooses and activates the engine. Safe to call more than once: the last call wins.
 *
 * @param request an engine name or "auto"; when omitted, `TESKD_BACKEND` or "auto".
 * @throws BackendUnavailableError when the requested engine cannot run here.
 */
export async function initBackend(
  request?: BackendRequest,
  opts: InitBackendOptions = {},
): Promise<BackendInfo> {
  const env = opts.env ?? readEnv;
  const fromEnv = env("TESKD_BACKEND");
  const requested = request ?? (fromEnv ? parseBackendRequest(fromEnv, "TESKD_BACKEND") : "auto");
  const requestSource = request !== undefined
    ? "argument"
    : fromEnv
    ? "environment (TESKD_BACKEND)"
    : "default";
  const allowSoftwareGpu = opts.allowSoftwareGpu ?? env("TESKD_ALLOW_SOFTWARE_GPU") === "1";
  // Probing WebGPU starts a Vulkan instance (and makes noise on machines without a display
  // session); an explicit CPU request needs no probe at all.
  const probe: EngineProbe = requested === "cpu" ? {} : await probeEngines();
  const choice = chooseBackend(requested, probe, { allowSoftwareGpu });
  const activated = await activate(choice.name, env);
  current = {
    name: choice.name,
    tfjsBackend: activated.tfjsBackend,
    requested,
    requestSource,
    reason: choice.reason,
    adapter: probe.gpuAdapter,
    tensorflowPackage: choice.name === "tensorflow" ? probe.tensorflowPackage : undefined,
    cpuEngine: activated.cpuEngine,
    tfjsVersion: tf.version.tfjs,
  };
  return current;
}

/**
 * What the last {@link initBackend} chose and why.
 * @throws Error when no backend was initialised yet.
 */
export function backendInfo(): BackendInfo {
  if (!current) throw new Error("no backend initialised yet: call `await initBackend()` first");
  return current;
}

async function activate(
  name: BackendName,
  env: (name: string) => string | undefined,
): Promise<{ tfjsBackend: string; cpuEngine?: string }> {
  let tfjsBackend: string = name;
  let cpuEngine: string | undefined;
  if (name === "webgpu") {
    await import("@tensorflow/tfjs-backend-webgpu");
    // Loaded with the backend only: a CPU run never touches the WebGPU module.
    (await import("./webgpu_addn.ts")).registerChunkedWebGpuAddN();
    (await import("./webgpu_sgd.ts")).registerWebGpuSgd();
    checkKernelsOf("webgpu"); // the kernel's interrupt between kernels (interrupt_check.ts)
  }
  if (name === "cpu") {
    // The CPU path is tfjs's cpu backend with its heavy kernels replaced: oneDNN through FFI where
    // it is installed, threaded WebAssembly SIMD otherwise (TESKD_CPU_ENGINE chooses).
    const fast = await registerFastCpuBackend();
    tfjsBackend = fast.name;
    cpuEngine = fast.engine +
      (fast.oneDnnUnavailable ? `; oneDNN not used: ${fast.oneDnnUnavailable}` : "");
  }
  if (!(await tf.setBackend(tfjsBackend))) {
    throw new BackendUnavailableError(`tfjs could not initialise its "${tfjsBackend}" backend`);
  }
  await tf.ready();
  if (name === "webgpu") {
    // A tensor past the device's limits would otherwise read as zeros (webgpu_memory.ts).
    const { guardWebGpuMemory } = await import("./webgpu_memory.ts");
    guardWebGpuMemory(
      tf.backend() as unknown as WebGpuBackendLike,
      tensorMemoryLimitFromEnv(env),
    );
  }
  return { tfjsBackend, cpuEngine };
}
