/**
 * The kernel's side of cell execution: owns the executor process (executor_host.ts, which holds the
 * worker that runs user code), runs compiled cells in it, interrupts them, and replaces the process
 * only when asked twice or when it dies.
 *
 * Interrupts keep state, as ipykernel does with C extensions: the first one stops instrumented code
 * at once; a synchronous call that cannot be stopped (an uninstrumented module, a long library
 * call) runs to its end, then the cell stops with `KeyboardInterrupt`. If the cell has not stopped
 * after {@link INTERRUPT_GRACE_MS}, the cell's stderr says so, once, and that a second interrupt
 * resets the kernel. Only that second interrupt (or a restart) replaces the executor, losing its
 * state.
 *
 * User code runs in its own process so that running out of memory cannot take the kernel with it:
 * V8 ends the whole process when a heap reaches its limit, and the system's OOM killer ends the
 * process holding the memory. Either way this side sees the executor process end, fails the running
 * cell with {@link OUT_OF_MEMORY_ENAME} (or the exit status), says that the state is lost, and starts
 * a new executor; the kernel keeps answering.
 *
 * @example
 * ```ts
 * import { Executor } from "./executor.ts";
 * const ex = new Executor((msg) => console.log(msg));
 * await ex.start();
 * const outcome = await ex.run(1, "return 1 + 1;", 0, false);
 * ```
 * @module
 */
import { join } from "node:path";
import type { CellOutcome, FromExecutor, ToExecutor } from "./executor_protocol.ts";
import { FrameChannel } from "./frame_channel.ts";
import { INTERRUPT_ENAME } from "./runtime_contract.ts";

/** Milliseconds an interrupted cell gets to stop before its stderr says what a second interrupt does. */
export const INTERRUPT_GRACE_MS = 1500;

/** What the cell's stderr says when an interrupted cell is still in a synchronous call. */
export const WAITING_NOTICE =
  "KeyboardInterrupt: waiting for a synchronous call that cannot be stopped; the cell stops when " +
  "it returns. Interrupt again to reset the kernel (its state will be lost).\n";

/** Name of the error of a cell that ran out of memory (the executor process ended). */
export const OUT_OF_MEMORY_ENAME = "OutOfMemoryError";

/** Name of the error of a cell whose executor process ended for another reason. */
export const EXECUTOR_DIED_ENAME = "ExecutorDied";

/** Environment variable that sets V8's heap limit of the executor process, MiB. */
export const HEAP_LIMIT_ENV = "TESKD_HEAP_LIMIT_MB";

/** How much of the executor's stderr is kept to tell why it ended. */
const STDERR_TAIL_BYTES = 16 * 1024;

/** Options of {@link Executor}. */
export interface ExecutorOptions {
  /** The deno.json the executor process runs with (its import map); default Deno's discovery. */
  configPath?: string;
  /** V8's heap limit of the executor process, MiB; default `$TESKD_HEAP_LIMIT_MB`, else V8's. */
  heapLimitMb?: number;
}

interface Running {
  cellId: number;
  parent: number;
  resolve: (o: CellOutcome) => void;
  /** An interrupt of this cell is pending (it has not stopped yet). */
  interrupted: boolean;
}

/** One executor process and the kernel's connection to it. */
interface Process {
  child: Deno.ChildProcess;
  channel: FrameChannel<ToExecutor, FromExecutor> | null;
  /** The last bytes it wrote to stderr (V8's fatal OOM message lands here). */
  stderrTail: string;
  /** Set when this side ended it on purpose (a reset, a shutdown). */
  ending: boolean;
  /** Its worker said it is ready (until then, its end is a failed start, not a crash). */
  ready: boolean;
}

