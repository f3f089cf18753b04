/**
 * Stdin: `input()`, answered by an `input_reply` message, and the synchronous `prompt()`, which
 * blocks this worker on the shared control slots until the executor process writes the reply into
 * shared memory (the worker cannot receive a message while it is blocked).
 * @module
 */
import { CTRL } from "../executor_protocol.ts";
import { InterruptError } from "./interrupt.ts";
import { post } from "./output.ts";
import { state } from "./state.ts";

let inputCounter = 0;
/** Resolvers of the running cell's `input()` calls, by request id. */
const pendingInputs = new Map<number, (v: string) => void>();

function stdinRefused(): Error {
  return new Error(
    "input is not available: the frontend sent allow_stdin=false, so this cell cannot ask for input",
  );
}

/** Asks the frontend for a line of input (`password` hides it); the cells' `input()`. */
export function input(prompt = "", options: { password?: boolean } = {}): Promise<string> {
  if (!state.allowStdin) return Promise.reject(stdinRefused());
  const requestId = ++inputCounter;
  return new Promise<string>((resolve) => {
    pendingInputs.set(requestId, resolve);
    post({
      type: "input_request",
      requestId,
      prompt,
      password: options.password ?? false,
      sync: false,
      parent: state.currentParent,
    });
  });
}

/** Synchronous `prompt()`: blocks this worker (never the main thread) until the reply arrives. */
export function promptSync(message = "", defaultValue?: string): string | null {
  if (!state.allowStdin) throw stdinRefused();
  const ctrl = state.ctrl;
  Atomics.store(ctrl, CTRL.STDIN_STATE, 0);
  post({
    type: "input_request",
    requestId: 0,
    prompt: message,
    password: false,
    sync: true,
    parent: state.currentParent,
  });
  // Waits in slices rather than forever, so a missed notify cannot hang the worker for good.
  while (Atomics.load(ctrl, CTRL.STDIN_STATE) === 0) {
    Atomics.wait(ctrl, CTRL.STDIN_STATE, 0, 1000);
  }
  const handshake = Atomics.load(ctrl, CTRL.STDIN_STATE);
  Atomics.store(ctrl, CTRL.STDIN_STATE, 0);
  // 2 is the executor process cancelling the wait: the cell was interrupted.
  if (handshake !== 1 || Atomics.load(ctrl, CTRL.INTERRUPT) === 1) throw new InterruptError();
  const len = Atomics.load(ctrl, CTRL.STDIN_LENGTH);
  const text = new TextDecoder().decode(state.stdinBytes.slice(0, len));
  return text === "" && defaultValue !== undefined ? defaultValue : text;
}

/** Settles the `input()` call that asked with `requestId` (an `input_reply`). */
export function answerInput(requestId: number, value: string): void {
  const resolve = pendingInputs.get(requestId);
  pendingInputs.delete(requestId);
  resolve?.(value);
}

/** Forgets the unanswered `input()` calls of a cell that ended: a late reply then settles nothing. */
export function dropPendingInputs(): void {
  for (const id of pendingInputs.keys()) pendingInputs.delete(id);
}
