/**
 * PyTorch checkpoints (`torch.save` files, `.pth`/`.pt`) read without Python, e.g. the official SimKD /
 * CRD toolbox's pretrained CIFAR teachers, `{"model": state_dict, "epoch": …, "best_acc": …}`.
 *
 * Two container formats:
 * - the zip format of torch ≥ 1.6: `<archive>/data.pkl` (the pickled object), `<archive>/data/<key>`
 *   (one file of raw little-endian bytes per storage), `<archive>/version`, and in newer versions
 *   `<archive>/byteorder` (must say `little`). Read with `fflate`.
 * - the legacy format of torch < 1.6 (and `_use_new_zipfile_serialization=False`): five pickles back
 *   to back (magic number, protocol 1001, system info, the object, the sorted storage keys), then
 *   each storage as an int64 element count and its raw bytes.
 *
 * The pickle (protocol 0–5 opcodes, as written by protocol 2) is read by a restricted unpickler that
 * never executes anything: it knows only the opcodes of plain Python values (None, bools, ints,
 * floats, strings, bytes, lists, tuples, dicts), the memo, persistent ids for storages, and these
 * globals: `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2`, `torch._utils._rebuild_tensor`,
 * `torch._utils._rebuild_parameter`, `_codecs.encode` (how protocol 2 spells `bytes`) and the storage
 * classes `torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage`. Anything else
 * (another global such as `posix.system`, object construction, sets, an unknown opcode) throws a
 * {@link TorchPthError} naming it.
 *
 * Values come back as plain JS: `None` → `null`, `bool` → boolean, `int` → number (a bigint beyond
 * ±(2^53 − 1)), `float` → number, `str` → string, `bytes` → `Uint8Array`, `list` and `tuple` → array,
 * `dict` and `OrderedDict` → `Map` (insertion order kept; an OrderedDict's instance attributes such as
 * a state dict's `_metadata` are dropped), tensors → {@link TorchTensor} (contiguous row-major copies,
 * whatever their offset and strides; tensors that share a storage share nothing after reading).
 *
 * @example
 * ```ts
 * const sd = await loadTorchStateDict("save/teachers/models/resnet32x4_vanilla/resnet32x4_best.pth");
 * model.loadStateDict(sd); // PyTorch layout, names without DataParallel's "module."
 * for (const t of sd.values()) t.dispose();
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { unzipSync } from "fflate";
import { MOMENTUM_PREFIX } from "./checkpoint.ts";
import {
  bf16BitsToNumber,
  decodeToFloat32,
  decodeToNumbers,
  f16BitsToNumber,
  parseSafetensors,
} from "./safetensors.ts";

/**
 * Element types of the storages this reader knows (torch's names).
 *
 * @example
 * ```ts
 * const dt: TorchDtype = "float16";
 * ```
 */
export type TorchDtype =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/**
 * A tensor's values: `Float32Array` for float32, float16 and bfloat16 (the half types are widened
 * exactly), `Float64Array` for float64, `Int32Array`/`Int16Array`/`Int8Array`/`Uint8Array` for
 * int32/int16/int8/uint8, `Uint8Array` of 0/1 for bool. int64: a `Float64Array` of exact integers
 * when every value is within ±(2^53 − 1), else (for the whole tensor) a `BigInt64Array`.
 *
 * @example
 * ```ts
 * const d: TorchTensorData = new Float32Array([1, 2]);
 * ```
 */
export type TorchTensorData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/**
 * A tensor read from a checkpoint: dtype, shape and a contiguous row-major copy of its values.
 *
 * @example
 * ```ts
 * const v = readTorchFile(bytes, "model.pth");
 * if (v instanceof TorchTensor) console.log(v.dtype, v.shape, v.data.length);
 * ```
 */
export class TorchTensor {
  /**
   * @param dtype torch's element type (of the storage it was saved with)
   * @param shape sizes, outermost first ([] for a scalar)
   * @param data the values, `product(shape)` of them (see {@link TorchTensorData})
   */
  constructor(
    readonly dtype: TorchDtype,
    readonly shape: number[],
    readonly data: TorchTensorData,
  ) {}
}

/**
 * What a checkpoint unpickles to (see the module documentation for the mapping from Python).
 *
 * @example
 * ```ts
 * const v: TorchValue = new Map<TorchValue, TorchValue>([["epoch", 3]]);
 * ```
 */
export type TorchValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | TorchTensor
  | TorchValue[]
  | Map<TorchValue, TorchValue>;

/**
 * Thrown for a file this module cannot or will not read; `message` starts with the source (path).
 *
 * @example
 * ```ts
 * try {
 *   readTorchFile(bytes, "model.pth");
 * } catch (e) {
 *   if (e instanceof TorchPthError) console.error(e.message);
 * }
 * ```
 */
