import assert from "node:assert/strict";
import { cifarEval, cifarTrain, makeImageBatch } from "../../lib/data/augment.ts";
import { DataLoader } from "../../lib/data/loader.ts";
import { cifarLoader } from "../../lib/data/presets.ts";
import type { ImagesSpec } from "../../lib/data/maker.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";
import type { Batch } from "../../lib/data/types.ts";

const set = generateSynthetic({ numClasses: 10, samples: 250, seed: 1 });
const spec: ImagesSpec = { type: "images", ...set, augment: cifarTrain(), seed: 42 };

async function collect(loader: DataLoader, e: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(e)) out.push(b);
  return out;
}

Deno.test("loader: 0, 1 and 2 workers give identical batches, epoch by epoch", async () => {
  const results: Batch[][][] = [];
  for (const workers of [0, 1, 2]) {
    const loader = new DataLoader(spec, { batchSize: 32, numClasses: 10, workers, prefetch: 3 });
    try {
      const e0 = await collect(loader, 0), e1 = await collect(loader, 1);
      // Abandon epoch 2 after its first batch, then skip to epoch 4: batches requested ahead for
      // epoch 3 must be dropped, not served.
      for await (const _ of loader.epoch(2)) break;
      results.push([e0, e1, await collect(loader, 4)]);
    } finally {
      loader.close();
    }
  }
  for (const r of results.slice(1)) {
    for (let e = 0; e < 3; e++) {
      assert.equal(r[e].length, results[0][e].length);
      r[e].forEach((b, i) => {
        assert.deepEqual(b.y, results[0][e][i].y);
        assert.deepEqual(b.x, results[0][e][i].x);
      });
    }
  }
  // Different epochs reshuffle and re-augment.
  assert.notDeepEqual(results[0][0][0].y, results[0][1][0].y);
});

Deno.test("loader: batches follow the seeded order and hold every sample once", async () => {
  // Worker start-up is type-checked under `deno test` (seconds each), so only the tests about
  // workers start them.
  const loader = new DataLoader(spec, { batchSize: 64, numClasses: 10, workers: 0 });
  try {
    assert.equal(loader.batchesPerEpoch, 4);
    assert.equal(loader.size, 250);
    const batches = await collect(loader, 3);
    assert.deepEqual(batches.map((b) => b.n), [64, 64, 64, 58]);
    const order = loader.order(3);
    assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: 250 }, (_, i) => i));
    // Each batch equals a direct build from its slice of the order.
    const direct = makeImageBatch(set, order.slice(64, 128), spec.augment, 42, 3);
    assert.deepEqual(batches[1].x, direct.x);
    assert.deepEqual(batches[1].y, direct.y);
    assert.deepEqual([batches[0].height, batches[0].width, batches[0].channels], [32, 32, 3]);
    assert.equal(batches[0].x.length, 64 * 32 * 32 * 3);
  } finally {
    loader.close();
  }
});

Deno.test("loader: drop-last, no shuffle, early break and errors", async () => {
  const evalSpec: ImagesSpec = { ...spec, augment: cifarEval() };
  const loader = new DataLoader(evalSpec, {
    batchSize: 100,
    numClasses: 10,
    dropLast: true,
    shuffle: false,
    workers: 0,
  });
  try {
    assert.equal(loader.batchesPerEpoch, 2);
    const bs = await collect(loader, 0);
    assert.deepEqual(bs.map((b) => b.n), [100, 100]);
    assert.deepEqual([...bs[1].y], [...set.labels.subarray(100, 200)]);
    for await (const _ of loader.epoch(1)) break; // abandoning an epoch must not leak or throw
    assert.equal((await collect(loader, 2)).length, 2);
  } finally {
    loader.close();
  }
  await assert.rejects(async () => {
    for await (const _ of loader.epoch(0)) break;
  }, /after close/);
  assert.throws(
    () => new DataLoader(spec, { batchSize: 0, numClasses: 10, workers: 0 }),
    /batchSize/,
  );
  assert.throws(() => new DataLoader(spec, { batchSize: 8, numClasses: 5, workers: 0 }), /label 5/);
  assert.throws(
    () => new DataLoader(spec, { batchSize: 300, numClasses: 10, dropLast: true, workers: 0 }),
    /no batches/,
  );
  // A worker-side failure (wrong channel count) comes back as a rejection.
  const bad = new DataLoader({ ...spec, augment: { ...spec.augment, mean: [0.5], std: [0.5] } }, {
    batchSize: 10,
    numClasses: 10,
    workers: 1,
  });
  try {
    await assert.rejects(collect(bad, 0), /1 mean values for 3-channel images/);
  } finally {
    bad.close();
  }
});

Deno.test("loader: cifarLoader presets (train shuffles and augments, eval keeps order)", async () => {
  const train = cifarLoader(set, { train: true, batchSize: 50, seed: 42, workers: 0 });
  const test = cifarLoader(set, {
    train: false,
    batchSize: 50,
    workers: 0,
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
  });
  try {
    const [tb] = await collect(train, 0);
    const direct = makeImageBatch(set, train.order(0).slice(0, 50), cifarTrain(), 42, 0);
    assert.deepEqual(tb.x, direct.x);
    const [eb] = await collect(test, 0);
    assert.deepEqual([...eb.y], [...set.labels.subarray(0, 50)]);
    assert.ok(Math.abs(eb.x[0] - (set.images[0] / 255 - 0.5) / 0.25) < 1e-6);
    assert.equal(test.numClasses, 10);
  } finally {
    train.close();
    test.close();
  }
});

Deno.test("loader: idle workers stop and restart on demand with the same results", async () => {
  const idle = new DataLoader(spec, { batchSize: 100, numClasses: 10, workers: 1, idleMs: 20 });
  const here = new DataLoader(spec, { batchSize: 100, numClasses: 10, workers: 0 });
  try {
    assert.equal(idle.activeWorkers, 1); // started with the loader
    await collect(idle, 0);
    let waited = 0;
    while (idle.activeWorkers > 0 && waited < 5000) {
      await new Promise((r) => setTimeout(r, 25)); // lookahead jobs finish, then 20 ms idle
      waited += 25;
    }
    assert.equal(idle.activeWorkers, 0);
    const again = await collect(idle, 1);
    assert.equal(idle.activeWorkers, 1);
    const want = await collect(here, 1);
    assert.deepEqual(again.map((b) => b.x), want.map((b) => b.x));
  } finally {
    idle.close();
    here.close();
  }
});
