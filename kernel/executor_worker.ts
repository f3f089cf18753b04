/**
 * The executor worker: runs compiled cells in one persistent scope, captures their output and
 * gives them the kernel API (display, input, comms, interrupt signal). Started by
 * executor_host.ts. This entry only wires the modules of kernel/worker/ and dispatches the
 * {@linkcode ToWorker} messages to them:
 *
 * - state.ts: the state they share (shared memory, the parent output is attributed to, running)
 * - output.ts: stdout/stderr capture and batching; `post`, the one way out, after pending output
 * - display.ts: MIME bundles, display/update/clear_output, the html/markdown/… helpers
 * - stdin.ts: `input()` and the synchronous `prompt()`
 * - comms.ts: comms, their targets, and delivery of the frontend's comm messages
 * - timers.ts: the cells' tracked timers, cleared on interrupt
 * - interrupt.ts: the error an interrupted cell sees
 * - globals.ts: the guard, the well-known symbols, the kernel API globals, error reporting
 * - cells.ts: running and interrupting a cell
 * @module
 */
/// <reference lib="deno.worker" />
import { STDIN_BUFFER_BYTES, type ToWorker } from "./executor_protocol.ts";
import { interruptCell, runCell } from "./worker/cells.ts";
import { commClosed, commMessage, commOpened } from "./worker/comms.ts";
import { installGlobals } from "./worker/globals.ts";
import { captureOutput, post } from "./worker/output.ts";
import { scope, state } from "./worker/state.ts";
import { answerInput } from "./worker/stdin.ts";

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const msg = e.data;
  switch (msg.type) {
    case "init":
      state.ctrl = new Int32Array(msg.ctrl);
      state.stdinBytes = new Uint8Array(msg.stdin, 0, STDIN_BUFFER_BYTES);
      captureOutput();
      installGlobals();
      post({ type: "ready" });
      break;
    case "run":
      // Not awaited: interrupts, input replies and comm messages must reach the running cell.
      runCell(msg);
      break;
    case "interrupt":
      interruptCell();
      break;
    case "input_reply":
      answerInput(msg.requestId, msg.value);
      break;
    case "comm_open":
      commOpened(msg);
      break;
    case "comm_msg":
      commMessage(msg);
      break;
    case "comm_close":
      commClosed(msg);
      break;
  }
};
