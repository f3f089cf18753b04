// teskd-cpu on the WebAssembly engine keeps tensor values in kernel memory: kernels read their
// operands in place, reads hand out copies, and freed tensors give their memory back.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { fastCpuRuntime, registerFastCpuBackend } from "../../lib/backend/cpu/backend.ts";

const info = await registerFastCpuBackend({ threads: 2, engine: "wasm" });
await tf.setBackend(info.name);
const rt = fastCpuRuntime()!;

function seq(shape: number[], seed: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(i * 0.37 + seed)),
    shape,
  );
}

/** A variable initialised to `seq(shape, seed) · scale`, holding the only reference to its values. */
function weight(shape: number[], seed: number, scale: number): tf.Variable {
  const init = tf.tidy(() => seq(shape, seed).mul(scale));
  const v = tf.variable(init);
  init.dispose();
  return v;
}

function residentValues(t: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { data: { get(id: unknown): { values: unknown } } };
  return backend.data.get(t.dataId).values as Float32Array;
}

Deno.test("resident: after the first step a training step copies only its input batch in", () => {
  const before = rt.residentBytes;
  const x = seq([8, 16, 16, 8], 1);
  const target = seq([8, 128], 2);
  // Every tensor of the step holds at least 1024 floats, the smallest that is made resident.
  const weights = [
    weight([3, 3, 8, 32], 3, 0.3),
    weight([3, 3, 32, 128], 4, 0.1),
    weight([128, 128], 5, 0.1),
  ];
  const loss = () => {
    const h1 = tf.relu(
      tf.conv2d(x as tf.Tensor4D, weights[0] as tf.Variable<tf.Rank.R4>, 1, "same"),
    );
    const h2 = tf.relu(tf.conv2d(h1, weights[1] as tf.Variable<tf.Rank.R4>, 2, "same"));
    const logits = tf.matMul(tf.mean(h2, [1, 2]), weights[2] as tf.Variable<tf.Rank.R2>);
    return tf.mean(tf.square(tf.sub(logits, target))) as tf.Scalar;
  };
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = tf.variableGrads(loss, weights);
      for (const w of weights) w.assign(tf.sub(w, tf.mul(grads[w.name], 0.5)));
      return value.dataSync()[0];
    });
  const losses = [step()];
  const copied: number[] = [];
  const resident: number[] = [];
  for (let i = 0; i < 3; i++) {
    const start = rt.copies.bytesIn;
    losses.push(step());
    copied.push(rt.copies.bytesIn - start);
    resident.push(rt.residentBytes);
  }
  assert.ok(losses[3] < losses[0], `the loss falls: ${losses}`);
  // The input batch is read by the forward convolution and by the first filter gradient.
  const xBytes = x.size * 4;
  assert.deepEqual(copied, [2 * xBytes, 2 * xBytes, 2 * xBytes], "bytes copied in per step");
  for (const w of weights) assert.notEqual(rt.offsetOf(residentValues(w)), null, w.name);
  assert.deepEqual(resident, [resident[0], resident[0], resident[0]], "memory is steady");
  tf.dispose([x, target, ...weights]);
  assert.equal(rt.residentBytes, before, "every resident block is freed with its tensors");
});

Deno.test("resident: dataSync hands out a copy that outlives the tensor and its memory's reuse", () => {
  const a = seq([4, 16, 16, 32], 6);
  const w = seq([3, 3, 32, 32], 7);
  const y = tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, "same");
  assert.notEqual(rt.offsetOf(residentValues(y)), null, "the output is resident");
  const read = y.dataSync() as Float32Array;
  assert.ok(
    !(read.buffer instanceof SharedArrayBuffer),
    "a plain copy, not a view of kernel memory",
  );
  const expected = Float32Array.from(read);
  y.dispose();
  // The same size again and again: the freed block is reused at once.
  for (let i = 0; i < 3; i++) {
    tf.tidy(() => tf.conv2d(a as tf.Tensor4D, tf.mul(w, i) as tf.Tensor4D, 1, "same")).dispose();
  }
  assert.deepEqual(read, expected);
  tf.dispose([a, w]);
});

Deno.test("resident: views of a freed resident output (split, reshape) keep their values", () => {
  const before = rt.residentBytes;
  const a = seq([4, 8, 8, 64], 8);
  const w = seq([1, 1, 64, 64], 9);
  const y = tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, "valid");
  const expected = tf.split(y, 2, 0).map((p) => {
    const v = p.dataSync().slice();
    p.dispose();
    return v;
  });
  // Contiguous splits along the first axis are views of y's block in tfjs's cpu code.
  const parts = tf.split(y, 2, 0);
  const flat = y.reshape([-1]);
  y.dispose();
  for (let i = 0; i < 4; i++) {
    tf.tidy(() => tf.conv2d(a as tf.Tensor4D, tf.add(w, i) as tf.Tensor4D, 1, "valid")).dispose();
  }
  parts.forEach((p, i) => assert.deepEqual(p.dataSync(), expected[i]));
  assert.equal(flat.size, a.size);
  tf.dispose([...parts, flat]);
  tf.dispose([a, w]);
  assert.equal(rt.residentBytes, before, "the block is freed with the last view");
});
