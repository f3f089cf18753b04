/**
 * The kernel: receives messages on shell/control/stdin, dispatches them through a table of
 * handlers (like ipykernel's kernel base), and publishes status and outputs on iopub. User code
 * runs in the executor worker, so heartbeat and control stay responsive while cells run.
 *
 * @example
 * ```ts
 * import { Kernel } from "./kernel.ts";
 * const kernel = new Kernel(info, compiler, { typecheck: true, history });
 * await kernel.start();
 * await kernel.closed; // resolves after shutdown_request
 * ```
 * @module
 */
import type { ConnectionInfo } from "./connection.ts";
import { CommRouter } from "./comm_router.ts";
import { type HelpRequest, pagePayload, parseHelpRequest } from "./pager.ts";
import { Executor } from "./executor.ts";
import type { CellOutcome, FromWorker } from "./executor_protocol.ts";
import type { History } from "./history.ts";
import {
  bindSockets,
  heartbeatEcho,
  type KernelSockets,
  QueuedSocket,
  SocketPoller,
} from "./sockets.ts";
import { deserialize, type Header, type Message, newHeader, serialize, Signer } from "./wire.ts";
import { PROTOCOL_VERSION } from "./wire.ts";
import { diagnosticsError, interruptedBeforeRun, traceback } from "./cell_errors.ts";
import type { CellDiagnostic } from "./compiler/types.ts";

/** Version of the teskd kernel. */
export const KERNEL_VERSION = "0.1.0";

/** A diagnostic of the cell compiler. */
export type Diagnostic = CellDiagnostic;

/**
 * What the kernel needs from the cell compiler: kernel/compiler_host.ts provides it (the compiler in
 * a worker, so type-checking never blocks heartbeat and control); kernel/compiler/mod.ts's
 * synchronous CellCompiler fits too.
 */
export interface CompilerLike {
  compile(
    code: string,
    opts?: { typecheck?: boolean },
  ): Awaitable<{
    ok: boolean;
    js?: string;
    diagnostics: Diagnostic[];
    /** `false`: committing this cell would change nothing, so the kernel does not. */
    declares?: boolean;
    mapStack?(stack: string): Awaitable<string>;
  }>;
  commit(code: string): Awaitable<void>;
  complete(code: string, cursorPos: number): Awaitable<{
    matches: string[];
    cursor_start: number;
    cursor_end: number;
    metadata: Record<string, unknown>;
  }>;
  inspect(code: string, cursorPos: number, detailLevel: 0 | 1): Awaitable<{
    found: boolean;
    data: Record<string, string>;
  }>;
  isComplete(code: string): Awaitable<{
    status: "complete" | "incomplete" | "invalid";
    indent?: string;
  }>;
  /** Forget all committed cells (the runtime lost its state). */
  reset?(): Awaitable<void>;
  /** Stop the type check in progress (an interrupt); its compile then fails. */
  cancel?(): void;
}

type Awaitable<T> = T | Promise<T>;

/** What a compile gives the kernel. */
type Compiled = Awaited<ReturnType<CompilerLike["compile"]>>;

/** Kernel settings. */
export interface KernelOptions {
  /** Type-check cells before running them (a cell opts out with `// @ts-nocheck`). */
  typecheck: boolean;
  history: History;
  /** Language version shown in kernel_info (TypeScript's). */
  languageVersion: string;
  /** The sockets, when they are being bound already (kernel/main.ts binds first); else start binds. */
  sockets?: Promise<KernelSockets>;
  /** The deno.json the executor process runs with (the one the kernel runs with). */
  configPath?: string;
}

type Channel = "shell" | "control";
type Handler = (msg: Message, channel: Channel) => Promise<void> | void;

const PARENT_KEEP = 4096;

