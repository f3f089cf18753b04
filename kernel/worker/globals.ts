/**
 * The globals cells and libraries rely on: the interrupt guard the compiled code calls, the
 * well-known symbols of runtime_contract.ts (interrupt check and signal, display and comms
 * transports), the cells' kernel API (`kernel`, `display`, `input`, `prompt`, …), the tracked
 * timers, a `Deno.exit` that refuses, and handlers that report errors escaping background work.
 * @module
 */
import { CTRL } from "../executor_protocol.ts";
import {
  COMMS_TRANSPORT_SYMBOL,
  DISPLAY_TRANSPORT_SYMBOL,
  GUARD_NAME,
  INTERRUPT_CHECK_SYMBOL,
  INTERRUPT_SIGNAL_SYMBOL,
} from "../runtime_contract.ts";
import { commApi } from "./comms.ts";
import { clearOutput, display, helpers, inspect, updateDisplay } from "./display.ts";
import { InterruptError } from "./interrupt.ts";
import { write } from "./output.ts";
import { scope, state } from "./state.ts";
import { input, promptSync } from "./stdin.ts";
import { installTimers } from "./timers.ts";

const G = globalThis as unknown as Record<string | symbol, unknown>;

/** Installs every global of the runtime; called once, on `init`, after output is captured. */
export function installGlobals(): void {
  // The guard runs at the top of every loop and function body of a cell: kept to one load.
  G[GUARD_NAME] = () => {
    if (Atomics.load(state.ctrl, CTRL.INTERRUPT) === 1) throw new InterruptError();
  };
  Object.defineProperty(globalThis, Symbol.for(INTERRUPT_CHECK_SYMBOL), {
    value: G[GUARD_NAME],
    configurable: true,
  });
  // A getter: every cell gets a new controller, and a library must see the running cell's.
  Object.defineProperty(globalThis, Symbol.for(INTERRUPT_SIGNAL_SYMBOL), {
    get: () => state.controller.signal,
    configurable: true,
  });
  // The library's widgets reach the comms through this global, never by importing the kernel.
  Object.defineProperty(globalThis, Symbol.for(COMMS_TRANSPORT_SYMBOL), {
    value: Object.freeze({ ...commApi }),
    configurable: true,
  });
  // Libraries (which never import the kernel) reach the cells' display API through this global.
  Object.defineProperty(globalThis, Symbol.for(DISPLAY_TRANSPORT_SYMBOL), {
    value: Object.freeze({
      display: (value: unknown, opts: { id?: string } = {}): void => {
        display(value, { id: opts.id });
      },
      update: (id: string, value: unknown): void => updateDisplay(id, value),
    }),
    configurable: true,
  });
  installTimers();
  const api = {
    display,
    updateDisplay,
    clearOutput,
    ...helpers,
    input,
    get interruptSignal() {
      return state.controller.signal;
    },
    comms: commApi,
  };
  Object.assign(G, { kernel: api, display, updateDisplay, clearOutput, input, ...helpers });
  G.prompt = promptSync;
  // Exiting would end the worker (and the kernel's state) without a reply: refuse clearly.
  try {
    Object.defineProperty(Deno, "exit", {
      value: (code?: number) => {
        throw new Error(
          `Deno.exit(${
            code ?? ""
          }) is not available in a notebook cell: restart the kernel instead`,
        );
      },
      configurable: true,
      writable: true,
    });
  } catch {
    // A runtime whose Deno namespace is frozen keeps its own Deno.exit.
  }
  // Errors escaping background work are reported, never fatal to the worker.
  scope.addEventListener("unhandledrejection", (e) => {
    e.preventDefault();
    const reason = (e as PromiseRejectionEvent).reason;
    if (reason instanceof InterruptError) return;
    write("stderr", `Uncaught (in promise) ${describe(reason)}\n`);
  });
  scope.addEventListener("error", (e) => {
    e.preventDefault();
    const err = (e as ErrorEvent).error;
    if (err instanceof InterruptError) return;
    write("stderr", `Uncaught ${describe(err)}\n`);
  });
}

/** An uncaught error as the stderr report shows it: its stack, else its inspected value. */
function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : inspect(e);
}
