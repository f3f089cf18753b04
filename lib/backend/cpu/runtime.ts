/**
 * The WebAssembly side of teskd-cpu: one shared linear memory, the compiled kernels, a scratch arena
 * for operands and a pool of worker threads that run slices of each job in parallel.
 *
 * @module
 */
import { Worker } from "node:worker_threads";

const PAGE = 65536;
/** Bytes reserved at the start of memory for AssemblyScript statics. */
const CTRL_OFFSET = PAGE;
const DESC_OFFSET = CTRL_OFFSET + 256;
const DESC_FIELDS = 32;
/** Maximum memory pages the module declares (must match build.ts). */
const MAX_PAGES = 32768;

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

/** A loaded kernel module with its memory, arena and thread pool. */
export class KernelRuntime {
  readonly memory: WebAssembly.Memory;
  readonly threads: number;
  readonly engine: string;
  #run: (desc: number, part: number, parts: number) => void;
  #ctrl: Int32Array;
  #arenaBase: number;
  #top: number;
  #f32: Float32Array;
  #i32: Int32Array;

  private constructor(
    memory: WebAssembly.Memory,
    run: (desc: number, part: number, parts: number) => void,
    threads: number,
    wsBytes: number,
    label: string,
  ) {
    this.memory = memory;
    this.#run = run;
    this.threads = threads;
    this.engine = `${label} x${threads} thread${threads === 1 ? "" : "s"}`;
    this.#ctrl = new Int32Array(memory.buffer, CTRL_OFFSET, 8);
    const wsBase = DESC_OFFSET + DESC_FIELDS * 4;
    this.#i32 = new Int32Array(memory.buffer);
    this.#i32[DESC_OFFSET / 4 + D.WS] = wsBase;
    this.#arenaBase = align(wsBase + threads * wsBytes, PAGE);
    this.#top = this.#arenaBase;
    this.#f32 = new Float32Array(memory.buffer);
    this.ensure(this.#arenaBase);
  }

  /**
   * Compiles `bytes` and starts `threads - 1` workers that share the module's memory; `label`
   * names the kernel variant in {@link KernelRuntime.engine}.
   */
  static async create(bytes: Uint8Array, threads: number, label: string): Promise<KernelRuntime> {
    const module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    const memory = new WebAssembly.Memory({ initial: 64, maximum: MAX_PAGES, shared: true });
    const instance = await WebAssembly.instantiate(module, { env: { memory } });
    const run = instance.exports.run as (desc: number, part: number, parts: number) => void;
    const ws = instance.exports.WS_BYTES as WebAssembly.Global;
    const rt = new KernelRuntime(memory, run, threads, Number(ws.value), label);
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
    this.#f32 = new Float32Array(this.memory.buffer);
    this.#i32 = new Int32Array(this.memory.buffer);
  }

  /** Float32 view of all of memory (re-read after any allocation). */
  get f32(): Float32Array {
    return this.#f32;
  }

  /** Frees every arena allocation; call at the start of each kernel. */
  reset(): void {
    this.#top = this.#arenaBase;
  }

  /** Allocates `floats` float32 slots (64-byte aligned) and returns the byte offset. */
  alloc(floats: number): number {
    const at = this.#top;
    this.#top = align(at + floats * 4, 64);
    this.ensure(this.#top);
    return at;
  }

  /** Copies `src` into a fresh arena allocation and returns its byte offset. */
  put(src: ArrayLike<number>): number {
    const at = this.alloc(src.length);
    this.#f32.set(src, at / 4);
    return at;
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