export class TorchPthError extends Error {
  /** @param message what is wrong, and where */
  constructor(message: string) {
    super(message);
    this.name = "TorchPthError";
  }
}

/** Options of {@link loadTorchStateDict} and {@link loadStateDictFile}. */
export interface LoadTorchStateDictOptions {
  /**
   * Entry of the top-level dict that holds the state dict. Default: the object itself when it is a
   * dict of tensors, else its `"model"` entry (the official toolbox), else its `"state_dict"` entry.
   */
  key?: string;
}

// ---------------------------------------------------------------------------------------------------
// Storages, tensors-to-be and other internal objects of the unpickler (never returned).

const STORAGE_TYPES: Record<string, { dtype: TorchDtype; size: number }> = {
  FloatStorage: { dtype: "float32", size: 4 },
  DoubleStorage: { dtype: "float64", size: 8 },
  HalfStorage: { dtype: "float16", size: 2 },
  BFloat16Storage: { dtype: "bfloat16", size: 2 },
  LongStorage: { dtype: "int64", size: 8 },
  IntStorage: { dtype: "int32", size: 4 },
  ShortStorage: { dtype: "int16", size: 2 },
  CharStorage: { dtype: "int8", size: 1 },
  ByteStorage: { dtype: "uint8", size: 1 },
  BoolStorage: { dtype: "bool", size: 1 },
};

const CALLABLES = new Set([
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_tensor",
  "torch._utils._rebuild_parameter",
  "_codecs.encode",
]);

/** An allowed global (a callable or a storage class). */
class GlobalRef {
  constructor(readonly name: string) {}
}

/** A storage named by a persistent id; its bytes are attached when known. */
class StorageRef {
  bytes?: Uint8Array;
  decoded?: DecodedStorage;
  /** For a legacy view: the storage it views and the element offset into it. */
  base?: { storage: StorageRef; offset: number };
  constructor(
    readonly key: string,
    readonly typeName: string,
    readonly dtype: TorchDtype,
    readonly size: number,
    readonly numel: number,
  ) {}
}

/** `_rebuild_tensor_v2`'s arguments, resolved into a {@link TorchTensor} once storages are loaded. */
class PendingTensor {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

type DecodedStorage =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

/** Typed arrays that view a little-endian storage's bytes directly, by dtype. */
const STORAGE_ARRAYS = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
} as const;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // PyTorch files are little-endian (their `byteorder` says so); so is every host Deno supports.
  throw new Error("torch_pth: this reader needs a little-endian host");
}
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;
const MAX_DEPTH = 1000;

const OPNAMES: Record<number, string> = {
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x69: "INST",
  0x6f: "OBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
  0x50: "PERSID",
  0x53: "STRING",
};

// ---------------------------------------------------------------------------------------------------
// The restricted unpickler.

type PersistentLoad = (pid: unknown) => StorageRef;

/**
 * Unpickles one pickle starting at `pos`; returns the raw value (with internal objects) and the
 * position after its STOP opcode.
 */
