/**
 * The safetensors file format, byte-for-byte as the reference implementation (huggingface/safetensors)
 * writes and checks it:
 *
 * ```
 * 8 bytes     N, unsigned 64-bit little-endian: length of the header
 * N bytes     UTF-8 JSON object: {"__metadata__": {string: string}, "<name>": {"dtype": "F32",
 *             "shape": [..], "data_offsets": [begin, end]}, ...}, padded with spaces to a multiple of 8
 * rest        the tensors' bytes, little-endian, row-major, back to back
 * ```
 * The writer orders tensors as the reference does (by dtype, widest first, then by name in byte order),
 * puts `__metadata__` first (its keys sorted, where the reference's order is a hash map's) and writes
 * compact JSON. The reader accepts any order but, like the reference, requires the offsets to tile the
 * data section exactly: no overlap, no gap, no missing or trailing bytes.
 *
 * @example
 * ```ts
 * const bytes = serializeSafetensorsToBytes(
 *   new Map([["fc.weight", entryFromArray("F32", [2, 3], new Float32Array(6))]]),
 *   { epoch: "3" },
 * );
 * const file = parseSafetensors(bytes);
 * decodeToFloat32(file.tensors.get("fc.weight")!);
 * ```
 *
 * @module
 */

/** Element types of the format (those of the reference implementation's first stable release). */
export type SafetensorsDtype =
  | "BOOL"
  | "U8"
  | "I8"
  | "I16"
  | "U16"
  | "F16"
  | "BF16"
  | "I32"
  | "U32"
  | "F32"
  | "F64"
  | "I64"
  | "U64";

/** Rank in the reference's `Dtype` enum (the writer sorts by it, descending) and element size. */
const DTYPES: Record<SafetensorsDtype, { rank: number; size: number }> = {
  BOOL: { rank: 0, size: 1 },
  U8: { rank: 1, size: 1 },
  I8: { rank: 2, size: 1 },
  I16: { rank: 5, size: 2 },
  U16: { rank: 6, size: 2 },
  F16: { rank: 7, size: 2 },
  BF16: { rank: 8, size: 2 },
  I32: { rank: 9, size: 4 },
  U32: { rank: 10, size: 4 },
  F32: { rank: 11, size: 4 },
  F64: { rank: 12, size: 8 },
  I64: { rank: 13, size: 8 },
  U64: { rank: 14, size: 8 },
};

/** The reference refuses headers above 100 MB. */
export const MAX_HEADER_SIZE = 100_000_000;

/** One tensor of a safetensors file: raw little-endian bytes plus dtype and shape. */
export interface SafetensorsEntry {
  /** Element type. */
  dtype: SafetensorsDtype;
  /** Shape, row-major ([] for a scalar). */
  shape: number[];
  /** The bytes, exactly `product(shape) × size(dtype)` of them. */
  data: Uint8Array;
}

/** A parsed file. */
export interface SafetensorsFile {
  /** Tensors by name, in file (offset) order. */
  tensors: Map<string, SafetensorsEntry>;
  /** The `__metadata__` string map, when present. */
  metadata?: Record<string, string>;
  /** Length of the JSON header in bytes (padding included). */
  headerLength: number;
}

