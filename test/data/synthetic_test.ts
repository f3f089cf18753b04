import assert from "node:assert/strict";
import { generateSynthetic } from "../../lib/data/synthetic.ts";

/** Nearest-centroid accuracy in raw pixel space: train on `train`, score on `test`. */
function centroidAccuracy(difficulty: number): number {
  const k = 10;
  const train = generateSynthetic({ numClasses: k, samples: 1000, difficulty, seed: 11 });
  const test = generateSynthetic({ numClasses: k, samples: 500, difficulty, seed: 12 });
  const d = 3072;
  const cent = new Float64Array(k * d), count = new Array(k).fill(0);
  for (let i = 0; i < train.n; i++) {
    const l = train.labels[i];
    count[l]++;
    for (let j = 0; j < d; j++) cent[l * d + j] += train.images[i * d + j];
  }
  for (let l = 0; l < k; l++) for (let j = 0; j < d; j++) cent[l * d + j] /= count[l];
  let right = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1, bestD = Infinity;
    for (let l = 0; l < k; l++) {
      let s = 0;
      for (let j = 0; j < d; j++) {
        const t = test.images[i * d + j] - cent[l * d + j];
        s += t * t;
      }
      if (s < bestD) [bestD, best] = [s, l];
    }
    if (best === test.labels[i]) right++;
  }
  return right / test.n;
}

Deno.test("synthetic: deterministic by seed, balanced labels, CIFAR shape", () => {
  const a = generateSynthetic({ numClasses: 7, samples: 70, seed: 5, difficulty: 0.5 });
  const b = generateSynthetic({ numClasses: 7, samples: 70, seed: 5, difficulty: 0.5 });
  const c = generateSynthetic({ numClasses: 7, samples: 70, seed: 6, difficulty: 0.5 });
  assert.deepEqual(a.images, b.images);
  assert.notDeepEqual(a.images, c.images);
  assert.equal(a.images.length, 70 * 3072);
  assert.deepEqual([a.height, a.width, a.channels, a.numClasses], [32, 32, 3, 7]);
  for (let l = 0; l < 7; l++) assert.equal(a.labels.filter((v) => v === l).length, 10);
  assert.equal(a.labelNames.length, 7);
  assert.throws(() => generateSynthetic({ numClasses: 0, samples: 1 }), /numClasses/);
  assert.throws(
    () => generateSynthetic({ numClasses: 2, samples: 1, difficulty: 2 }),
    /difficulty/,
  );
});

Deno.test("synthetic: separable by nearest centroid when easy, much harder when hard", () => {
  const easy = centroidAccuracy(0.1);
  const hard = centroidAccuracy(1);
  assert.ok(easy > 0.9, `easy accuracy ${easy}`);
  assert.ok(hard < easy - 0.3, `hard accuracy ${hard} vs easy ${easy}`);
  assert.ok(hard > 0.1, `hard accuracy ${hard} is still above chance`);
});
