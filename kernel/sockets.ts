/**
 * The kernel's ZeroMQ sockets: shell, control and stdin (ROUTER), iopub (XPUB: a PUB that also
 * hears subscriptions, for protocol 5.4's `iopub_welcome`), heartbeat (echo).
 * zeromq 6 allows one send at a time per socket, so every socket gets a send queue.
 *
 * @example
 * ```ts
 * import { bindSockets } from "./sockets.ts";
 * const sockets = await bindSockets(info); // info from readConnectionFile
 * await sockets.iopub.send([topic, ...frames]);
 * ```
 * @module
 */
import * as zmq from "zeromq";
import { type ConnectionInfo, endpoint } from "./connection.ts";
import { FdWaiter } from "./fd_wait.ts";

/** A socket whose sends are queued, so concurrent callers never collide. */
export class QueuedSocket {
  #tail: Promise<void> = Promise.resolve();
  /**
   * `afterSend` runs after each send: {@linkcode SocketPoller.kick} for a socket that is also
   * polled, since a send may consume the socket's readiness signal.
   */
  constructor(
    readonly socket: zmq.Router | zmq.XPublisher,
    readonly afterSend: () => void = () => {},
  ) {}
  /** Sends one multipart message after all earlier ones; logs (never throws) on failure. */
  send(frames: Uint8Array[]): Promise<void> {
    const next = this.#tail.then(() => this.socket.send(frames)).then(this.afterSend, (e) => {
      this.afterSend();
      console.error(`teskd kernel: send failed: ${(e as Error).message}`);
    });
    this.#tail = next;
    return next;
  }
}

/** The bound sockets of one kernel. */
export interface KernelSockets {
  shell: zmq.Router;
  control: zmq.Router;
  stdin: zmq.Router;
  /** Receives `[\x01 + topic]` for each subscription (every one: verbosity "allSubs"). */
  iopub: zmq.XPublisher;
  /** A ROUTER that echoes (as ipykernel's heartbeat device does); REP semantics for clients. */
  heartbeat: zmq.Router;
  close(): void;
}

/** Binds all five channels described by the connection file. */
export async function bindSockets(info: ConnectionInfo): Promise<KernelSockets> {
  // No maxMessageSize: zeromq 6 under Deno stops a REP socket from answering when it is set.
  const opts = { linger: 0 };
  const shell = new zmq.Router(opts);
  const control = new zmq.Router(opts);
  const stdin = new zmq.Router(opts);
  // Every subscription is passed up, not only the first of a topic: each new client gets a welcome.
  const iopub = new zmq.XPublisher({ linger: 1000, verbosity: "allSubs" });
  const heartbeat = new zmq.Router(opts);
  const all = [shell, control, stdin, iopub, heartbeat];
  const close = () => {
    for (const s of all) {
      try {
        s.close();
      } catch { /* already closed */ }
    }
  };
  // All at once (each bind completes off this thread); if one fails, none stays bound.
  const binds = await Promise.allSettled([
    shell.bind(endpoint(info, "shell_port")),
    control.bind(endpoint(info, "control_port")),
    stdin.bind(endpoint(info, "stdin_port")),
    iopub.bind(endpoint(info, "iopub_port")),
    heartbeat.bind(endpoint(info, "hb_port")),
  ]);
  const failed = binds.find((b) => b.status === "rejected");
  if (failed) {
    close();
    throw failed.reason;
  }
  return {
    shell,
    control,
    stdin,
    iopub,
    heartbeat,
    close,
  };
}

/** How a {@linkcode SocketPoller} learns that a socket has messages. */
export type PollMechanism = "fd" | "timer";

/** Options of {@linkcode SocketPoller}. */
export interface SocketPollerOptions {
  /**
   * `"fd"`: wait in poll(2) on the sockets' ZMQ_FD descriptors (fd_wait.ts; needs the `ffi`
   * permission); `"timer"`: check every 1 ms while traffic flows, every 10 ms when idle. Default
   * `"auto"`: `"fd"` where it is available, else `"timer"`.
   */
  mechanism?: "auto" | PollMechanism;
  /**
   * With `"fd"`: the longest wait before the sockets are checked anyway, a safety net that bounds
   * the delay should a readiness signal ever be missed (ms, default 250).
   */
  recheckMs?: number;
}

/** A socket the poller can read: the ROUTERs, and the XPUB (its subscriptions). */
export type PolledSocket = zmq.Router | zmq.XPublisher;

/** ZeroMQ's ZMQ_FD socket option: the descriptor that signals that the socket has events. */
const ZMQ_FD = 14;

/** The descriptor behind a zeromq.js socket (`getInt32Option` is protected in its typings). */
function zmqFd(socket: PolledSocket): number {
  return (socket as unknown as { getInt32Option(option: number): number }).getInt32Option(ZMQ_FD);
}

/**
 * Delivers incoming messages of several sockets, in order per socket.
 *
 * Why not `for await (const msg of socket)`: under Deno, zeromq 6's native poller does not wake
 * the event loop when a socket becomes readable, so such a loop stalls until something else happens
 * to run the loop (measured: a heartbeat stops answering new peers). `receive()` on a socket that
 * reports `readable` completes at once, so the poller only needs to know when to look:
 *
 * - `"fd"`: each socket's ZMQ_FD, waited on in poll(2) on a thread of Deno's FFI pool; the
 *   event loop wakes as soon as a message arrives and sleeps while none does. ZMQ_FD is
 *   edge-triggered: any operation on the socket (a send included) may consume its signal while a
 *   message is pending. So the poller checks `readable` on every socket before each wait, and
 *   {@linkcode kick} (called after every send on a polled socket, see {@linkcode QueuedSocket})
 *   checks again at once, on the event loop's thread.
 * - `"timer"` (no `ffi` permission): `readable` checked every 1 ms while traffic flows (500 ms
 *   after the last message) and every 10 ms when idle.
 */
