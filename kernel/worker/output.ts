/**
 * Output capture (ipykernel's iostream): what a cell writes to `console`, `Deno.stdout/stderr` and
 * `process.stdout/stderr` is batched per stream and posted as `stream` messages, and
 * {@linkcode post} is the one way any message leaves the worker, after the pending output, so the
 * frontend sees text, displays and replies in the order the cell produced them.
 * @module
 */
import { Console } from "node:console";
import process from "node:process";
import { Writable } from "node:stream";
import type { FromWorker } from "../executor_protocol.ts";
import { scope, state } from "./state.ts";
import { originalClearTimeout, originalSetTimeout, type TimerId } from "./timers.ts";

/** A captured output stream. */
export type StreamName = "stdout" | "stderr";

/** Buffered text of one stream is posted once it reaches this many characters. */
const FLUSH_BYTES = 16 * 1024;
/** Buffered text is posted at the latest this long after the first of it was written. */
const FLUSH_MS = 30;
const buffers: Record<StreamName, string> = { stdout: "", stderr: "" };
/** The streams written since the last flush, in the order they were written. */
let order: StreamName[] = [];
let firstBuffered = 0;
let lastFlush = 0;
let flushTimer: TimerId | undefined;

/** Posts all buffered stream text in the order it was written. */
export function flushStreams(): void {
  if (flushTimer !== undefined) {
    originalClearTimeout(flushTimer);
    flushTimer = undefined;
  }
  // `order` records stream switches so interleaved stdout/stderr keep their order.
  for (const name of order) {
    if (buffers[name] === "") continue;
    scope.postMessage({ type: "stream", name, text: buffers[name], parent: state.currentParent });
    buffers[name] = "";
  }
  order = [];
  lastFlush = Date.now();
}

/** Writes text to a stream: buffered, and posted at once or within `FLUSH_MS`. */
export function write(name: StreamName, text: string): void {
  if (text === "") return;
  if (order.length > 0 && order[order.length - 1] !== name) {
    // Switching streams: flush so the frontend sees the interleaving as written.
    flushStreams();
  }
  // The first output after a quiet spell is posted at once: it then leaves at the worker's next
  // turn (a training loop's yield between steps), where the timer below would not be due yet and
  // would hold it back a whole step. What follows within FLUSH_MS is batched.
  const quiet = order.length === 0 && Date.now() - lastFlush > FLUSH_MS;
  if (order.length === 0) {
    order.push(name);
    firstBuffered = Date.now();
  }
  buffers[name] += text;
  if (quiet || buffers[name].length >= FLUSH_BYTES || Date.now() - firstBuffered > FLUSH_MS) {
    flushStreams();
  } else if (flushTimer === undefined) {
    flushTimer = originalSetTimeout(flushStreams, FLUSH_MS);
  }
}

/** Every message to the main thread goes through here, after pending output. */
export function post(msg: FromWorker, transfer?: Transferable[]): void {
  flushStreams();
  scope.postMessage(msg, transfer);
}

/** Makes the next output count as the first after a quiet spell: a cell's first output goes out at once. */
export function resetQuietSpell(): void {
  lastFlush = 0;
}

/** One decoder per stream, so a UTF-8 sequence split across two writes decodes whole. */
const decoders = {
  stdout: new TextDecoder(),
  stderr: new TextDecoder(),
};

function chunkText(name: StreamName, chunk: unknown): string {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof Uint8Array) return decoders[name].decode(chunk, { stream: true });
  if (chunk instanceof ArrayBuffer) return decoders[name].decode(new Uint8Array(chunk));
  return String(chunk);
}

/**
 * Routes `console`, `Deno.stdout/stderr` and `process.stdout/stderr` into {@linkcode write}
 * (the process's own stdout is not the notebook's).
 */
export function captureOutput(): void {
  const sink = (name: StreamName) =>
    new Writable({
      write(chunk: unknown, _enc: string, cb: () => void) {
        write(name, chunkText(name, chunk));
        cb();
      },
    });
  const con = new Console({ stdout: sink("stdout"), stderr: sink("stderr"), colorMode: false });
  Object.defineProperty(globalThis, "console", { value: con, writable: true, configurable: true });
  for (const name of ["stdout", "stderr"] as const) {
    const target = name === "stdout" ? Deno.stdout : Deno.stderr;
    const writeSync = (p: Uint8Array): number => {
      write(name, chunkText(name, p));
      return p.length;
    };
    Object.defineProperty(target, "writeSync", { value: writeSync, configurable: true });
    Object.defineProperty(target, "write", {
      value: (p: Uint8Array) => Promise.resolve(writeSync(p)),
      configurable: true,
    });
    const stream = process[name] as unknown as Record<string, unknown>;
    stream.write = (chunk: unknown, enc?: unknown, cb?: unknown): boolean => {
      write(name, chunkText(name, chunk));
      const done = typeof enc === "function" ? enc : cb;
      if (typeof done === "function") queueMicrotask(() => (done as () => void)());
      return true;
    };
  }
}
