/**
 * The executor process: a separate Deno process that holds the worker running user code, so that a
 * cell exhausting memory (V8's fatal "out of memory" aborts the whole process, and the system's OOM
 * killer picks the largest one) takes down this process and not the kernel. Started by executor.ts
 * with the path of the kernel's Unix socket as its argument.
 *
 * It relays messages between the kernel's socket and the worker, and owns the memory the worker
 * shares: the interrupt flag, which it raises when the kernel asks (this thread is idle while the
 * worker runs a cell, so it answers at once), and the buffer that carries a synchronous `prompt()`
 * reply. When the kernel's socket closes, the process exits.
 *
 * @module
 */
import v8 from "node:v8";
import {
  CTRL,
  type FromExecutor,
  type FromWorker,
  STDIN_BUFFER_BYTES,
  type ToExecutor,
  type ToWorker,
} from "./executor_protocol.ts";
import { FrameChannel } from "./frame_channel.ts";

const socketPath = Deno.args[0];
if (!socketPath) {
  console.error("usage: executor_host.ts <kernel socket path>");
  Deno.exit(2);
}

const conn = await Deno.connect({ transport: "unix", path: socketPath });
const kernel = new FrameChannel<FromExecutor, ToExecutor>(conn);
const ctrl = new Int32Array(new SharedArrayBuffer(4 * 4));
const stdin = new Uint8Array(new SharedArrayBuffer(STDIN_BUFFER_BYTES));

const worker = new Worker(new URL("./executor_worker.ts", import.meta.url), { type: "module" });
worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const msg = e.data;
  if (msg.type === "ready") {
    kernel.send({ type: "ready", heapLimitBytes: v8.getHeapStatistics().heap_size_limit });
  } else {
    kernel.send(msg);
  }
};
worker.onerror = async (e: ErrorEvent) => {
  // The worker cannot continue (its module failed to load, or it died): the kernel sees this
  // process end, reads this line on its stderr and starts a new executor.
  e.preventDefault();
  console.error(`teskd executor: worker failed: ${e.message}`);
  await kernel.flushed();
  Deno.exit(70);
};
worker.postMessage(
  { type: "init", ctrl: ctrl.buffer, stdin: stdin.buffer } satisfies ToWorker,
);

/** Raises the interrupt flag and cancels a blocked `prompt()`, then tells the worker. */
function interrupt(msg: ToWorker): void {
  Atomics.store(ctrl, CTRL.INTERRUPT, 1);
  if (Atomics.load(ctrl, CTRL.STDIN_STATE) === 0) {
    Atomics.store(ctrl, CTRL.STDIN_STATE, 2);
    Atomics.notify(ctrl, CTRL.STDIN_STATE);
  }
  worker.postMessage(msg);
}

/** Hands a synchronous `prompt()` its reply through shared memory (the worker is blocked). */
function stdinReply(value: string): void {
  const bytes = new TextEncoder().encode(value);
  const n = Math.min(bytes.length, stdin.length);
  stdin.set(bytes.subarray(0, n));
  Atomics.store(ctrl, CTRL.STDIN_LENGTH, n);
  Atomics.store(ctrl, CTRL.STDIN_STATE, 1);
  Atomics.notify(ctrl, CTRL.STDIN_STATE);
}

try {
  for await (const msg of kernel.messages()) {
    if (msg.type === "interrupt") interrupt(msg);
    else if (msg.type === "stdin_reply") stdinReply(msg.value);
    else worker.postMessage(msg);
  }
} catch (e) {
  console.error(`teskd executor: bad message from the kernel: ${(e as Error).message}`);
}
// The kernel is gone (or closed the socket to replace this process).
Deno.exit(0);
