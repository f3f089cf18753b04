/**
 * What the machine offers to TensorFlow.js: a loadable native TensorFlow binding and the WebGPU adapter.
 *
 * Probing is separate from choosing ({@link ./choose.ts}) so that the choice can be tested on any machine
 * by feeding it a made-up probe.
 *
 * @module
 */

/** The WebGPU adapter as `navigator.gpu` reports it. */
export interface GpuAdapterSummary {
  /** Vendor as the adapter reports it (a PCI id or a name). */
  vendor: string;
  /** Architecture, e.g. "hopper"; may be empty. */
  architecture: string;
  /** Device id or name; may be empty. */
  device: string;
  /** Driver's description, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** True for a software rasterizer (llvmpipe, lavapipe, SwiftShader, WARP) or a declared fallback adapter. */
  software: boolean;
  /** Optional features, e.g. "shader-f16". */
  features: string[];
  /** The adapter's limits that matter for training kernels. */
  limits: Record<string, number>;
}

/** What {@link probeEngines} found. */
export interface EngineProbe {
  /** The native TensorFlow binding that loaded ("@tensorflow/tfjs-node-gpu" or "@tensorflow/tfjs-node"), if any. */
  tensorflowPackage?: string;
  /** Why no native binding is available, when none is. */
  tensorflowError?: string;
  /** The WebGPU adapter, if `navigator.gpu` offers one. */
  gpuAdapter?: GpuAdapterSummary;
  /** Why no WebGPU adapter is available, when none is. */
  gpuError?: string;
}

/** The packages that provide tfjs's native `tensorflow` backend, in order of preference. */
export const TENSORFLOW_PACKAGES = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const;

const SOFTWARE_ADAPTERS = /llvmpipe|lavapipe|softpipe|swiftshader|warp|software/i;

const LIMITS_REPORTED = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxStorageBuffersPerShaderStage",
] as const;

/** Summarises a WebGPU adapter: identity, whether it is software, features and key limits. */
export function summarizeAdapter(adapter: GPUAdapter): GpuAdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key of LIMITS_REPORTED) limits[key] = Number(adapter.limits[key]);
  const description = info.description ?? "";
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description,
    software: fallback === true || SOFTWARE_ADAPTERS.test(description),
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}

/**
 * Loads the first native TensorFlow binding that is installed and loadable.
 * Loading one registers tfjs's `tensorflow` backend as a side effect.
 */
export async function loadTensorflowBinding(): Promise<{ pkg?: string; error?: string }> {
  const errors: string[] = [];
  for (const pkg of TENSORFLOW_PACKAGES) {
    try {
      // A variable specifier keeps these optional packages out of the module graph and the type check.
      const specifier: string = pkg;
      await import(specifier);
      return { pkg };
    } catch (e) {
      errors.push(`${pkg}: ${firstLine(e)}`);
    }
  }
  return { error: errors.join("; ") };
}

/**
 * Mesa's Vulkan window-system code (libwayland's connect) prints "XDG_RUNTIME_DIR is invalid or not
 * set in the environment" on every headless machine without a login session, although compute
 * needs no window system. It only checks that the variable holds an absolute path, so, when it is
 * unset, the probe sets it to the conventional `/run/user/<uid>`: nothing is created, and a
 * window-system connection then fails quietly, as it should on such a machine.
 */
function quietWindowSystem(): void {
  if (Deno.build.os !== "linux" || Deno.env.get("XDG_RUNTIME_DIR")) return;
  Deno.env.set("XDG_RUNTIME_DIR", `/run/user/${Deno.uid() ?? 0}`);
}

/** Asks `navigator.gpu` for its preferred adapter. */
export async function requestGpuAdapter(): Promise<{ adapter?: GPUAdapter; error?: string }> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return { error: "navigator.gpu is not available in this runtime" };
  quietWindowSystem();
  try {
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
    if (!adapter) {
      return { error: "navigator.gpu offered no adapter (no Vulkan/Metal/D3D12 driver found)" };
    }
    return { adapter };
  } catch (e) {
    return { error: `navigator.gpu.requestAdapter failed: ${firstLine(e)}` };
  }
}

/** Probes both engines: the native binding (loading it if present) and the WebGPU adapter. */
export async function probeEngines(): Promise<EngineProbe> {
  const [tensorflow, gpu] = await Promise.all([loadTensorflowBinding(), requestGpuAdapter()]);
  return {
    tensorflowPackage: tensorflow.pkg,
    tensorflowError: tensorflow.error,
    gpuAdapter: gpu.adapter ? summarizeAdapter(gpu.adapter) : undefined,
    gpuError: gpu.error,
  };
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split("\n")[0];
}
