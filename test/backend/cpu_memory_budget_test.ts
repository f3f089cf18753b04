// The CPU engine's tensor memory limit: bytes are counted as tensors are made and freed, and a
// tensor that would pass the limit is refused with the limit named, leaving every other tensor.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { cpuTensorMemory, TensorMemoryError } from "../../lib/backend/cpu/mod.ts";

Deno.test("teskd-cpu tensor memory: counted exactly, refused past the limit, nothing lost", async () => {
  await initBackend("cpu", { env: () => undefined });
  const budget = cpuTensorMemory();
  assert.ok(budget, "the budget exists once the backend is registered");
  const savedLimit = budget.limitBytes;
  try {
    const held = budget.heldBytes;
    const a = tf.zeros([256, 256]); // 256 KiB
    assert.equal(budget.heldBytes - held, 256 * 256 * 4);
    const b = tf.tidy(() => tf.add(tf.matMul(a, a), 1)); // the intermediate product is freed
    assert.equal(budget.heldBytes - held, 2 * 256 * 256 * 4);
    b.dispose();
    assert.equal(budget.heldBytes - held, 256 * 256 * 4);

    // room for one more such tensor (the product) and a scalar, not for the sum after it
    budget.limitBytes = budget.heldBytes + 256 * 256 * 4 + 64;
    const tensors = tf.memory().numTensors;
    assert.throws(
      () => tf.tidy(() => tf.add(tf.matMul(a, a), 1)),
      (e: unknown) =>
        e instanceof TensorMemoryError && e.requestedBytes === 256 * 256 * 4 &&
        /limit of .* \(TESKD_TENSOR_MEMORY_MB/.test(e.message),
    );
    assert.equal(tf.memory().numTensors, tensors, "the refused op left no tensor behind");
    assert.deepEqual(Array.from(a.dataSync().slice(0, 3)), [0, 0, 0], "a is intact");
    a.dispose();
    assert.equal(budget.heldBytes, held);
  } finally {
    budget.limitBytes = savedLimit;
  }
});
