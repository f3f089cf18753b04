import assert from "node:assert/strict";
import jpeg from "jpeg-js";
import { join } from "node:path";
import {
  imagenetEval,
  imagenetTrain,
  makeFolderBatch,
  randomResizedCropBox,
  resampleBox,
  resizeCenterCropBox,
  roundHalfEven,
  scanImageFolder,
  transformImage,
} from "../../lib/data/imagenet.ts";
import { DataLoader } from "../../lib/data/loader.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../../lib/data/augment.ts";
import { SampleRandom } from "../../lib/data/rng.ts";

/** Writes train/ and val/ with two classes of small solid-colour JPEGs of varied sizes. */
async function makeFolder(root: string): Promise<void> {
  const colours: Record<string, [number, number, number]> = {
    n01440764: [200, 30, 30],
    n01443537: [30, 30, 200],
  };
  for (const split of ["train", "val"]) {
    for (const [wnid, rgb] of Object.entries(colours)) {
      await Deno.mkdir(join(root, split, wnid), { recursive: true });
      for (const [k, [w, h]] of [[64, 48], [40, 80], [50, 50]].entries()) {
        const data = new Uint8Array(w * h * 4);
        for (let p = 0; p < w * h; p++) data.set([...rgb, 255], p * 4);
        const file = jpeg.encode({ data, width: w, height: h }, 95);
        await Deno.writeFile(join(root, split, wnid, `${wnid}_${k}.JPEG`), file.data);
      }
    }
    await Deno.writeTextFile(join(root, split, "README.txt"), "not an image folder");
  }
}

