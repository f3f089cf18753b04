/**
 * Atomic file replacement: the target path holds either its old content or the complete new content,
 * never a partial file, even if the process dies mid-write or the machine loses power.
 *
 * Steps: write a temporary file in the same directory (so the rename cannot cross file systems),
 * fsync it, rename it over the target, fsync the directory (so the rename itself is durable).
 * A failure before the rename removes the temporary file and leaves the target untouched; a process
 * killed mid-write leaves the target untouched too, plus a hidden `.<name>.<pid>.<uuid>.tmp` file.
 *
 * @example
 * ```ts
 * await writeFileAtomic("out/ckpt.safetensors", [header, ...tensorBytes]);
 * ```
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** Suffix of temporary files, so stale ones (from a killed process) are recognisable (and git-ignored). */
export const TEMP_SUFFIX = ".tmp";

/**
 * Writes `chunks` to `path` atomically.
 *
 * @param path the file to create or replace
 * @param chunks the content, in pieces (a large checkpoint is streamed without one big copy); may be
 *   an async iterable, and an error thrown while iterating aborts the write cleanly
 * @throws the underlying error (write, fsync, rename) after removing the temporary file
 */
export async function writeFileAtomic(
  path: string,
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}.${crypto.randomUUID()}${TEMP_SUFFIX}`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
  } catch (e) {
    throw new Error(`writeFileAtomic: cannot create a file in ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  let renamed = false;
  try {
    try {
      for await (const chunk of chunks) {
        for (let at = 0; at < chunk.length;) at += await file.write(chunk.subarray(at));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) await Deno.remove(tmp).catch(() => {});
  }
  await syncDirectory(dir);
}

/** fsync a directory so a rename in it survives a crash (a no-op where the OS cannot open directories). */
async function syncDirectory(dir: string): Promise<void> {
  let d: Deno.FsFile;
  try {
    d = await Deno.open(dir, { read: true });
  } catch {
    return; // Windows cannot open a directory as a file; NTFS journals the rename itself.
  }
  try {
    await d.sync();
  } catch {
    // Some file systems refuse fsync on directories (EINVAL); the rename is still atomic.
  } finally {
    d.close();
  }
}