/** Runs cells in one persistent executor process. */
export class Executor {
  #process: Process | null = null;
  #running: Running | null = null;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #ready: Promise<void> = Promise.resolve();
  #heapLimitBytes = 0;
  /** Parent key of the last cell run, for a notice when the executor dies between cells. */
  #lastParent = 0;
  #terminated = false;
  /** Counts launches: a launch that is no longer the latest starts nothing. */
  #launches = 0;
  readonly #heapLimitMb: number | undefined;
  /** Called after the executor had to be replaced (its state is gone). */
  onRestart: () => void = () => {};

  /** `onMessage` receives the worker's output, input requests and comm target registrations. */
  constructor(
    readonly onMessage: (msg: Exclude<FromExecutor, { type: "ready" | "done" }>) => void,
    readonly options: ExecutorOptions = {},
  ) {
    this.#heapLimitMb = options.heapLimitMb ?? heapLimitFromEnv();
  }

  /** The executor process's id (none before a start, or after terminate). */
  get pid(): number | undefined {
    return this.#process?.child.pid;
  }

  /** Starts the executor process and waits until its worker is ready. */
  start(): Promise<void> {
    this.#ready = this.#launch();
    return this.#ready;
  }

  /** True while a cell runs. */
  get busy(): boolean {
    return this.#running !== null;
  }

