/**
 * Deno FFI binding to oneDNN's C API, version 2 (`libdnnl.so.2`, Debian's `libdnnl2`): the symbols
 * and constants teskd-cpu's oneDNN engine uses, and small helpers for its out-parameters and
 * descriptor structs. Version 3 changed the API (no more `*_desc_init`), so only v2 is bound.
 *
 * @module
 */

/** The C functions bound (all return a `dnnl_status_t`, 0 on success, unless noted). */
const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_equal: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "pointer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_dilated_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_dilated_convolution_backward_data_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_dilated_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_matmul_desc_init: {
    parameters: ["buffer", "buffer", "buffer", "pointer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_post_ops_append_binary: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  dnnl_post_ops_append_sum: { parameters: ["pointer", "f32"], result: "i32" },
  dnnl_binary_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  /** Returns a `const dnnl_memory_desc_t *` owned by the primitive descriptor. */
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_primitive_desc_query: { parameters: ["pointer", "i32", "i32", "buffer"], result: "i32" },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's symbols. */
export type DnnlSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** oneDNN constants (from dnnl_types.h of oneDNN 2.x). */
export const DNNL = {
  cpuEngine: 1,
  streamDefaultFlags: 1,
  f32: 3,
  formatTagAny: 1,
  forwardTraining: 64,
  forwardInference: 96,
  convolutionDirect: 1,
  queryImplInfoStr: 8,
  querySrcMd: 129,
  queryDiffSrcMd: 130,
  queryWeightsMd: 131,
  queryDiffWeightsMd: 132,
  queryDstMd: 133,
  queryDiffDstMd: 134,
  binaryAdd: 0x1fff0,
  binaryMul: 0x1fff1,
  binaryDiv: 0x1fff4,
  binarySub: 0x1fff5,
  argSrc: 1,
  argSrc1: 2,
  /** DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1: the first post-op's second operand. */
  argPostOp0Src1: 16384 | 2,
  argDst: 17,
  argWeights: 33,
  argBias: 41,
  argDiffSrc: 129,
  argDiffDst: 145,
  argDiffWeights: 161,
  /** `DNNL_MEMORY_ALLOCATE`: let the library allocate a memory object's buffer. */
  memoryAllocate: 0xffffffffffffffffn,
} as const;

/** Bytes of a `dnnl_memory_desc_t` in oneDNN 2.x (696), rounded up for safety. */
export const MEMORY_DESC_BYTES = 1024;
/** Bytes of the largest op descriptor used (`dnnl_convolution_desc_t`: 5976), rounded up. */
export const OP_DESC_BYTES = 8192;
/** `DNNL_MAX_NDIMS`: dims arrays are always this long. */
const MAX_NDIMS = 12;

/** Library names tried, in order, when `TESKD_ONEDNN_LIB` does not name one. */
export const ONEDNN_LIBRARY_NAMES = ["libdnnl.so.2", "libdnnl.2.dylib", "dnnl.dll"] as const;

/** A loaded oneDNN 2.x library. */
export interface DnnlLibrary {
  symbols: DnnlSymbols;
  /** "major.minor.patch". */
  version: string;
  path: string;
  close(): void;
}

/**
 * Opens oneDNN 2.x: `path`, else each of {@link ONEDNN_LIBRARY_NAMES}. Throws with every attempt's
 * reason when none loads or the version is not 2.x.
 */
export function openDnnl(path?: string): DnnlLibrary {
  const errors: string[] = [];
  for (const name of path ? [path] : ONEDNN_LIBRARY_NAMES) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(name, SYMBOLS);
    } catch (e) {
      errors.push(`${name}: ${(e as Error).message.split("\n")[0]}`);
      continue;
    }
    const v = new Deno.UnsafePointerView(lib.symbols.dnnl_version()!);
    const version = `${v.getInt32(0)}.${v.getInt32(4)}.${v.getInt32(8)}`;
    if (v.getInt32(0) !== 2) {
      lib.close();
      errors.push(`${name}: version ${version}, the binding needs 2.x`);
      continue;
    }
    pinLoaded(name);
    return { symbols: lib.symbols, version, path: name, close: () => lib.close() };
  }
  throw new Error(`oneDNN 2.x not found (${errors.join("; ")})`);
}

/**
 * Keeps `name` (and so OpenMP, which it loaded) mapped for the life of the process: a second
 * dlopen with RTLD_NODELETE, so that closing the Deno handle — which happens when the isolate that
 * opened it ends, e.g. each test module — cannot unmap code that OpenMP's worker threads, which
 * outlive the isolate, still run (seen as a segfault in the next module).
 */
function pinLoaded(name: string): void {
  const os = Deno.build.os;
  const candidates = os === "linux"
    ? ["libc.so.6", "libdl.so.2"]
    : os === "darwin"
    ? ["libSystem.B.dylib"]
    : [];
  const flags = RTLD_NOW | (os === "darwin" ? 0x80 : 0x1000); // | RTLD_NODELETE
  for (const libc of candidates) {
    try {
      const l = Deno.dlopen(libc, { dlopen: { parameters: ["buffer", "i32"], result: "pointer" } });
      const handle = l.symbols.dlopen(new TextEncoder().encode(name + "\0"), flags);
      if (handle !== null) return;
    } catch { /* no dlopen in this library: try the next */ }
  }
}

/** dlopen's RTLD_NOW (the same on Linux and macOS). */
const RTLD_NOW = 2;

/** Throws when a oneDNN call did not return dnnl_success. */
export function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN: ${what} failed with status ${status}`);
}

/** A one-slot out-parameter for a handle (`dnnl_*_t *`). */
export function handleSlot(): BigUint64Array<ArrayBuffer> {
  return new BigUint64Array(1);
}

/** The handle an out-parameter received. */
export function handleOf(slot: BigUint64Array): Deno.PointerObject {
  const p = Deno.UnsafePointer.create(slot[0]);
  if (p === null) throw new Error("oneDNN: a call returned a null handle");
  return p;
}

/** A `dnnl_dims_t` (int64[12]) holding `values`. */
export function dims(values: readonly number[]): BigInt64Array<ArrayBuffer> {
  const d = new BigInt64Array(MAX_NDIMS);
  values.forEach((v, i) => (d[i] = BigInt(v)));
  return d;
}

/** A zeroed buffer for a `dnnl_memory_desc_t`. */
export function memoryDescBuffer(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(MEMORY_DESC_BYTES);
}