/** Thrown for a malformed file; `message` says what is wrong and where. */
export class SafetensorsError extends Error {
  /** @param message what is wrong */
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** Size in bytes of one element of `dtype`. */
export function dtypeSize(dtype: SafetensorsDtype): number {
  return DTYPES[dtype].size;
}

/** True when `s` names a dtype this module knows. */
export function isSafetensorsDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Parses a whole file held in memory. Tensor data are views into `bytes` (no copy).
 *
 * @param bytes the file's bytes
 * @param source a name for error messages (e.g. the path)
 * @throws SafetensorsError naming the problem (bad header length, invalid JSON, unknown dtype,
 *   overlapping, out-of-range or mismatched offsets, truncated data, trailing bytes)
 */
export function parseSafetensors(bytes: Uint8Array, source = "safetensors data"): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${source}: ${msg}`);
  };
  if (bytes.length < 8) fail(`too short for a header length (${bytes.length} bytes, need 8)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_SIZE)) {
    fail(`header length ${n64} exceeds the limit of ${MAX_HEADER_SIZE} bytes (corrupt file?)`);
  }
  const n = Number(n64);
  if (8 + n > bytes.length) {
    fail(`header length ${n} runs past the end of the file (${bytes.length} bytes): truncated?`);
  }
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail("header is not valid UTF-8");
  }
  if (!text.startsWith("{")) fail(`header does not start with "{" (header length ${n})`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON: ${(e as Error).message}`);
  }
  if (!isPlainObject(json)) fail("header JSON is not an object");
  const header = json as Record<string, unknown>;

  let metadata: Record<string, string> | undefined;
  const infos: {
    name: string;
    dtype: SafetensorsDtype;
    shape: number[];
    begin: number;
    end: number;
  }[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") {
      if (!isPlainObject(value)) fail(`"__metadata__" must be an object of strings`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") fail(`"__metadata__"."${k}" must be a string, got ${typeof v}`);
      }
      metadata = { ...(value as Record<string, string>) };
      continue;
    }
    if (!isPlainObject(value)) fail(`tensor "${name}": entry is not an object`);
    const info = value as Record<string, unknown>;
    if (!isSafetensorsDtype(info.dtype)) {
      fail(`tensor "${name}": unknown dtype ${JSON.stringify(info.dtype)}`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      fail(
        `tensor "${name}": shape must be an array of non-negative integers, got ${
          JSON.stringify(shape)
        }`,
      );
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) {
      fail(
        `tensor "${name}": data_offsets must be [begin, end] non-negative integers, got ${
          JSON.stringify(offs)
        }`,
      );
    }
    const [begin, end] = offs as number[];
    infos.push({
      name,
      dtype: info.dtype as SafetensorsDtype,
      shape: shape as number[],
      begin,
      end,
    });
  }

  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let expected = 0;
  for (const t of infos) {
    if (t.end < t.begin) {
      fail(`tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] end before they begin`);
    }
    if (t.begin < expected) {
      fail(
        `tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] overlap the previous tensor (ends at ${expected})`,
      );
    }
    if (t.begin > expected) {
      fail(
        `tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] leave a gap after byte ${expected}`,
      );
    }
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const nbytes = numel * DTYPES[t.dtype].size;
    if (!Number.isSafeInteger(nbytes)) fail(`tensor "${t.name}": shape [${t.shape}] is too large`);
    if (t.end - t.begin !== nbytes) {
      fail(
        `tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] hold ${t.end - t.begin} bytes, ` +
          `but ${t.dtype} [${t.shape}] needs ${nbytes}`,
      );
    }
    if (t.end > dataLength) {
      fail(
        `tensor "${t.name}": data_offsets [${t.begin}, ${t.end}] run past the end of the data ` +
          `(${dataLength} bytes): truncated file`,
      );
    }
    tensors.set(t.name, {
      dtype: t.dtype,
      shape: t.shape,
      data: bytes.subarray(dataStart + t.begin, dataStart + t.end),
    });
    expected = t.end;
  }
  if (expected !== dataLength) {
    fail(
      `the tensors cover ${expected} data bytes but the file holds ${dataLength}: trailing bytes`,
    );
  }
  return { tensors, metadata, headerLength: n };
}

/**
 * Serializes tensors and metadata into the file's pieces: the length-and-header chunk, then each
 * tensor's bytes in file order (so large files can be streamed to disk without one big copy).
 *
 * @param tensors tensors by name
 * @param metadata the `__metadata__` string map (omitted from the header when undefined)
 * @throws Error when a tensor's byte count does not match its dtype and shape, or a name is not valid UTF-16
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsEntry>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array[] {
  const enc = new TextEncoder();
  const entries = [...tensors].map(([name, t]) => {
    checkWellFormed(name, "tensor name");
    if (name === "__metadata__") {
      throw new Error(`safetensors: "__metadata__" cannot name a tensor`);
    }
    if (!isSafetensorsDtype(t.dtype)) {
      throw new Error(`safetensors: tensor "${name}": unknown dtype ${t.dtype}`);
    }
    if (!t.shape.every(isCount)) {
      throw new Error(`safetensors: tensor "${name}": bad shape [${t.shape}]`);
    }
    const need = t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].size;
    if (t.data.length !== need) {
      throw new Error(
        `safetensors: tensor "${name}" has ${t.data.length} bytes, ${t.dtype} [${t.shape}] needs ${need}`,
      );
    }
    return { name, key: enc.encode(name), t };
  });
  entries.sort((a, b) =>
    DTYPES[b.t.dtype].rank - DTYPES[a.t.dtype].rank || compareBytes(a.key, b.key)
  );

  // Built by hand, not with JSON.stringify of an object: JS objects put integer-like keys first.
  const parts: string[] = [];
  if (metadata !== undefined) {
    const keys = Object.keys(metadata).sort((a, b) => compareBytes(enc.encode(a), enc.encode(b)));
    const fields = keys.map((k) => {
      const v = metadata[k];
      if (typeof v !== "string") throw new Error(`safetensors: metadata "${k}" must be a string`);
      checkWellFormed(k, "metadata key");
      checkWellFormed(v, `metadata "${k}"`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`"__metadata__":{${fields.join(",")}}`);
  }
  let offset = 0;
  for (const { name, t } of entries) {
    const end = offset + t.data.length;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${t.dtype}","shape":[${
        t.shape.join(",")
      }],"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const json = enc.encode(`{${parts.join(",")}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return [head, ...entries.map((e) => e.t.data)];
}

