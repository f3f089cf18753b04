/**
 * The contract between the cell compiler (kernel/compiler/) and the execution runtime
 * (kernel/executor_worker.ts): names the compiled JavaScript may rely on at run time.
 *
 * @example
 * ```ts
 * import { GUARD_NAME } from "./runtime_contract.ts";
 * const call = `globalThis.${GUARD_NAME}();`; // what the compiler inserts in loops and functions
 * ```
 * @module
 */

/**
 * Name of the global function the compiler calls at the top of every loop body and function body.
 * It returns nothing and throws the kernel's interrupt error when the user interrupted the cell, so
 * that a synchronous `while (true) {}` stops. It is cheap (one `Atomics.load`).
 */
export { GUARD_NAME } from "./compiler/types.ts";
import {
  JUPYTER_DISPLAY,
  KERNEL_COMMS,
  KERNEL_DISPLAY,
  KERNEL_INTERRUPT_CHECK,
  KERNEL_INTERRUPT_SIGNAL,
} from "../lib/jupyter.ts";

/** The registry key of a well-known symbol of lib/jupyter.ts (`Symbol.for(key)` is the symbol). */
function keyOf(sym: symbol): string {
  const key = Symbol.keyFor(sym);
  if (key === undefined) throw new Error(`${String(sym)} is not a registered symbol`);
  return key;
}

// The symbols the library reads are defined once, in lib/jupyter.ts (the library's only contract
// with a kernel, which must not import kernel code); the runtime publishes under the same keys.

/** Key of the well-known symbol under which `globalThis` exposes the running cell's `AbortSignal`. */
export const INTERRUPT_SIGNAL_SYMBOL: string = keyOf(KERNEL_INTERRUPT_SIGNAL);

/**
 * Key of the well-known symbol under which `globalThis` exposes the interrupt check for libraries:
 * a function that throws the kernel's interrupt error when the user interrupted the cell. It reads
 * the flag in shared memory, so it works inside a long synchronous call (a library checks it
 * between kernels).
 */
export const INTERRUPT_CHECK_SYMBOL: string = keyOf(KERNEL_INTERRUPT_CHECK);

/**
 * Key of the well-known symbol under which `globalThis` exposes the display transport for
 * libraries: `{ display(value, opts?: { id? }): void; update(id, value): void }` (the cells'
 * `display` and `updateDisplay`, reachable without importing kernel code).
 */
export const DISPLAY_TRANSPORT_SYMBOL: string = keyOf(KERNEL_DISPLAY);

/**
 * Key of the well-known symbol under which `globalThis` exposes the comms for libraries (widgets):
 * `{ open(target, data?, metadata?, buffers?): comm; registerTarget(name, handler) }`, the cells'
 * `kernel.comms`.
 */
export const COMMS_TRANSPORT_SYMBOL: string = keyOf(KERNEL_COMMS);

/** Key of the display protocol's symbol (Deno's convention): a method returning a MIME bundle. */
export const DISPLAY_SYMBOL: string = keyOf(JUPYTER_DISPLAY);

/** Name of the error raised in a cell that the user interrupted (like Python's KeyboardInterrupt). */
export const INTERRUPT_ENAME = "KeyboardInterrupt";

/**
 * Ambient declarations of the globals the runtime gives every cell. The compiler includes this text
 * in its type-checking program so that cells using `display(...)` or `kernel.comms` type-check.
 */
export const CELL_GLOBALS_DTS = `
/** A MIME bundle: MIME type → data (strings, or JSON values for application/json). */
type TeskdMimeBundle = Record<string, unknown>;
/** A handle on a display, for updating it in place. */
interface TeskdDisplayHandle { readonly id: string; update(value: unknown): void }
/** A comm: a message channel with the frontend. */
interface TeskdComm {
  readonly id: string;
  readonly targetName: string;
  send(data: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBuffer[]): void;
  close(data?: unknown): void;
  onMsg(handler: (data: unknown, buffers: ArrayBuffer[]) => void): void;
  onClose(handler: (data: unknown) => void): void;
}
/** The kernel API available to cells. */
interface TeskdKernelApi {
  display(value: unknown, options?: { id?: string; raw?: boolean }): TeskdDisplayHandle;
  updateDisplay(id: string, value: unknown): void;
  clearOutput(options?: { wait?: boolean }): void;
  html(source: string): TeskdMimeBundleValue;
  markdown(source: string): TeskdMimeBundleValue;
  svg(source: string): TeskdMimeBundleValue;
  png(bytes: Uint8Array): TeskdMimeBundleValue;
  jpeg(bytes: Uint8Array): TeskdMimeBundleValue;
  json(value: unknown): TeskdMimeBundleValue;
  input(prompt?: string, options?: { password?: boolean }): Promise<string>;
  readonly interruptSignal: AbortSignal;
  readonly comms: {
    registerTarget(
      name: string,
      handler: (comm: TeskdComm, data: unknown, buffers: ArrayBuffer[]) => void,
    ): void;
    open(
      targetName: string,
      data?: unknown,
      metadata?: Record<string, unknown>,
      buffers?: ArrayBuffer[],
    ): TeskdComm;
  };
}
/** A value that displays as the given MIME bundle. */
interface TeskdMimeBundleValue { [key: symbol]: () => TeskdMimeBundle }
declare var kernel: TeskdKernelApi;
declare function display(value: unknown, options?: { id?: string; raw?: boolean }): TeskdDisplayHandle;
declare function updateDisplay(id: string, value: unknown): void;
declare function clearOutput(options?: { wait?: boolean }): void;
declare function html(source: string): TeskdMimeBundleValue;
declare function markdown(source: string): TeskdMimeBundleValue;
declare function svg(source: string): TeskdMimeBundleValue;
declare function png(bytes: Uint8Array): TeskdMimeBundleValue;
declare function jpeg(bytes: Uint8Array): TeskdMimeBundleValue;
declare function json(value: unknown): TeskdMimeBundleValue;
declare function input(prompt?: string, options?: { password?: boolean }): Promise<string>;
`;
