/**
 * Messages between the kernel, the executor process (executor_host.ts) and its worker that runs
 * user code (executor_worker.ts). The kernel and the executor process exchange
 * {@link ToExecutor}/{@link FromExecutor} over a socket; the executor process relays them to and
 * from its worker as {@link ToWorker}/{@link FromWorker}. `parent` fields are keys the kernel maps
 * back to the Jupyter request that caused the output.
 *
 * @example
 * ```ts
 * import type { ToWorker } from "./executor_protocol.ts";
 * const run: ToWorker = { type: "run", cellId: 1, js: "return 1 + 1;", parent: 7,
 *   allowStdin: false };
 * ```
 * @module
 */

/** Slots of the shared Int32Array the main thread and the worker both see. */
export const CTRL = {
  /** 1 while an interrupt is pending for the running code; the guard throws when set. */
  INTERRUPT: 0,
  /** 0 waiting, 1 reply ready, 2 cancelled: the handshake of a synchronous `prompt()`. */
  STDIN_STATE: 1,
  /** Byte length of the UTF-8 reply written into the stdin buffer. */
  STDIN_LENGTH: 2,
} as const;

/** Size of the shared buffer that carries a synchronous `prompt()` reply. */
export const STDIN_BUFFER_BYTES = 1 << 20;

/** A message from the main thread to the worker. */
export type ToWorker =
  | { type: "init"; ctrl: SharedArrayBuffer; stdin: SharedArrayBuffer }
  | {
    type: "run";
    cellId: number;
    js: string;
    parent: number;
    allowStdin: boolean;
  }
  | { type: "interrupt" }
  | { type: "input_reply"; requestId: number; value: string }
  | {
    type: "comm_open";
    commId: string;
    targetName: string;
    data: unknown;
    buffers: ArrayBuffer[];
    parent: number;
  }
  | { type: "comm_msg"; commId: string; data: unknown; buffers: ArrayBuffer[]; parent: number }
  | { type: "comm_close"; commId: string; data: unknown; parent: number };

/** The outcome of running one cell. */
export type CellOutcome =
  | { status: "ok"; result?: Record<string, unknown>; resultMetadata?: Record<string, unknown> }
  | { status: "error"; ename: string; evalue: string; stack: string; interrupted: boolean };

/** A message from the worker to the main thread. */
export type FromWorker =
  | { type: "ready" }
  | { type: "stream"; name: "stdout" | "stderr"; text: string; parent: number }
  | {
    type: "iopub";
    msgType: string;
    content: Record<string, unknown>;
    metadata?: Record<string, unknown>;
    buffers?: ArrayBuffer[];
    parent: number;
  }
  | {
    type: "input_request";
    requestId: number;
    prompt: string;
    password: boolean;
    sync: boolean;
    parent: number;
  }
  | { type: "comm_target"; name: string }
  /** A frontend comm message (identified by its parent key) has been handled. */
  | { type: "comm_done"; parent: number }
  | { type: "done"; cellId: number; outcome: CellOutcome };

/** A message from the kernel to the executor process (relayed to the worker unless it is the host's). */
export type ToExecutor =
  | Exclude<ToWorker, { type: "init" }>
  /** The reply to a synchronous `prompt()`: the host writes it into the shared stdin buffer. */
  | { type: "stdin_reply"; value: string };

/** A message from the executor process to the kernel. */
export type FromExecutor =
  | Exclude<FromWorker, { type: "ready" }>
  /** The worker is ready; `heapLimitBytes` is V8's heap limit in that process (for OOM errors). */
  | { type: "ready"; heapLimitBytes: number };
