/**
 * Data worker entry point: receives a {@linkcode DatasetSpec} once, then batch requests, and sends
 * batches back with their buffers transferred (no copies).
 *
 * @module
 */
import { type BatchMaker, createMaker, type DatasetSpec } from "./maker.ts";
import type { Batch } from "./types.ts";

/** Messages the loader sends to a worker. */
export type ToWorker =
  | { type: "init"; spec: DatasetSpec }
  | { type: "batch"; id: number; epoch: number; indices: Int32Array };

/** Messages a worker sends back. */
export type FromWorker =
  | ({ type: "batch"; id: number } & Batch)
  | { type: "error"; id: number; message: string };

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(msg: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
let make: BatchMaker | null = null;

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === "init") {
    make = createMaker(msg.spec);
    return;
  }
  try {
    if (make === null) throw new Error("data worker: batch requested before init");
    const b = make(msg.indices, msg.epoch);
    scope.postMessage({ type: "batch", id: msg.id, ...b }, [b.x.buffer, b.y.buffer]);
  } catch (err) {
    scope.postMessage({
      type: "error",
      id: msg.id,
      message: err instanceof Error ? err.message : String(err),
    });
  }
};
