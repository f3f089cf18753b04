/**
 * The one rule that decides which engine runs the library, as a pure function of what was asked for and
 * what the machine offers.
 *
 * @module
 */
import type { EngineProbe } from "./probe.ts";

/** The engines the library can run on. */
export type BackendName = "tensorflow" | "webgpu" | "cpu";

/** What a caller may ask for: an engine, or "auto" for the best one available. */
export type BackendRequest = BackendName | "auto";

/** Names accepted by {@link parseBackendRequest}. */
export const BACKEND_REQUESTS: readonly BackendRequest[] = ["auto", "tensorflow", "webgpu", "cpu"];

/** The outcome of {@link chooseBackend}. */
export interface BackendChoice {
  /** The engine chosen. */
  name: BackendName;
  /** One sentence saying why. */
  reason: string;
}

/** Options of {@link chooseBackend}. */
export interface ChooseOptions {
  /** Accept a software WebGPU adapter (llvmpipe and the like): correct but slow. Default false. */
  allowSoftwareGpu?: boolean;
}

/** Raised when the requested engine cannot run here. Never replaced by a silent fallback. */
export class BackendUnavailableError extends Error {
  override name = "BackendUnavailableError";
}

/** Parses a backend name from user input (an environment variable, a config field), case-insensitively. */
export function parseBackendRequest(value: string, source = "backend"): BackendRequest {
  const v = value.trim().toLowerCase();
  if ((BACKEND_REQUESTS as readonly string[]).includes(v)) return v as BackendRequest;
  throw new BackendUnavailableError(
    `${source}: unknown backend "${value}"; expected one of ${BACKEND_REQUESTS.join(", ")}`,
  );
}

/**
 * Chooses the engine: `tensorflow` when a native binding loaded; else `webgpu` when a hardware adapter
 * exists (a software one only when allowed); else `cpu`. An explicit request that cannot be met throws.
 *
 * @example
 * ```ts
 * chooseBackend("auto", { gpuError: "no adapter" }).name; // "cpu"
 * ```
 */
export function chooseBackend(
  request: BackendRequest,
  probe: EngineProbe,
  opts: ChooseOptions = {},
): BackendChoice {
  const gpu = probe.gpuAdapter;
  const gpuUsable = gpu !== undefined && (!gpu.software || opts.allowSoftwareGpu === true);
  const gpuName = gpu ? gpu.description || `vendor ${gpu.vendor}` : "";
  switch (request) {
    case "tensorflow":
      if (probe.tensorflowPackage) {
        return { name: "tensorflow", reason: `requested; ${probe.tensorflowPackage} loaded` };
      }
      throw new BackendUnavailableError(
        "backend tensorflow was requested but no native TensorFlow binding loads: " +
          (probe.tensorflowError ?? "not installed") +
          ". Install @tensorflow/tfjs-node-gpu (CUDA 11.2, cuDNN 8.1) or @tensorflow/tfjs-node.",
      );
    case "webgpu":
      if (gpu && gpuUsable) {
        const kind = gpu.software ? "software adapter, allowed" : "adapter";
        return { name: "webgpu", reason: `requested; ${kind} ${gpuName}` };
      }
      if (gpu) {
        throw new BackendUnavailableError(
          `backend webgpu was requested but the only adapter is a software rasterizer (${gpuName}); ` +
            "allow it with allowSoftwareGpu / TESKD_ALLOW_SOFTWARE_GPU=1 (correct, slow)",
        );
      }
      throw new BackendUnavailableError(
        `backend webgpu was requested but no WebGPU adapter is available: ${
          probe.gpuError ?? "none"
        }`,
      );
    case "cpu":
      return { name: "cpu", reason: "requested" };
    case "auto":
      if (probe.tensorflowPackage) {
        return { name: "tensorflow", reason: `${probe.tensorflowPackage} is installed and loads` };
      }
      if (gpuUsable) {
        return {
          name: "webgpu",
          reason: `no native TensorFlow binding; WebGPU adapter ${gpuName}`,
        };
      }
      return {
        name: "cpu",
        reason: "no native TensorFlow binding" +
          (gpu
            ? `; WebGPU adapter is software (${gpuName}), not used unless allowed`
            : "; no WebGPU adapter"),
      };
  }
}
