import assert from "node:assert/strict";
import { join } from "node:path";
import { CIFAR, loadCifar, parseCifarRecords } from "../../lib/data/cifar.ts";
import { md5Hex } from "../../lib/data/download.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";
import { gzip, writeTar } from "../../lib/data/tar.ts";
import { cifarArchive, writeCifarArchive, writeCifarFolder } from "../../lib/data/writer.ts";

const train10 = generateSynthetic({ numClasses: 10, samples: 103, seed: 1 });
const test10 = generateSynthetic({ numClasses: 10, samples: 20, seed: 2 });
const names10 = Array.from({ length: 10 }, (_, i) => `class${i}`);

/** Builds CIFAR-10 records by hand, independent of the writer. */
function records10(labels: number[], pixel: (i: number, k: number) => number): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, i) => {
    out[i * 3073] = l;
    for (let k = 0; k < 3072; k++) out[i * 3073 + 1 + k] = pixel(i, k);
  });
  return out;
}

Deno.test("cifar: hand-made CIFAR-10 records parse to planar pixels and labels", () => {
  const bytes = records10([3, 9], (i, k) => (k * 7 + i) % 256);
  const r = parseCifarRecords(bytes, "cifar10", "x.bin");
  assert.equal(r.n, 2);
  assert.deepEqual([...r.fine], [3, 9]);
  assert.equal(r.coarse, undefined);
  assert.equal(r.images[3072 + 1024 + 5], (1029 * 7 + 1) % 256); // G plane, row 0, col 5 of image 1
});

Deno.test("cifar: folder and archive give the same data; label names from meta", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = join(dir, "a"), b = join(dir, "b");
    await writeCifarFolder(a, "cifar10", { train: train10, test: test10, labelNames: names10 });
    await writeCifarArchive(b, "cifar10", { train: train10, test: test10, labelNames: names10 });
    const files = [...Deno.readDirSync(join(a, "cifar-10-batches-bin"))].map((e) => e.name).sort();
    assert.deepEqual(files, [...CIFAR.cifar10.train, "batches.meta.txt", "test_batch.bin"].sort());
    for (const split of ["train", "test"] as const) {
      const want = split === "train" ? train10 : test10;
      const fa = await loadCifar({ kind: "cifar10", split, dataDir: a });
      const fb = await loadCifar({ kind: "cifar10", split, dataDir: b });
      assert.equal(fa.n, want.n);
      assert.deepEqual(fa.images, want.images);
      assert.deepEqual(fa.labels, want.labels);
      assert.deepEqual(fb.images, want.images);
      assert.deepEqual(fb.labels, want.labels);
      assert.deepEqual(fa.labelNames, names10);
      assert.deepEqual(fb.labelNames, names10);
      assert.ok(fa.images.buffer instanceof SharedArrayBuffer);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar: CIFAR-100 archive with fine and coarse labels and names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const train = generateSynthetic({ numClasses: 100, samples: 200, seed: 3 });
    const test = generateSynthetic({ numClasses: 100, samples: 100, seed: 4 });
    const coarseNames = Array.from({ length: 20 }, (_, i) => `super${i}`);
    await writeCifarArchive(dir, "cifar100", { train, test, coarseLabelNames: coarseNames });
    const fine = await loadCifar({ kind: "cifar100", split: "train", dataDir: dir });
    assert.equal(fine.numClasses, 100);
    assert.deepEqual(fine.labels, train.labels);
    assert.deepEqual(fine.coarseLabels, Int32Array.from(train.labels, (l) => Math.floor(l / 5)));
    assert.deepEqual(fine.labelNames, train.labelNames);
    assert.deepEqual(fine.coarseLabelNames, coarseNames);
    const coarse = await loadCifar({
      kind: "cifar100",
      split: "test",
      dataDir: dir,
      label: "coarse",
    });
    assert.equal(coarse.numClasses, 20);
    assert.deepEqual(coarse.labels, Int32Array.from(test.labels, (l) => Math.floor(l / 5)));
    assert.deepEqual(coarse.fineLabels, test.labels);
    assert.deepEqual(coarse.labelNames, coarseNames);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar: corrupt inputs give errors naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Missing data: says where to put the archive.
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir, download: false }),
      (e: Error) =>
        e.message.includes(join(dir, "cifar-10-binary.tar.gz")) && /download/.test(e.message),
    );
    // Size not a whole number of records.
    const folder = await writeCifarFolder(dir, "cifar10", { train: train10, test: test10 });
    const testPath = join(folder, "test_batch.bin");
    const good = await Deno.readFile(testPath);
    await Deno.writeFile(testPath, good.subarray(0, good.length - 100));
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir }),
      (e: Error) =>
        e.message.includes(testPath) && /not a whole number of cifar10 records/.test(e.message),
    );
    // Label out of range.
    const bad = good.slice();
    bad[3073 * 2] = 10;
    await Deno.writeFile(testPath, bad);
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir }),
      (e: Error) =>
        e.message.includes(testPath) && /record 2: label 10 out of range/.test(e.message),
    );
    assert.throws(
      () => parseCifarRecords(new Uint8Array(3074).fill(20), "cifar100", "t.bin"),
      /t\.bin: record 0: coarse label 20 out of range/,
    );
    await Deno.remove(folder, { recursive: true });
    // Truncated archive.
    const gz = cifarArchive("cifar10", { train: train10, test: test10 });
    const archive = join(dir, "cifar-10-binary.tar.gz");
    await Deno.writeFile(archive, gz.subarray(0, Math.floor(gz.length / 2)));
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "train", dataDir: dir }),
      (e: Error) => e.message.includes(archive) && /truncated archive/.test(e.message),
    );
    // Wrong checksum (verify against the published MD5).
    await Deno.writeFile(archive, gz);
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "train", dataDir: dir, verify: true }),
      (e: Error) =>
        e.message.includes(archive) && /wrong checksum/.test(e.message) &&
        e.message.includes(CIFAR.cifar10.md5),
    );
    const ok = await loadCifar({
      kind: "cifar10",
      split: "train",
      dataDir: dir,
      verify: true,
      md5: md5Hex(gz),
    });
    assert.equal(ok.n, 103);
    // Archive lacking a member.
    await Deno.writeFile(
      archive,
      gzip(writeTar([{ name: "cifar-10-batches-bin/x", data: new Uint8Array(1) }])),
    );
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir }),
      /archive has no cifar-10-batches-bin\/test_batch\.bin/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
