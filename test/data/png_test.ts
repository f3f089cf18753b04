import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import {
  CIFAR_MEAN,
  CIFAR_STD,
  cifarEval,
  cifarTrain,
  makeImageBatch,
} from "../../lib/data/augment.ts";
import { batchGrid, crc32, encodePng, imageGrid } from "../../lib/data/png.ts";
import { JUPYTER_DISPLAY } from "../../lib/jupyter.ts";
import { classCounts } from "../../lib/data/stats.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";

/** Minimal PNG reader for the test: checks chunk CRCs and returns size and unfiltered RGB. */
function decodePng(png: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8, width = 0, height = 0;
  const idat: Uint8Array[] = [];
  while (off < png.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    const body = png.subarray(off + 8, off + 8 + len);
    assert.equal(dv.getUint32(off + 8 + len), crc32(png.subarray(off + 4, off + 8 + len)), type);
    if (type === "IHDR") {
      width = dv.getUint32(off + 8);
      height = dv.getUint32(off + 12);
      assert.deepEqual([...body.subarray(8)], [8, 2, 0, 0, 0]);
    }
    if (type === "IDAT") idat.push(body);
    off += 12 + len;
  }
  const raw = new Uint8Array(inflateSync(idat[0]));
  const rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (width * 3 + 1)], 0);
    rgb.set(raw.subarray(y * (width * 3 + 1) + 1, (y + 1) * (width * 3 + 1)), y * width * 3);
  }
  return { width, height, rgb };
}

Deno.test("png: CRC-32 check value and a pixel-exact round trip", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const rgb = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256);
  const back = decodePng(encodePng(rgb, 5, 3));
  assert.deepEqual([back.width, back.height], [5, 3]);
  assert.deepEqual(back.rgb, rgb);
  assert.throws(() => encodePng(rgb, 4, 4), /48 bytes|45 bytes for a 4×4/);
});

Deno.test("png: image grids of raw and augmented images display in Jupyter", () => {
  const set = generateSynthetic({ numClasses: 4, samples: 6, seed: 1 });
  const g = imageGrid(set, { cols: 3, scale: 1, gap: 1 });
  assert.deepEqual([g.width, g.height], [3 * 33 + 1, 2 * 33 + 1]);
  const img = decodePng(g.bytes);
  // Image 4 sits at row 1, column 1: its pixel (2, 5) is at (1 + 33 + 2, 1 + 33 + 5).
  const at = ((1 + 33 + 2) * g.width + 1 + 33 + 5) * 3;
  for (let c = 0; c < 3; c++) {
    assert.equal(img.rgb[at + c], set.images[4 * 3072 + c * 1024 + 2 * 32 + 5]);
  }
  assert.deepEqual([...img.rgb.subarray(0, 3)], [255, 255, 255]); // gap is white
  const bundle = g[JUPYTER_DISPLAY]();
  assert.equal(JUPYTER_DISPLAY, Symbol.for("Jupyter.display"));
  assert.deepEqual(Object.keys(bundle), ["image/png"]);
  assert.deepEqual(Uint8Array.from(atob(bundle["image/png"]), (ch) => ch.charCodeAt(0)), g.bytes);
  // An eval batch (normalisation only) de-normalises back to the original bytes exactly.
  const plain = makeImageBatch(set, Int32Array.of(3), cifarEval(), 0, 0);
  const pg = decodePng(batchGrid(plain, CIFAR_MEAN, CIFAR_STD, { scale: 1, gap: 0 }).bytes);
  for (let k = 0; k < 1024; k += 7) {
    for (let c = 0; c < 3; c++) {
      assert.equal(pg.rgb[k * 3 + c], set.images[3 * 3072 + c * 1024 + k]);
    }
  }
  // Augmented batches render too (the notebook shows them after augmentation).
  const aug = cifarTrain();
  const batch = makeImageBatch(set, Int32Array.of(0, 1, 2, 3), aug, 0, 0);
  const bg = batchGrid(batch, aug.mean, aug.std, { scale: 2 });
  assert.deepEqual([bg.width, bg.height], [2 * 65 + 1, 2 * 65 + 1]);
  assert.equal(decodePng(bg.bytes).rgb.length, bg.width * bg.height * 3);
});

Deno.test("stats: per-class counts as plain rows", () => {
  const rows = classCounts(Int32Array.of(0, 2, 2, 1, 2), 4, ["a", "b", "c"]);
  assert.deepEqual(rows, [
    { label: 0, name: "a", count: 1, fraction: 0.2 },
    { label: 1, name: "b", count: 1, fraction: 0.2 },
    { label: 2, name: "c", count: 3, fraction: 0.6 },
    { label: 3, name: "", count: 0, fraction: 0 },
  ]);
  assert.throws(() => classCounts([5], 4), /label 5 at 0 outside 0\.\.3/);
});