function unpickle(
  bytes: Uint8Array,
  pos: number,
  source: string,
  persistentLoad: PersistentLoad | undefined,
): { value: unknown; end: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (msg: string): never => {
    throw new TorchPthError(`${source}: ${msg}`);
  };
  const refuseGlobal = (name: string): never =>
    fail(
      `refusing to unpickle global "${name}" (only tensors and plain containers are supported)`,
    );
  const need = (n: number) => {
    if (n < 0 || pos + n > bytes.length) {
      fail(`pickle data truncated at byte ${pos} (needs ${n} more): truncated or corrupt file`);
    }
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(bytes.length)) fail(`pickle length ${v} exceeds the data: corrupt file`);
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const s = bytes.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`pickle data truncated at byte ${pos} (no end of line): corrupt file`);
    const s = latin1(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(b);
    } catch {
      return fail(`pickle string at byte ${pos - b.length} is not valid UTF-8`);
    }
  };

  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const tuples = new WeakSet<object>();
  const orderedDicts = new WeakSet<object>();

  const pop = (): unknown => {
    if (stack.length === 0) fail(`pickle stack underflow at byte ${pos - 1}: corrupt file`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(`pickle stack underflow at byte ${pos - 1}: corrupt file`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail(`pickle MARK missing at byte ${pos - 1}: corrupt file`);
    stack = prev!;
    return items;
  };
  const tuple = (items: unknown[]) => {
    tuples.add(items);
    return items;
  };
  const list = (): unknown[] => {
    const l = top();
    if (!Array.isArray(l) || tuples.has(l)) fail(`pickle appends to a non-list at byte ${pos - 1}`);
    return l as unknown[];
  };
  const dict = (): Map<unknown, unknown> => {
    const d = top();
    if (!(d instanceof Map)) fail(`pickle sets an item on a non-dict at byte ${pos - 1}`);
    return d as Map<unknown, unknown>;
  };
  const global = (module: string, name: string): GlobalRef => {
    const full = `${module}.${name}`;
    if (CALLABLES.has(full)) return new GlobalRef(full);
    if (module === "torch" && Object.hasOwn(STORAGE_TYPES, name)) return new GlobalRef(full);
    return refuseGlobal(full);
  };
  const reduce = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof GlobalRef)) fail(`pickle calls a non-callable (REDUCE) at byte ${pos - 1}`);
    const name = (fn as GlobalRef).name;
    if (!Array.isArray(args)) fail(`pickle calls "${name}" with non-tuple arguments`);
    const a = args as unknown[];
    switch (name) {
      case "collections.OrderedDict": {
        const m = new Map<unknown, unknown>();
        orderedDicts.add(m);
        if (a.length === 0) return m;
        if (a.length !== 1 || !Array.isArray(a[0])) {
          return fail(`"collections.OrderedDict" called with unsupported arguments`);
        }
        for (const pair of a[0] as unknown[]) {
          if (!Array.isArray(pair) || pair.length !== 2) {
            fail(`"collections.OrderedDict" called with an item that is not a pair`);
          }
          m.set((pair as unknown[])[0], (pair as unknown[])[1]);
        }
        return m;
      }
      case "torch._utils._rebuild_tensor_v2":
      case "torch._utils._rebuild_tensor": {
        const v2 = name.endsWith("_v2");
        if (v2 ? a.length < 6 || a.length > 7 : a.length !== 4) {
          fail(`"${name}" called with ${a.length} arguments`);
        }
        const [storage, offset, size, stride] = a;
        if (!(storage instanceof StorageRef)) {
          return fail(`"${name}" called without a storage (persistent id) as first argument`);
        }
        if (!isCount(offset)) fail(`"${name}": storage offset ${String(offset)} is not a count`);
        if (!Array.isArray(size) || !size.every(isCount)) {
          fail(`"${name}": size ${describe(size)} is not a tuple of counts`);
        }
        if (
          !Array.isArray(stride) || !stride.every(isCount) ||
          stride.length !== (size as number[]).length
        ) {
          fail(`"${name}": stride ${describe(stride)} does not match size ${describe(size)}`);
        }
        return new PendingTensor(
          storage,
          offset as number,
          [...size as number[]],
          [...stride as number[]],
        );
      }
      case "torch._utils._rebuild_parameter":
        if (a.length !== 3 || !(a[0] instanceof PendingTensor)) {
          fail(`"${name}" called with unsupported arguments`);
        }
        return a[0];
      case "_codecs.encode": {
        const [s, enc] = a;
        if (
          a.length !== 2 || typeof s !== "string" || (enc !== "latin1" && enc !== "latin-1")
        ) {
          return fail(`"_codecs.encode" called with unsupported arguments`);
        }
        const out = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) {
          const c = s.charCodeAt(i);
          if (c > 255) fail(`"_codecs.encode": character U+${c.toString(16)} is not latin1`);
          out[i] = c;
        }
        return out;
      }
      default:
        return fail(`refusing to call "${name}" (it is not a supported function)`);
    }
  };

  need(1);
  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const p = u8();
        if (p > 5) fail(`unsupported pickle protocol ${p}`);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        const value = pop();
        if (metastack.length > 0) fail(`pickle ends inside a MARK: corrupt file`);
        return { value, end: pos };
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0 && metastack.length > 0) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x49: { // INT
        const s = line();
        if (s === "01") stack.push(true);
        else if (s === "00") stack.push(false);
        else stack.push(parseIntText(s, fail));
        break;
      }
      case 0x4c: // LONG
        stack.push(parseIntText(line().replace(/L$/, ""), fail));
        break;
      case 0x8a: // LONG1
        stack.push(longFromBytes(take(u8())));
        break;
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) fail(`negative LONG4 length at byte ${at}`);
        stack.push(longFromBytes(take(n)));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      case 0x46: { // FLOAT
        const s = line();
        const x = Number(s);
        if (Number.isNaN(x) && !/^[+-]?nan$/i.test(s)) fail(`bad FLOAT ${JSON.stringify(s)}`);
        stack.push(x);
        break;
      }
      case 0x58: // BINUNICODE
        stack.push(utf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8(take(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        stack.push(
          line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16))),
        );
        break;
      case 0x54: { // BINSTRING (Python 2 str)
        const n = i32();
        if (n < 0) fail(`negative BINSTRING length at byte ${at}`);
        stack.push(latin1(take(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: { // TUPLE
        const items = popMark(); // before reading `stack`: popMark replaces it
        stack.push(tuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x6c: { // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        if (items.length % 2 !== 0) fail(`odd number of DICT items at byte ${at}: corrupt file`);
        const m = new Map();
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        list().push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        list().push(...items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        dict().set(k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        if (items.length % 2 !== 0) {
          fail(`odd number of SETITEMS items at byte ${at}: corrupt file`);
        }
        const m = dict();
        for (let i = 0; i < items.length; i += 2) m.set(items[i], items[i + 1]);
        break;
      }
      case 0x70: // PUT
        memo.set(parseIntOnly(line(), fail), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET
      case 0x68: // BINGET
      case 0x6a: { // LONG_BINGET
        const i = op === 0x67 ? parseIntOnly(line(), fail) : op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`pickle memo entry ${i} missing at byte ${at}: corrupt file`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail(`STACK_GLOBAL with non-string names at byte ${at}`);
        }
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const inst = top();
        // An OrderedDict's instance attributes (a state dict's `_metadata`): accepted, dropped.
        if (inst instanceof Map && orderedDicts.has(inst) && state instanceof Map) break;
        fail(
          `refusing to BUILD (set the state of) ${describe(inst)} at byte ${at} ` +
            `(only tensors and plain containers are supported)`,
        );
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (persistentLoad === undefined) fail(`unexpected persistent id at byte ${at}`);
        stack.push(persistentLoad!(pid));
        break;
      }
      default: {
        const name = OPNAMES[op];
        if (name !== undefined) {
          fail(
            `refusing pickle opcode ${name} at byte ${at} (only tensors and plain containers are supported)`,
          );
        }
        fail(
          `unknown pickle opcode 0x${op.toString(16).padStart(2, "0")} at byte ${at}: ` +
            `not a PyTorch checkpoint, or a corrupt one`,
        );
      }
    }
  }
}

function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode(...b.subarray(i, i + 4096));
  }
  return s;
}

function longFromBytes(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return toIntValue(v);
}

function toIntValue(v: bigint): number | bigint {
  return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function parseIntText(s: string, fail: (m: string) => never): number | bigint {
  if (!/^[+-]?\d+$/.test(s)) fail(`bad integer ${JSON.stringify(s)} in pickle`);
  return toIntValue(BigInt(s));
}

function parseIntOnly(s: string, fail: (m: string) => never): number {
  const v = parseIntText(s, fail);
  if (typeof v !== "number" || v < 0) fail(`bad memo index ${JSON.stringify(s)} in pickle`);
  return v as number;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function describe(v: unknown): string {
  if (v instanceof GlobalRef) return `"${v.name}"`;
  if (v instanceof StorageRef) return `a storage`;
  if (v instanceof PendingTensor) return `a tensor`;
  if (v instanceof Map) return `a dict`;
  if (Array.isArray(v)) return `[${v.map(describe).join(", ")}]`;
  if (v instanceof Uint8Array) return `bytes`;
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

// ---------------------------------------------------------------------------------------------------
// Storages → tensors.

function storageRefFromPid(pid: unknown, source: string, legacy: boolean): StorageRef {
  const fail = (msg: string): never => {
    throw new TorchPthError(`${source}: ${msg}`);
  };
  const n = legacy ? 6 : 5;
  if (!Array.isArray(pid) || pid.length !== n || pid[0] !== "storage") {
    return fail(`unsupported persistent id ${describe(pid)} (expected ("storage", type, key, …))`);
  }
  const [, type, key, , numel] = pid;
  if (!(type instanceof GlobalRef) || !type.name.startsWith("torch.")) {
    return fail(`persistent id names no storage class: ${describe(type)}`);
  }
  const info = STORAGE_TYPES[type.name.slice("torch.".length)];
  if (info === undefined) return fail(`"${type.name}" is not a storage class`);
  if (typeof key !== "string") return fail(`storage key ${describe(key)} is not a string`);
  if (!isCount(numel)) return fail(`storage "${key}": size ${describe(numel)} is not a count`);
  return new StorageRef(key, type.name, info.dtype, info.size, numel);
}

function decodeStorage(s: StorageRef, source: string): DecodedStorage {
  if (s.decoded !== undefined) return s.decoded;
  if (s.base !== undefined) {
    const base = decodeStorage(s.base.storage, source);
    if (s.base.offset + s.numel > base.length) {
      throw new TorchPthError(
        `${source}: storage view "${s.key}" [${s.base.offset}, +${s.numel}) runs past its storage ` +
          `"${s.base.storage.key}" (${base.length} elements): corrupt file`,
      );
    }
    return s.decoded = base.subarray(s.base.offset, s.base.offset + s.numel);
  }
  const b = s.bytes;
  if (b === undefined) {
    throw new TorchPthError(`${source}: storage "${s.key}" has no data: corrupt file`);
  }
  const n = s.numel;
  const want = n * s.size;
  if (b.length !== want) {
    throw new TorchPthError(
      `${source}: storage "${s.key}" (${s.typeName}, ${n} elements) holds ${b.length} bytes, ` +
        `expected ${want}: ${b.length < want ? "truncated" : "corrupt"} file`,
    );
  }
  const copy = b.slice(); // aligned, owned
  let out: DecodedStorage;
  switch (s.dtype) {
    case "float16":
    case "bfloat16": {
      const f = s.dtype === "float16" ? f16BitsToNumber : bf16BitsToNumber;
      const bits = new Uint16Array(copy.buffer);
      out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f(bits[i]);
      break;
    }
    case "bool":
      for (let i = 0; i < n; i++) copy[i] = copy[i] === 0 ? 0 : 1;
      out = copy;
      break;
    default:
      // The file's bytes are little-endian, like every host Deno runs on: view them as they are.
      out = new STORAGE_ARRAYS[s.dtype](copy.buffer);
  }
  return s.decoded = out;
}

/** Copies the elements a (storage, offset, shape, stride) view selects, row-major. */
function materialize(p: PendingTensor, source: string): TorchTensor {
  const src = decodeStorage(p.storage, source);
  const { offset, shape, stride } = p;
  const n = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(n)) {
    throw new TorchPthError(`${source}: tensor shape [${shape}] is too large`);
  }
  let data: DecodedStorage;
  if (n === 0) data = src.slice(0, 0);
  else {
    let last = offset;
    for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
    if (last >= src.length) {
      throw new TorchPthError(
        `${source}: tensor of shape [${shape}], stride [${stride}], offset ${offset} reads element ` +
          `${last} of storage "${p.storage.key}", which holds ${src.length}: corrupt file`,
      );
    }
    let contiguous = true;
    for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
      if (shape[d] !== 1 && stride[d] !== expect) {
        contiguous = false;
        break;
      }
      expect *= shape[d];
    }
    if (contiguous) data = src.slice(offset, offset + n);
    else {
      const out = src.slice(0, 0).constructor as new (n: number) => DecodedStorage;
      data = new out(n);
      const from = src as unknown as (number | bigint)[];
      const to = data as unknown as (number | bigint)[];
      const rank = shape.length;
      const idx = new Array<number>(rank).fill(0);
      let at = offset;
      for (let i = 0; i < n; i++) {
        to[i] = from[at];
        for (let d = rank - 1; d >= 0; d--) {
          at += stride[d];
          if (++idx[d] < shape[d]) break;
          at -= stride[d] * shape[d];
          idx[d] = 0;
        }
      }
    }
  }
  if (data instanceof BigInt64Array) {
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    if (data.every((v) => v >= -max && v <= max)) {
      data = Float64Array.from(data, (v) => Number(v));
    }
  }
  return new TorchTensor(p.storage.dtype, [...shape], data);
}

/** Replaces tensors-to-be with tensors and refuses internal objects left as values. */
function finalize(raw: unknown, source: string): TorchValue {
  const tensors = new Map<PendingTensor, TorchTensor>();
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): TorchValue => {
    if (depth > MAX_DEPTH) {
      throw new TorchPthError(`${source}: nesting deeper than ${MAX_DEPTH} levels`);
    }
    if (v instanceof PendingTensor) {
      let t = tensors.get(v);
      if (t === undefined) tensors.set(v, t = materialize(v, source));
      return t;
    }
    if (v instanceof GlobalRef) {
      throw new TorchPthError(
        `${source}: refusing global "${v.name}" used as a value ` +
          `(only tensors and plain containers are supported)`,
      );
    }
    if (v instanceof StorageRef) {
      throw new TorchPthError(
        `${source}: a bare storage ("${v.key}", ${v.typeName}) outside a tensor is not supported`,
      );
    }
    if (Array.isArray(v)) {
      if (!seen.has(v)) {
        seen.add(v);
        for (let i = 0; i < v.length; i++) v[i] = walk(v[i], depth + 1);
      }
      return v as TorchValue[];
    }
    if (v instanceof Map) {
      if (!seen.has(v)) {
        seen.add(v);
        const entries = [...v];
        v.clear();
        for (const [k, x] of entries) v.set(walk(k, depth + 1), walk(x, depth + 1));
      }
      return v as Map<TorchValue, TorchValue>;
    }
    return v as TorchValue;
  };
  return walk(raw, 0);
}

// ---------------------------------------------------------------------------------------------------
// Containers.

function readZip(bytes: Uint8Array, source: string): TorchValue {
  const fail = (msg: string): never => {
    throw new TorchPthError(`${source}: ${msg}`);
  };
  const names: string[] = [];
  const sizes = new Map<string, number>();
  let files: Record<string, Uint8Array> = {};
  try {
    files = unzipSync(bytes, {
      filter: (f) => {
        names.push(f.name);
        sizes.set(f.name, f.originalSize);
        return true;
      },
    });
  } catch (e) {
    fail(`not a valid zip archive (${(e as Error).message}): truncated or corrupt file`);
  }
  for (const name of names) {
    const f = files[name];
    if (f === undefined || f.length !== sizes.get(name)) {
      fail(
        `zip entry "${name}" holds ${f?.length ?? 0} of its ${sizes.get(name)} bytes: ` +
          `truncated or corrupt file`,
      );
    }
  }
  if (names.length === 0) fail(`empty zip archive: not a PyTorch checkpoint`);
  // As torch does: the archive's name is the top-level folder of its first entry.
  const slash = names[0].indexOf("/");
  const prefix = slash < 0 ? "" : names[0].slice(0, slash + 1);
  const pkl = files[`${prefix}data.pkl`];
  if (pkl === undefined) {
    fail(
      `zip archive has no "${prefix}data.pkl": not a PyTorch checkpoint` +
        (files[`${prefix}constants.pkl`] !== undefined ? ` (a TorchScript archive?)` : ""),
    );
  }
  const order = files[`${prefix}byteorder`];
  if (order !== undefined) {
    const s = latin1(order).trim();
    if (s !== "little") {
      fail(
        `stored with byte order "${s}"; only "little" is supported (re-save on a little-endian machine)`,
      );
    }
  }
  const storages = new Map<string, StorageRef>();
  const load: PersistentLoad = (pid) => {
    const ref = storageRefFromPid(pid, source, false);
    const have = storages.get(ref.key);
    if (have !== undefined) {
      if (have.dtype !== ref.dtype) {
        fail(`storage "${ref.key}" is used as both ${have.typeName} and ${ref.typeName}`);
      }
      return have;
    }
    const data = files[`${prefix}data/${ref.key}`];
    if (data === undefined) {
      fail(`storage "${ref.key}": zip entry "${prefix}data/${ref.key}" is missing`);
    }
    ref.bytes = data;
    storages.set(ref.key, ref);
    return ref;
  };
  const { value, end } = unpickle(pkl, 0, source, load);
  if (end !== pkl.length) fail(`${pkl.length - end} trailing bytes after the pickle in data.pkl`);
  return finalize(value, source);
}

function readLegacy(bytes: Uint8Array, source: string): TorchValue {
  const fail = (msg: string): never => {
    throw new TorchPthError(`${source}: ${msg}`);
  };
  let pos = 0;
  const next = (load?: PersistentLoad) => {
    const r = unpickle(bytes, pos, source, load);
    pos = r.end;
    return r.value;
  };
  if (next() !== LEGACY_MAGIC) fail(`bad magic number: not a PyTorch checkpoint`);
  const protocol = next();
  if (protocol !== LEGACY_PROTOCOL) {
    fail(
      `legacy checkpoint protocol ${
        String(protocol)
      } is not supported (expected ${LEGACY_PROTOCOL})`,
    );
  }
  const sys = next();
  if (!(sys instanceof Map)) fail(`legacy checkpoint system info is not a dict: corrupt file`);
  if ((sys as Map<unknown, unknown>).get("little_endian") !== true) {
    fail(`legacy checkpoint written on a big-endian machine: re-save it with a recent PyTorch`);
  }
  const storages = new Map<string, StorageRef>();
  const views = new Map<string, StorageRef>();
  const raw = next((pid) => {
    const ref = storageRefFromPid(pid, source, true);
    let root = storages.get(ref.key);
    if (root === undefined) storages.set(ref.key, root = ref);
    else if (root.dtype !== ref.dtype) {
      fail(`storage "${ref.key}" is used as both ${root.typeName} and ${ref.typeName}`);
    }
    const view = (pid as unknown[])[5];
    if (view === null) return root;
    if (
      !Array.isArray(view) || view.length !== 3 || typeof view[0] !== "string" ||
      !isCount(view[1]) || !isCount(view[2])
    ) {
      return fail(`storage "${ref.key}": bad view ${describe(view)}`);
    }
    const [vkey, voff, vsize] = view as [string, number, number];
    let v = views.get(vkey);
    if (v === undefined) {
      v = new StorageRef(vkey, root.typeName, root.dtype, root.size, vsize);
      v.base = { storage: root, offset: voff };
      views.set(vkey, v);
    }
    return v;
  });
  const keys = next();
  if (!Array.isArray(keys) || !keys.every((k) => typeof k === "string")) {
    fail(`legacy checkpoint storage keys are not a list of strings: corrupt file`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const key of keys as string[]) {
    const s = storages.get(key);
    if (s === undefined) fail(`storage "${key}" is listed but never used: corrupt file`);
    if (pos + 8 > bytes.length) {
      fail(`storage "${key}": size runs past the end of the file: truncated file`);
    }
    const numel = dv.getBigInt64(pos, true);
    pos += 8;
    if (numel !== BigInt(s!.numel)) {
      fail(`storage "${key}" holds ${numel} elements, the pickle says ${s!.numel}: corrupt file`);
    }
    const nbytes = s!.numel * s!.size;
    if (pos + nbytes > bytes.length) {
      fail(
        `storage "${key}" (${s!.typeName}, ${s!.numel} elements) needs ${nbytes} bytes, ` +
          `the file has ${bytes.length - pos} left: truncated file`,
      );
    }
    s!.bytes = bytes.subarray(pos, pos + nbytes);
    pos += nbytes;
  }
  return finalize(raw, source);
}

/**
 * Reads a `torch.save` file held in memory (zip format, or the legacy format of torch < 1.6) and
 * returns the unpickled object; never executes anything from the file.
 *
 * @example
 * ```ts
 * const ckpt = readTorchFile(await Deno.readFile("resnet32x4_best.pth"), "resnet32x4_best.pth");
 * if (ckpt instanceof Map) console.log(ckpt.get("epoch"), ckpt.get("best_acc"));
 * ```
 * @param bytes the file's bytes
 * @param source a name for error messages (e.g. the path)
 * @throws TorchPthError naming the source and the problem: not a checkpoint, corrupt or truncated
 *   zip, truncated storage, or a construct the restricted unpickler refuses (e.g.
 *   `refusing to unpickle global "posix.system"`)
 */
export function readTorchFile(bytes: Uint8Array, source = "checkpoint"): TorchValue {
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b) return readZip(bytes, source);
  if (isLegacy(bytes)) return readLegacy(bytes, source);
  if (bytes.length >= 262 && latin1(bytes.subarray(257, 262)) === "ustar") {
    throw new TorchPthError(
      `${source}: the tar-based checkpoint format of PyTorch < 0.4 is not supported; ` +
        `re-save it with a recent PyTorch (torch.save(torch.load(path), path))`,
    );
  }
  throw new TorchPthError(
    `${source}: not a PyTorch checkpoint (neither a zip archive nor the legacy pickle format` +
      `${bytes.length === 0 ? "; the file is empty" : ""})`,
  );
}

function isLegacy(bytes: Uint8Array): boolean {
  // The magic number pickled by protocol 2: PROTO 2, LONG1 of 10 bytes.
  return bytes.length >= 4 && bytes[0] === 0x80 && bytes[2] === 0x8a && bytes[3] === 0x0a;
}

// ---------------------------------------------------------------------------------------------------
// State dicts.

function isTensorDict(v: TorchValue | undefined): v is Map<TorchValue, TorchValue> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const [k, x] of v) if (typeof k !== "string" || !(x instanceof TorchTensor)) return false;
  return true;
}

function keysOf(v: TorchValue): string {
  if (!(v instanceof Map)) return `the file holds ${describeValue(v)}`;
  const keys = [...v.keys()].map((k) => typeof k === "string" ? JSON.stringify(k) : String(k));
  return `top-level keys: ${keys.slice(0, 12).join(", ")}${keys.length > 12 ? ", …" : ""}`;
}

function describeValue(v: TorchValue): string {
  if (v instanceof TorchTensor) return `a tensor`;
  if (Array.isArray(v)) return `a list`;
  if (v instanceof Uint8Array) return `bytes`;
  return v === null ? "None" : typeof v;
}

/** Picks the state dict out of a checkpoint object (see {@link LoadTorchStateDictOptions.key}). */
function pickStateDict(
  v: TorchValue,
  opts: LoadTorchStateDictOptions,
  source: string,
): Map<string, TorchTensor> {
  let sd: TorchValue | undefined;
  if (opts.key !== undefined) {
    if (!(v instanceof Map) || !v.has(opts.key)) {
      throw new TorchPthError(`${source}: no entry "${opts.key}" (${keysOf(v)})`);
    }
    sd = v.get(opts.key);
    if (!(sd instanceof Map) || !(sd.size === 0 || isTensorDict(sd))) {
      throw new TorchPthError(`${source}: entry "${opts.key}" is not a dict of tensors`);
    }
  } else if (isTensorDict(v)) sd = v;
  else if (v instanceof Map && isTensorDict(v.get("model"))) sd = v.get("model");
  else if (v instanceof Map && isTensorDict(v.get("state_dict"))) sd = v.get("state_dict");
  else {
    throw new TorchPthError(
      `${source}: no state dict found: expected a dict of tensors, or one under "model" or ` +
        `"state_dict" (${keysOf(v)}); pass { key } to choose another entry`,
    );
  }
  return sd as Map<string, TorchTensor>;
}

/** Strips DataParallel's leading `module.`; refuses names that then collide. */
function stripModule<T>(entries: Iterable<[string, T]>, source: string): [string, T][] {
  const out: [string, T][] = [];
  const seen = new Set<string>();
  for (const [name, t] of entries) {
    const n = name.startsWith("module.") ? name.slice("module.".length) : name;
    if (seen.has(n)) {
      throw new TorchPthError(`${source}: "${name}" and another tensor both load as "${n}"`);
    }
    seen.add(n);
    out.push([n, t]);
  }
  return out;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function toTf(name: string, t: TorchTensor, source: string): tf.Tensor {
  const d = t.data;
  if (t.dtype === "bool") return tf.tensor(d as Uint8Array, t.shape, "bool");
  if (d instanceof Float32Array) return tf.tensor(d, t.shape, "float32");
  if (t.dtype === "float64") {
    return tf.tensor(Float32Array.from(d as Float64Array), t.shape, "float32");
  }
  if (d instanceof Int32Array) return tf.tensor(d, t.shape, "int32");
  const out = new Int32Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const x = Number(d[i]);
    if (x < INT32_MIN || x > INT32_MAX) {
      throw new TorchPthError(
        `${source}: tensor "${name}" (${t.dtype}) holds ${
          d[i]
        }, outside the int32 range of a tf tensor`,
      );
    }
    out[i] = x;
  }
  return tf.tensor(out, t.shape, "int32");
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new TorchPthError(`${path}: cannot read the file: ${(e as Error).message}`);
  }
}

