/**
 * The kernel's ZeroMQ sockets: shell, control and stdin (ROUTER), iopub (PUB), heartbeat (echo).
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

/** A socket whose sends are queued, so concurrent callers never collide. */
export class QueuedSocket {
  #tail: Promise<void> = Promise.resolve();
  constructor(readonly socket: zmq.Router | zmq.Publisher) {}
  /** Sends one multipart message after all earlier ones; logs (never throws) on failure. */
  send(frames: Uint8Array[]): Promise<void> {
    const next = this.#tail.then(() => this.socket.send(frames)).catch((e) => {
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
  iopub: zmq.Publisher;
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
  const iopub = new zmq.Publisher({ linger: 1000 });
  const heartbeat = new zmq.Router(opts);
  await shell.bind(endpoint(info, "shell_port"));
  await control.bind(endpoint(info, "control_port"));
  await stdin.bind(endpoint(info, "stdin_port"));
  await iopub.bind(endpoint(info, "iopub_port"));
  await heartbeat.bind(endpoint(info, "hb_port"));
  return {
    shell,
    control,
    stdin,
    iopub,
    heartbeat,
    close() {
      for (const s of [shell, control, stdin, iopub, heartbeat]) {
        try {
          s.close();
        } catch { /* already closed */ }
      }
    },
  };
}

/**
 * Delivers incoming messages of several sockets by polling `socket.readable`.
 *
 * Why polling: under Deno, zeromq 6's native poller does not wake the event loop when a socket
 * becomes readable, so `for await (const msg of socket)` stalls until something else happens to
 * run the loop (measured: a heartbeat stops answering new peers). `receive()` on a readable
 * socket completes at once, so a short timer loop is reliable. It polls every millisecond while
 * traffic flows and every 10 ms when idle.
 */
export class SocketPoller {
  #sockets: { socket: zmq.Router; handler: (frames: Uint8Array[]) => void | Promise<void> }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = 0;
  #stopped = false;

  /** Calls `handler` for every message `socket` receives, in order. */
  add(socket: zmq.Router, handler: (frames: Uint8Array[]) => void | Promise<void>): void {
    this.#sockets.push({ socket, handler });
    if (this.#timer === undefined && !this.#stopped) this.#schedule(0);
  }

  /** Stops polling. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => this.#tick(), ms);
  }

  async #tick(): Promise<void> {
    for (const { socket, handler } of this.#sockets) {
      try {
        while (!socket.closed && socket.readable) {
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
    if (!this.#stopped) this.#schedule(Date.now() - this.#lastActivity < 500 ? 1 : 10);
  }
}

/** The heartbeat handler: echoes every ping back to its sender. */
export function heartbeatEcho(hb: zmq.Router): (frames: Uint8Array[]) => Promise<void> {
  // A ROUTER echoing [identity, "", ping] behaves as a REP socket for the client's REQ, and
  // survives clients that drop and re-create their socket mid-request.
  return (frames) => hb.send(frames);
}
