import assert from "node:assert/strict";
import { gunzip, gzip, readTar, writeTar } from "../../lib/data/tar.ts";

const enc = new TextEncoder();

Deno.test("tar: write then read round-trips names and contents", () => {
  const long = "d/" + "x".repeat(120) + "/file.bin";
  const entries = [
    { name: "dir/a.txt", data: enc.encode("hello") },
    { name: "dir/empty", data: new Uint8Array(0) },
    { name: long, data: new Uint8Array(1000).map((_, i) => i % 251) },
  ];
  const back = readTar(gunzip(gzip(writeTar(entries)), "t.tar.gz"), "t.tar.gz");
  assert.deepEqual(back.map((e) => e.name), entries.map((e) => e.name));
  for (let i = 0; i < entries.length; i++) assert.deepEqual(back[i].data, entries[i].data);
});

Deno.test("tar: truncated archive and damaged header are named errors", () => {
  const tar = writeTar([{ name: "a.bin", data: new Uint8Array(5000) }]);
  assert.throws(() => readTar(tar.subarray(0, 2000), "x.tar"), /x\.tar: truncated archive/);
  const bad = tar.slice();
  bad[0] ^= 1;
  assert.throws(() => readTar(bad, "x.tar"), /x\.tar: tar header at byte 0: checksum mismatch/);
  const gz = gzip(tar);
  assert.throws(() => gunzip(gz.subarray(0, gz.length - 10), "x.tar.gz"), /x\.tar\.gz: truncated/);
  assert.throws(() => gunzip(enc.encode("not gzip"), "y.gz"), /y\.gz: not valid gzip/);
});

Deno.test("tar: old GNU headers (as in the CIFAR archives) ignore the bytes POSIX uses as prefix", () => {
  const tar = writeTar([{
    name: "cifar-10-batches-bin/batches.meta.txt",
    data: enc.encode("cat"),
  }]);
  const h = tar.subarray(0, 512);
  h.set(enc.encode("ustar  \u0000"), 257); // GNU magic + version
  h.set(enc.encode("14000000000\u0000"), 345); // GNU atime where POSIX has the prefix
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\u0000 "), 148);
  const [e] = readTar(tar, "gnu.tar");
  assert.equal(e.name, "cifar-10-batches-bin/batches.meta.txt");
  assert.equal(new TextDecoder().decode(e.data), "cat");
});