Deno.test("imagenet: scan, eval transform and train transform on small JPEGs", async () => {
  const root = await Deno.makeTempDir();
  try {
    await makeFolder(root);
    const val = scanImageFolder(root, "val");
    assert.deepEqual(val.classes, ["n01440764", "n01443537"]);
    assert.equal(val.files.length, 6);
    assert.deepEqual([...val.labels], [0, 0, 0, 1, 1, 1]);
    const b = makeFolderBatch({ ...val, transform: imagenetEval() }, Int32Array.of(0, 4), 0, 0);
    assert.deepEqual([b.n, b.height, b.width, b.channels], [2, 224, 224, 3]);
    assert.deepEqual([...b.y], [0, 1]);
    // Solid images stay solid (JPEG may shift colours by a few levels).
    const red = [200, 30, 30].map((v, c) => (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
    for (let c = 0; c < 3; c++) {
      assert.ok(Math.abs(b.x[(112 * 224 + 112) * 3 + c] - red[c]) < 0.1, `centre channel ${c}`);
    }
    const train = scanImageFolder(root, "train");
    const spec = { type: "folder" as const, ...train, transform: imagenetTrain(), seed: 3 };
    const here = new DataLoader(spec, { batchSize: 4, numClasses: 2, workers: 0 });
    const there = new DataLoader(spec, { batchSize: 4, numClasses: 2, workers: 1 });
    try {
      const a: Float32Array[] = [], bb: Float32Array[] = [];
      for await (const x of here.epoch(1)) a.push(x.x);
      for await (const x of there.epoch(1)) bb.push(x.x);
      assert.equal(a.length, 2);
      assert.deepEqual(a, bb);
      assert.equal(a[0].length, 4 * 224 * 224 * 3);
    } finally {
      here.close();
      there.close();
    }
    await Deno.writeFile(join(root, "val", "n01440764", "bad.JPEG"), new Uint8Array(10));
    const broken = scanImageFolder(root, "val");
    const bad = broken.files.findIndex((f) => f.endsWith("bad.JPEG"));
    assert.throws(
      () => makeFolderBatch({ ...broken, transform: imagenetEval() }, Int32Array.of(bad), 0, 0),
      /bad\.JPEG: cannot decode JPEG/,
    );
    assert.throws(() => scanImageFolder(root, "nope"), /nope: cannot read image folder/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("imagenet: RandomResizedCrop parameters follow torchvision", () => {
  for (let i = 0; i < 200; i++) {
    const c = randomResizedCropBox(new SampleRandom(1, 0, i), 300, 400, [0.08, 1], [3 / 4, 4 / 3]);
    assert.ok(c.top >= 0 && c.left >= 0 && c.top + c.height <= 300 && c.left + c.width <= 400);
    const area = (c.width * c.height) / (300 * 400);
    assert.ok(area > 0.07 && area <= 1.01, `area ${area}`);
    if (c.width < 400 && c.height < 300) {
      assert.ok(
        c.width / c.height > 0.7 && c.width / c.height < 1.4,
        `ratio ${c.width / c.height}`,
      );
    }
  }
  // Impossible scale: 10 attempts fail, then the centre crop clamped to the largest ratio.
  const wide = randomResizedCropBox(new SampleRandom(1, 0, 0), 40, 100, [2, 3], [3 / 4, 4 / 3]);
  assert.deepEqual(wide, { top: 0, left: 23, height: 40, width: 53 });
  const tall = randomResizedCropBox(new SampleRandom(1, 0, 0), 100, 40, [2, 3], [3 / 4, 4 / 3]);
  assert.deepEqual(tall, { top: 23, left: 0, height: 53, width: 40 });
  const square = randomResizedCropBox(new SampleRandom(1, 0, 0), 50, 50, [2, 3], [3 / 4, 4 / 3]);
  assert.deepEqual(square, { top: 0, left: 0, height: 50, width: 50 });
  assert.deepEqual([0.5, 1.5, 2.5, 2.6].map(roundHalfEven), [0, 2, 2, 3]);
});

Deno.test("imagenet: Resize(256) + CenterCrop(224) box and antialiased bilinear resampling", () => {
  // 400×300: resized to 341×256, crop at top 16, left round(58.5) = 58 (Python rounds half to even).
  const box = resizeCenterCropBox(300, 400, 256, 224);
  const sx = 400 / 341, sy = 300 / 256;
  assert.ok(Math.abs(box.x0 - 58 * sx) < 1e-9 && Math.abs(box.x1 - 282 * sx) < 1e-9);
  assert.ok(Math.abs(box.y0 - 16 * sy) < 1e-9 && Math.abs(box.y1 - 240 * sy) < 1e-9);
  // Halving a horizontal ramp v = 4x: PIL's bilinear filter (weights 1/8, 3/8, 3/8, 1/8) gives
  // 8o + 2 inside, the mean over each source pair.
  const w = 16, h = 2;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) data.fill(4 * x, (y * w + x) * 3, (y * w + x + 1) * 3);
  }
  const out = resampleBox({ data, width: w, height: h }, { x0: 0, y0: 0, x1: w, y1: h }, 8, 2);
  for (let o = 1; o < 7; o++) assert.ok(Math.abs(out[o * 3] - (8 * o + 2)) < 1e-4, `column ${o}`);
  // Crop-then-resize (RandomResizedCrop) sees only the crop; resize-then-crop also sees neighbours.
  const frame = new Uint8Array(20 * 20 * 3).fill(255);
  for (let y = 5; y < 15; y++) frame.fill(0, (y * 20 + 5) * 3, (y * 20 + 15) * 3);
  const img = { data: frame, width: 20, height: 20 };
  const inner = { x0: 5, y0: 5, x1: 15, y1: 15 };
  assert.ok(resampleBox(img, inner, 4, 4, true).every((v) => Math.abs(v) < 1e-9));
  assert.ok(resampleBox(img, inner, 4, 4, false)[0] > 10);
});

Deno.test("imagenet: train transform flips horizontally about half the time", () => {
  // 32×32, left half dark, right half bright; a full-image crop (scale 1, ratio 1) keeps it whole.
  const data = new Uint8Array(32 * 32 * 3);
  for (let p = 0; p < 32 * 32; p++) data.fill(p % 32 < 16 ? 20 : 230, p * 3, p * 3 + 3);
  const t = {
    ...imagenetTrain(16),
    scale: [1, 1] as [number, number],
    ratio: [1, 1] as [number, number],
  };
  let flipped = 0;
  for (let i = 0; i < 40; i++) {
    const out = new Float32Array(16 * 16 * 3);
    transformImage({ data, width: 32, height: 32 }, t, new SampleRandom(9, 0, i), out, 0);
    const left = out[(8 * 16 + 1) * 3], right = out[(8 * 16 + 14) * 3];
    assert.notEqual(Math.sign(left - right), 0);
    if (left > right) flipped++;
  }
  assert.ok(flipped > 8 && flipped < 32, `${flipped} of 40 flipped`);
});