/** One running kernel. */
export class Kernel {
  readonly session = crypto.randomUUID();
  #signer: Signer;
  #sockets!: KernelSockets;
  #out!: { shell: QueuedSocket; control: QueuedSocket; stdin: QueuedSocket; iopub: QueuedSocket };
  #executor: Executor;
  #executionCount = 0;
  #queue: Message[] = [];
  #wake: (() => void) | null = null;
  #parents = new Map<number, Message>();
  #parentSeq = 0;
  #comms: CommRouter;
  #pendingInputs: { requestId: number; sync: boolean }[] = [];
  #running: Message | null = null;
  /** A cell is being compiled (type-checked); an interrupt now stops it before it runs. */
  #compiling = false;
  #compileInterrupted = false;
  #closing = false;
  #closedResolve!: () => void;
  /** Resolves when the kernel has shut down. */
  readonly closed: Promise<void> = new Promise((r) => (this.#closedResolve = r));
  #handlers: Record<string, Handler>;
  #poller = new SocketPoller();

  constructor(
    readonly info: ConnectionInfo,
    readonly compiler: CompilerLike,
    readonly options: KernelOptions,
  ) {
    this.#signer = new Signer(info.key);
    this.#executor = new Executor((m) => this.#fromWorker(m), {
      configPath: options.configPath,
    });
    this.#comms = new CommRouter({
      post: (m) => this.#executor.post(m),
      parentKey: (m) => this.#parentKey(m),
      refuse: (commId, m) => void this.#publish("comm_close", { comm_id: commId, data: {} }, m),
    });
    this.#executor.onRestart = () => {
      this.#comms.reset();
      Promise.resolve(this.compiler.reset?.()).catch((e) =>
        console.error(`teskd kernel: compiler reset failed: ${(e as Error).message}`)
      );
    };
    this.#handlers = {
      kernel_info_request: (m, ch) => this.#kernelInfo(m, ch),
      execute_request: (m) => this.#execute(m),
      complete_request: (m) => this.#complete(m),
      inspect_request: (m) => this.#inspect(m),
      is_complete_request: (m) => this.#isComplete(m),
      history_request: (m) => this.#history(m),
      comm_info_request: (m) => this.#commInfo(m),
      shutdown_request: (m, ch) => this.#shutdown(m, ch),
      interrupt_request: (m, ch) => this.#interruptRequest(m, ch),
    };
  }

  /**
   * Binds the sockets (unless `options.sockets` is binding them), begins serving, and resolves
   * once the executor's worker is ready, or the kernel was shut down before that.
   */
  async start(): Promise<void> {
    this.#sockets = await (this.options.sockets ?? bindSockets(this.info));
    // Sends on polled sockets may swallow their readiness signal: the poller re-checks after each.
    const kick = () => this.#poller.kick();
    this.#out = {
      shell: new QueuedSocket(this.#sockets.shell, kick),
      control: new QueuedSocket(this.#sockets.control, kick),
      stdin: new QueuedSocket(this.#sockets.stdin, kick),
      iopub: new QueuedSocket(this.#sockets.iopub, kick),
    };
    this.#publish("status", { execution_state: "starting" }, null);
    if (this.#poller.mechanism === "timer") {
      console.error(
        "teskd kernel: no poll(2) through FFI (TESKD_KERNEL_POLL=timer, or no ffi permission or " +
          "POSIX libc): checking the sockets every 1–10 ms instead",
      );
    }
    const hb = this.#sockets.heartbeat;
    this.#poller.add(hb, heartbeatEcho(hb));
    this.#poller.add(this.#sockets.control, (f) => this.#receive(f, "control"));
    this.#poller.add(this.#sockets.shell, (f) => this.#receive(f, "shell"));
    this.#poller.add(this.#sockets.stdin, (f) => this.#receiveStdin(f));
    this.#poller.add(this.#sockets.iopub, (f) => this.#subscribed(f));
    this.#shellLoop();
    // Requests are served while the executor's worker loads: only running code waits for it
    // (Executor.run awaits its start), so kernel_info and the like answer at once. A shutdown
    // meanwhile ends the wait.
    await Promise.race([this.#executor.start(), this.closed]);
    if (!this.#closing) this.#publish("status", { execution_state: "idle" }, null);
  }

  /** Interrupts the running cell (SIGINT and interrupt_request both come here). */
  interrupt(): void {
    if (this.#compiling) {
      this.#compileInterrupted = true;
      this.compiler.cancel?.();
    }
    // Pending input requests die with the cell; a late input_reply is then ignored.
    this.#pendingInputs = [];
    this.#executor.interrupt();
  }

  // ---- sending -----------------------------------------------------------------------------

  #message(
    msgType: string,
    content: Record<string, unknown>,
    parent: Message | null,
    identities: Uint8Array[] = [],
    metadata: Record<string, unknown> = {},
    buffers: Uint8Array[] = [],
  ): Uint8Array[] {
    return serialize(this.#signer, {
      identities,
      header: newHeader(msgType, this.session),
      parent_header: parent?.header ?? {},
      metadata,
      content,
      buffers,
    });
  }

  #publish(
    msgType: string,
    content: Record<string, unknown>,
    parent: Message | null,
    metadata: Record<string, unknown> = {},
    buffers: Uint8Array[] = [],
  ): Promise<void> {
    const topic = new TextEncoder().encode(`kernel.${this.session}.${msgType}`);
    const frames = this.#message(msgType, content, parent, [topic], metadata, buffers);
    return this.#out.iopub.send(frames);
  }

  #reply(
    channel: Channel,
    req: Message,
    content: Record<string, unknown>,
    metadata: Record<string, unknown> = {},
  ): Promise<void> {
    const type = req.header.msg_type.replace(/_request$/, "_reply");
    return this.#out[channel].send(this.#message(type, content, req, req.identities, metadata));
  }

  // ---- receiving ---------------------------------------------------------------------------

  #receive(frames: Uint8Array[], channel: Channel): void {
    const msg = this.#decode(frames, channel);
    if (!msg) return;
    const type = msg.header.msg_type;
    if (channel === "control") {
      this.#dispatch(msg, channel);
    } else if (type.startsWith("comm_") && type !== "comm_info_request") {
      // Comm traffic bypasses the queue so a running cell can receive it.
      this.#commWithStatus(msg);
    } else {
      this.#queue.push(msg);
      this.#wake?.();
    }
  }

  /**
   * A client subscribed to iopub: welcome it (protocol 5.4, JEP 65), so it knows from when on it
   * receives everything. Sent with the subscription as topic, so only prefixes it asked for match.
   */
  #subscribed(frames: Uint8Array[]): void {
    const event = frames[0];
    if (!event || event[0] !== 1) return; // an unsubscription
    const topic = event.subarray(1);
    const subscription = new TextDecoder().decode(topic);
    const welcome = this.#message("iopub_welcome", { subscription }, null, [topic.slice()]);
    void this.#out.iopub.send(welcome);
  }

  #decode(frames: Uint8Array[], channel: string): Message | null {
    try {
      return deserialize(this.#signer, frames);
    } catch (e) {
      console.error(`teskd kernel: dropped message on ${channel}: ${(e as Error).message}`);
      return null;
    }
  }

  #receiveStdin(frames: Uint8Array[]): void {
    const msg = this.#decode(frames, "stdin");
    if (!msg) return;
    if (msg.header.msg_type !== "input_reply") {
      console.error(`teskd kernel: unexpected ${msg.header.msg_type} on stdin, ignored`);
      return;
    }
    const pending = this.#pendingInputs.shift();
    if (!pending) {
      console.error("teskd kernel: input_reply without a pending input request, ignored");
      return;
    }
    const value = typeof msg.content.value === "string" ? msg.content.value : "";
    if (pending.sync) this.#executor.replySync(value);
    else this.#executor.post({ type: "input_reply", requestId: pending.requestId, value });
  }

  async #shellLoop(): Promise<void> {
    while (!this.#closing) {
      const msg = this.#queue.shift();
      if (!msg) {
        await new Promise<void>((r) => (this.#wake = r));
        this.#wake = null;
        continue;
      }
      await this.#dispatch(msg, "shell");
    }
  }

  async #dispatch(msg: Message, channel: Channel): Promise<void> {
    const handler = this.#handlers[msg.header.msg_type];
    if (!handler) {
      console.error(`teskd kernel: unknown message type ${msg.header.msg_type} on ${channel}`);
      return;
    }
    // Not awaited: iopub's send queue keeps busy ahead of everything the handler publishes, and
    // replies go out on other sockets, which are never ordered with iopub. Awaiting the send
    // only held up the handler.
    void this.#publish("status", { execution_state: "busy" }, msg);
    try {
      await handler(msg, channel);
    } catch (e) {
      console.error(
        `teskd kernel: handling ${msg.header.msg_type} failed: ${(e as Error).stack ?? e}`,
      );
    }
    await this.#publish("status", { execution_state: "idle" }, msg);
  }

  // ---- worker output -----------------------------------------------------------------------

  #parentKey(msg: Message): number {
    const key = ++this.#parentSeq;
    this.#parents.set(key, msg);
    if (this.#parents.size > PARENT_KEEP) {
      const oldest = this.#parents.keys().next().value;
      if (oldest !== undefined) this.#parents.delete(oldest);
    }
    return key;
  }

  #fromWorker(m: FromWorker): void {
    switch (m.type) {
      case "stream":
        this.#publish(
          "stream",
          { name: m.name, text: m.text },
          this.#parents.get(m.parent) ?? null,
        );
        break;
      case "iopub": {
        const parent = this.#parents.get(m.parent) ?? null;
        const buffers = (m.buffers ?? []).map((b) => new Uint8Array(b));
        const c = m.content;
        this.#comms.kernelSent(m.msgType, c);
        this.#publish(m.msgType, m.content, parent, m.metadata ?? {}, buffers);
        break;
      }
      case "input_request": {
        const parent = this.#parents.get(m.parent) ?? null;
        this.#pendingInputs.push({ requestId: m.requestId, sync: m.sync });
        this.#out.stdin.send(
          this.#message(
            "input_request",
            { prompt: m.prompt, password: m.password },
            parent,
            parent?.identities ?? [],
          ),
        );
        break;
      }
      case "comm_target":
        this.#comms.targetRegistered(m.name);
        break;
      case "comm_done":
        this.#comms.handled(m.parent);
        break;
      default:
        break;
    }
  }

  // ---- handlers ----------------------------------------------------------------------------

  #kernelInfo(msg: Message, channel: Channel): Promise<void> {
    return this.#reply(channel, msg, {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "teskd",
      implementation_version: KERNEL_VERSION,
      language_info: {
        name: "typescript",
        version: this.options.languageVersion,
        mimetype: "text/typescript",
        file_extension: ".ts",
        codemirror_mode: "typescript",
        pygments_lexer: "typescript",
      },
      banner:
        `teskd ${KERNEL_VERSION}: TypeScript ${this.options.languageVersion} on Deno ${Deno.version.deno}`,
      help_links: [
        { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/" },
        { text: "Deno manual", url: "https://docs.deno.com/" },
      ],
      debugger: false,
    });
  }

  async #execute(msg: Message): Promise<void> {
    const c = msg.content;
    const code = typeof c.code === "string" ? c.code : "";
    const silent = c.silent === true;
    const storeHistory = silent ? false : c.store_history !== false;
    const allowStdin = c.allow_stdin === true;
    const stopOnError = c.stop_on_error !== false;
    if (storeHistory) this.#executionCount++;
    const count = this.#executionCount;
    const help = parseHelpRequest(code);
    // The compiler worker starts on the cell while this thread publishes its input.
    const compiling = help ? undefined : this.#compile(code);
    if (!silent) this.#publish("execute_input", { code, execution_count: count }, msg);
    // Written in the background, in order; history requests answer from memory.
    if (storeHistory) void this.options.history.append(count, code);
    if (help) return this.#help(msg, help, count, silent);

    const outcome = await this.#runCode(code, msg, count, allowStdin, compiling);
    if (outcome.status === "ok") {
      if (outcome.result && !silent) {
        this.#publish("execute_result", {
          execution_count: count,
          data: outcome.result,
          metadata: outcome.resultMetadata ?? {},
        }, msg);
      }
      const userExpressions = await this.#userExpressions(c.user_expressions, msg);
      await this.#reply("shell", msg, {
        status: "ok",
        execution_count: count,
        user_expressions: userExpressions,
        payload: [],
      }, { status: "ok" });
      return;
    }
    // Which queued requests stop_on_error aborts is decided before the error reply goes out, so a
    // request the client sends after seeing the error runs normally (as in ipykernel).
    const aborted = stopOnError ? await this.#takeQueuedExecutes() : [];
    const error = { ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback };
    this.#publish("error", error, msg);
    await this.#reply("shell", msg, { status: "error", execution_count: count, ...error }, {
      status: "error",
    });
    for (const m of aborted) {
      await this.#publish("status", { execution_state: "busy" }, m);
      await this.#reply("shell", m, { status: "aborted", execution_count: this.#executionCount }, {
        status: "aborted",
      });
      await this.#publish("status", { execution_state: "idle" }, m);
    }
  }

  /** `name?` / `name??`: the inspection of `name` in the pager, as ipykernel answers it. */
  async #help(
    msg: Message,
    help: HelpRequest,
    count: number,
    silent: boolean,
  ): Promise<void> {
    let payload: Record<string, unknown>[] = [];
    try {
      const r = await this.compiler.inspect(help.name, help.name.length, help.detailLevel);
      if (r.found) payload = [pagePayload(r.data)];
      else if (!silent) {
        this.#publish(
          "stream",
          { name: "stdout", text: `Object \`${help.name}\` not found.\n` },
          msg,
        );
      }
    } catch (e) {
      if (!silent) {
        this.#publish("stream", {
          name: "stderr",
          text: `inspect failed: ${(e as Error).message}\n`,
        }, msg);
      }
    }
    await this.#reply("shell", msg, {
      status: "ok",
      execution_count: count,
      user_expressions: {},
      payload,
    }, { status: "ok" });
  }

  /**
   * Compiles `code`; never rejects. The interrupt flags follow this compile from the call on (an
   * async method runs up to its first await at once: the request is on its way when it returns).
   */
  async #compile(code: string): Promise<{ compiled?: Compiled; error?: Error }> {
    this.#compileInterrupted = false;
    this.#compiling = true;
    try {
      return { compiled: await this.compiler.compile(code, { typecheck: this.options.typecheck }) };
    } catch (e) {
      return { error: e as Error };
    } finally {
      this.#compiling = false;
    }
  }

  /**
   * Compiles (unless `compiling` was started already) and runs one piece of code; diagnostics and
   * runtime errors become an error.
   */
  async #runCode(
    code: string,
    msg: Message,
    count: number,
    allowStdin: boolean,
    compiling = this.#compile(code),
  ): Promise<
    | { status: "ok"; result?: Record<string, unknown>; resultMetadata?: Record<string, unknown> }
    | { status: "error"; ename: string; evalue: string; traceback: string[] }
  > {
    const { compiled, error } = await compiling;
    if (compiled === undefined) {
      const err = error ?? new Error("the compiler returned nothing");
      if (this.#compileInterrupted) return interruptedBeforeRun();
      return {
        status: "error",
        ename: "CompilerError",
        evalue: err.message,
        traceback: [`CompilerError: ${err.message}`],
      };
    }
    // Interrupted while its type check ran: the cell never starts.
    if (this.#compileInterrupted) return interruptedBeforeRun();
    const errors = compiled.diagnostics.filter((d) => d.category === "error");
    if (!compiled.ok || compiled.js === undefined) {
      return diagnosticsError(errors, count);
    }
    this.#running = msg;
    let outcome: CellOutcome;
    try {
      outcome = await this.#executor.run(
        count,
        compiled.js,
        this.#parentKey(msg),
        allowStdin,
      );
    } finally {
      this.#running = null;
    }
    // The cell ran (perhaps partly): its declarations now exist for later cells. A cell that
    // declares nothing is not sent: one message (and compiler wake-up) fewer per such cell.
    if (compiled.declares !== false) this.#commit(code);
    if (outcome.status === "ok") return outcome;
    let stack = outcome.stack;
    try {
      if (compiled.mapStack) stack = await compiled.mapStack(outcome.stack);
    } catch {
      // The stack stays in compiled-code positions: still a usable traceback.
    }
    return {
      status: "error",
      ename: outcome.ename,
      evalue: outcome.evalue,
      traceback: traceback(outcome.ename, outcome.evalue, stack),
    };
  }

  /** Records a cell that ran with the compiler; logs (never throws) on failure. */
  #commit(code: string): void {
    try {
      // Not awaited: the compiler takes requests in order, so the next cell's check sees it.
      Promise.resolve(this.compiler.commit(code)).catch((e) =>
        console.error(`teskd kernel: compiler commit failed: ${(e as Error).message}`)
      );
    } catch (e) {
      console.error(`teskd kernel: compiler commit failed: ${(e as Error).message}`);
    }
  }

  async #userExpressions(raw: unknown, msg: Message): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    if (typeof raw !== "object" || raw === null) return out;
    for (const [name, expr] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof expr !== "string") continue;
      const r = await this.#runCode(`(${expr})`, msg, this.#executionCount, false);
      out[name] = r.status === "ok"
        ? { status: "ok", data: r.result ?? { "text/plain": "undefined" }, metadata: {} }
        : { status: "error", ename: r.ename, evalue: r.evalue, traceback: r.traceback };
    }
    return out;
  }

  /** Removes the execute requests received so far from the shell queue (stop_on_error). */
  async #takeQueuedExecutes(): Promise<Message[]> {
    // Let the poller pull in requests already waiting in ZeroMQ's buffers.
    await new Promise((r) => setTimeout(r, 15));
    const keep: Message[] = [];
    const taken: Message[] = [];
    for (const m of this.#queue) {
      (m.header.msg_type === "execute_request" ? taken : keep).push(m);
    }
    this.#queue = keep;
    return taken;
  }

  async #complete(msg: Message): Promise<void> {
    const code = String(msg.content.code ?? "");
    const pos = Number(msg.content.cursor_pos ?? code.length);
    try {
      const r = await this.compiler.complete(code, pos);
      return this.#reply("shell", msg, { status: "ok", ...r });
    } catch (e) {
      return this.#replyError(msg, e);
    }
  }

  async #inspect(msg: Message): Promise<void> {
    const code = String(msg.content.code ?? "");
    const pos = Number(msg.content.cursor_pos ?? code.length);
    const level = msg.content.detail_level === 1 ? 1 : 0;
    try {
      const r = await this.compiler.inspect(code, pos, level);
      return this.#reply("shell", msg, { status: "ok", ...r, metadata: {} });
    } catch (e) {
      return this.#replyError(msg, e);
    }
  }

  async #isComplete(msg: Message): Promise<void> {
    try {
      const r = await this.compiler.isComplete(String(msg.content.code ?? ""));
      return this.#reply("shell", msg, { ...r });
    } catch (e) {
      return this.#replyError(msg, e);
    }
  }

  #replyError(msg: Message, e: unknown): Promise<void> {
    const err = e instanceof Error ? e : new Error(String(e));
    return this.#reply("shell", msg, {
      status: "error",
      ename: err.name,
      evalue: err.message,
      traceback: [`${err.name}: ${err.message}`],
    });
  }

  #history(msg: Message): Promise<void> {
    const c = msg.content;
    const h = this.options.history;
    const n = typeof c.n === "number" ? c.n : undefined;
    let rows: [number, number, string][] = [];
    switch (c.hist_access_type) {
      case "tail":
        rows = h.tail(n ?? 10);
        break;
      case "range":
        rows = h.range(
          typeof c.session === "number" ? c.session : 0,
          typeof c.start === "number" ? c.start : 0,
          typeof c.stop === "number" ? c.stop : undefined,
        );
        break;
      case "search":
        rows = h.search(String(c.pattern ?? "*"), n, c.unique === true);
        break;
      default:
        return this.#reply("shell", msg, {
          status: "error",
          ename: "ValueError",
          evalue: `history_request: unknown hist_access_type ${JSON.stringify(c.hist_access_type)}`,
          traceback: [],
        });
    }
    const history = c.output === true ? rows.map(([s, l, src]) => [s, l, [src, null]]) : rows;
    return this.#reply("shell", msg, { status: "ok", history });
  }

  #commInfo(msg: Message): Promise<void> {
    const target = typeof msg.content.target_name === "string" ? msg.content.target_name : null;
    return this.#reply("shell", msg, { status: "ok", comms: this.#comms.info(target) });
  }

  /**
   * Busy, then idle once its handlers ran, around every comm message, parented to it, also while a
   * cell runs: ipywidgets sends a model's next update only after the idle of the previous one. An
   * idle in the middle of a running cell would show the kernel idle, so busy is published again
   * for the running cell.
   */
  async #commWithStatus(msg: Message): Promise<void> {
    await this.#publish("status", { execution_state: "busy" }, msg);
    await this.#comms.handle(msg);
    await this.#publish("status", { execution_state: "idle" }, msg);
    if (this.#running !== null) {
      await this.#publish("status", { execution_state: "busy" }, this.#running);
    }
  }

  async #interruptRequest(msg: Message, channel: Channel): Promise<void> {
    this.interrupt();
    await this.#reply(channel, msg, { status: "ok" });
  }

  async #shutdown(msg: Message, channel: Channel): Promise<void> {
    const restart = msg.content.restart === true;
    await this.#reply(channel, msg, { status: "ok", restart });
    await this.#publish("shutdown_reply", { status: "ok", restart }, msg);
    await this.#publish("status", { execution_state: "idle" }, msg);
    this.close();
  }

  /** Stops the worker and closes the sockets. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#executor.terminate();
    const stopped = this.#poller.stop();
    this.#wake?.();
    // Give ZeroMQ a moment to flush the shutdown reply before the sockets go.
    setTimeout(async () => {
      await stopped; // no poll(2) may wait on the sockets' descriptors once they are closed
      this.#sockets.close();
      await this.options.history.flush(); // the last inputs reach the file before exit
      this.#closedResolve();
    }, 100);
  }
}

export type { Header };
