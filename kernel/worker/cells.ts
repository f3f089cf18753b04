/**
 * Running cells: {@linkcode runCell} evaluates a compiled cell in the worker's one scope and posts
 * its outcome (`done`); {@linkcode interruptCell} stops it (its timers, its signal, and the await
 * of its promise, so a cell waiting on something that never settles still ends).
 * @module
 */
import { evaluateCell } from "../compiler/eval.ts";
import { CTRL, type FromWorker, type ToWorker } from "../executor_protocol.ts";
import { inspect, isDisplayHandle, toBundle } from "./display.ts";
import { InterruptError } from "./interrupt.ts";
import { post, resetQuietSpell } from "./output.ts";
import { state } from "./state.ts";
import { dropPendingInputs } from "./stdin.ts";
import { clearCellTimers, forgetCellTimers } from "./timers.ts";

/** Rejects the running cell's `interrupted` promise; set while a cell runs. */
let rejectRunning: ((e: unknown) => void) | null = null;

/** Runs one cell to its outcome and posts `done` (after the output it produced). */
export async function runCell(msg: Extract<ToWorker, { type: "run" }>): Promise<void> {
  Atomics.store(state.ctrl, CTRL.INTERRUPT, 0);
  resetQuietSpell(); // a cell's first output goes out at once
  state.currentParent = msg.parent;
  state.allowStdin = msg.allowStdin;
  state.controller = new AbortController();
  forgetCellTimers();
  state.running = true;
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
    if (Atomics.load(state.ctrl, CTRL.INTERRUPT) === 1) throw new InterruptError();
    if (value === undefined || isDisplayHandle(value)) outcome = { status: "ok" };
    else outcome = { status: "ok", result: await Promise.race([toBundle(value), interrupted]) };
  } catch (e) {
    const wasInterrupt = e instanceof InterruptError || state.controller.signal.aborted;
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
    state.running = false;
    rejectRunning = null;
    dropPendingInputs();
  }
  post({ type: "done", cellId: msg.cellId, outcome });
}

/** Interrupts the running cell (the executor process already raised the shared interrupt flag). */
export function interruptCell(): void {
  // Stop background work the cell started, then reject the awaiting cell at once.
  clearCellTimers();
  const err = new InterruptError();
  if (!state.controller.signal.aborted) state.controller.abort(err);
  rejectRunning?.(err);
}
