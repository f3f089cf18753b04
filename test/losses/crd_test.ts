// CRD's NCE loss against the spec's golden value (§9, computed with the official `ContrastLoss`),
// its gradient, and the memory bank's arithmetic: scores, the momentum update of a batch's rows,
// and the normalisers Z that the first forward sets and every later one keeps.
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { ContrastMemory } from "../../lib/distill/crd.ts";
import { contrastScores, NCE_EPS, nceLoss, updatedMemory } from "../../lib/losses/crd.ts";
import { Generator } from "../../lib/nn/init.ts";

await tf.setBackend("cpu");

/** The spec's input rule: T(shape, k)[i] = sin(0.37·i + k) in float32, flat row-major. */
function specInput(n: number, k: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + k));
}

/** ℓ(P) in float64, restated from the official criterion (eq. 18). */
function nceRef(p: number[][], dataSize: number): number {
  const k = p[0].length - 1;
  const c = k / dataSize + NCE_EPS;
  let s = 0;
  for (const row of p) {
    s += Math.log(row[0] / (row[0] + c));
    for (const x of row.slice(1)) s += Math.log(k / dataSize / (x + c));
  }
  return -s / p.length;
}

/** x = exp(T((4, 6), 0.3)) · 1e-4, as float32 rows (column 0 the positive, 5 negatives). */
const GOLDEN_X = (() => {
  const t = specInput(24, 0.3);
  // float32 arithmetic, as PyTorch's: exp in float32, then times 1e-4 as a float32 scalar.
  const x = (i: number) => Math.fround(Math.fround(Math.exp(t[i])) * Math.fround(1e-4));
  return Array.from({ length: 4 }, (_, b) => Array.from({ length: 6 }, (_, j) => x(b * 6 + j)));
})();
/** The spec's value for that input with n_data = 1000 (§9). */
const GOLDEN = 3.9652035;

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

Deno.test("nceLoss: the spec's golden value (official ContrastLoss, n_data = 1000)", () => {
  // The float64 restatement of the formula lands on the golden value (a float32 evaluation, printed
  // to 8 digits) within 5e-8, so the formula read from the spec is the one the value came from
  // (leaving out the 1e-7 alone would move it by 3e-5).
  assert.ok(rel(nceRef(GOLDEN_X, 1000), GOLDEN) < 5e-8, `${nceRef(GOLDEN_X, 1000)}`);
  // float32, like the official run that printed the value: within a few ulps (6e-8 relative each).
  const x = tf.tensor2d(GOLDEN_X);
  const v = tf.tidy(() => nceLoss(x, 1000)).dataSync()[0];
  assert.ok(rel(v, GOLDEN) < 2.5e-7, `${v} vs ${GOLDEN}`);
  // The memory's [B, K + 1, 1] scores give the same value.
  const v3 = tf.tidy(() => nceLoss(x.expandDims(2), 1000)).dataSync()[0];
  assert.equal(v3, v);
  // n enters through K/n: another data-set size is another loss.
  const other = tf.tidy(() => nceLoss(x, 50000)).dataSync()[0];
  assert.ok(rel(other, nceRef(GOLDEN_X, 50000)) < 1e-6, `${other}`);
  x.dispose();
});

Deno.test("nceLoss: gradient is the formula's (positive pulled up, negatives pushed down)", () => {
  const x = tf.tensor2d(GOLDEN_X);
  const g = tf.grad((p: tf.Tensor) => nceLoss(p, 1000))(x);
  const gv = g.arraySync() as number[][];
  const c = 5 / 1000 + NCE_EPS;
  GOLDEN_X.forEach((row, b) => {
    // d/dx0 −log(x0/(x0 + c))/B = −(1/x0 − 1/(x0 + c))/B; d/dxk −log(K/n / (xk + c))/B = 1/(xk + c)/B
    const want0 = -(1 / row[0] - 1 / (row[0] + c)) / 4;
    assert.ok(rel(gv[b][0], want0) < 1e-5, `positive ${b}: ${gv[b][0]} vs ${want0}`);
    for (let j = 1; j < 6; j++) {
      const want = 1 / (row[j] + c) / 4;
      assert.ok(rel(gv[b][j], want) < 1e-5, `negative ${b},${j}: ${gv[b][j]} vs ${want}`);
    }
  });
  tf.dispose([x, g]);
});

Deno.test("nceLoss: refuses scores without a negative or of another shape", () => {
  const one = tf.ones([2, 1]);
  assert.throws(() => nceLoss(one, 10), /need a positive and at least one negative, got 1 columns/);
  const wide = tf.ones([2, 3, 2]);
  assert.throws(
    () => nceLoss(wide, 10),
    /must be \[B, K \+ 1\] or \[B, K \+ 1, 1\], got \[2,3,2\]/,
  );
  tf.dispose([one, wide]);
});

