// SemCKD's loss (the official `SemCKDLoss`) against the spec's golden value (§9) and a plain-JS
// restatement, and the method's batch-size contract (its attention MLPs are as wide as the batch).
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { semckd } from "../../lib/distill/semckd.ts";
import { pairMse, semckdLoss } from "../../lib/losses/mod.ts";
import { createNetwork } from "../../lib/models/registry.ts";

await tf.setBackend("cpu");

/** The spec's test input: `T(shape, k)[i] = sin(0.37·i + k)` in float32, i the flat NCHW index. */
function specInput(shape: number[], k: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + k)), shape);
}

/** An NCHW spec input as the NHWC map the library works on. */
const nhwc = (shape: number[], k: number) =>
  tf.tidy(() => tf.transpose(specInput(shape, k), [0, 2, 3, 1]));

const relClose = (got: number, want: number, tol: number, what: string) =>
  assert.ok(
    Math.abs(got - want) <= tol * Math.abs(want),
    `${what}: ${got} vs ${want} (relative ${Math.abs(got - want) / Math.abs(want)})`,
  );

Deno.test("SemCKD loss: the spec's golden value (§9)", () => {
  const value = tf.tidy(() => {
    const attention = tf.softmax(specInput([4, 2, 2], 0.4), -1) as tf.Tensor3D;
    const grid = (base: number) =>
      [0, 1].map((i) => [0, 1].map((j) => nhwc([4, 3, 2, 2], base + 0.1 * (2 * i + j))));
    return semckdLoss(attention, pairMse(grid(0), grid(1)));
  });
  // The spec's value is the official code's, in float32; ours is float32 too (measured 7e-8 apart:
  // about one ulp). Allow 8 ulps (float32's relative spacing near 0.437 is 6e-8).
  relClose(value.dataSync()[0], 0.43700361, 5e-7, "semckd loss");
  value.dispose();
});

Deno.test("SemCKD loss: per-sample MSE per pair, attention-weighted, divided by B·S (S ≠ T)", () => {
  // 2 samples, 3 student stages, 2 teacher stages, maps of different sizes per teacher stage.
  const [b, s, t] = [2, 3, 2];
  const shapes = [[b, 2, 2, 3], [b, 1, 1, 5]]; // NHWC, by teacher stage j
  const rand = (shape: number[], seed: number) =>
    tf.tensor(
      Float32Array.from(
        { length: shape.reduce((x, y) => x * y, 1) },
        (_, i) => Math.sin(1.3 * i + seed) * 2,
      ),
      shape,
    );
  const projected = Array.from(
    { length: s },
    (_, i) => shapes.map((sh, j) => rand(sh, 10 * i + j)),
  );
  const target = Array.from({ length: s }, (_, i) => shapes.map((sh, j) => rand(sh, 50 + i - j)));
  const attention = tf.tidy(() => tf.softmax(rand([b, s, t], 7), -1)) as tf.Tensor3D;

  // Plain-JS restatement: mse[n][i][j] = mean over a sample's elements; Σ α·mse / (B·S).
  const mseRef = (n: number, i: number, j: number) => {
    const p = projected[i][j].arraySync() as number[][][][];
    const q = target[i][j].arraySync() as number[][][][];
    const d = p[n].flat(2).map((x, e) => x - q[n].flat(2)[e]);
    return d.reduce((a, x) => a + x * x, 0) / d.length;
  };
  const alpha = attention.arraySync() as number[][][];
  let want = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < t; j++) want += alpha[n][i][j] * mseRef(n, i, j);
    }
  }
  want /= b * s;

  const mse = pairMse(projected, target);
  assert.deepEqual(mse.shape, [b, s, t]);
  const mseGot = mse.arraySync() as number[][][];
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < s; i++) {
      for (let j = 0; j < t; j++) {
        relClose(mseGot[n][i][j], mseRef(n, i, j), 1e-6, `mse ${n}${i}${j}`);
      }
    }
  }
  const loss = semckdLoss(attention, mse);
  relClose(loss.dataSync()[0], want, 1e-6, "weighted loss");
  assert.throws(
    () => semckdLoss(tf.tidy(() => tf.transpose(attention, [0, 2, 1])) as tf.Tensor3D, mse),
    /shapes differ/,
  );
  tf.dispose([projected, target, attention, mse, loss] as unknown as tf.Tensor[]);
});

Deno.test("SemCKD method: the MLP width is the batch size, which must be given and divisible by 4", () => {
  const student = createNetwork("resnet8x4", { numClasses: 100 });
  const teacher = createNetwork("resnet8x4", { numClasses: 100 });
  const ctx = { student, teacher, inputSize: 32, seed: 0 };
  for (const batchSize of [undefined, 6, 2]) {
    assert.throws(
      () => semckd.build({ ...ctx, batchSize }, semckd.defaults),
      /batch size \(BuildContext\.batchSize\), a multiple of 4; got/,
      `batch size ${batchSize}`,
    );
  }
  const d = semckd.build({ ...ctx, batchSize: 64 }, semckd.defaults);
  try {
    assert.equal(d.fixedBatch, 64);
    const module = d.module.trainableParameters().filter((p) => !p.name.startsWith("student."));
    const count = (pred: (name: string) => boolean) =>
      module.filter((p) => pred(p.name)).reduce((a, p) => a + p.variable.size, 0);
    // Each MLPEmbed(64, 16): linear 64→32 and 32→16, twice (the unused regressor): 2·(2080 + 528).
    assert.equal(count((n) => /\.(query|key)_\d\./.test(n)), 6 * 2 * (2080 + 528));
    // Every pair's projection (two BatchNorms of 2·C_t each) for resnet8x4's stages (64, 128, 256).
    const proj = (cs: number, ct: number) =>
      cs * 2 * ct + 2 * (2 * 2 * ct) + 2 * ct * 2 * ct * 9 + 2 * ct * ct;
    const widths = [64, 128, 256];
    const projections = widths.reduce(
      (a, cs) => a + widths.reduce((b, ct) => b + proj(cs, ct), 0),
      0,
    );
    assert.equal(count((n) => /\.regressor\d\d\./.test(n)), projections);
    // The spec's count for resnet32x4 → resnet8x4 at batch 64 (§3.6; the teacher's stages are as wide).
    assert.equal(count(() => true), 10_249_280);
    // A batch of another size is refused (the trainer skips such batches before they get here).
    const x = tf.zeros([4, 32, 32, 3]);
    const y = tf.zeros([4], "int32") as tf.Tensor1D;
    assert.throws(
      () => d.loss({ x: x as tf.Tensor4D, y }, undefined),
      /built for batches of 64, got 4/,
    );
    tf.dispose([x, y]);
  } finally {
    d.dispose();
  }
});
