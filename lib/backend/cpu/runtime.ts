/**
 * The WebAssembly side of teskd-cpu: one shared linear memory, the compiled kernels and a pool of
 * worker threads that run slices of each job in parallel. The memory holds a scratch region, reset
 * at every kernel, and above it a heap of resident tensors (kernel outputs that later kernels read
 * in place, see pool.ts). Memory is grown on demand (untouched pages cost nothing) and never shrinks:
 * freed blocks wait for the next tensors.
 *
 * @module
 */
import { Worker } from "node:worker_threads";
import { BlockHeap } from "./heap.ts";

const PAGE = 65536;
/** Bytes reserved at the start of memory for AssemblyScript statics. */
const CTRL_OFFSET = PAGE;
const DESC_OFFSET = CTRL_OFFSET + 256;
const DESC_FIELDS = 32;
/** Maximum memory pages the module declares (must match build.ts). */
const MAX_PAGES = 32768;
/**
 * Bytes of kernel memory for one kernel's scratch (operands that live outside kernel memory, copied
 * in; outputs computed before being copied out; im2col chunks). Scratch is a region of its own, below
 * the resident tensors, so that long-lived tensors never fragment it. Full TESKD at batch 128 with
 * every tensor outside kernel memory peaks at 513 MiB (`bench/cpu_step.ts 128 teskd 1 2 no-resident`).
 */
const SCRATCH_BYTES = 2 ** 30;

/** Job descriptor field indices (mirror of the D_* constants in asm/kernels.as). */
export const D = {
  KIND: 0,
  M: 1,
  N: 2,
  K: 3,
  AMODE: 4,
  A: 5,
  LDA: 6,
  ATRANS: 7,
  B: 8,
  LDB: 9,
  BTRANS: 10,
  C: 11,
  LDC: 12,
  BETA: 13,
  H: 14,
  W: 15,
  CIN: 16,
  OH: 17,
  OW: 18,
  KH: 19,
  KW: 20,
  SH: 21,
  SW: 22,
  DH: 23,
  DW: 24,
  PT: 25,
  PL: 26,
  SPLIT: 27,
  WS: 28,
  ROW0: 29,
} as const;

/** Job kinds understood by the kernel module's `run`. */
export const KIND_GEMM = 1;
/** Scatter-add of an im2col matrix back into an NHWC image. */
export const KIND_COL2IM = 2;

/** Options of {@link KernelRuntime.create}. */
export interface KernelRuntimeOptions {
  /**
   * Most bytes of resident tensors (default: all of memory above scratch, about 1 GiB); further
   * outputs live in ordinary arrays and are copied in when a kernel reads them.
   */
  residentLimitBytes?: number;
}

/** Bytes copied between ordinary arrays and kernel memory since the runtime started. */
export interface CopyCounters {
  /** Operands that lived outside kernel memory, copied in. */
  bytesIn: number;
  /** Outputs computed in scratch and copied out to an ordinary array. */
  bytesOut: number;
}

/** A block of kernel memory holding resident tensor values. */
interface ResidentBlock {
  at: number;
  bytes: number;
  /** Tensors registered with values in this block. */
  refs: number;
}

/** A loaded kernel module with its memory, heap and thread pool. */
export class KernelRuntime {
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  readonly engine: string;
  /** Most bytes resident tensors may hold. */
  readonly residentLimitBytes: number;
  /** Copies made so far (benchmarks and tests read them). */
  readonly copies: CopyCounters = { bytesIn: 0, bytesOut: 0 };
  #run: (desc: number, part: number, parts: number) => void;
  #ctrl: Int32Array;
  #heap: BlockHeap;
  #scratchBase: number;
  #scratchEnd: number;
  /** End of the current kernel's scratch, reset by {@link KernelRuntime.reset}. */
  #scratchTop: number;
  /** Most scratch bytes one kernel has used (benchmarks report it). */
  scratchPeakBytes = 0;
  /** Each resident block's size and registrations (tensors whose values view it), by offset. */
  #resident = new Map<number, ResidentBlock>();
  #residentBytes = 0;
  /** Every buffer object `memory.buffer` has returned (growing shared memory makes a new one). */
  #buffers = new WeakSet<ArrayBufferLike>();
  #f32: Float32Array;
  #i32: Int32Array;

