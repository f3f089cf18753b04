import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { crossEntropy, featureLoss, kdLoss, teskdLoss } from "../../lib/losses/mod.ts";
import type { TeskdOutput } from "../../lib/models/mod.ts";

await tf.setBackend("cpu");

const ZS = [[1, 2, 0.5], [-1, 0, 3]];
const ZT = [[0.2, -0.4, 1.5], [2, 1, -1]];

/** Plain-JS reference of the official KD term. */
function kdRef(zs: number[][], zt: number[][], T: number): number {
  let s = 0;
  zs.forEach((row, b) => {
    const lse = (v: number[]) => Math.log(v.reduce((a, x) => a + Math.exp(x / T), 0));
    const ls = row.map((x) => x / T - lse(row));
    const et = zt[b].map((x) => Math.exp(x / T));
    const q = et.map((e) => e / et.reduce((a, x) => a + x, 0) + 1e-7);
    q.forEach((qc, c) => (s += qc * (Math.log(qc) - ls[c])));
  });
  return (T * T * s) / zs.length;
}

function ceRef(z: number[][], labels: number[]): number {
  return z.reduce((a, row, b) => {
    const lse = Math.log(row.reduce((s, x) => s + Math.exp(x), 0));
    return a + lse - row[labels[b]];
  }, 0) / z.length;
}

const near = (a: number, b: number, tol: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

Deno.test("cross-entropy is the batch mean of −log softmax", () => {
  const l = tf.tensor1d([2, 0], "int32");
  const v = tf.tidy(() => crossEntropy(tf.tensor2d(ZS), l)).dataSync()[0];
  near(v, ceRef(ZS, [2, 0]), 1e-6, "ce");
  assert.throws(
    () => crossEntropy(tf.tensor2d(ZS), tf.tensor1d([1], "int32")),
    /labels must be \[2\]/,
  );
  l.dispose();
});

Deno.test("KD: T², batch mean, +1e-7 on q; teacher not detached unless asked", () => {
  const zs = tf.tensor2d(ZS);
  const zt = tf.tensor2d(ZT);
  for (const T of [1, 3, 4]) {
    const v = tf.tidy(() => kdLoss(zs, zt, { temperature: T })).dataSync()[0];
    near(v, kdRef(ZS, ZT, T), 1e-5, `kd T=${T}`);
  }
  const gt = tf.grad((t: tf.Tensor) => kdLoss(zs, t))(zt);
  assert.ok(Math.max(...gt.dataSync().map(Math.abs)) > 1e-3, "gradient reaches the teacher");
  const gd = tf.grad((t: tf.Tensor) => kdLoss(zs, t, { detachTeacher: true }))(zt);
  assert.ok(gd.dataSync().every((x) => x === 0), "detached teacher gets no gradient");
  tf.dispose([zs, zt, gt, gd]);
});

Deno.test("feature loss: sum of squares, g detached", () => {
  const f = tf.tensor2d([[1, 2], [3, 4]]);
  const g = tf.tensor2d([[0, 2], [1, 1]]);
  assert.equal(tf.tidy(() => featureLoss(f, g)).dataSync()[0], 1 + 0 + 4 + 9);
  const [df, dg] = tf.grads((a: tf.Tensor, b: tf.Tensor) => featureLoss(a, b))([f, g]);
  assert.deepEqual(Array.from(df.dataSync()), [2, 0, 4, 6]);
  assert.deepEqual(Array.from(dg.dataSync()), [0, 0, 0, 0]);
  tf.dispose([f, g, df, dg]);
});

Deno.test("TESKD loss: weighted sum of separately reported terms, per-head CE weights", () => {
  const labels = tf.tensor1d([2, 0], "int32");
  const feats = [[0.5, 1], [0, 2]];
  const out: TeskdOutput = {
    teacher: { logits: tf.tensor2d(ZT), feature: tf.tensor2d([[0, 0], [1, 1]]) },
    students: {
      "8x8": { logits: tf.tensor2d(ZS), feature: tf.tensor2d(feats) },
      "32x32": {
        logits: tf.tensor2d(ZT.map((r) => r.map((x) => -x))),
        feature: tf.tensor2d(feats),
      },
    },
  };
  const r = teskdLoss(out, labels, { headCeWeights: { "8x8": 2 } });
  const v = (k: string) => r.terms[k].dataSync()[0];
  const zneg = ZT.map((row) => row.map((x) => -x));
  near(v("ce_teacher"), ceRef(ZT, [2, 0]), 1e-6, "ce_teacher");
  near(
    v("ce_sum"),
    ceRef(ZT, [2, 0]) + 2 * ceRef(ZS, [2, 0]) + ceRef(zneg, [2, 0]),
    1e-6,
    "ce_sum",
  );
  near(v("kd_sum"), kdRef(ZS, ZT, 4) + kdRef(zneg, ZT, 4), 1e-5, "kd_sum");
  const fea = 0.25 + 1 + 1 + 1; // Σ (f − g)² for one student
  near(v("fea_8x8"), fea, 1e-6, "fea_8x8");
  near(v("fea_sum"), 2 * fea, 1e-6, "fea_sum");
  assert.ok(!("kd_16x16" in r.terms), "absent student has no term");
  near(
    r.total.dataSync()[0],
    0.2 * v("ce_sum") + 0.8 * v("kd_sum") + 1e-7 * v("fea_sum"),
    1e-6,
    "total",
  );
  tf.dispose([labels, r.total, ...Object.values(r.terms)]);
  tf.dispose(out as unknown as tf.TensorContainer);
});
