/**
 * An in-process comm transport for the widget tests: the kernel's contract (lib/jupyter.ts
 * CommTransport), installed on the well-known global, recording what the widgets send and playing
 * the front end's part. Like the kernel, it attributes what a comm sends while one of its handlers
 * runs to the message being handled (`parent`).
 */
import { type CommTransport, KERNEL_COMMS, type KernelComm } from "../../lib/jupyter.ts";
import { openWidgets } from "../../lib/widgets/mod.ts";

/** One message a comm sent. */
export interface SentMessage {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  buffers: ArrayBuffer[];
  /** Id of the front-end message being handled when it was sent, if any. */
  parent: string | undefined;
}

let nextId = 0;

/** A comm of the recording transport. */
export class RecordingComm implements KernelComm {
  readonly sent: SentMessage[] = [];
  closed = false;
  closeData: unknown;
  readonly #onMsg: ((data: unknown, buffers: ArrayBuffer[]) => void)[] = [];
  readonly #onClose: ((data: unknown) => void)[] = [];

  constructor(
    readonly id: string,
    readonly targetName: string,
    readonly transport: RecordingTransport,
    /** comm_open's data, metadata and buffers (kernel-opened comms). */
    readonly openData: Record<string, unknown>,
    readonly openMetadata: Record<string, unknown>,
    readonly openBuffers: ArrayBuffer[],
  ) {}

  send(data: unknown, metadata: Record<string, unknown> = {}, buffers: ArrayBuffer[] = []): void {
    if (this.closed) throw new Error(`comm ${this.id} is closed`);
    this.sent.push({
      data: structuredClone(data) as Record<string, unknown>,
      metadata,
      buffers,
      parent: this.transport.handling,
    });
  }

  close(data: unknown = {}): void {
    this.closed = true;
    this.closeData = data;
  }

  onMsg(handler: (data: unknown, buffers: ArrayBuffer[]) => void): void {
    this.#onMsg.push(handler);
  }

  onClose(handler: (data: unknown) => void): void {
    this.#onClose.push(handler);
  }

  /**
   * The front end sends `data` on this comm (as message `msgId`): the handlers run as the kernel's
   * dispatcher runs them (an exception escaping a handler fails the test).
   */
  deliver(data: unknown, buffers: ArrayBuffer[] = [], msgId = `fe-${++nextId}`): string {
    const saved = this.transport.handling;
    this.transport.handling = msgId;
    try {
      for (const h of this.#onMsg) h(structuredClone(data), buffers);
    } finally {
      this.transport.handling = saved;
    }
    return msgId;
  }

  /** The front end closes the comm. */
  closeFromFrontEnd(data: unknown = {}): void {
    this.closed = true;
    for (const h of this.#onClose) h(data);
  }

  /** The messages sent since `from` whose method is `method`. */
  messages(method: string, from = 0): SentMessage[] {
    return this.sent.slice(from).filter((m) => m.data.method === method);
  }
}

/** The recording transport; see the module docs. */
export class RecordingTransport implements CommTransport {
  /** Every comm the kernel side opened, in order. */
  readonly opened: RecordingComm[] = [];
  /** Targets the kernel side registered. */
  readonly targets = new Map<
    string,
    (comm: KernelComm, data: unknown, buffers: ArrayBuffer[]) => void
  >();
  /** Id of the front-end message whose handlers are running. */
  handling: string | undefined;

  open(
    targetName: string,
    data: unknown = {},
    metadata: Record<string, unknown> = {},
    buffers: ArrayBuffer[] = [],
  ): RecordingComm {
    const comm = new RecordingComm(
      `comm${++nextId}`,
      targetName,
      this,
      structuredClone(data) as Record<string, unknown>,
      metadata,
      buffers,
    );
    this.opened.push(comm);
    return comm;
  }

  registerTarget(
    name: string,
    handler: (comm: KernelComm, data: unknown, buffers: ArrayBuffer[]) => void,
  ): void {
    this.targets.set(name, handler);
  }

  /** The front end opens a comm on a registered target. */
  openFromFrontEnd(target: string, data: unknown = {}): RecordingComm {
    const handler = this.targets.get(target);
    if (!handler) throw new Error(`no target ${target}`);
    const comm = new RecordingComm(`fe-comm${++nextId}`, target, this, {}, {}, []);
    handler(comm, data, []);
    return comm;
  }

  /** The comm of a widget, by model id. */
  comm(modelId: string): RecordingComm {
    const c = this.opened.find((c) => c.id === modelId);
    if (!c) throw new Error(`no comm ${modelId}`);
    return c;
  }

  /** The opened comm whose state has `_model_name` `name` (the last one). */
  byModel(name: string): RecordingComm[] {
    return this.opened.filter((c) =>
      (c.openData.state as Record<string, unknown>)._model_name === name
    );
  }
}

/**
 * Installs a fresh recording transport as the kernel's; `uninstall` closes the widgets still open
 * (as a kernel restart would end them) and removes it.
 */
export function installTransport(): RecordingTransport & { uninstall(): void } {
  const t = new RecordingTransport() as RecordingTransport & { uninstall(): void };
  Object.defineProperty(globalThis, KERNEL_COMMS, { value: t, configurable: true });
  t.uninstall = () => {
    for (const w of openWidgets()) w.close();
    delete (globalThis as unknown as Record<symbol, unknown>)[KERNEL_COMMS];
  };
  return t;
}

/** Runs `fn` with a recording transport installed, removing it afterwards. */
export async function withTransport(
  fn: (t: RecordingTransport) => void | Promise<void>,
): Promise<void> {
  const t = installTransport();
  try {
    await fn(t);
  } finally {
    t.uninstall();
  }
}

/** Runs `fn` with stderr captured; returns what was written. */
export async function captureStderr(fn: () => void | Promise<void>): Promise<string> {
  const original = Deno.stderr.writeSync;
  let text = "";
  Object.defineProperty(Deno.stderr, "writeSync", {
    value: (p: Uint8Array) => {
      text += new TextDecoder().decode(p);
      return p.length;
    },
    configurable: true,
    writable: true,
  });
  try {
    await fn();
  } finally {
    Object.defineProperty(Deno.stderr, "writeSync", {
      value: original,
      configurable: true,
      writable: true,
    });
  }
  return text;
}
