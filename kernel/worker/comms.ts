/**
 * Comms (ipykernel's comm manager): the {@linkcode Comm} channel, the targets cells register, the
 * cells' `kernel.comms` API, and delivery of the frontend's comm messages. What a handler prints
 * or sends is attributed to the comm message it handles, and each delivered message is
 * acknowledged (`comm_done`) after its handlers' output.
 * @module
 */
import type { ToWorker } from "../executor_protocol.ts";
import { inspect } from "./display.ts";
import { flushStreams, post, write } from "./output.ts";
import { state } from "./state.ts";

/** Called when the frontend opens a comm for a registered target. */
type CommHandler = (comm: Comm, data: unknown, buffers: ArrayBuffer[]) => void;
const targets = new Map<string, CommHandler>();
/** Open comms, by id. */
const comms = new Map<string, Comm>();
/**
 * Parent key of the frontend comm message whose handlers are running, if any: what a handler sends
 * is attributed to that message (widgets' `echo_update` must name the update it answers), even
 * while a cell runs.
 */
let deliveringParent: number | undefined;

/** A comm channel with the frontend. */
export class Comm {
  #onMsg: ((data: unknown, buffers: ArrayBuffer[]) => void)[] = [];
  #onClose: ((data: unknown) => void)[] = [];
  #closed = false;
  /** A comm with this id for this target (opened by the cell or by the frontend). */
  constructor(readonly id: string, readonly targetName: string) {}
  /** Sends a `comm_msg` to the frontend; throws once the comm is closed. */
  send(data: unknown, metadata: Record<string, unknown> = {}, buffers: ArrayBuffer[] = []): void {
    if (this.#closed) throw new Error(`comm ${this.id} is closed`);
    post({
      type: "iopub",
      msgType: "comm_msg",
      content: { comm_id: this.id, data },
      metadata,
      buffers,
      parent: deliveringParent ?? state.currentParent,
    });
  }
  /** Closes the comm (`comm_close`); a second close does nothing. */
  close(data: unknown = {}): void {
    if (this.#closed) return;
    this.#closed = true;
    comms.delete(this.id);
    post({
      type: "iopub",
      msgType: "comm_close",
      content: { comm_id: this.id, data },
      parent: deliveringParent ?? state.currentParent,
    });
  }
  /** Adds a handler of the frontend's messages on this comm. */
  onMsg(handler: (data: unknown, buffers: ArrayBuffer[]) => void): void {
    this.#onMsg.push(handler);
  }
  /** Adds a handler of the frontend closing this comm. */
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

/** The cells' `kernel.comms` (and the libraries' comms transport). */
export const commApi = {
  /** Registers the handler of comms the frontend opens for `name` (the kernel learns of it). */
  registerTarget(name: string, handler: CommHandler): void {
    if (typeof name !== "string" || name === "") {
      throw new Error("registerTarget: target name must be a non-empty string");
    }
    targets.set(name, handler);
    post({ type: "comm_target", name });
  },
  /** Opens a comm with the frontend's target `targetName` (`comm_open`). */
  open(
    targetName: string,
    data: unknown = {},
    metadata: Record<string, unknown> = {},
    buffers: ArrayBuffer[] = [],
  ): Comm {
    const comm = new Comm(crypto.randomUUID().replaceAll("-", ""), targetName);
    comms.set(comm.id, comm);
    post({
      type: "iopub",
      msgType: "comm_open",
      content: { comm_id: comm.id, target_name: targetName, data },
      metadata,
      buffers,
      parent: deliveringParent ?? state.currentParent,
    });
    return comm;
  },
};

/** The frontend opened a comm: its target's handler runs (or it is acknowledged at once). */
export function commOpened(msg: Extract<ToWorker, { type: "comm_open" }>): void {
  const handler = targets.get(msg.targetName);
  if (!handler) {
    post({ type: "comm_done", parent: msg.parent });
    return;
  }
  const comm = new Comm(msg.commId, msg.targetName);
  comms.set(comm.id, comm);
  commDone(msg.parent);
  withParent(
    msg.parent,
    () => safely(`comm target ${msg.targetName}`, () => handler(comm, msg.data, msg.buffers)),
  );
}

/** A frontend message on a comm: its handlers run (an unknown comm's is only acknowledged). */
export function commMessage(msg: Extract<ToWorker, { type: "comm_msg" }>): void {
  commDone(msg.parent);
  const comm = comms.get(msg.commId);
  if (comm) {
    withParent(
      msg.parent,
      () => safely(`comm ${msg.commId}`, () => comm.deliver(msg.data, msg.buffers)),
    );
  }
}

/** The frontend closed a comm: its close handlers run. */
export function commClosed(msg: Extract<ToWorker, { type: "comm_close" }>): void {
  commDone(msg.parent);
  const comm = comms.get(msg.commId);
  if (comm) {
    withParent(
      msg.parent,
      () => safely(`comm ${msg.commId}`, () => comm.closedRemotely(msg.data)),
    );
  }
}

/** Runs a comm callback, reporting its errors on stderr (a handler must not kill the kernel). */
function safely(what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    write("stderr", `${what} failed: ${e instanceof Error ? e.stack ?? e.message : inspect(e)}\n`);
  }
}

/** Acknowledges a frontend comm message once its handlers ran (queued after their output). */
function commDone(parent: number): void {
  queueMicrotask(() => post({ type: "comm_done", parent }));
}

/**
 * Output of a comm handler belongs to the comm message, unless a cell is running; comm messages it
 * sends always do.
 */
function withParent(parent: number, fn: () => void): void {
  const savedDelivering = deliveringParent;
  deliveringParent = parent;
  if (state.running) {
    try {
      return fn();
    } finally {
      deliveringParent = savedDelivering;
    }
  }
  const saved = state.currentParent;
  state.currentParent = parent;
  try {
    fn();
  } finally {
    // The handler's output leaves under the comm message before the parent is restored.
    flushStreams();
    state.currentParent = saved;
    deliveringParent = savedDelivering;
  }
}
