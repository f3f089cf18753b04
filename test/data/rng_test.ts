import assert from "node:assert/strict";
import { hash4, permutation, SampleRandom, uniform } from "../../lib/data/rng.ts";

Deno.test("rng: permutation is a seeded, epoch-dependent permutation", () => {
  const p = permutation(1000, 3, 0);
  assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 1000 }, (_, i) => i));
  assert.deepEqual(p, permutation(1000, 3, 0));
  assert.notDeepEqual(p, permutation(1000, 3, 1));
  assert.notDeepEqual(p, permutation(1000, 4, 0));
  // Not the identity, and the first element is roughly uniform over seeds.
  const firsts = new Set(Array.from({ length: 50 }, (_, s) => permutation(10, s, 0)[0]));
  assert.ok(firsts.size >= 8);
});

Deno.test("rng: uniform draws are in [0, 1), pure, and statistically flat", () => {
  let sum = 0;
  const buckets = new Array(10).fill(0);
  for (let i = 0; i < 20000; i++) {
    const u = uniform(7, 1, i, 0);
    assert.ok(u >= 0 && u < 1);
    sum += u;
    buckets[Math.floor(u * 10)]++;
  }
  assert.ok(Math.abs(sum / 20000 - 0.5) < 0.01);
  for (const b of buckets) assert.ok(b > 1800 && b < 2200);
  assert.equal(uniform(1, 2, 3, 4), uniform(1, 2, 3, 4));
  assert.notEqual(hash4(1, 2, 3, 4), hash4(2, 1, 3, 4));
  const r = new SampleRandom(1, 2, 3);
  assert.equal(r.next(), uniform(1, 2, 3, 0));
  assert.equal(r.next(), uniform(1, 2, 3, 1));
});
