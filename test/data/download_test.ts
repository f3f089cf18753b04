import assert from "node:assert/strict";
import { join } from "node:path";
import { cifarSplitRecords, loadCifar } from "../../lib/data/cifar.ts";
import { download, type DownloadProgress, md5Hex } from "../../lib/data/download.ts";
import { generateSynthetic } from "../../lib/data/synthetic.ts";
import { cifarArchive } from "../../lib/data/writer.ts";

/** Serves `body` at /file on 127.0.0.1 in chunks (so progress fires several times). */
function serve(body: Uint8Array): { url: string; server: Deno.HttpServer } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    if (new URL(req.url).pathname !== "/file") return new Response("nope", { status: 404 });
    let off = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (off >= body.length) return c.close();
        c.enqueue(body.slice(off, off + 16384));
        off += 16384;
      },
    });
    return new Response(stream, { headers: { "content-length": String(body.length) } });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, server };
}

const train = generateSynthetic({ numClasses: 10, samples: 50, seed: 1 });
const test = generateSynthetic({ numClasses: 10, samples: 10, seed: 2 });
const archive = cifarArchive("cifar10", { train, test });

Deno.test("download: progress, checksum, file in place; loadCifar downloads when missing", async () => {
  const dir = await Deno.makeTempDir();
  const { url, server } = serve(archive);
  try {
    const seen: DownloadProgress[] = [];
    const dest = join(dir, "sub", "x.tar.gz");
    await download({
      url: `${url}/file`,
      dest,
      md5: md5Hex(archive),
      onProgress: (p) => seen.push(p),
    });
    assert.deepEqual(await Deno.readFile(dest), archive);
    assert.ok(seen.length >= 2, "progress reported more than once");
    assert.deepEqual(seen.at(-1), { received: archive.length, total: archive.length });
    assert.ok(seen.every((p, i) => i === 0 || p.received > seen[i - 1].received));
    assert.deepEqual([...Deno.readDirSync(join(dir, "sub"))].map((e) => e.name), ["x.tar.gz"]);

    const data = join(dir, "data");
    const set = await loadCifar({
      kind: "cifar10",
      split: "test",
      dataDir: data,
      download: true,
      url: `${url}/file`,
      md5: md5Hex(archive),
      onProgress: () => {},
      records: cifarSplitRecords("cifar10", train.n, test.n),
    });
    assert.deepEqual(set.labels, test.labels);
    assert.deepEqual(set.images, test.images);
    await Deno.stat(join(data, "cifar-10-binary.tar.gz"));
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: checksum mismatch and HTTP errors leave no file", async () => {
  const dir = await Deno.makeTempDir();
  const { url, server } = serve(archive);
  try {
    const dest = join(dir, "x.tar.gz");
    await assert.rejects(
      download({ url: `${url}/file`, dest, md5: "0".repeat(32) }),
      /wrong checksum: MD5 [0-9a-f]{32}, expected 0{32}/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    await assert.rejects(download({ url: `${url}/missing`, dest }), /HTTP 404/);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("download: unreachable server is a clear error saying where to put the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Bind then close a port so nothing listens there.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await assert.rejects(
      loadCifar({
        kind: "cifar100",
        split: "train",
        dataDir: dir,
        download: true,
        url: `http://127.0.0.1:${port}/cifar-100-binary.tar.gz`,
        onProgress: () => {},
      }),
      (e: Error) =>
        /could not download/.test(e.message) &&
        e.message.includes(join(dir, "cifar-100-binary.tar.gz")),
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