/** {@link serializeSafetensors} into one buffer. */
export function serializeSafetensorsToBytes(
  tensors: ReadonlyMap<string, SafetensorsEntry>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const chunks = serializeSafetensors(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Builds an entry from values. F32/F64/F16/BF16 take numbers (F16 and BF16 round to nearest even);
 * integer dtypes take numbers (checked to be integers in range) or bigints for I64/U64.
 *
 * @throws Error when the value count does not match the shape or a value does not fit the dtype
 */
export function entryFromArray(
  dtype: SafetensorsDtype,
  shape: number[],
  values: ArrayLike<number> | ArrayLike<bigint>,
): SafetensorsEntry {
  const numel = shape.reduce((a, b) => a * b, 1);
  if (values.length !== numel) {
    throw new Error(
      `safetensors: ${values.length} values given for shape [${shape}] (${numel} elements)`,
    );
  }
  const size = DTYPES[dtype].size;
  const data = new Uint8Array(numel * size);
  const dv = new DataView(data.buffer);
  for (let i = 0; i < numel; i++) {
    const v = values[i];
    const at = i * size;
    if (dtype === "I64" || dtype === "U64") {
      const b = typeof v === "bigint" ? v : BigInt(checkInt(v, dtype));
      if (dtype === "I64") {
        if (b !== BigInt.asIntN(64, b)) throw new Error(`safetensors: ${b} does not fit I64`);
        dv.setBigInt64(at, b, true);
      } else {
        if (b !== BigInt.asUintN(64, b)) throw new Error(`safetensors: ${b} does not fit U64`);
        dv.setBigUint64(at, b, true);
      }
      continue;
    }
    const x = Number(v);
    switch (dtype) {
      case "F32":
        dv.setFloat32(at, x, true);
        break;
      case "F64":
        dv.setFloat64(at, x, true);
        break;
      case "F16":
        dv.setUint16(at, float32ToF16Bits(x), true);
        break;
      case "BF16":
        dv.setUint16(at, float32ToBf16Bits(x), true);
        break;
      case "BOOL":
        if (x !== 0 && x !== 1) throw new Error(`safetensors: BOOL value must be 0 or 1, got ${x}`);
        dv.setUint8(at, x);
        break;
      case "U8":
        dv.setUint8(at, checkRange(x, 0, 255, dtype));
        break;
      case "I8":
        dv.setInt8(at, checkRange(x, -128, 127, dtype));
        break;
      case "I16":
        dv.setInt16(at, checkRange(x, -32768, 32767, dtype), true);
        break;
      case "U16":
        dv.setUint16(at, checkRange(x, 0, 65535, dtype), true);
        break;
      case "I32":
        dv.setInt32(at, checkRange(x, -2147483648, 2147483647, dtype), true);
        break;
      case "U32":
        dv.setUint32(at, checkRange(x, 0, 4294967295, dtype), true);
        break;
    }
  }
  return { dtype, shape: [...shape], data };
}

/**
 * The values of a floating-point entry as float32 (F64 rounds; F16 and BF16 are exact).
 *
 * @throws Error for integer dtypes (use {@link decodeToNumbers})
 */
export function decodeToFloat32(e: SafetensorsEntry): Float32Array {
  const n = e.data.length / DTYPES[e.dtype].size;
  switch (e.dtype) {
    case "F32":
      if (LITTLE_ENDIAN) return new Float32Array(e.data.slice().buffer);
      break;
    case "F64":
    case "F16":
    case "BF16":
      break;
    default:
      throw new Error(`safetensors: expected a floating-point tensor, got ${e.dtype}`);
  }
  const dv = new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = e.dtype === "F32"
      ? dv.getFloat32(4 * i, true)
      : e.dtype === "F64"
      ? dv.getFloat64(8 * i, true)
      : e.dtype === "F16"
      ? f16BitsToNumber(dv.getUint16(2 * i, true))
      : bf16BitsToNumber(dv.getUint16(2 * i, true));
  }
  return out;
}

/**
 * The values of any entry as JS numbers (I64/U64 beyond 2^53 throw rather than lose precision).
 *
 * @throws Error when a 64-bit integer is not exactly representable
 */
export function decodeToNumbers(e: SafetensorsEntry): Float64Array {
  const size = DTYPES[e.dtype].size;
  const n = e.data.length / size;
  const dv = new DataView(e.data.buffer, e.data.byteOffset, e.data.byteLength);
  const out = new Float64Array(n);
  if (e.dtype === "F32" || e.dtype === "F16" || e.dtype === "BF16") {
    out.set(decodeToFloat32(e));
    return out;
  }
  for (let i = 0; i < n; i++) {
    const at = i * size;
    switch (e.dtype) {
      case "F64":
        out[i] = dv.getFloat64(at, true);
        break;
      case "BOOL":
      case "U8":
        out[i] = dv.getUint8(at);
        break;
      case "I8":
        out[i] = dv.getInt8(at);
        break;
      case "I16":
        out[i] = dv.getInt16(at, true);
        break;
      case "U16":
        out[i] = dv.getUint16(at, true);
        break;
      case "I32":
        out[i] = dv.getInt32(at, true);
        break;
      case "U32":
        out[i] = dv.getUint32(at, true);
        break;
      case "I64":
      case "U64": {
        const b = e.dtype === "I64" ? dv.getBigInt64(at, true) : dv.getBigUint64(at, true);
        const x = Number(b);
        if (!Number.isSafeInteger(x)) {
          throw new Error(`safetensors: ${e.dtype} value ${b} exceeds 2^53`);
        }
        out[i] = x;
        break;
      }
    }
  }
  return out;
}

/** Decodes IEEE half-precision bits. */
export function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Decodes bfloat16 bits (the upper half of a float32). */
export function bf16BitsToNumber(h: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, h << 16 >>> 0);
  return dv.getFloat32(0);
}

