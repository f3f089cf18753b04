/**
 * State the executor worker's modules share: the memory shared with the executor process, the
 * request that output is attributed to, and whether a cell is running. It lives in this one module
 * (which imports no other worker module) so that every module reads the same values without
 * importing each other. The entry (executor_worker.ts) sets the shared memory, cells.ts the rest
 * per cell; comms.ts lends `currentParent` to a comm handler while it runs.
 * @module
 */
import type { FromWorker, ToWorker } from "../executor_protocol.ts";

/** The worker's global scope, typed for the messages it exchanges with the executor process. */
export const scope = globalThis as unknown as {
  postMessage(msg: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  addEventListener(type: string, fn: (e: Event) => void): void;
};

/** The mutable state of {@linkcode state}. */
export interface WorkerState {
  /** The control slots shared with the executor process (see `CTRL`); set by `init`. */
  ctrl: Int32Array;
  /** Where the executor process writes a synchronous `prompt()`'s reply; set by `init`. */
  stdinBytes: Uint8Array;
  /** Parent key of the request that output is attributed to (the running cell, or the last one). */
  currentParent: number;
  /** Whether the running cell's request allows `input()`/`prompt()` (Jupyter's allow_stdin). */
  allowStdin: boolean;
  /** True while a cell runs: its timers are tracked, and comm handlers' output is the cell's. */
  running: boolean;
  /** Aborted when the running cell is interrupted; a new one for every cell. */
  controller: AbortController;
}

/**
 * The worker's shared state. Placeholders until `init` brings the shared memory: nothing reads the
 * control slots before then, since every other message comes after `init`.
 */
export const state: WorkerState = {
  ctrl: new Int32Array(new SharedArrayBuffer(16)),
  stdinBytes: new Uint8Array(new SharedArrayBuffer(16)),
  currentParent: 0,
  allowStdin: false,
  running: false,
  controller: new AbortController(),
};
