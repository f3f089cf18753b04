/**
 * Worker thread of the teskd-cpu kernel pool: instantiates the kernel module over the shared memory
 * and runs its slice of every job the main thread publishes in the control block.
 *
 * @module
 */
import { isMainThread, workerData } from "node:worker_threads";

/** What the main thread hands each worker at start. */
export interface WorkerInit {
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  ctrlOffset: number;
  index: number;
}

if (isMainThread) {
  throw new Error("lib/backend/cpu/worker.ts runs only as a teskd-cpu kernel worker thread");
}
const init = workerData as WorkerInit;
const instance = await WebAssembly.instantiate(init.module, {
  env: { memory: init.memory },
});
const run = instance.exports.run as (desc: number, part: number, parts: number) => void;
const ctrl = new Int32Array(init.memory.buffer, init.ctrlOffset, 8);
// Control block layout (shared with runtime.ts): 0 generation, 1 done count, 2 descriptor, 3 parts,
// 4 ready count, 5 error flag.
let gen = Atomics.load(ctrl, 0);
Atomics.add(ctrl, 4, 1);
Atomics.notify(ctrl, 4);
for (;;) {
  Atomics.wait(ctrl, 0, gen);
  const g = Atomics.load(ctrl, 0);
  if (g === gen) continue;
  gen = g;
  const parts = Atomics.load(ctrl, 3);
  try {
    if (init.index < parts) run(Atomics.load(ctrl, 2), init.index, parts);
  } catch {
    // A trap must not leave the main thread waiting forever: flag it and still report done.
    Atomics.store(ctrl, 5, 1);
  }
  Atomics.add(ctrl, 1, 1);
  Atomics.notify(ctrl, 1);
}
