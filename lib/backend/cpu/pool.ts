/**
 * Recycling of large float32 kernel outputs. A fresh 64 MiB Float32Array costs more to fault in
 * (first touch of every page) than a memory-bound kernel spends computing into it, so the backend
 * hands the arrays of disposed tensors back to later kernels of the same size.
 *
 * An array is recycled only when nothing outside tfjs's bookkeeping can still see it: it was made
 * here, registered as exactly one tensor's data, never read out (`dataSync`, `data`, moves between
 * backends) and never registered a second time (a kernel that reuses or views its input's values).
 * Anything else "escapes" and is left to the garbage collector.
 *
 * When the WebAssembly kernels run the convolutions, outputs are made resident in their memory
 * instead (see {@link useResidentStore}), so that the next kernel reads them in place rather than
 * copying every operand in and every result out. Resident arrays are counted per registration and
 * freed with the last tensor viewing them; they never escape, because the backend reads them out
 * as copies.
 *
 * @module
 */

/** Whether memory can be queried (asked without prompting: a kernel must never stop for a prompt). */
const canQuery = (() => {
  try {
    return Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" }).state ===
      "granted";
  } catch {
    return false;
  }
})();

function memoryInfo(): { total: number; available: number } {
  // Without the permission, assume a small machine that always runs short of memory (no pooling).
  return canQuery ? Deno.systemMemoryInfo() : { total: 8 * 2 ** 30, available: 0 };
}

/** Arrays smaller than this (floats) are cheap to allocate and are never pooled. */
const MIN_FLOATS = 1 << 16;
/**
 * Resident arrays start smaller (4 KiB): any operand of a convolution or matrix product held outside
 * kernel memory costs a copy per call, weights included.
 */
const MIN_RESIDENT_FLOATS = 1 << 10;

/** Kernel memory that can hold tensor values (the WebAssembly runtime, runtime.ts). */
export interface ResidentStore {
  /** An array in kernel memory, or null when it has no room. */
  allocResident(floats: number): Float32Array | null;
  /** Byte offset of `values` when they live in kernel memory, else null. */
  offsetOf(values: Float32Array): number | null;
  /** One more tensor registered with (part of) these values. */
  retainResident(values: Float32Array): void;
  /** One tensor with (part of) these values was freed. */
  releaseResident(values: Float32Array): void;
}

let store: ResidentStore | null = null;

/** Makes later outputs resident in `s` where they fit (null: ordinary arrays only). */
export function useResidentStore(s: ResidentStore | null): void {
  store = s;
}

/** Whether `values` live in kernel memory (a read must hand out a copy, never the view). */
export function isResident(values: unknown): values is Float32Array {
  return store !== null && values instanceof Float32Array && store.offsetOf(values) !== null;
}

/**
 * Most bytes the pool keeps idle (more go to the garbage collector): enough to carry one TESKD
 * step's large activations over to the next step's forward pass, at most 1/8 of the machine's memory.
 */
const MAX_IDLE_BYTES = Math.min(2 * 2 ** 30, memoryInfo().total / 8);
/** Below this much available system memory the idle arrays are let go before a fresh allocation. */
const LOW_MEMORY_BYTES = 3 * 2 ** 30;

/** Hands every idle array to the garbage collector. */
function dropIdle(): void {
  for (const list of idle.values()) for (const a of list) tracked.delete(a.buffer as ArrayBuffer);
  idle.clear();
  idleBytes = 0;
}

const ALLOCATED = 0;
const REGISTERED = 1;
const IDLE = 2;

/** State of each array this pool made and still tracks (escaped arrays are removed). */
const tracked = new WeakMap<ArrayBuffer, number>();
const idle = new Map<number, Float32Array[]>();
let idleBytes = 0;

/**
 * A Float32Array of `n` floats for a kernel output: recycled (holding stale values: the kernel
 * must write every element) when one of that size is idle, fresh otherwise.
 */
export function allocOutput(n: number): Float32Array {
  if (store !== null && n >= MIN_RESIDENT_FLOATS) {
    const resident = store.allocResident(n);
    if (resident !== null) return resident;
  }
  if (n < MIN_FLOATS) return new Float32Array(n);
  const list = idle.get(n);
  const a = list?.pop();
  if (a !== undefined) {
    idleBytes -= a.byteLength;
    tracked.set(a.buffer as ArrayBuffer, ALLOCATED);
    return a;
  }
  // A fresh array adds to the process's memory: when the machine runs short, idle arrays of other
  // sizes should not be what pushes a large step out of memory.
  if (idleBytes > 0 && memoryInfo().available < LOW_MEMORY_BYTES) dropIdle();
  const fresh = new Float32Array(n);
  tracked.set(fresh.buffer, ALLOCATED);
  return fresh;
}

/** Like {@link allocOutput}, every element zero. */
export function allocZeroed(n: number): Float32Array {
  const recycled = (idle.get(n)?.length ?? 0) > 0;
  const a = allocOutput(n);
  if (recycled || isResident(a)) a.fill(0);
  return a;
}

function bufferOf(values: unknown): ArrayBuffer | null {
  if (!(values instanceof Float32Array)) return null;
  const b = values.buffer as ArrayBuffer;
  return tracked.has(b) ? b : null;
}

/** The backend registers `values` as a tensor's data: a second registration escapes. */
export function noteRegistered(values: unknown): void {
  if (isResident(values)) return store!.retainResident(values);
  const b = bufferOf(values);
  if (b === null) return;
  if (tracked.get(b) === ALLOCATED) tracked.set(b, REGISTERED);
  else tracked.delete(b);
}

/** `values` are handed outside the backend (read back, moved): never recycle them. */
export function noteEscaped(values: unknown): void {
  const b = bufferOf(values);
  if (b !== null) tracked.delete(b);
}

/** The tensor owning `values` was freed: keep the array for reuse when it is safe. */
export function noteReleased(values: unknown): void {
  if (isResident(values)) return store!.releaseResident(values);
  const b = bufferOf(values);
  if (b === null || tracked.get(b) !== REGISTERED) return;
  const a = values as Float32Array;
  if (a.byteOffset !== 0 || a.byteLength !== b.byteLength) {
    tracked.delete(b);
    return;
  }
  if (idleBytes + a.byteLength > MAX_IDLE_BYTES) {
    tracked.delete(b);
    return;
  }
  tracked.set(b, IDLE);
  idleBytes += a.byteLength;
  const list = idle.get(a.length);
  if (list === undefined) idle.set(a.length, [a]);
  else list.push(a);
}
