/**
 * The only contract between the library and a Jupyter kernel, defined once: the display protocol's
 * method symbol, and the well-known globals the teskd kernel publishes (the running cell's
 * interrupt signal and interrupt check, the display transport, and the comm transport widgets use).
 * The library never imports kernel code; without the kernel (headless runs) the globals are absent
 * and everything here returns undefined.
 *
 * @module
 */

/**
 * The symbol a kernel looks for on a cell's value (`Symbol.for("Jupyter.display")`, Deno's kernel
 * convention), typed as a unique symbol so that methods under it are visible to TypeScript.
 */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/** Symbol under which the teskd kernel exposes a getter returning the running cell's AbortSignal. */
export const KERNEL_INTERRUPT_SIGNAL: symbol = Symbol.for("teskd.kernel.interruptSignal");

/**
 * Symbol under which the teskd kernel exposes its interrupt check: a function that throws the
 * kernel's interrupt error (`KeyboardInterrupt`) once the user interrupted the running cell. It
 * reads shared memory, so it answers inside a long synchronous call, where the signal cannot.
 */
export const KERNEL_INTERRUPT_CHECK: symbol = Symbol.for("teskd.kernel.interruptCheck");

/** Symbol under which the teskd kernel exposes its {@link DisplayTransport}. */
export const KERNEL_DISPLAY: symbol = Symbol.for("teskd.kernel.display");

/** The teskd kernel's display transport (`globalThis[Symbol.for("teskd.kernel.display")]`). */
export interface DisplayTransport {
  /** Shows `value` (display_data); `opts.id` names the display for later updates. */
  display(value: unknown, opts?: { id?: string }): void;
  /** Replaces what display `id` shows (update_display_data). */
  update(id: string, value: unknown): void;
}

/** The kernel's interrupt signal for the current cell, when there is one. */
export function kernelInterruptSignal(): AbortSignal | undefined {
  const g = (globalThis as unknown as Record<symbol, unknown>)[KERNEL_INTERRUPT_SIGNAL];
  const v = typeof g === "function" ? (g as () => unknown)() : g;
  return v instanceof AbortSignal ? v : undefined;
}

/** The kernel's interrupt check, or undefined when not running in the teskd kernel. */
export function kernelInterruptCheck(): (() => void) | undefined {
  const f = (globalThis as unknown as Record<symbol, unknown>)[KERNEL_INTERRUPT_CHECK];
  return typeof f === "function" ? f as () => void : undefined;
}

/** The kernel's display transport, or undefined when not running in the teskd kernel. */
export function kernelDisplay(): DisplayTransport | undefined {
  const t = (globalThis as unknown as Record<symbol, unknown>)[KERNEL_DISPLAY];
  if (typeof t !== "object" || t === null) return undefined;
  const { display, update } = t as Record<string, unknown>;
  return typeof display === "function" && typeof update === "function"
    ? t as DisplayTransport
    : undefined;
}

/** Symbol under which the teskd kernel exposes its {@link CommTransport}. */
export const KERNEL_COMMS: symbol = Symbol.for("teskd.kernel.comms");

/**
 * One comm channel with the front end (Jupyter messaging's comm_open/comm_msg/comm_close), as the
 * teskd kernel hands it to the library.
 */
export interface KernelComm {
  /** The comm id (for a widget: its model id). */
  readonly id: string;
  /** The target the comm was opened for (e.g. "jupyter.widget"). */
  readonly targetName: string;
  /**
   * Sends a comm_msg. Sent while one of this comm's `onMsg` handlers runs, it is attributed to
   * (has as parent) the message being handled.
   */
  send(data: unknown, metadata?: Record<string, unknown>, buffers?: ArrayBuffer[]): void;
  /** Closes the comm (comm_close). */
  close(data?: unknown): void;
  /** Adds a handler of the front end's messages on this comm. */
  onMsg(handler: (data: unknown, buffers: ArrayBuffer[]) => void): void;
  /** Adds a handler of the front end closing this comm. */
  onClose(handler: (data: unknown) => void): void;
}

/** The teskd kernel's comm transport (`globalThis[Symbol.for("teskd.kernel.comms")]`). */
export interface CommTransport {
  /** Opens a comm to the front end (comm_open with `data`, `metadata` and binary `buffers`). */
  open(
    targetName: string,
    data?: unknown,
    metadata?: Record<string, unknown>,
    buffers?: ArrayBuffer[],
  ): KernelComm;
  /** Handles comms the front end opens for target `name`. */
  registerTarget(
    name: string,
    handler: (comm: KernelComm, data: unknown, buffers: ArrayBuffer[]) => void,
  ): void;
}

/** The kernel's comm transport, or undefined when not running in the teskd kernel. */
export function kernelComms(): CommTransport | undefined {
  const t = (globalThis as unknown as Record<symbol, unknown>)[KERNEL_COMMS];
  if (typeof t !== "object" || t === null) return undefined;
  const { open, registerTarget } = t as Record<string, unknown>;
  return typeof open === "function" && typeof registerTarget === "function"
    ? t as CommTransport
    : undefined;
}
