/**
 * A small reader and writer for ustar archives (POSIX tar), and gzip wrappers over `node:zlib`.
 * The format is simple enough that a dependency is not worth it: 512-byte headers, octal sizes,
 * contents padded to 512 bytes, two zero blocks at the end.
 *
 * @module
 */
import { gunzipSync, gzipSync } from "node:zlib";

/** One regular file of a tar archive. */
export interface TarEntry {
  /** Path inside the archive, e.g. `cifar-10-batches-bin/data_batch_1.bin`. */
  name: string;
  /** File contents (a view into the archive buffer when read). */
  data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

function readString(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  return decoder.decode(b.subarray(off, end));
}

function readOctal(b: Uint8Array, off: number, len: number, what: string): number {
  // GNU tar writes sizes >= 8 GiB in base-256 (high bit set); CIFAR files never need it.
  if (b[off] & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + b[i];
    return v;
  }
  const s = readString(b, off, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`${what}: bad octal field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

/**
 * Lists the regular files of an uncompressed tar archive.
 *
 * @param tar the archive bytes
 * @param source name used in error messages (usually the archive's path)
 * @throws Error naming `source` when a header is damaged or the archive is truncated
 *
 * @example
 * ```ts
 * const entries = readTar(gunzip(await Deno.readFile("a.tar.gz"), "a.tar.gz"), "a.tar.gz");
 * ```
 */
export function readTar(tar: Uint8Array, source: string): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  let longName: string | null = null;
  let paxPath: string | null = null;
  let sawEnd = false;
  while (off + BLOCK <= tar.length) {
    const h = tar.subarray(off, off + BLOCK);
    if (h.every((v) => v === 0)) {
      sawEnd = true;
      break;
    }
    const where = `${source}: tar header at byte ${off}`;
    const stored = readOctal(h, 148, 8, where);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== stored) {
      throw new Error(`${where}: checksum mismatch (archive damaged or not a tar)`);
    }
    const size = readOctal(h, 124, 12, where);
    const type = String.fromCharCode(h[156] || 48);
    let name = readString(h, 0, 100);
    const prefix = readString(h, 345, 155);
    // Only POSIX ustar ("ustar\0") has a name prefix there; old GNU tar ("ustar  ") keeps times in
    // those bytes.
    if (readString(h, 257, 6) === "ustar" && h[262] === 0 && prefix) name = `${prefix}/${name}`;
    const start = off + BLOCK;
    const end = start + size;
    if (end > tar.length) {
      throw new Error(
        `${source}: truncated archive: entry "${name}" needs ${size} bytes, ` +
          `only ${tar.length - start} remain`,
      );
    }
    const data = tar.subarray(start, end);
    if (type === "L") longName = readString(data, 0, data.length);
    else if (type === "x") paxPath = parsePaxPath(data) ?? paxPath;
    else if (type === "0" || type === "7") {
      out.push({ name: paxPath ?? longName ?? name, data });
      longName = paxPath = null;
    } else longName = paxPath = null; // directories, links, global headers: not needed here
    off = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (!sawEnd && off < tar.length) {
    throw new Error(`${source}: truncated archive: partial tar header at byte ${off}`);
  }
  return out;
}

function parsePaxPath(data: Uint8Array): string | null {
  // Records are "<len> key=value\n"; only the path matters to us.
  for (const line of decoder.decode(data).split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return null;
}

function writeOctal(h: Uint8Array, off: number, len: number, v: number): void {
  const s = v.toString(8).padStart(len - 1, "0");
  h.set(encoder.encode(s), off);
}

/**
 * Builds an uncompressed ustar archive from files (directories are implied by the paths).
 *
 * @throws Error when a name does not fit ustar's 100 + 155 byte name fields
 *
 * @example
 * ```ts
 * const tar = writeTar([{ name: "dir/a.txt", data: new TextEncoder().encode("hi") }]);
 * ```
 */
export function writeTar(entries: TarEntry[]): Uint8Array {
  const total = entries.reduce((s, e) => s + BLOCK + Math.ceil(e.data.length / BLOCK) * BLOCK, 0);
  const out = new Uint8Array(total + 2 * BLOCK);
  let off = 0;
  for (const e of entries) {
    const h = out.subarray(off, off + BLOCK);
    const bytes = encoder.encode(e.name);
    let name = bytes, prefix = new Uint8Array(0);
    if (bytes.length > 100) {
      const cut = e.name.lastIndexOf("/", 155);
      prefix = encoder.encode(e.name.slice(0, cut));
      name = encoder.encode(e.name.slice(cut + 1));
      if (cut <= 0 || name.length > 100 || prefix.length > 155) {
        throw new Error(`tar: name too long for ustar: ${e.name}`);
      }
    }
    h.set(name, 0);
    writeOctal(h, 100, 8, 0o644);
    writeOctal(h, 108, 8, 0);
    writeOctal(h, 116, 8, 0);
    writeOctal(h, 124, 12, e.data.length);
    writeOctal(h, 136, 12, 0);
    h[156] = 48; // '0': regular file
    h.set(encoder.encode("ustar\u000000"), 257);
    h.set(prefix, 345);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    h.set(encoder.encode(sum.toString(8).padStart(6, "0") + "\u0000 "), 148);
    out.set(e.data, off + BLOCK);
    off += BLOCK + Math.ceil(e.data.length / BLOCK) * BLOCK;
  }
  return out;
}

/**
 * Decompresses gzip data, turning zlib's terse errors into one that names the file.
 *
 * @example
 * ```ts
 * const tar = gunzip(await Deno.readFile("x.tar.gz"), "x.tar.gz");
 * ```
 */
export function gunzip(data: Uint8Array, source: string): Uint8Array {
  try {
    const b = gunzipSync(data);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const hint = /unexpected end/i.test(why) ? "truncated archive" : "not valid gzip data";
    throw new Error(`${source}: ${hint} (${why})`);
  }
}

/**
 * Compresses data with gzip.
 *
 * @example
 * ```ts
 * const gz = gzip(writeTar(entries));
 * ```
 */
export function gzip(data: Uint8Array): Uint8Array {
  const b = gzipSync(data);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
