/**
 * Main-thread side of cell execution: owns the executor worker, runs compiled cells in it,
 * interrupts them (shared flag for busy loops, message for awaiting cells) and restarts the worker
 * only when asked twice.
 *
 * Interrupts keep state, as ipykernel does with C extensions: the first one stops instrumented code
 * at once; a synchronous call that cannot be stopped (an uninstrumented module, a long library
 * call) runs to its end, then the cell stops with `KeyboardInterrupt`. If the cell has not stopped
 * after {@link INTERRUPT_GRACE_MS}, the cell's stderr says so, once, and that a second interrupt
 * resets the kernel. Only that second interrupt (or a restart) replaces the worker, losing its state.
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
import {
  type CellOutcome,
  CTRL,
  type FromWorker,
  STDIN_BUFFER_BYTES,
  type ToWorker,
} from "./executor_protocol.ts";
import { INTERRUPT_ENAME } from "./runtime_contract.ts";

/** Milliseconds an interrupted cell gets to stop before its stderr says what a second interrupt does. */
export const INTERRUPT_GRACE_MS = 1500;

/** What the cell's stderr says when an interrupted cell is still in a synchronous call. */
export const WAITING_NOTICE =
  "KeyboardInterrupt: waiting for a synchronous call that cannot be stopped; the cell stops when " +
  "it returns. Interrupt again to reset the kernel (its state will be lost).\n";

interface Running {
  cellId: number;
  parent: number;
  resolve: (o: CellOutcome) => void;
  /** An interrupt of this cell is pending (it has not stopped yet). */
  interrupted: boolean;
}

/** Runs cells in one persistent worker. */
export class Executor {
  #worker: Worker | null = null;
  #ctrl = new Int32Array(new SharedArrayBuffer(4 * 4));
  #stdin = new Uint8Array(new SharedArrayBuffer(STDIN_BUFFER_BYTES));
  #running: Running | null = null;
  #watchdog: ReturnType<typeof setTimeout> | undefined;
  #ready: Promise<void> = Promise.resolve();
  /** Called after a worker had to be replaced (its state is gone). */
  onRestart: () => void = () => {};

  /** `onMessage` receives the worker's output, input requests and comm target registrations. */
  constructor(readonly onMessage: (msg: FromWorker) => void) {}

  /** Starts the worker and waits until it is ready. */
  start(): Promise<void> {
    const worker = new Worker(new URL("./executor_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker = worker;
    this.#ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<FromWorker>) => {
        const msg = e.data;
        if (msg.type === "ready") resolve();
        else if (msg.type === "done") this.#finish(msg.cellId, msg.outcome);
        else this.onMessage(msg);
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        console.error(`teskd kernel: executor worker failed: ${e.message}`);
        reject(new Error(`executor worker failed to start: ${e.message}`));
        if (this.#worker === worker) this.#replace(`the executor failed: ${e.message}`);
      };
    });
    this.#send({
      type: "init",
      ctrl: this.#ctrl.buffer as SharedArrayBuffer,
      stdin: this.#stdin.buffer as SharedArrayBuffer,
    });
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
    await this.#ready;
    return new Promise<CellOutcome>((resolve) => {
      this.#running = { cellId, parent, resolve, interrupted: false };
      this.#send({ type: "run", cellId, js, parent, allowStdin });
    });
  }

  /** Forwards a message (comm traffic, async input replies) to the worker. */
  post(msg: ToWorker): void {
    this.#send(msg);
  }

  /**
   * Interrupts the running cell: raises the shared flag (stops synchronous loops at the next guard
   * call, and the library between kernels), cancels a blocked `prompt()`, and tells the worker to
   * reject an awaiting cell. A cell still running after {@link INTERRUPT_GRACE_MS} gets
   * {@link WAITING_NOTICE} on its stderr; a second interrupt of the same cell replaces the worker.
   */
  interrupt(): void {
    const running = this.#running;
    if (running?.interrupted) {
      this.#replace("a second interrupt reset the kernel; its state was lost");
      return;
    }
    Atomics.store(this.#ctrl, CTRL.INTERRUPT, 1);
    if (Atomics.load(this.#ctrl, CTRL.STDIN_STATE) === 0) {
      Atomics.store(this.#ctrl, CTRL.STDIN_STATE, 2);
      Atomics.notify(this.#ctrl, CTRL.STDIN_STATE);
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
    const bytes = new TextEncoder().encode(value);
    const n = Math.min(bytes.length, this.#stdin.length);
    this.#stdin.set(bytes.subarray(0, n));
    Atomics.store(this.#ctrl, CTRL.STDIN_LENGTH, n);
    Atomics.store(this.#ctrl, CTRL.STDIN_STATE, 1);
    Atomics.notify(this.#ctrl, CTRL.STDIN_STATE);
  }

  /** Stops the worker for good. */
  terminate(): void {
    if (this.#watchdog !== undefined) clearTimeout(this.#watchdog);
    this.#worker?.terminate();
    this.#worker = null;
  }

  #send(msg: ToWorker): void {
    this.#worker?.postMessage(msg);
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

  /** Replaces a stuck or crashed worker; the running cell fails with `reason`. */
  #replace(reason: string): void {
    this.#worker?.terminate();
    this.#worker = null;
    const running = this.#running;
    this.#ctrl.fill(0);
    this.start().catch((e) => console.error(`teskd kernel: ${(e as Error).message}`));
    this.onRestart();
    if (running) {
      this.#finish(running.cellId, {
        status: "error",
        ename: INTERRUPT_ENAME,
        evalue: reason,
        stack: "",
        interrupted: true,
      });
    }
  }
}