function convertAll<T>(
  entries: [string, T][],
  convert: (name: string, t: T) => tf.Tensor,
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  try {
    for (const [name, t] of entries) out.set(name, convert(name, t));
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Loads the state dict of a PyTorch checkpoint as tf tensors in PyTorch layout (OIHW convs,
 * `[out, in]` linears), ready for `Module.loadStateDict`. Floating tensors become float32, integer
 * ones (e.g. `num_batches_tracked`) int32, bool ones bool. A leading `module.` (DataParallel) is
 * stripped from every name. The caller owns (and disposes) the tensors.
 *
 * @example
 * ```ts
 * const sd = await loadTorchStateDict("save/teachers/models/wrn_40_2_vanilla/ckpt_epoch_240.pth");
 * sd.get("conv1.weight")!.shape; // [16, 3, 3, 3]
 * ```
 * @param path the `.pth` file
 * @param opts `key`: the entry of the top-level dict holding the state dict (default: the object
 *   itself if it is a dict of tensors, else `"model"`, else `"state_dict"`)
 * @throws TorchPthError naming the file: unreadable, not a checkpoint, corrupt or truncated, no
 *   state dict, refused pickle content, or an integer outside int32
 */
export async function loadTorchStateDict(
  path: string,
  opts: LoadTorchStateDictOptions = {},
): Promise<Map<string, tf.Tensor>> {
  return torchStateDict(await readBytes(path), path, opts);
}

function torchStateDict(
  bytes: Uint8Array,
  path: string,
  opts: LoadTorchStateDictOptions,
): Map<string, tf.Tensor> {
  const sd = pickStateDict(readTorchFile(bytes, path), opts, path);
  return convertAll(stripModule(sd, path), (name, t) => toTf(name, t, path));
}

/**
 * Loads a state dict from either a PyTorch checkpoint (`.pth`, as {@link loadTorchStateDict}) or a
 * safetensors file (as this library's checkpoints and `exportDeployed` write), chosen by content,
 * not by extension. Same result either way: tf tensors in PyTorch layout, floats as float32,
 * integers as int32, a leading `module.` stripped. From safetensors, the
 * `optimizer.momentum_buffer.*` entries of a training checkpoint are left out.
 *
 * @example
 * ```ts
 * const sd = await loadStateDictFile(teacherPath); // .pth or .safetensors
 * teacher.loadStateDict(sd);
 * for (const t of sd.values()) t.dispose();
 * ```
 * @param path the file
 * @param opts for a `.pth` file, which entry holds the state dict (see {@link loadTorchStateDict})
 * @throws Error naming the file and the problem
 */
export async function loadStateDictFile(
  path: string,
  opts: LoadTorchStateDictOptions = {},
): Promise<Map<string, tf.Tensor>> {
  const bytes = await readBytes(path);
  if (!isSafetensors(bytes)) return torchStateDict(bytes, path, opts);
  const file = parseSafetensors(bytes, path);
  const entries = [...file.tensors].filter(([name]) => !name.startsWith(MOMENTUM_PREFIX));
  return convertAll(stripModule(entries, path), (name, e) => {
    switch (e.dtype) {
      case "F32":
      case "F64":
      case "F16":
      case "BF16":
        return tf.tensor(decodeToFloat32(e), e.shape, "float32");
      case "BOOL":
        return tf.tensor(e.data.slice(), e.shape, "bool");
      default: {
        const v = decodeToNumbers(e);
        if (v.some((x) => x < INT32_MIN || x > INT32_MAX)) {
          throw new TorchPthError(
            `${path}: tensor "${name}" (${e.dtype}) holds a value outside the int32 range of a tf tensor`,
          );
        }
        return tf.tensor(Int32Array.from(v), e.shape, "int32");
      }
    }
  });
}

/** A safetensors file: u64 little-endian header length, then a JSON object. */
function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 9 || bytes[0] === 0x50 && bytes[1] === 0x4b || isLegacy(bytes)) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  return n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b;
}
