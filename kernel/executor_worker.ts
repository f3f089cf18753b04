/**
 * The executor worker: runs compiled cells in one persistent scope, captures their output and
 * gives them the kernel API (display, input, comms, interrupt signal). Started by executor.ts.
 * @module
 */
/// <reference lib="deno.worker" />
import { Console } from "node:console";
import process from "node:process";
import { Writable } from "node:stream";
import { CTRL, type FromWorker, STDIN_BUFFER_BYTES, type ToWorker } from "./executor_protocol.ts";
import {
  DISPLAY_SYMBOL,
  DISPLAY_TRANSPORT_SYMBOL,
  GUARD_NAME,
  INTERRUPT_CHECK_SYMBOL,
  INTERRUPT_SIGNAL_SYMBOL,
} from "./runtime_contract.ts";
import { encodeBase64 } from "./base64.ts";
import { evaluateCell } from "./compiler/eval.ts";

const self = globalThis as unknown as {
  postMessage(msg: FromWorker, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  addEventListener(type: string, fn: (e: Event) => void): void;
};
const G = globalThis as unknown as Record<string | symbol, unknown>;
const originalSetTimeout = globalThis.setTimeout;
const originalSetInterval = globalThis.setInterval;
const originalClearTimeout = globalThis.clearTimeout;
const originalClearInterval = globalThis.clearInterval;

let ctrl = new Int32Array(new SharedArrayBuffer(16));
let stdinBytes = new Uint8Array(new SharedArrayBuffer(16));
/** Parent key of the request that output is attributed to (the running cell, or the last one). */
let currentParent = 0;
let allowStdin = false;
let running = false;
let controller = new AbortController();
let rejectRunning: ((e: unknown) => void) | null = null;
/** Timers started while the current cell ran; cleared when the cell is interrupted. */
type TimerId = ReturnType<typeof setTimeout>;
const cellTimers = new Set<TimerId>();

/** The error a cell sees when it is interrupted (like Python's KeyboardInterrupt). */
class InterruptError extends Error {
  override name = "KeyboardInterrupt";
  constructor() {
    super("interrupted by the user");
  }
}

// ---- output capture ----------------------------------------------------------------------

const FLUSH_BYTES = 16 * 1024;
const FLUSH_MS = 30;
const buffers: Record<"stdout" | "stderr", string> = { stdout: "", stderr: "" };
let order: ("stdout" | "stderr")[] = [];
let firstBuffered = 0;
let lastFlush = 0;
let flushTimer: TimerId | undefined;

/** Posts all buffered stream text in the order it was written. */
function flushStreams(): void {
  if (flushTimer !== undefined) {
    originalClearTimeout(flushTimer);
    flushTimer = undefined;
  }
  // `order` records stream switches so interleaved stdout/stderr keep their order.
  for (const name of order) {
    if (buffers[name] === "") continue;
    self.postMessage({ type: "stream", name, text: buffers[name], parent: currentParent });
    buffers[name] = "";
  }
  order = [];
  lastFlush = Date.now();
}

function write(name: "stdout" | "stderr", text: string): void {
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
function post(msg: FromWorker, transfer?: Transferable[]): void {
  flushStreams();
  self.postMessage(msg, transfer);
}

const decoders = {
  stdout: new TextDecoder(),
  stderr: new TextDecoder(),
};

function chunkText(name: "stdout" | "stderr", chunk: unknown): string {
  if (typeof chunk === "string") return chunk;
  if (chunk instanceof Uint8Array) return decoders[name].decode(chunk, { stream: true });
  if (chunk instanceof ArrayBuffer) return decoders[name].decode(new Uint8Array(chunk));
  return String(chunk);
}

function captureOutput(): void {
  const sink = (name: "stdout" | "stderr") =>
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

// ---- display -----------------------------------------------------------------------------

type Bundle = Record<string, unknown>;

function inspect(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  return Deno.inspect(value, { colors: false });
}

/**
 * A value's MIME bundle: its `[Symbol.for("Jupyter.display")]()` result, or plain text.
 * Synchronous when the display method is, so displays keep their order with other output.
 */
function toBundle(value: unknown): Bundle | Promise<Bundle> {
  const method = (value !== null && (typeof value === "object" || typeof value === "function"))
    ? (value as Record<symbol, unknown>)[Symbol.for(DISPLAY_SYMBOL)]
    : undefined;
  if (typeof method !== "function") return { "text/plain": inspect(value) };
  const bundle = method.call(value);
  const check = (b: unknown): Bundle =>
    typeof b === "object" && b !== null ? b as Bundle : { "text/plain": inspect(value) };
  return bundle instanceof Promise ? bundle.then(check) : check(bundle);
}

/** Calls `send` with the bundle of `value`, at once when it is available synchronously. */
function withBundle(value: unknown, send: (b: Bundle) => void): void {
  try {
    const b = toBundle(value);
    if (b instanceof Promise) {
      b.then(send, (e) => write("stderr", `display failed: ${(e as Error).message}\n`));
    } else send(b);
  } catch (e) {
    write("stderr", `display failed: ${(e as Error).message}\n`);
  }
}

function mimeValue(bundle: Bundle): Record<symbol, () => Bundle> {
  return { [Symbol.for(DISPLAY_SYMBOL)]: () => bundle };
}

let displayCounter = 0;

function display(value: unknown, options: { id?: string; raw?: boolean } = {}) {
  const id = options.id ?? `teskd-display-${++displayCounter}-${crypto.randomUUID()}`;
  const parent = currentParent;
  const emit = (msgType: string, v: unknown) => {
    const send = (data: Bundle) =>
      post({
        type: "iopub",
        msgType,
        content: { data, metadata: {}, transient: { display_id: id } },
        parent,
      });
    if (options.raw) send(v as Bundle);
    else withBundle(v, send);
  };
  emit("display_data", value);
  return { id, update: (v: unknown) => emit("update_display_data", v) };
}

function updateDisplay(id: string, value: unknown): void {
  const parent = currentParent;
  withBundle(value, (data) =>
    post({
      type: "iopub",
      msgType: "update_display_data",
      content: { data, metadata: {}, transient: { display_id: id } },
      parent,
    }));
}

function clearOutput(options: { wait?: boolean } = {}): void {
  post({
    type: "iopub",
    msgType: "clear_output",
    content: { wait: options.wait ?? false },
    parent: currentParent,
  });
}

const helpers = {
  html: (source: string) => mimeValue({ "text/html": source, "text/plain": source }),
  markdown: (source: string) => mimeValue({ "text/markdown": source, "text/plain": source }),
  svg: (source: string) => mimeValue({ "image/svg+xml": source, "text/plain": "<svg image>" }),
  png: (bytes: Uint8Array) =>
    mimeValue({ "image/png": encodeBase64(bytes), "text/plain": "<png image>" }),
  jpeg: (bytes: Uint8Array) =>
    mimeValue({ "image/jpeg": encodeBase64(bytes), "text/plain": "<jpeg image>" }),
  json: (value: unknown) =>
    mimeValue({ "application/json": value, "text/plain": JSON.stringify(value, null, 2) }),
};

// ---- stdin -------------------------------------------------------------------------------

let inputCounter = 0;
const pendingInputs = new Map<number, (v: string) => void>();

function stdinRefused(): Error {
  return new Error(
    "input is not available: the frontend sent allow_stdin=false, so this cell cannot ask for input",
  );
}

function input(prompt = "", options: { password?: boolean } = {}): Promise<string> {
  if (!allowStdin) return Promise.reject(stdinRefused());
  const requestId = ++inputCounter;
  return new Promise<string>((resolve) => {
    pendingInputs.set(requestId, resolve);
    post({
      type: "input_request",
      requestId,
      prompt,
      password: options.password ?? false,
      sync: false,
      parent: currentParent,
    });
  });
}

/** Synchronous `prompt()`: blocks this worker (never the main thread) until the reply arrives. */
function promptSync(message = "", defaultValue?: string): string | null {
  if (!allowStdin) throw stdinRefused();
  Atomics.store(ctrl, CTRL.STDIN_STATE, 0);
  post({
    type: "input_request",
    requestId: 0,
    prompt: message,
    password: false,
    sync: true,
    parent: currentParent,
  });
  while (Atomics.load(ctrl, CTRL.STDIN_STATE) === 0) {
    Atomics.wait(ctrl, CTRL.STDIN_STATE, 0, 1000);
  }
  const state = Atomics.load(ctrl, CTRL.STDIN_STATE);
  Atomics.store(ctrl, CTRL.STDIN_STATE, 0);
  if (state !== 1 || Atomics.load(ctrl, CTRL.INTERRUPT) === 1) throw new InterruptError();
  const len = Atomics.load(ctrl, CTRL.STDIN_LENGTH);
  const text = new TextDecoder().decode(stdinBytes.slice(0, len));
  return text === "" && defaultValue !== undefined ? defaultValue : text;
}

// ---- comms -------------------------------------------------------------------------------

type CommHandler = (comm: Comm, data: unknown) => void;
const targets = new Map<string, CommHandler>();
const comms = new Map<string, Comm>();

/** A comm channel with the frontend. */
class Comm {
  #onMsg: ((data: unknown, buffers: ArrayBuffer[]) => void)[] = [];
  #onClose: ((data: unknown) => void)[] = [];
  #closed = false;
  constructor(readonly id: string, readonly targetName: string) {}
  send(data: unknown, metadata: Record<string, unknown> = {}, buffers: ArrayBuffer[] = []): void {
    if (this.#closed) throw new Error(`comm ${this.id} is closed`);
    post({
      type: "iopub",
      msgType: "comm_msg",
      content: { comm_id: this.id, data },
      metadata,
      buffers,
      parent: currentParent,
    });
  }
  close(data: unknown = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    comms.delete(this.id);
    post({
      type: "iopub",
      msgType: "comm_close",
      content: { comm_id: this.id, data },
      parent: currentParent,
    });
  }
  onMsg(handler: (data: unknown, buffers: ArrayBuffer[]) => void): void {
    this.#onMsg.push(handler);
  }
  onClose(handler: (data: unknown) => void): void {
    this.#onClose.push(handler);
  }
  /** Delivery of a frontend message (called by the worker's dispatcher). */
  deliver(data: unknown, buffers: ArrayBuffer[]): void {
    for (const h of this.#onMsg) h(data, buffers);
  }
  /** The frontend closed the comm. */
  closedRemotely(data: unknown): void {
    this.#closed = true;
    comms.delete(this.id);
    for (const h of this.#onClose) h(data);
  }
}

const commApi = {
  registerTarget(name: string, handler: CommHandler): void {
    if (typeof name !== "string" || name === "") {
      throw new Error("registerTarget: target name must be a non-empty string");
    }
    targets.set(name, handler);
    post({ type: "comm_target", name });
  },
  open(targetName: string, data: unknown = {}, metadata: Record<string, unknown> = {}): Comm {
    const comm = new Comm(crypto.randomUUID().replaceAll("-", ""), targetName);
    comms.set(comm.id, comm);
    post({
      type: "iopub",
      msgType: "comm_open",
      content: { comm_id: comm.id, target_name: targetName, data },
      metadata,
      parent: currentParent,
    });
    return comm;
  },
};

/** Runs a comm callback, reporting its errors on stderr (a handler must not kill the kernel). */
function safely(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    write("stderr", `${what} failed: ${e instanceof Error ? e.stack ?? e.message : inspect(e)}\n`);
  }
}

// ---- timers, guard and globals -----------------------------------------------------------

function installGlobals(): void {
  G[GUARD_NAME] = () => {
    if (Atomics.load(ctrl, CTRL.INTERRUPT) === 1) throw new InterruptError();
  };
  Object.defineProperty(globalThis, Symbol.for(INTERRUPT_CHECK_SYMBOL), {
    value: G[GUARD_NAME],
    configurable: true,
  });
  Object.defineProperty(globalThis, Symbol.for(INTERRUPT_SIGNAL_SYMBOL), {
    get: () => controller.signal,
    configurable: true,
  });
  // Libraries (which never import the kernel) reach the cells' display API through this global.
  Object.defineProperty(globalThis, Symbol.for(DISPLAY_TRANSPORT_SYMBOL), {
    value: Object.freeze({
      display: (value: unknown, opts: { id?: string } = {}): void => {
        display(value, { id: opts.id });
      },
      update: (id: string, value: unknown): void => updateDisplay(id, value),
    }),
    configurable: true,
  });
  // Timers a cell starts are remembered so an interrupt can stop its background work.
  const track = (id: TimerId) => {
    if (running) cellTimers.add(id);
    return id;
  };
  G.setTimeout = (fn: unknown, ms?: number, ...args: unknown[]) => {
    const id: TimerId = originalSetTimeout(() => {
      cellTimers.delete(id);
      if (typeof fn === "function") fn(...args);
    }, ms);
    return track(id);
  };
  G.setInterval = (fn: unknown, ms?: number, ...args: unknown[]) =>
    track(originalSetInterval(() => {
      if (typeof fn === "function") fn(...args);
    }, ms));
  G.clearTimeout = (id?: TimerId) => {
    if (id !== undefined) cellTimers.delete(id);
    originalClearTimeout(id);
  };
  G.clearInterval = (id?: TimerId) => {
    if (id !== undefined) cellTimers.delete(id);
    originalClearInterval(id);
  };
  const api = {
    display,
    updateDisplay,
    clearOutput,
    ...helpers,
    input,
    get interruptSignal() {
      return controller.signal;
    },
    comms: commApi,
  };
  Object.assign(G, { kernel: api, display, updateDisplay, clearOutput, input, ...helpers });
  G.prompt = promptSync;
  // Exiting would end the worker (and the kernel's state) without a reply: refuse clearly.
  try {
    Object.defineProperty(Deno, "exit", {
      value: (code?: number) => {
        throw new Error(
          `Deno.exit(${
            code ?? ""
          }) is not available in a notebook cell: restart the kernel instead`,
        );
      },
      configurable: true,
      writable: true,
    });
  } catch {
    // A runtime whose Deno namespace is frozen keeps its own Deno.exit.
  }
  // Errors escaping background work are reported, never fatal to the worker.
  self.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    const reason = (e as PromiseRejectionEvent).reason;
    if (reason instanceof InterruptError) return;
    write("stderr", `Uncaught (in promise) ${describe(reason)}\n`);
  });
  self.addEventListener("error", (e) => {
    e.preventDefault();
    const err = (e as ErrorEvent).error;
    if (err instanceof InterruptError) return;
    write("stderr", `Uncaught ${describe(err)}\n`);
  });
}

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : inspect(e);
}

// ---- running cells -----------------------------------------------------------------------

async function run(msg: Extract<ToWorker, { type: "run" }>): Promise<void> {
  Atomics.store(ctrl, CTRL.INTERRUPT, 0);
  lastFlush = 0; // a cell's first output goes out at once
  currentParent = msg.parent;
  allowStdin = msg.allowStdin;
  controller = new AbortController();
  cellTimers.clear();
  running = true;
  const interrupted = new Promise<never>((_, reject) => {
    rejectRunning = reject;
  });
  let outcome: Extract<FromWorker, { type: "done" }>["outcome"];
  try {
    // evaluateCell runs the code exactly as the compiler's stack mapping expects.
    const promise = evaluateCell(msg.js);
    promise.catch(() => {}); // if the race is lost to an interrupt, its rejection is expected
    const value = await Promise.race([promise, interrupted]);
    // Interrupted during a call that could not be stopped, and the cell then ended: it stops with
    // KeyboardInterrupt all the same (what it did stays, as in ipykernel).
    if (Atomics.load(ctrl, CTRL.INTERRUPT) === 1) throw new InterruptError();
    if (value === undefined) outcome = { status: "ok" };
    else outcome = { status: "ok", result: await Promise.race([toBundle(value), interrupted]) };
  } catch (e) {
    const wasInterrupt = e instanceof InterruptError || controller.signal.aborted;
    if (wasInterrupt) {
      const ie = e instanceof InterruptError ? e : new InterruptError();
      outcome = {
        status: "error",
        ename: ie.name,
        evalue: ie.message,
        stack: ie.stack ?? "",
        interrupted: true,
      };
    } else if (e instanceof Error) {
      outcome = {
        status: "error",
        ename: e.name || e.constructor?.name || "Error",
        evalue: e.message,
        stack: e.stack ?? "",
        interrupted: false,
      };
    } else {
      outcome = {
        status: "error",
        ename: "Uncaught",
        evalue: inspect(e),
        stack: "",
        interrupted: false,
      };
    }
  } finally {
    running = false;
    rejectRunning = null;
    for (const id of pendingInputs.keys()) pendingInputs.delete(id);
  }
  post({ type: "done", cellId: msg.cellId, outcome });
}

function interrupt(): void {
  // Stop background work the cell started, then reject the awaiting cell at once.
  for (const id of cellTimers) {
    originalClearTimeout(id);
    originalClearInterval(id);
  }
  cellTimers.clear();
  const err = new InterruptError();
  if (!controller.signal.aborted) controller.abort(err);
  rejectRunning?.(err);
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  switch (msg.type) {
    case "init":
      ctrl = new Int32Array(msg.ctrl);
      stdinBytes = new Uint8Array(msg.stdin, 0, STDIN_BUFFER_BYTES);
      captureOutput();
      installGlobals();
      post({ type: "ready" });
      break;
    case "run":
      run(msg);
      break;
    case "interrupt":
      interrupt();
      break;
    case "input_reply": {
      const resolve = pendingInputs.get(msg.requestId);
      pendingInputs.delete(msg.requestId);
      resolve?.(msg.value);
      break;
    }
    case "comm_open": {
      const handler = targets.get(msg.targetName);
      if (!handler) {
        post({ type: "comm_done", parent: msg.parent });
        break;
      }
      const comm = new Comm(msg.commId, msg.targetName);
      comms.set(comm.id, comm);
      commDone(msg.parent);
      withParent(
        msg.parent,
        () => safely(`comm target ${msg.targetName}`, () => handler(comm, msg.data)),
      );
      break;
    }
    case "comm_msg": {
      commDone(msg.parent);
      const comm = comms.get(msg.commId);
      if (comm) {
        withParent(
          msg.parent,
          () => safely(`comm ${msg.commId}`, () => comm.deliver(msg.data, msg.buffers)),
        );
      }
      break;
    }
    case "comm_close": {
      commDone(msg.parent);
      const comm = comms.get(msg.commId);
      if (comm) {
        withParent(
          msg.parent,
          () => safely(`comm ${msg.commId}`, () => comm.closedRemotely(msg.data)),
        );
      }
      break;
    }
  }
};

/** Acknowledges a frontend comm message once its handlers ran (queued after their output). */
function commDone(parent: number): void {
  queueMicrotask(() => post({ type: "comm_done", parent }));
}

/** Output of a comm handler belongs to the comm message, unless a cell is running. */
function withParent(parent: number, fn: () => void): void {
  if (running) return fn();
  const saved = currentParent;
  currentParent = parent;
  try {
    fn();
  } finally {
    flushStreams();
    currentParent = saved;
  }
}