  /** Runs compiled cell code; resolves with its outcome (never rejects). */
  async run(
    cellId: number,
    js: string,
    parent: number,
    allowStdin: boolean,
  ): Promise<CellOutcome> {
    try {
      // A reset while waiting starts another executor: wait for the one that will run the cell.
      let ready: Promise<void>;
      do {
        ready = this.#ready;
        await ready;
      } while (ready !== this.#ready);
    } catch (e) {
      return {
        status: "error",
        ename: EXECUTOR_DIED_ENAME,
        evalue: (e as Error).message,
        stack: "",
        interrupted: false,
      };
    }
    this.#lastParent = parent;
    return new Promise<CellOutcome>((resolve) => {
      this.#running = { cellId, parent, resolve, interrupted: false };
      this.#send({ type: "run", cellId, js, parent, allowStdin });
    });
  }

  /** Forwards a message (comm traffic, async input replies) to the worker. */
  post(msg: ToExecutor): void {
    this.#send(msg);
  }

  /**
   * Interrupts the running cell: the executor process raises the shared flag (stops synchronous
   * loops at the next guard call, and the library between kernels), cancels a blocked `prompt()`,
   * and tells the worker to reject an awaiting cell. A cell still running after
   * {@link INTERRUPT_GRACE_MS} gets {@link WAITING_NOTICE} on its stderr; a second interrupt of the
   * same cell replaces the executor.
   */
  interrupt(): void {
    const running = this.#running;
    if (running?.interrupted) {
      this.#replace(INTERRUPT_ENAME, "a second interrupt reset the kernel; its state was lost");
      return;
    }
    this.#send({ type: "interrupt" });
    if (running) {
      running.interrupted = true;
      this.#watchdog = setTimeout(() => {
        this.#watchdog = undefined;
        if (this.#running === running) {
          this.onMessage({
            type: "stream",
            name: "stderr",
            text: WAITING_NOTICE,
            parent: running.parent,
          });
        }
      }, INTERRUPT_GRACE_MS);
    }
  }

  /** Delivers the reply of a synchronous `prompt()` to the blocked worker. */
  replySync(value: string): void {
    this.#send({ type: "stdin_reply", value });
  }

  /** Stops the executor for good. */
  terminate(): void {
    this.#terminated = true;
    if (this.#watchdog !== undefined) clearTimeout(this.#watchdog);
    this.#end(this.#process);
    this.#process = null;
  }

  #send(msg: ToExecutor): void {
    this.#process?.channel?.send(msg);
  }

  /** Starts an executor process, accepts its connection and waits for its worker. */
  async #launch(): Promise<void> {
    const launch = ++this.#launches;
    // A Unix socket's path has at most 107 bytes: a deep TMPDIR falls back to /tmp.
    let dir = await Deno.makeTempDir({ prefix: "teskd-executor-" });
    if (join(dir, "executor.sock").length > 100) {
      await Deno.remove(dir);
      dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "teskd-executor-" });
    }
    // Terminated, or replaced by a newer launch, while the folder was made: start nothing.
    if (this.#terminated || launch !== this.#launches) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      return;
    }
    const socketPath = join(dir, "executor.sock");
    const listener = Deno.listen({ transport: "unix", path: socketPath });
    const args = ["run", "--allow-all", "--no-prompt"];
    if (this.options.configPath) args.push("--config", this.options.configPath);
    if (this.#heapLimitMb !== undefined) {
      args.push(`--v8-flags=--max-old-space-size=${this.#heapLimitMb}`);
    }
    args.push(new URL("./executor_host.ts", import.meta.url).pathname, socketPath);
    const child = new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "inherit",
      stderr: "piped",
    }).spawn();
    const proc: Process = { child, channel: null, stderrTail: "", ending: false, ready: false };
    this.#process = proc;
    this.#watchStderr(proc);
    const exited = child.status.then((status) => {
      this.#exited(proc, status);
      return status;
    });
    try {
      const accepted = await Promise.race([listener.accept(), exited]);
      if (!("read" in accepted)) throw new Error(notStarted(proc, accepted));
      const channel = new FrameChannel<ToExecutor, FromExecutor>(accepted);
      proc.channel = channel;
      const ready = new Promise<void>((resolve, reject) => {
        this.#receive(proc, channel, resolve);
        exited.then((status) => reject(new Error(notStarted(proc, status))));
      });
      await ready;
    } catch (e) {
      // Ended on purpose while it started (a shutdown right after the kernel's start, or a reset):
      // not a failure to start. Whoever ended it has moved on.
      if (proc.ending || this.#terminated) return;
      throw e;
    } finally {
      listener.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }

  async #receive(
    proc: Process,
    channel: FrameChannel<ToExecutor, FromExecutor>,
    ready: () => void,
  ) {
    try {
      for await (const msg of channel.messages()) {
        if (msg.type === "ready") {
          this.#heapLimitBytes = msg.heapLimitBytes;
          proc.ready = true;
          ready();
        } else if (msg.type === "done") this.#finish(msg.cellId, msg.outcome);
        else this.onMessage(msg);
      }
    } catch (e) {
      console.error(`teskd kernel: executor channel failed: ${(e as Error).message}`);
      if (this.#process === proc) this.#replace(EXECUTOR_DIED_ENAME, (e as Error).message);
    }
  }

  /** Forwards the executor's stderr to the kernel's, keeping its tail. */
  async #watchStderr(proc: Process): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of proc.child.stderr) {
      try {
        await Deno.stderr.write(chunk);
      } catch {
        // the kernel's stderr is gone; the tail is still kept
      }
      proc.stderrTail = (proc.stderrTail + decoder.decode(chunk, { stream: true }))
        .slice(-STDERR_TAIL_BYTES);
    }
  }

  /** The executor process ended: unless this side ended it, fail the cell and start another. */
  #exited(proc: Process, status: Deno.CommandStatus): void {
    proc.channel?.close();
    if (proc.ending || this.#process !== proc || this.#terminated) return;
    // Ended before its worker was ready: the start fails with the reason (#launch), and is not
    // retried, so an executor that cannot start (a broken deno.json) is no restart loop.
    if (!proc.ready) return;
    // Let the last stderr bytes arrive: they say whether V8 ran out of heap.
    setTimeout(() => {
      if (this.#process !== proc) return;
      const { ename, reason } = this.#ended(proc, status);
      this.#replace(ename, reason);
    }, 50);
  }

  /** Why an executor process ended, as the running cell's error says it. */
  #ended(proc: Process, status: Deno.CommandStatus): { ename: string; reason: string } {
    const lost = "The executor was restarted: the kernel's state (variables, imports, models) is " +
      "lost; run the cells again.";
    if (V8_OUT_OF_HEAP.test(proc.stderrTail)) {
      const limit = this.#heapLimitMb !== undefined
        ? `${this.#heapLimitMb} MiB, set by ${HEAP_LIMIT_ENV}`
        : this.#heapLimitBytes > 0
        ? `about ${Math.round(this.#heapLimitBytes / 2 ** 20)} MiB, V8's default for this machine`
        : "V8's default for this machine";
      return {
        ename: OUT_OF_MEMORY_ENAME,
        reason: `the cell ran out of JavaScript heap memory (the executor's V8 heap limit: ` +
          `${limit}). ${lost} To raise the limit, set ${HEAP_LIMIT_ENV}=<MiB> in the kernel's ` +
          `environment ("env" in kernel.json) and restart the kernel; large arrays belong in ` +
          `typed arrays or tensors, which live outside this heap.`,
      };
    }
    if (status.signal === "SIGKILL") {
      return {
        ename: OUT_OF_MEMORY_ENAME,
        reason: "the executor process was killed (SIGKILL), most likely by the system's " +
          "out-of-memory killer: the cell's native memory (tensors, WebAssembly memory, " +
          `buffers) exceeded what the machine or its cgroup allows. ${lost} Use a smaller batch ` +
          "or model, or lower the engine's tensor memory limit (TESKD_TENSOR_MEMORY_MB) so that " +
          "it fails with an error first.",
      };
    }
    return {
      ename: EXECUTOR_DIED_ENAME,
      reason: `the executor process ended unexpectedly (${endedHow(proc, status)}). ${lost}`,
    };
  }

  #finish(cellId: number, outcome: CellOutcome): void {
    if (this.#running?.cellId !== cellId) return;
    const { resolve } = this.#running;
    this.#running = null;
    if (this.#watchdog !== undefined) {
      clearTimeout(this.#watchdog);
      this.#watchdog = undefined;
    }
    resolve(outcome);
  }

  #end(proc: Process | null): void {
    if (!proc) return;
    proc.ending = true;
    proc.channel?.close();
    try {
      proc.child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }

  /** Replaces the executor process; the running cell fails with `ename: reason`. */
  #replace(ename: string, reason: string): void {
    this.#end(this.#process);
    this.#process = null;
    const running = this.#running;
    this.start().catch((e) => console.error(`teskd kernel: ${(e as Error).message}`));
    this.onRestart();
    if (running) {
      this.#finish(running.cellId, {
        status: "error",
        ename,
        evalue: reason,
        stack: "",
        interrupted: ename === INTERRUPT_ENAME,
      });
    } else {
      // Between cells (a timer or a comm callback): the next output area of the last cell says so.
      this.onMessage({
        type: "stream",
        name: "stderr",
        text: `${ename}: ${reason}\n`,
        parent: this.#lastParent,
      });
    }
  }
}

/** V8's fatal message when a heap reaches its limit (it ends the whole process). */
const V8_OUT_OF_HEAP =
  /Fatal JavaScript (invalid size error|out of memory)|JavaScript heap out of memory/;

/** How a process ended, with its last stderr lines: "exit code 1: …". */
function endedHow(proc: Process, status: Deno.CommandStatus): string {
  const how = status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
  const last = proc.stderrTail.trim().split("\n").slice(-3).join(" | ");
  return last ? `${how}: ${last}` : how;
}

/** Why an executor process that ended before its worker was ready could not start. */
function notStarted(proc: Process, status: Deno.CommandStatus): string {
  return `the executor process could not start (${endedHow(proc, status)}). Cells cannot run ` +
    "until the kernel is restarted.";
}

function heapLimitFromEnv(): number | undefined {
  const raw = Deno.env.get(HEAP_LIMIT_ENV);
  if (raw === undefined || raw === "") return undefined;
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 16) {
    console.error(`teskd kernel: ignoring ${HEAP_LIMIT_ENV}=${raw} (want an integer of MiB ≥ 16)`);
    return undefined;
  }
  return mb;
}
