/**
 * Downloads a file with progress and an MD5 check. The bytes go to a temporary name in the target
 * directory and are renamed into place only after the checksum matched, so a file at the final path
 * is always complete.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { dirname } from "node:path";

/** Progress of a running download. */
export interface DownloadProgress {
  /** Bytes received so far. */
  received: number;
  /** Total bytes, when the server said (Content-Length), else `null`. */
  total: number | null;
}

/** What to download and where. */
export interface DownloadOptions {
  /** Source URL. */
  url: string;
  /** Final path of the file. */
  dest: string;
  /** Expected MD5 as hex; when given, a mismatch is an error and nothing is left at `dest`. */
  md5?: string;
  /** Called after every received chunk. */
  onProgress?: (p: DownloadProgress) => void;
}

/**
 * Downloads `url` to `dest` (temp file + rename), verifying the MD5 when given.
 *
 * @returns `dest`
 * @throws Error when the network is unreachable (saying where to put the file by hand), on an HTTP
 *   error status, a short body, or a checksum mismatch
 *
 * @example
 * ```ts
 * await download({
 *   url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
 *   dest: "data/cifar-10-binary.tar.gz",
 *   md5: "c32a1d4ab5d03f1284b67883e8d87530",
 *   onProgress: ({ received, total }) => console.log(received, total),
 * });
 * ```
 */
export async function download(opts: DownloadOptions): Promise<string> {
  const { url, dest } = opts;
  const byHand = `download it yourself from ${url} and put it at ${dest}`;
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(`could not download ${url} (offline? ${why}); ${byHand}`);
  }
  if (!res.ok || res.body === null) {
    await res.body?.cancel();
    throw new Error(`could not download ${url}: HTTP ${res.status} ${res.statusText}; ${byHand}`);
  }
  const len = res.headers.get("content-length");
  const total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
  await Deno.mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.part-${crypto.randomUUID().slice(0, 8)}`;
  const file = await Deno.open(tmp, { write: true, createNew: true });
  const hash = createHash("md5");
  let received = 0;
  try {
    try {
      for await (const chunk of res.body) {
        hash.update(chunk);
        for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
        received += chunk.length;
        opts.onProgress?.({ received, total });
      }
    } finally {
      file.close();
    }
    if (total !== null && received !== total) {
      throw new Error(`download of ${url} stopped early: got ${received} of ${total} bytes`);
    }
    const md5 = hash.digest("hex");
    if (opts.md5 !== undefined && md5 !== opts.md5.toLowerCase()) {
      throw new Error(
        `download of ${url}: wrong checksum: MD5 ${md5}, expected ${opts.md5}; file discarded`,
      );
    }
    await Deno.rename(tmp, dest);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return dest;
}

/**
 * A progress callback that logs to stderr at every 10 % (or every 10 MB when the size is unknown).
 *
 * @example
 * ```ts
 * await download({ url, dest, onProgress: logProgress("cifar-10-binary.tar.gz") });
 * ```
 */
export function logProgress(label: string): (p: DownloadProgress) => void {
  let last = -1;
  return ({ received, total }) => {
    const step = total ? Math.floor((received / total) * 10) : Math.floor(received / 10e6);
    if (step === last) return;
    last = step;
    const mb = (received / 1e6).toFixed(1);
    console.error(
      total ? `${label}: ${step * 10}% (${mb} MB)` : `${label}: ${mb} MB`,
    );
  };
}

/**
 * MD5 of bytes as hex, to check files already on disk.
 *
 * @example
 * ```ts
 * md5Hex(await Deno.readFile("data/cifar-10-binary.tar.gz"));
 * ```
 */
export function md5Hex(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}
