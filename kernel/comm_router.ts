/**
 * The kernel's comm bookkeeping (as ipykernel's comm manager): which comm targets user code
 * registered, which comms are open (opened by either side), and the routing of the frontend's
 * comm_open / comm_msg / comm_close to the executor, with the wait until its handlers ran.
 *
 * @example
 * ```ts
 * const router = new CommRouter({ post: (m) => executor.post(m), parentKey: (m) => key(m),
 *   refuse: (id, m) => publishClose(id, m) });
 * router.targetRegistered("jupyter.widget");
 * await router.handle(commOpenMessage); // resolves once the worker's handler returned
 * ```
 * @module
 */
import type { ToExecutor } from "./executor_protocol.ts";
import type { Message } from "./wire.ts";

/** Longest wait for a comm handler before the kernel goes idle anyway (a handler may never end). */
export const COMM_HANDLER_WAIT_MS = 5000;

/** What the router needs from the kernel. */
export interface CommRouterDeps {
  /** Sends a comm message on to the executor. */
  post(msg: ToExecutor): void;
  /** A key the executor's output for `msg` will carry (Kernel's parent keys). */
  parentKey(msg: Message): number;
  /** Answers a comm_open for a target nobody registered (with a comm_close, as ipykernel does). */
  refuse(commId: string, msg: Message): void;
}

/** Open comms and registered targets, and delivery of the frontend's comm messages. */
export class CommRouter {
  readonly #targets = new Set<string>();
  /** comm id → target name. */
  readonly #comms = new Map<string, string>();
  readonly #waiters = new Map<number, () => void>();

  constructor(readonly deps: CommRouterDeps) {}

  /** User code registered a comm target. */
  targetRegistered(name: string): void {
    this.#targets.add(name);
  }

  /** The kernel side opened (`comm_open`) or closed (`comm_close`) a comm. */
  kernelSent(msgType: string, content: Record<string, unknown>): void {
    if (msgType === "comm_open") {
      this.#comms.set(String(content.comm_id), String(content.target_name));
    }
    if (msgType === "comm_close") this.#comms.delete(String(content.comm_id));
  }

  /** The executor finished handling the frontend message with parent key `parent`. */
  handled(parent: number): void {
    this.#waiters.get(parent)?.();
    this.#waiters.delete(parent);
  }

  /** comm_info_reply's `comms`: open comms, of `target` only when given. */
  info(target: string | null): Record<string, { target_name: string }> {
    const comms: Record<string, { target_name: string }> = {};
    for (const [id, name] of this.#comms) {
      if (target === null || target === name) comms[id] = { target_name: name };
    }
    return comms;
  }

  /** The executor restarted: its targets and comms are gone. */
  reset(): void {
    this.#targets.clear();
    this.#comms.clear();
  }

  /**
   * Routes a frontend comm message to the executor; resolves when its handlers ran (at most
   * {@link COMM_HANDLER_WAIT_MS}), or at once when it goes nowhere.
   */
  async handle(msg: Message): Promise<void> {
    const key = this.#route(msg);
    if (key === null) return;
    await new Promise<void>((resolve) => {
      this.#waiters.set(key, resolve);
      setTimeout(resolve, COMM_HANDLER_WAIT_MS);
    });
    this.#waiters.delete(key);
  }

  /** Posts `msg` to the executor; returns the parent key it will acknowledge, or null. */
  #route(msg: Message): number | null {
    const c = msg.content;
    const commId = typeof c.comm_id === "string" ? c.comm_id : "";
    const buffers = msg.buffers.map((b) => b.slice().buffer as ArrayBuffer);
    switch (msg.header.msg_type) {
      case "comm_open": {
        const target = String(c.target_name ?? "");
        if (!this.#targets.has(target)) {
          console.error(`teskd kernel: comm_open for unknown target ${JSON.stringify(target)}`);
          this.deps.refuse(commId, msg);
          return null;
        }
        this.#comms.set(commId, target);
        const parent = this.deps.parentKey(msg);
        this.deps.post({
          type: "comm_open",
          commId,
          targetName: target,
          data: c.data ?? {},
          buffers,
          parent,
        });
        return parent;
      }
      case "comm_msg": {
        if (!this.#comms.has(commId)) {
          console.error(`teskd kernel: comm_msg for unknown comm ${commId}`);
          return null;
        }
        const parent = this.deps.parentKey(msg);
        this.deps.post({ type: "comm_msg", commId, data: c.data ?? {}, buffers, parent });
        return parent;
      }
      case "comm_close": {
        if (!this.#comms.delete(commId)) return null;
        const parent = this.deps.parentKey(msg);
        this.deps.post({ type: "comm_close", commId, data: c.data ?? {}, parent });
        return parent;
      }
      default:
        console.error(`teskd kernel: unknown message type ${msg.header.msg_type} on shell`);
        return null;
    }
  }
}
