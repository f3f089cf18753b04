import assert from "node:assert/strict";
import {
  CIFAR_MEAN,
  CIFAR_STD,
  cifarEval,
  cifarTrain,
  drawCropFlip,
  makeImageBatch,
} from "../../lib/data/augment.ts";
import type { ImageSet } from "../../lib/data/types.ts";

/** A known image: every pixel value encodes (channel, row, column), never 0. */
function knownSet(n: number): ImageSet {
  const images = new Uint8Array(n * 3072);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          images[i * 3072 + c * 1024 + y * 32 + x] = 1 + ((c * 80 + y * 7 + x * 3 + i) % 254);
        }
      }
    }
  }
  return {
    images,
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    n,
    height: 32,
    width: 32,
    channels: 3,
    numClasses: 10,
    labelNames: [],
  };
}

/** torchvision reference: pad to 40×40 with zeros, crop 32×32 at (top, left), flip, ToTensor, Normalize. */
function reference(
  set: ImageSet,
  i: number,
  top: number,
  left: number,
  flip: boolean,
  mean: readonly number[],
  std: readonly number[],
): number[] {
  const padded: number[][][] = [];
  for (let c = 0; c < 3; c++) {
    padded.push([]);
    for (let y = 0; y < 40; y++) {
      const row: number[] = [];
      for (let x = 0; x < 40; x++) {
        const inside = y >= 4 && y < 36 && x >= 4 && x < 36;
        row.push(inside ? set.images[i * 3072 + c * 1024 + (y - 4) * 32 + (x - 4)] : 0);
      }
      padded[c].push(row);
    }
  }
  const out: number[] = [];
  for (let y = 0; y < 32; y++) {
    for (let x = 0; x < 32; x++) {
      for (let c = 0; c < 3; c++) {
        const cropped = padded[c].slice(top, top + 32).map((r) => r.slice(left, left + 32));
        const v = cropped[y][flip ? 31 - x : x];
        out.push((v / 255 - mean[c]) / std[c]);
      }
    }
  }
  return out;
}

Deno.test("augment: crop offsets and flips match a direct torchvision-style reference", () => {
  const set = knownSet(40);
  const aug = cifarTrain();
  const idx = Int32Array.from({ length: 40 }, (_, i) => i);
  const batch = makeImageBatch(set, idx, aug, 123, 2);
  const seen = new Set<string>();
  let flips = 0;
  for (let b = 0; b < 40; b++) {
    const { top, left, flip } = drawCropFlip(aug, 123, 2, b);
    assert.ok(top >= 0 && top <= 8 && left >= 0 && left <= 8);
    seen.add(`${top},${left}`);
    if (flip) flips++;
    const want = reference(set, b, top, left, flip, CIFAR_MEAN, CIFAR_STD);
    const got = batch.x.subarray(b * 3072, (b + 1) * 3072);
    for (let k = 0; k < 3072; k++) {
      assert.ok(Math.abs(got[k] - want[k]) < 1e-5, `sample ${b} value ${k}`);
    }
    assert.equal(batch.y[b], b % 10);
  }
  assert.ok(seen.size > 15, "crop offsets vary");
  assert.ok(flips > 5 && flips < 35, `flip rate plausible (${flips}/40)`);
});

Deno.test("augment: padding pixels are zeros before normalisation", () => {
  const set = knownSet(200);
  const aug = cifarTrain();
  // Find a sample cropped at the top-left corner (top = left = 0): its first 4 rows/cols are padding.
  let i = 0;
  let cf = drawCropFlip(aug, 5, 0, i);
  while (!(cf.top === 0 && cf.left === 0 && !cf.flip)) cf = drawCropFlip(aug, 5, 0, ++i);
  const b = makeImageBatch({ ...set }, Int32Array.of(i), aug, 5, 0);
  for (let c = 0; c < 3; c++) {
    const zero = (0 - CIFAR_MEAN[c]) / CIFAR_STD[c];
    assert.ok(Math.abs(b.x[c] - zero) < 1e-6); // pixel (0, 0)
    assert.ok(Math.abs(b.x[(3 * 32 + 3) * 3 + c] - zero) < 1e-6); // pixel (3, 3) still padding
    const first = set.images[i * 3072 + c * 1024]; // pixel (4, 4) is the image's (0, 0)
    assert.ok(
      Math.abs(b.x[(4 * 32 + 4) * 3 + c] - ((first / 255 - CIFAR_MEAN[c]) / CIFAR_STD[c])) < 1e-6,
    );
  }
});

Deno.test("augment: eval is normalisation only, with configurable constants", () => {
  const set = knownSet(3);
  const mean = [0.5, 0.25, 0], std = [0.5, 0.25, 1];
  const b = makeImageBatch(set, Int32Array.of(2, 0), cifarEval({ mean, std }), 9, 0);
  assert.equal(b.n, 2);
  assert.deepEqual([b.height, b.width, b.channels], [32, 32, 3]);
  for (const [slot, i] of [[0, 2], [1, 0]]) {
    for (let y = 0; y < 32; y += 5) {
      for (let x = 0; x < 32; x += 3) {
        for (let c = 0; c < 3; c++) {
          const v = set.images[i * 3072 + c * 1024 + y * 32 + x];
          const got = b.x[slot * 3072 + (y * 32 + x) * 3 + c];
          assert.ok(Math.abs(got - (v / 255 - mean[c]) / std[c]) < 1e-6);
        }
      }
    }
  }
  // Exact value of one pixel: 255 → (1 - 0.5) / 0.5 = 1.
  const white = { ...set, images: new Uint8Array(3072).fill(255), n: 1 };
  assert.equal(makeImageBatch(white, Int32Array.of(0), cifarEval({ mean, std }), 0, 0).x[0], 1);
});
