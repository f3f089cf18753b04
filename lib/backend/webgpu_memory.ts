/**
 * The WebGPU engine's memory limits, turned into errors. tfjs's WebGPU backend creates a buffer for
 * any tensor; one larger than the device allows to bind (`maxStorageBufferBindingSize`, 128 MiB on
 * many devices) or to create (`maxBufferSize`) only raises an uncaptured validation error, the
 * programs that use it are dropped, and the results read as zeros: a model that does not fit
 * trains on garbage without a word. A device out of memory is reported the same way.
 *
 * {@link guardWebGpuMemory} makes the backend refuse such a buffer at once with a
 * {@link TensorMemoryError} naming the device's limit (and a limit on the bytes the backend's
 * storage buffers hold, `TESKD_TENSOR_MEMORY_MB` when set), and records the device's uncaptured errors so that
 * the next buffer or read fails with what the device said instead of returning garbage.
 *
 * @example
 * ```ts
 * await tf.setBackend("webgpu");
 * guardWebGpuMemory(tf.backend() as unknown as WebGpuBackendLike);
 * tf.zeros([64, 1024, 1024]).add(1); // TensorMemoryError: … the device's maxStorageBufferBindingSize …
 * ```
 * @module
 */
import { TensorMemoryError } from "./cpu/memory_budget.ts";

/** The parts of tfjs's WebGPU backend this guard wraps. */
export interface WebGpuBackendLike {
  device: GPUDevice;
  bufferManager: {
    numBytesUsed: number;
    acquireBuffer(size: number, usage: number, ...rest: unknown[]): GPUBuffer;
  };
  read(dataId: object): Promise<unknown>;
  readSync(dataId: object): unknown;
}

/** The device reported an error that invalidated work (out of memory, or an invalid program). */
export class WebGpuDeviceError extends Error {
  override name = "WebGpuDeviceError";
}

/** The guard of one backend: its limit on the bytes of storage buffers in use (settable). */
export interface WebGpuMemoryGuard {
  limitBytes: number | undefined;
}

const guards = new WeakMap<object, WebGpuMemoryGuard>();

/** STORAGE usage flag (GPUBufferUsage.STORAGE), spelled out: the global is absent without WebGPU. */
const STORAGE = 0x80;

/**
 * Wraps `backend`'s buffer manager and reads (see the module docs). A second call for the same
 * backend returns the same guard.
 *
 * @param limitBytes a limit on the bytes of storage buffers in use; default none beyond the
 *   device's own (initBackend passes `TESKD_TENSOR_MEMORY_MB` when set)
 */
export function guardWebGpuMemory(
  backend: WebGpuBackendLike,
  limitBytes?: number,
): WebGpuMemoryGuard {
  const existing = guards.get(backend);
  if (existing) return existing;
  const guard: WebGpuMemoryGuard = { limitBytes };
  guards.set(backend, guard);
  const { device, bufferManager } = backend;
  const limits = device.limits;
  let deviceError: string | undefined;
  device.addEventListener("uncapturederror", (e) => {
    const error = (e as GPUUncapturedErrorEvent).error;
    // The first one says why; what follows (invalid bind groups…) are its consequences.
    deviceError ??= `${error.constructor.name}: ${error.message}`;
  });
  const failIfBroken = () => {
    if (deviceError === undefined) return;
    const why = deviceError;
    deviceError = undefined; // reported once; later work may be fine again
    throw new WebGpuDeviceError(
      `webgpu: the device reported an error, so results computed since are not valid: ${why}. ` +
        "A model or batch too large for the GPU's memory is the usual cause: use a smaller one.",
    );
  };
  const refuse = (size: number, limit: number, deviceLimit?: string): never => {
    throw new TensorMemoryError(size, bufferManager.numBytesUsed, limit, "webgpu", deviceLimit);
  };
  const acquire = bufferManager.acquireBuffer.bind(bufferManager);
  bufferManager.acquireBuffer = (size: number, usage: number, ...rest: unknown[]) => {
    failIfBroken();
    if (size > limits.maxBufferSize) {
      refuse(
        size,
        limits.maxBufferSize,
        "the device's maxBufferSize, the largest buffer it creates",
      );
    }
    if ((usage & STORAGE) !== 0) {
      if (size > limits.maxStorageBufferBindingSize) {
        refuse(
          size,
          limits.maxStorageBufferBindingSize,
          "the device's maxStorageBufferBindingSize, the largest tensor a program binds",
        );
      }
      const limit = guard.limitBytes;
      if (limit !== undefined && bufferManager.numBytesUsed + size > limit) refuse(size, limit);
    }
    return acquire(size, usage, ...rest);
  };
  const read = backend.read.bind(backend);
  backend.read = async (dataId: object) => {
    const values = await read(dataId);
    failIfBroken();
    return values;
  };
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: object) => {
    const values = readSync(dataId);
    failIfBroken();
    return values;
  };
  return guard;
}
