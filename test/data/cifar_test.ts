import assert from "node:assert/strict";
import { join } from "node:path";
import { CIFAR, cifarSplitRecords, loadCifar, parseCifarRecords } from "../../lib/data/cifar.ts";
import { md5Hex } from "../../lib/data/download.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";
import { gzip, writeTar } from "../../lib/data/tar.ts";
import { cifarArchive, writeCifarArchive, writeCifarFolder } from "../../lib/data/writer.ts";

const train10 = generateSynthetic({ numClasses: 10, samples: 103, seed: 1 });
const test10 = generateSynthetic({ numClasses: 10, samples: 20, seed: 2 });
const train100 = generateSynthetic({ numClasses: 100, samples: 50, seed: 5 });
const test100 = generateSynthetic({ numClasses: 100, samples: 10, seed: 6 });
const names10 = Array.from({ length: 10 }, (_, i) => `class${i}`);
/** The record counts of the generated CIFAR-10 set (the loader checks every file against them). */
const records10 = cifarSplitRecords("cifar10", train10.n, test10.n);

/** Builds CIFAR-10 records by hand, independent of the writer. */
function handRecords10(labels: number[], pixel: (i: number, k: number) => number): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((l, i) => {
    out[i * 3073] = l;
    for (let k = 0; k < 3072; k++) out[i * 3073 + 1 + k] = pixel(i, k);
  });
  return out;
}

Deno.test("cifar: hand-made CIFAR-10 records parse to planar pixels and labels", () => {
  const bytes = handRecords10([3, 9], (i, k) => (k * 7 + i) % 256);
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
      const fa = await loadCifar({ kind: "cifar10", split, dataDir: a, records: records10 });
      const fb = await loadCifar({ kind: "cifar10", split, dataDir: b, records: records10 });
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
    const records = cifarSplitRecords("cifar100", train.n, test.n);
    assert.deepEqual(records, { "train.bin": 200, "test.bin": 100 });
    const fine = await loadCifar({ kind: "cifar100", split: "train", dataDir: dir, records });
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
      records,
    });
    assert.equal(coarse.numClasses, 20);
    assert.deepEqual(coarse.labels, Int32Array.from(test.labels, (l) => Math.floor(l / 5)));
    assert.deepEqual(coarse.fineLabels, test.labels);
    assert.deepEqual(coarse.labelNames, coarseNames);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar: a file with whole records but too few of them is an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A real CIFAR-10 test batch cut to its first five records: every record is whole.
    const folder = join(dir, CIFAR.cifar10.folder);
    await Deno.mkdir(folder, { recursive: true });
    const path = join(folder, "test_batch.bin");
    await Deno.writeFile(path, handRecords10([0, 1, 2, 3, 4], (i, k) => (i + k) % 256));
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir }),
      (e: Error) =>
        e.message.includes(path) && /\b5 records\b/.test(e.message) &&
        /10,?000 expected/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar: a missing data set names where to put it and how to have it fetched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const kind of ["cifar10", "cifar100"] as const) {
      const layout = CIFAR[kind];
      const err = await loadCifar({ kind, split: "test", dataDir: dir, download: false }).then(
        () => assert.fail("no error"),
        (e: Error) => e.message,
      );
      assert.ok(err.startsWith(`${kind} not found`), err);
      assert.ok(err.includes(join(dir, layout.folder)), err);
      assert.ok(err.includes(join(dir, layout.archive)), err);
      assert.ok(err.includes(layout.url), err);
      // The two switches that fetch it — the loader option and the run config's — and nothing that
      // suggests download is already on or that leaving it alone would fetch the files.
      assert.ok(err.includes("`download: true`"), err);
      assert.ok(err.includes('`"download": true`') && err.includes('"data"'), err);
      assert.doesNotMatch(err, /leave download on|download(ing)? is on|download: false/i);
    }
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing written");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar: record counts are checked against the official ones unless given", async () => {
  assert.deepEqual(CIFAR.cifar10.records, {
    "data_batch_1.bin": 10000,
    "data_batch_2.bin": 10000,
    "data_batch_3.bin": 10000,
    "data_batch_4.bin": 10000,
    "data_batch_5.bin": 10000,
    "test_batch.bin": 10000,
  });
  assert.deepEqual(CIFAR.cifar100.records, { "train.bin": 50000, "test.bin": 10000 });
  assert.deepEqual(cifarSplitRecords("cifar10", 103, 20), {
    "data_batch_1.bin": 20,
    "data_batch_2.bin": 20,
    "data_batch_3.bin": 20,
    "data_batch_4.bin": 20,
    "data_batch_5.bin": 23,
    "test_batch.bin": 20,
  });
  const dir = await Deno.makeTempDir();
  try {
    // The generated set loads only with its own counts; a count that disagrees is an error too.
    await writeCifarArchive(dir, "cifar100", { train: train100, test: test100 });
    const archive = join(dir, CIFAR.cifar100.archive);
    await assert.rejects(
      loadCifar({ kind: "cifar100", split: "train", dataDir: dir }),
      (e: Error) =>
        e.message.includes(`${archive}:cifar-100-binary/train.bin`) &&
        e.message.includes("50 records, 50,000 expected") && /3074 bytes/.test(e.message),
    );
    await assert.rejects(
      loadCifar({ kind: "cifar100", split: "test", dataDir: dir, records: { "test.bin": 11 } }),
      (e: Error) =>
        e.message.includes("cifar-100-binary/test.bin") &&
        e.message.includes("10 records, 11 expected"),
    );
    const ok = await loadCifar({
      kind: "cifar100",
      split: "test",
      dataDir: dir,
      records: cifarSplitRecords("cifar100", 50, 10),
    });
    assert.equal(ok.n, 10);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cifar: corrupt inputs give errors naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Size not a whole number of records.
    const folder = await writeCifarFolder(dir, "cifar10", { train: train10, test: test10 });
    const testPath = join(folder, "test_batch.bin");
    const good = await Deno.readFile(testPath);
    await Deno.writeFile(testPath, good.subarray(0, good.length - 100));
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir, records: records10 }),
      (e: Error) =>
        e.message.includes(testPath) && /not a whole number of cifar10 records/.test(e.message),
    );
    // Label out of range.
    const bad = good.slice();
    bad[3073 * 2] = 10;
    await Deno.writeFile(testPath, bad);
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir, records: records10 }),
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
      loadCifar({ kind: "cifar10", split: "train", dataDir: dir, records: records10 }),
      (e: Error) => e.message.includes(archive) && /truncated archive/.test(e.message),
    );
    // Wrong checksum (verify against the published MD5).
    await Deno.writeFile(archive, gz);
    await assert.rejects(
      loadCifar({
        kind: "cifar10",
        split: "train",
        dataDir: dir,
        verify: true,
        records: records10,
      }),
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
      records: records10,
    });
    assert.equal(ok.n, 103);
    // Archive lacking a member.
    await Deno.writeFile(
      archive,
      gzip(writeTar([{ name: "cifar-10-batches-bin/x", data: new Uint8Array(1) }])),
    );
    await assert.rejects(
      loadCifar({ kind: "cifar10", split: "test", dataDir: dir, records: records10 }),
      /archive has no cifar-10-batches-bin\/test_batch\.bin/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