  private constructor(
    memory: WebAssembly.Memory,
    run: (desc: number, part: number, parts: number) => void,
    threads: number,
    wsBytes: number,
    label: string,
    opts: KernelRuntimeOptions,
  ) {
    this.memory = memory;
    this.#run = run;
    this.threads = threads;
    this.engine = `${label} x${threads} thread${threads === 1 ? "" : "s"}`;
    this.#ctrl = new Int32Array(memory.buffer, CTRL_OFFSET, 8);
    const wsBase = DESC_OFFSET + DESC_FIELDS * 4;
    this.#i32 = new Int32Array(memory.buffer);
    this.#i32[DESC_OFFSET / 4 + D.WS] = wsBase;
    this.#f32 = new Float32Array(memory.buffer);
    this.#buffers.add(memory.buffer);
    this.#scratchBase = align(wsBase + threads * wsBytes, PAGE);
    this.#scratchTop = this.#scratchBase;
    this.#scratchEnd = this.#scratchBase + SCRATCH_BYTES;
    this.#heap = new BlockHeap(this.#scratchEnd, MAX_PAGES * PAGE, (end) => this.ensure(end));
    this.residentLimitBytes = opts.residentLimitBytes ?? this.#heap.limit - this.#heap.base;
    this.ensure(this.#scratchBase);
  }

  /**
   * Compiles `bytes` and starts `threads - 1` workers that share the module's memory; `label`
   * names the kernel variant in {@link KernelRuntime.engine}.
   */
  static async create(
    bytes: Uint8Array,
    threads: number,
    label: string,
    opts: KernelRuntimeOptions = {},
  ): Promise<KernelRuntime> {
    const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    const memory = new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const run = instance.exports.run as (desc: number, part: number, parts: number) => void;
    const ws = instance.exports.WS_BYTES as WebAssembly.Global;
    const rt = new KernelRuntime(memory, run, threads, Number(ws.value), label, opts);
    for (let i = 1; i < threads; i++) {
      const w = new Worker(new URL("./worker.ts", import.meta.url), {
        workerData: { memory, module, ctrlOffset: CTRL_OFFSET, index: i },
      });
      // Idle workers block in Atomics.wait; they must not keep the process alive.
      w.unref();
    }
    const ctrl = rt.#ctrl;
    const deadline = Date.now() + 30_000;
    while (Atomics.load(ctrl, 4) < threads - 1) {
      if (Date.now() > deadline) throw new Error("teskd-cpu: kernel worker threads did not start");
      await new Promise((r) => setTimeout(r, 5));
    }
    return rt;
  }

  /** Grows memory so that byte offset `end` is addressable; views are refreshed. */
  ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) {
      if (this.#f32.buffer.byteLength !== have) this.#refresh();
      return;
    }
    const pages = Math.ceil((end - have) / PAGE);
    if (have / PAGE + pages > MAX_PAGES) {
      throw new Error(
        `teskd-cpu: operands need ${(end / 2 ** 20).toFixed(0)} MiB of kernel memory, more than ` +
          `the ${MAX_PAGES * PAGE / 2 ** 20} MiB maximum`,
      );
    }
    this.memory.grow(pages);
    this.#refresh();
  }

