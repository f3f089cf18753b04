// WebGPU memory limits as errors: a tensor past the device's binding limit used to read as zeros
// (its programs were dropped with an uncaptured validation error); now it is refused at once with
// the limit named, and the engine keeps computing correctly afterwards.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { TensorMemoryError } from "../../lib/backend/cpu/memory_budget.ts";
import { guardWebGpuMemory, type WebGpuBackendLike } from "../../lib/backend/webgpu_memory.ts";

Deno.test({
  name: "webgpu memory: a tensor past the device's limits or the set limit is refused, not zeros",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await initBackend("webgpu", { allowSoftwareGpu: true, env: () => undefined });
    try {
      const backend = tf.backend() as unknown as WebGpuBackendLike;
      const binding = backend.device.limits.maxStorageBufferBindingSize;
      const before = tf.memory().numTensors;
      // One float past what a program may bind.
      const big = tf.ones([binding / 4 + 1]);
      assert.throws(
        () => tf.add(big, 1),
        (e: unknown) =>
          e instanceof TensorMemoryError &&
          /exceeds the device's maxStorageBufferBindingSize/.test(e.message) &&
          e.limitBytes === binding,
      );
      big.dispose();
      assert.equal(tf.memory().numTensors, before, "the refused op left no tensor behind");
      // The engine still computes right (no invalid program poisoned the queue).
      const ok = tf.tidy(() => tf.sum(tf.add(tf.ones([1000]), 1)));
      assert.equal((await ok.data())[0], 2000);
      ok.dispose();

      // A limit on the bytes held (TESKD_TENSOR_MEMORY_MB) refuses the buffer that would pass it.
      const guard = guardWebGpuMemory(backend);
      const used = (backend.bufferManager as { numBytesUsed: number }).numBytesUsed;
      guard.limitBytes = used + 4 * 2 ** 20;
      try {
        assert.throws(
          () =>
            tf.tidy(() => {
              const a = tf.ones([2 ** 20]); // 4 MiB: fits
              tf.add(a, 1); // 4 MiB more: refused
            }),
          (e: unknown) =>
            e instanceof TensorMemoryError && e.limitBytes === used + 4 * 2 ** 20 &&
            /TESKD_TENSOR_MEMORY_MB/.test(e.message),
        );
      } finally {
        guard.limitBytes = undefined;
      }
      const after = tf.tidy(() => tf.sum(tf.mul(tf.ones([10]), 3)));
      assert.equal((await after.data())[0], 30);
      after.dispose();
    } finally {
      await initBackend("cpu", { env: () => undefined });
    }
  },
});