export class SocketPoller {
  #sockets: { socket: PolledSocket; handler: (frames: Uint8Array[]) => void | Promise<void> }[] =
    [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = 0;
  #stopped = false;
  #started = false;
  #waiter: FdWaiter | undefined;
  #fds: number[] = [];
  #loop: Promise<void> | undefined;
  /** The last drain scheduled; drains run one after the other, never two at once. */
  #drainTail: Promise<void> = Promise.resolve();
  /** A drain is scheduled and has not started yet (later requests join it). */
  #drainPending = false;
  /** Why the poll(2) loop must hand over to timers, once something made it unusable. */
  #fallBack: string | undefined;
  readonly #recheckMs: number;

  /** Picks the mechanism; polling starts with the first {@linkcode add}. */
  constructor(opts: SocketPollerOptions = {}) {
    const wanted = opts.mechanism ?? "auto";
    this.#recheckMs = opts.recheckMs ?? 250;
    if (wanted !== "timer") this.#waiter = FdWaiter.open();
    if (wanted === "fd" && !this.#waiter) {
      throw new Error(
        "SocketPoller: mechanism 'fd' needs the ffi permission and a POSIX libc (Linux, macOS)",
      );
    }
  }

  /** The mechanism in use (`"fd"` can turn into `"timer"` should poll(2) fail). */
  get mechanism(): PollMechanism {
    return this.#waiter ? "fd" : "timer";
  }

  /** Calls `handler` for every message `socket` receives, in order. */
  add(socket: PolledSocket, handler: (frames: Uint8Array[]) => void | Promise<void>): void {
    if (this.#waiter && this.#fallBack === undefined) {
      try {
        this.#fds.push(zmqFd(socket));
      } catch (e) {
        this.#fallBack = `cannot read a socket's ZMQ_FD (${(e as Error).message})`;
        this.#waiter.wake();
      }
    }
    this.#sockets.push({ socket, handler });
    if (this.#started || this.#stopped) {
      this.#waiter?.wake(); // a wait in flight does not watch the new descriptor: start another
      this.kick();
      return;
    }
    this.#started = true;
    if (this.#waiter) this.#loop = this.#fdLoop(this.#waiter);
    else this.#schedule(0);
  }

  /**
   * Has the sockets checked now, on this thread (a wait in flight goes on: waking its thread would
   * cost more than the check). Call it after sending on a polled socket: the send may have consumed
   * the readiness signal of a message that arrived meanwhile.
   */
  kick(): void {
    if (this.#started && !this.#stopped) void this.#scheduleDrain();
  }

  /** Stops polling; resolves once no wait is in flight any more. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#waiter?.wake();
    if (this.#loop) await this.#loop; // closes the waiter
    else await this.#waiter?.close();
  }

  async #fdLoop(waiter: FdWaiter): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      await this.#scheduleDrain();
      if (this.#stopped) break;
      if (this.#fallBack !== undefined) break;
      // A kick during the drain scheduled another: run it first. No await between this check and
      // the start of poll(2), so no kick falls in between; later ones drain on their own.
      if (this.#drainPending) continue;
      const outcome = await waiter.wait(this.#fds, this.#recheckMs);
      // A signal can interrupt poll(2) now and then; failing again and again, or a descriptor gone
      // bad (a socket closed under us), means every wait would return at once.
      failures = outcome === "failed" ? failures + 1 : 0;
      if (outcome === "invalid") this.#fallBack ??= "poll(2) found a socket's descriptor closed";
      if (failures >= 20) this.#fallBack ??= "poll(2) on the sockets keeps failing";
    }
    if (this.#fallBack !== undefined) {
      console.error(`teskd kernel: ${this.#fallBack}; polling with timers instead`);
      this.#waiter = undefined;
    }
    await waiter.close();
    if (!this.#stopped && this.#fallBack !== undefined) this.#schedule(0);
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    await this.#scheduleDrain();
    if (!this.#stopped) this.#schedule(Date.now() - this.#lastActivity < 500 ? 1 : 10);
  }

  /** Runs #drain after the drains already scheduled (joining one that has not started yet). */
  #scheduleDrain(): Promise<void> {
    if (this.#drainPending) return this.#drainTail;
    this.#drainPending = true;
    this.#drainTail = this.#drainTail.then(() => {
      this.#drainPending = false;
      return this.#drain();
    });
    return this.#drainTail;
  }

  /** Hands every message already waiting in the sockets to its handler. */
  async #drain(): Promise<void> {
    for (const { socket, handler } of this.#sockets) {
      try {
        while (!this.#stopped && !socket.closed && socket.readable) {
          const frames = await socket.receive();
          this.#lastActivity = Date.now();
          try {
            await handler(frames);
          } catch (e) {
            console.error(`teskd kernel: message handler failed: ${(e as Error).stack ?? e}`);
          }
        }
      } catch (e) {
        if (!socket.closed) console.error(`teskd kernel: receive failed: ${(e as Error).message}`);
      }
    }
  }
}

/** The heartbeat handler: echoes every ping back to its sender. */
export function heartbeatEcho(hb: zmq.Router): (frames: Uint8Array[]) => Promise<void> {
  // A ROUTER echoing [identity, "", ping] behaves as a REP socket for the client's REQ, and
  // survives clients that drop and re-create their socket mid-request.
  return (frames) => hb.send(frames);
}
