// The teskd-cpu output pool: recycled arrays give correct results, read-out values are never reused.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";

await tf.setBackend((await registerFastCpuBackend({ threads: 2 })).name);

/** A deterministic large tensor (above the pool's size threshold). */
function big(seed: number, shape = [4, 32, 32, 64]): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.sin(i * 0.37 + seed);
  return tf.tensor4d(v, shape as [number, number, number, number]);
}

Deno.test("teskd-cpu pool: values read with dataSync survive later kernels of the same size", () => {
  const [a, b] = [big(1), big(2)];
  const t = tf.mul(a, b);
  const kept = t.dataSync() as Float32Array;
  const expected = Float32Array.from(kept);
  t.dispose();
  // Many same-size outputs: a recycled `kept` would be overwritten by one of them.
  for (let i = 0; i < 4; i++) tf.tidy(() => tf.relu(tf.add(tf.sub(a, b), tf.mul(a, a)))).dispose();
  assert.deepEqual(kept, expected);
  tf.dispose([a, b]);
});

Deno.test("teskd-cpu pool: chains of recycled outputs compute the same values as fresh ones", () => {
  const [a, b] = [big(3), big(4)];
  const run = () =>
    tf.tidy(() => {
      let h: tf.Tensor = tf.add(a, b);
      for (let i = 0; i < 6; i++) h = tf.relu(tf.sub(tf.mul(h, b), tf.div(a, 3)));
      return tf.concat([tf.sum(h, [0, 1, 2]), tf.mean(tf.square(h), [0, 1, 2])]);
    });
  const first = run();
  const firstValues = Float32Array.from(first.dataSync());
  for (let i = 0; i < 3; i++) {
    const again = run();
    assert.deepEqual(again.dataSync(), firstValues);
    again.dispose();
  }
  // A convolution and a padded input through recycled arrays as well.
  const w = tf.randomNormal([3, 3, 64, 64], 0, 0.1, "float32", 5) as tf.Tensor4D;
  const conv = () => tf.tidy(() => tf.conv2d(tf.pad(a, [[0, 0], [1, 1], [1, 1], [0, 0]]), w, 1, 0));
  const c1 = conv();
  const c1v = Float32Array.from(c1.dataSync());
  c1.dispose();
  for (let i = 0; i < 2; i++) {
    const c = conv();
    assert.deepEqual(c.dataSync(), c1v);
    c.dispose();
  }
  tf.dispose([a, b, first, w]);
});

Deno.test("teskd-cpu pool: views of a freed output (split) keep their values", () => {
  const [a, b] = [big(5), big(6)];
  const sum = tf.add(a, b);
  const expected = tf.tidy(() => tf.split(tf.add(a, b), 2, 0).map((p) => p.dataSync().slice()));
  // Contiguous splits along the first axis are subarray views of `sum`'s values in tfjs's cpu code.
  const parts = tf.split(sum, 2, 0);
  sum.dispose();
  for (let i = 0; i < 4; i++) tf.tidy(() => tf.mul(tf.sub(a, b), tf.add(b, 1))).dispose();
  parts.forEach((p, i) => assert.deepEqual(p.dataSync(), expected[i]));
  tf.dispose([a, b, ...parts]);
});
