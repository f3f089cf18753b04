// CRD's negative sampler: the official loader's rule (the positive in column 0, K other-class
// negatives without replacement unless there are fewer than K), uniform, and a pure function of
// (seed, step, sample) so that a resumed run draws what an uninterrupted one draws.
import assert from "node:assert/strict";
import { ContrastSampler } from "../../lib/distill/crd_sampler.ts";

/** `n` samples, labels cycling through `classes`. */
function cyclicLabels(n: number, classes: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i % classes);
}

/** Row `b` of a `[B, K + 1]` draw. */
const rowOf = (out: Int32Array, k: number, b: number) =>
  Array.from(out.subarray(b * (k + 1), (b + 1) * (k + 1)));

Deno.test("sampler: column 0 the sample, then K distinct samples of other classes", () => {
  const labels = cyclicLabels(1000, 10); // 900 other-class samples per class
  const k = 300;
  const s = new ContrastSampler(labels, k, 3);
  const index = Int32Array.from([0, 17, 999, 500, 501]);
  const out = s.draw(index, 12);
  assert.equal(out.length, index.length * (k + 1));
  index.forEach((sample, b) => {
    const row = rowOf(out, k, b);
    assert.equal(row[0], sample);
    const negatives = row.slice(1);
    assert.ok(negatives.every((j) => j >= 0 && j < 1000 && labels[j] !== labels[sample]));
    assert.equal(new Set(negatives).size, k, "no repeats");
  });
  // Drawing every other-class sample leaves none out.
  const all = new ContrastSampler(labels, 900, 3).draw(Int32Array.from([5]), 0);
  const want = Array.from({ length: 1000 }, (_, i) => i).filter((i) => labels[i] !== 5);
  assert.deepEqual(rowOf(all, 900, 0).slice(1).sort((a, b) => a - b), want);
});

Deno.test("sampler: a pure function of (seed, step, sample), other for another step or seed", () => {
  const labels = cyclicLabels(500, 5);
  const k = 64;
  const s = new ContrastSampler(labels, k, 7);
  const batch = Int32Array.from([3, 9, 250]);
  const a = s.draw(batch, 40);
  // Same (seed, step): same draw, from this sampler or a new one; the order of the calls is irrelevant.
  s.draw(batch, 41);
  assert.deepEqual(s.draw(batch, 40), a);
  assert.deepEqual(new ContrastSampler(labels, k, 7).draw(batch, 40), a);
  // A sample's row does not depend on the rest of its batch.
  const alone = new ContrastSampler(labels, k, 7).draw(Int32Array.from([9]), 40);
  assert.deepEqual(rowOf(alone, k, 0), rowOf(a, k, 1));
  // Another step or another seed draws other negatives (64 of 400: equal rows would be a bug).
  for (const other of [s.draw(batch, 39), new ContrastSampler(labels, k, 8).draw(batch, 40)]) {
    for (let b = 0; b < batch.length; b++) {
      assert.notDeepEqual(rowOf(other, k, b).slice(1), rowOf(a, k, b).slice(1));
    }
  }
  // The two samples of one step draw different negatives too.
  const same = new ContrastSampler(cyclicLabels(500, 5), k, 7).draw(Int32Array.from([3, 8]), 0);
  assert.notDeepEqual(rowOf(same, k, 0).slice(1), rowOf(same, k, 1).slice(1));
});

Deno.test("sampler: uniform over the other-class samples", () => {
  // 40 samples of 4 classes: sample 0 (class 0) has 30 candidates; 10 drawn per step.
  const labels = cyclicLabels(40, 4);
  const s = new ContrastSampler(labels, 10, 1);
  const counts = new Map<number, number>();
  const steps = 3000;
  for (let step = 0; step < steps; step++) {
    for (const j of rowOf(s.draw(Int32Array.from([0]), step), 10, 0).slice(1)) {
      counts.set(j, (counts.get(j) ?? 0) + 1);
    }
  }
  assert.equal(counts.size, 30);
  // Each candidate is in a row with probability 1/3: 1000 expected, sd ≈ 26; allow 5 sd.
  for (const [j, c] of counts) assert.ok(Math.abs(c - 1000) < 130, `sample ${j}: ${c} of ${steps}`);
  // And each position of a row is uniform too (the shuffle is not biased towards the list order).
  const first = new Array(40).fill(0);
  for (let step = 0; step < steps; step++) first[s.draw(Int32Array.from([0]), step)[1]]++;
  for (let j = 0; j < 40; j++) {
    if (labels[j] === 0) assert.equal(first[j], 0);
    else assert.ok(Math.abs(first[j] - 100) < 50, `first negative ${j}: ${first[j]}`); // sd ≈ 9.8
  }
});

Deno.test("sampler: with replacement only when K exceeds the other-class samples", () => {
  const labels = cyclicLabels(12, 3); // 8 other-class samples each
  const s = new ContrastSampler(labels, 200, 2);
  const row = rowOf(s.draw(Int32Array.from([4]), 0), 200, 0);
  assert.equal(row[0], 4);
  assert.ok(row.slice(1).every((j) => labels[j] !== labels[4]));
  // 200 draws of 8: all 8 appear (a miss has probability 8·(7/8)^200 ≈ 2e-11), about 25 times each.
  const counts = new Map<number, number>();
  for (const j of row.slice(1)) counts.set(j, (counts.get(j) ?? 0) + 1);
  assert.equal(counts.size, 8);
  for (const c of counts.values()) assert.ok(c > 5 && c < 50, `${[...counts.values()]}`);
  // K equal to the number of candidates is still without replacement.
  const exact = rowOf(new ContrastSampler(labels, 8, 2).draw(Int32Array.from([4]), 0), 8, 0);
  assert.equal(new Set(exact.slice(1)).size, 8);
});

Deno.test("sampler: relax mode takes a random sample of the same class as the positive", () => {
  const labels = cyclicLabels(100, 4);
  const s = new ContrastSampler(labels, 16, 5, "relax");
  const positives = new Set<number>();
  for (let step = 0; step < 200; step++) {
    const row = rowOf(s.draw(Int32Array.from([6]), step), 16, 0);
    assert.equal(labels[row[0]], labels[6]);
    assert.ok(row.slice(1).every((j) => labels[j] !== labels[6]));
    positives.add(row[0]);
  }
  assert.ok(positives.size > 20, `${positives.size} of 25 same-class samples drawn`);
});

Deno.test("sampler: clear errors for bad indices, one class only, bad K or step", () => {
  const s = new ContrastSampler(cyclicLabels(10, 2), 3, 0);
  assert.throws(() => s.draw(Int32Array.from([10]), 0), /sample index 10 outside 0…9/);
  assert.throws(() => s.draw(Int32Array.from([0]), -1), /step must be an integer ≥ 0, got -1/);
  assert.throws(() => new ContrastSampler(cyclicLabels(10, 2), 0, 0), /K must be ≥ 1, got 0/);
  const single = new ContrastSampler(new Int32Array(5), 2, 0);
  assert.throws(
    () => single.draw(Int32Array.from([1]), 0),
    /sample 1 has no sample of another class/,
  );
});
