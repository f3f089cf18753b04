// AddN on WebGPU with more inputs than one GPU program may bind: right sums, and the programs queued
// before it still run (an invalid program drops its whole command buffer, silently).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";

Deno.test({
  name: "webgpu AddN: any number of inputs sums exactly and leaves the queued work intact",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await initBackend("webgpu", { allowSoftwareGpu: true, env: () => undefined });
    try {
      const before = tf.memory().numTensors;
      for (const n of [1, 2, 7, 8, 15, 49, 50, 103]) {
        const xs = Array.from({ length: n }, (_, i) => tf.fill([3, 5], i + 1));
        const queued = tf.tidy(() => tf.sum(tf.matMul(tf.ones([8, 8]), tf.ones([8, 8])))); // 512, not read
        const total = tf.addN(xs);
        const [q, t] = await Promise.all([queued.data(), total.data()]);
        assert.equal(q[0], 512, `n = ${n}: the program queued before AddN ran`);
        assert.deepEqual(Array.from(t), new Array(15).fill((n * (n + 1)) / 2), `n = ${n}`);
        tf.dispose([...xs, queued, total]);
      }
      assert.equal(tf.memory().numTensors, before, "no tensor left behind");
      // the partial sums are freed too (once the queue that used them has run)
      const gpu = tf.backend() as unknown as { numDataIds(): number };
      const ids = gpu.numDataIds();
      const sum = tf.tidy(() => tf.addN(Array.from({ length: 103 }, () => tf.ones([2]))));
      assert.deepEqual(Array.from(await sum.data()), [103, 103]); // three levels of partial sums
      sum.dispose();
      const flush = tf.zeros([1]); // another submission: pending disposals happen
      await flush.data();
      flush.dispose();
      assert.equal(gpu.numDataIds(), ids, "no partial sum left in the backend");
    } finally {
      await initBackend("cpu", { env: () => undefined });
    }
  },
});