/** Unit rows of a [rows, d] matrix with pseudo-random entries. */
function unitRows(rows: number, d: number, seed: number): number[][] {
  const g = new Generator(seed);
  return Array.from({ length: rows }, () => {
    const r = Array.from({ length: d }, () => g.normal());
    const norm = Math.hypot(...r);
    return r.map((x) => x / norm);
  });
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

Deno.test("contrastScores: exp(⟨memory row, v⟩ / τ) over each sample's contrast rows; gradient only to v", () => {
  const mem = unitRows(10, 4, 1);
  const vs = unitRows(2, 4, 2);
  const idx = [[3, 0, 7, 7], [5, 9, 1, 2]];
  const memory = tf.tensor2d(mem);
  const v = tf.tensor2d(vs);
  const ci = tf.tensor2d(idx, [2, 4], "int32");
  const tau = Math.fround(0.07);
  const s = contrastScores(memory, v, ci, tau);
  assert.deepEqual(s.shape, [2, 4, 1]);
  const got = s.arraySync() as number[][][];
  idx.forEach((row, b) =>
    row.forEach((r, k) => {
      const want = Math.exp(dot(mem[r], vs[b]) / tau);
      assert.ok(rel(got[b][k][0], want) < 1e-5, `${b},${k}: ${got[b][k][0]} vs ${want}`);
    })
  );
  // The gradient with respect to v[b] is Σ_k score_bk · memory[idx_bk] / τ (of Σ scores).
  const g = tf.grad((vv: tf.Tensor) => tf.sum(contrastScores(memory, vv as tf.Tensor2D, ci, tau)))(
    v,
  );
  const gv = g.arraySync() as number[][];
  idx.forEach((row, b) => {
    for (let d = 0; d < 4; d++) {
      const want = row.reduce((a, r, k) => a + (got[b][k][0] * mem[r][d]) / tau, 0);
      assert.ok(Math.abs(gv[b][d] - want) < 1e-4 * Math.abs(want) + 1e-5, `${gv[b][d]} vs ${want}`);
    }
  });
  assert.throws(
    () => contrastScores(memory, tf.ones([3, 4]) as tf.Tensor2D, ci, tau),
    /embeddings \[3,4\] do not match contrast indices \[2,4\]/,
  );
  tf.dispose([memory, v, ci, s, g]);
});

Deno.test("updatedMemory: the batch's rows become normalise(m·row + (1 − m)·v); the rest stay", () => {
  const mem = unitRows(6, 3, 3).map((r) => r.map((x) => x * 0.7)); // not unit: the update renormalises
  const vs = unitRows(2, 3, 4);
  const memory = tf.tensor2d(mem);
  const index = tf.tensor1d([4, 1], "int32");
  const out = updatedMemory(memory, index, tf.tensor2d(vs), 0.5);
  const got = out.arraySync();
  [4, 1].forEach((r, b) => {
    const moved = mem[r].map((x, d) => 0.5 * x + 0.5 * vs[b][d]);
    const norm = Math.hypot(...moved);
    moved.forEach((x, d) => assert.ok(Math.abs(got[r][d] - x / norm) < 1e-6, `row ${r}`));
  });
  for (const r of [0, 2, 3, 5]) assert.deepEqual(got[r], Array.from(Float32Array.from(mem[r])));
  assert.deepEqual(
    memory.arraySync(),
    mem.map((r) => Array.from(Float32Array.from(r))),
    "input kept",
  );
  tf.dispose([memory, index, out]);
});

Deno.test("ContrastMemory: official buffers; Z = mean score · n set by the first forward, then frozen", () => {
  const n = 12;
  const memory = new ContrastMemory(4, n, 3, 0.07, 0.5, new Generator(5));
  // Buffers only, under the official names, with the constructor's values (float32).
  assert.deepEqual(memory.namedParameters(), []);
  assert.deepEqual(memory.namedBuffers().map((b) => b.name), ["params", "memory_v1", "memory_v2"]);
  assert.deepEqual(Array.from(memory.params.dataSync()), [3, Math.fround(0.07), -1, -1, 0.5]);
  const bound = 1 / Math.sqrt(4 / 3);
  const bank = memory.memoryV1.dataSync();
  assert.ok(bank.every((x) => Math.abs(x) <= bound) && Math.max(...bank) > 0.8 * bound);
  assert.notDeepEqual(Array.from(bank), Array.from(memory.memoryV2.dataSync()));

  const v1 = tf.tensor2d(unitRows(2, 4, 6));
  const v2 = tf.tensor2d(unitRows(2, 4, 7));
  const index = tf.tensor1d([2, 9], "int32");
  const ci = tf.tensor2d([[2, 0, 5, 11], [9, 3, 4, 10]], [2, 4], "int32");
  const raw1 = contrastScores(memory.memoryV2 as tf.Tensor2D, v1, ci, Math.fround(0.07));
  const raw2 = contrastScores(memory.memoryV1 as tf.Tensor2D, v2, ci, Math.fround(0.07));
  const z1 = Math.fround(tf.mean(raw1).dataSync()[0] * n);
  const z2 = Math.fround(tf.mean(raw2).dataSync()[0] * n);
  const first = memory.forward(v1, v2, index, ci);
  assert.deepEqual(first.z, { v1: z1, v2: z2 });
  assert.deepEqual(Array.from(memory.params.dataSync()), [3, Math.fround(0.07), z1, z2, 0.5]);
  const div = (t: tf.Tensor, z: number) => Array.from(tf.div(t, z).dataSync());
  assert.deepEqual(Array.from(first.student.dataSync()), div(raw1, z1));
  assert.deepEqual(Array.from(first.teacher.dataSync()), div(raw2, z2));
  // The second forward scores against the updated memory, with the same Z.
  const second = memory.forward(v2, v1, index, ci);
  assert.deepEqual(second.z, { v1: z1, v2: z2 });
  assert.deepEqual(Array.from(memory.params.dataSync()), [3, Math.fround(0.07), z1, z2, 0.5]);
  // A contrast index of another K is refused.
  const wrong = tf.zeros([2, 5], "int32") as tf.Tensor2D;
  assert.throws(
    () => memory.forward(v1, v2, index, wrong),
    /contrast indices \[2,5\] and 2 sample indices for a batch of 2; expected \[2, 4\] \(K = 3\)/,
  );
  tf.dispose([v1, v2, index, ci, raw1, raw2, wrong, first.student, first.teacher]);
  tf.dispose([second.student, second.teacher]);
  memory.dispose();
});
