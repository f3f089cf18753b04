/**
 * tfjs-webgpu 4.22's AddN binds every input as a storage buffer of one GPU program. With more
 * inputs than the device allows per shader stage (`maxStorageBuffersPerShaderStage`, 8 by default,
 * one of them the output) the program is invalid; WebGPU reports that asynchronously and silently
 * drops the whole command buffer, so the *other* programs queued with it never run either. The
 * trainer's per-step statistics (a stack of the loss terms, then a sum of every parameter's squared
 * gradient) read back as zeros that way. This kernel sums at most `limit − 1` inputs per program and
 * then the partial sums, the way tfjs's own Concat already splits its inputs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface WebGpuBackendLike {
  device: { limits: { maxStorageBuffersPerShaderStage: number } };
  disposeData(dataId: tf.DataId): boolean;
}

let registered = false;

/**
 * Replaces the webgpu backend's AddN by one that splits its inputs (idempotent). Call after the
 * webgpu backend module is loaded.
 */
export function registerChunkedWebGpuAddN(): void {
  if (registered) return;
  const original = tf.getKernel(tf.AddN, "webgpu");
  if (original === undefined) throw new Error("registerChunkedWebGpuAddN: webgpu has no AddN");
  const kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    const backend = args.backend as unknown as WebGpuBackendLike;
    const perProgram = Math.max(2, backend.device.limits.maxStorageBuffersPerShaderStage - 1);
    const sum = (inputs: tf.TensorInfo[], owned: Set<tf.TensorInfo>): tf.TensorInfo => {
      if (inputs.length <= perProgram) {
        const out = original.kernelFunc({ ...args, inputs: inputs as never }) as tf.TensorInfo;
        // Partial sums summed here are freed once queued (tfjs-webgpu keeps a queued buffer alive).
        for (const t of owned) backend.disposeData(t.dataId);
        return out;
      }
      const partial: tf.TensorInfo[] = [];
      const made = new Set<tf.TensorInfo>();
      for (let i = 0; i < inputs.length; i += perProgram) {
        const chunk = inputs.slice(i, i + perProgram);
        if (chunk.length === 1) {
          // passed up a level as it is: a partial sum of ours stays ours, to be freed later
          partial.push(chunk[0]);
          if (owned.delete(chunk[0])) made.add(chunk[0]);
        } else {
          const s = original.kernelFunc({ ...args, inputs: chunk as never }) as tf.TensorInfo;
          partial.push(s);
          made.add(s);
        }
      }
      for (const t of owned) backend.disposeData(t.dataId);
      return sum(partial, made);
    };
    const inputs = Object.values(args.inputs) as tf.TensorInfo[];
    return sum(inputs, new Set());
  }) as tf.KernelFunc;
  tf.unregisterKernel(tf.AddN, "webgpu");
  tf.registerKernel({ kernelName: tf.AddN, backendName: "webgpu", kernelFunc });
  registered = true;
}