/** Encodes a number as IEEE half-precision bits, rounding to nearest even (via float32, as torch does). */
export function float32ToF16Bits(x: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x);
  const f = dv.getUint32(0);
  const sign = (f >>> 16) & 0x8000;
  const exp = (f >>> 23) & 0xff;
  let mant = f & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h;
  }
  const rest = mant & 0x1fff;
  let h = (e << 10) | (mant >>> 13);
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
  e = h >> 10;
  return sign | (e >= 31 ? 0x7c00 : h);
}

/** Encodes a number as bfloat16 bits, rounding to nearest even (NaN stays NaN). */
export function float32ToBf16Bits(x: number): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x);
  const f = dv.getUint32(0);
  if (Number.isNaN(x)) return ((f >>> 16) | 0x40) & 0xffff;
  return ((f + 0x7fff + ((f >>> 16) & 1)) >>> 16) & 0xffff;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): boolean {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function checkInt(v: unknown, dtype: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) {
    throw new Error(`safetensors: ${dtype} value must be an integer, got ${String(v)}`);
  }
  return v;
}

function checkRange(x: number, lo: number, hi: number, dtype: string): number {
  if (!Number.isInteger(x) || x < lo || x > hi) {
    throw new Error(`safetensors: ${dtype} value must be an integer in [${lo}, ${hi}], got ${x}`);
  }
  return x;
}

function checkWellFormed(s: string, what: string): void {
  if (!s.isWellFormed()) {
    throw new Error(`safetensors: ${what} ${JSON.stringify(s)} has a lone surrogate`);
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}