  #refresh(): void {
    this.#buffers.add(this.memory.buffer);
    this.#f32 = new Float32Array(this.memory.buffer);
    this.#i32 = new Int32Array(this.memory.buffer);
  }

  /** Float32 view of all of memory (re-read after any allocation). */
  get f32(): Float32Array {
    return this.#f32;
  }

  /** Frees the scratch of the previous kernel; call at the start of each kernel. */
  reset(): void {
    this.#scratchTop = this.#scratchBase;
  }

  /** Allocates `floats` float32 slots of scratch (64-byte aligned) and returns the byte offset. */
  alloc(floats: number): number {
    const at = this.#scratchTop;
    const end = align(at + floats * 4, 64);
    if (end > this.#scratchEnd) {
      throw new Error(
        `teskd-cpu: a kernel needs ${((end - this.#scratchBase) / 2 ** 20).toFixed(0)} MiB of ` +
          `scratch memory, more than the ${SCRATCH_BYTES / 2 ** 20} MiB there is`,
      );
    }
    this.ensure(end);
    this.#scratchTop = end;
    this.scratchPeakBytes = Math.max(this.scratchPeakBytes, end - this.#scratchBase);
    return at;
  }

  /**
   * Byte offset of `src` in kernel memory: where it already lives when it is resident (no copy),
   * else a scratch copy.
   */
  put(src: Float32Array): number {
    const at = this.offsetOf(src);
    if (at !== null) return at;
    const copy = this.alloc(src.length);
    this.#f32.set(src, copy / 4);
    this.copies.bytesIn += src.byteLength;
    return copy;
  }

  /** Byte offset of `values` when they view this runtime's memory, else null. */
  offsetOf(values: Float32Array): number | null {
    return this.#buffers.has(values.buffer) ? values.byteOffset : null;
  }

  /** Kernel-memory offset to compute `out` at: in place when resident, else scratch. */
  outputOffset(out: Float32Array): number {
    return this.offsetOf(out) ?? this.alloc(out.length);
  }

  /** Completes an output computed at `at` (see {@link outputOffset}): copies it out unless resident. */
  finishOutput(out: Float32Array, at: number): Float32Array {
    if (this.offsetOf(out) === null) {
      out.set(this.#f32.subarray(at / 4, at / 4 + out.length));
      this.copies.bytesOut += out.byteLength;
    }
    return out;
  }

  /** Bytes held by resident tensors. */
  get residentBytes(): number {
    return this.#residentBytes;
  }

  /**
   * A resident array of `floats` floats (stale contents) in kernel memory, or null when resident
   * tensors already hold their limit or the heap has no room. It lives until every registration
   * ({@link retainResident}) is released, or until {@link releaseResident} if never registered.
   */
  allocResident(floats: number): Float32Array | null {
    const bytes = floats * 4;
    if (this.#residentBytes + bytes > this.residentLimitBytes) return null;
    const at = this.#heap.alloc(bytes);
    if (at === null) return null;
    this.#resident.set(at, { at, bytes, refs: 0 });
    this.#residentBytes += bytes;
    return new Float32Array(this.memory.buffer, at, floats);
  }

  /** Counts one more tensor viewing resident `values` (the block or a part of it). */
  retainResident(values: Float32Array): void {
    this.#residentBlock(values).refs++;
  }

  /** One tensor viewing resident `values` is gone: the block is freed with the last one. */
  releaseResident(values: Float32Array): void {
    const block = this.#residentBlock(values);
    if (--block.refs > 0) return;
    this.#resident.delete(block.at);
    this.#residentBytes -= block.bytes;
    this.#heap.free(block.at);
  }

  #residentBlock(values: Float32Array): ResidentBlock {
    const at = this.#heap.blockContaining(values.byteOffset);
    const block = at === null ? undefined : this.#resident.get(at);
    if (block === undefined) {
      throw new Error(`teskd-cpu: byte ${values.byteOffset} is not in a resident tensor block`);
    }
    return block;
  }

  /** Fills the job descriptor (unset fields are 0) and runs it on every thread. */
  exec(fields: Partial<Record<keyof typeof D, number>>): void {
    const parts = this.threads;
    const i32 = this.#i32;
    const base = DESC_OFFSET / 4;
    const ws = i32[base + D.WS];
    i32.fill(0, base, base + DESC_FIELDS);
    i32[base + D.WS] = ws;
    for (const [k, v] of Object.entries(fields)) i32[base + D[k as keyof typeof D]] = v;
    const ctrl = this.#ctrl;
    if (this.threads > 1) {
      Atomics.store(ctrl, 2, DESC_OFFSET);
      Atomics.store(ctrl, 3, parts);
      Atomics.store(ctrl, 1, 0);
      Atomics.add(ctrl, 0, 1);
      Atomics.notify(ctrl, 0);
    }
    let failure: unknown = null;
    try {
      this.#run(DESC_OFFSET, 0, parts);
    } catch (e) {
      failure = e;
    }
    if (this.threads > 1) {
      for (;;) {
        const done = Atomics.load(ctrl, 1);
        if (done >= this.threads - 1) break;
        Atomics.wait(ctrl, 1, done);
      }
      if (Atomics.exchange(ctrl, 5, 0) !== 0 && failure === null) {
        failure = new Error("a kernel worker thread trapped");
      }
    }
    if (failure !== null) {
      throw new Error(`teskd-cpu: kernel job ${i32[base + D.KIND]} failed: ${String(failure)}`);
    }
  }
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
