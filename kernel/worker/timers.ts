/**
 * Cell timers: `setTimeout`/`setInterval` replaced by versions that remember the timers a running
 * cell starts, so that an interrupt also stops the cell's background work. The runtime's own
 * timers are kept for the worker's internal use (the output flush), which must never be tracked
 * or cleared by an interrupt.
 * @module
 */
import { state } from "./state.ts";

/** A timer id as this runtime's `setTimeout`/`setInterval` return it. */
export type TimerId = ReturnType<typeof setTimeout>;

/** The runtime's `setTimeout`, captured when the worker loads (before {@linkcode installTimers}). */
export const originalSetTimeout: typeof setTimeout = globalThis.setTimeout;
/** The runtime's `setInterval`, captured when the worker loads. */
export const originalSetInterval: typeof setInterval = globalThis.setInterval;
/** The runtime's `clearTimeout`, captured when the worker loads. */
export const originalClearTimeout: typeof clearTimeout = globalThis.clearTimeout;
/** The runtime's `clearInterval`, captured when the worker loads. */
export const originalClearInterval: typeof clearInterval = globalThis.clearInterval;

/** Timers started while the current cell ran; cleared when the cell is interrupted. */
const cellTimers = new Set<TimerId>();

/** Replaces the global timer functions with ones that track the running cell's timers. */
export function installTimers(): void {
  const G = globalThis as unknown as Record<string, unknown>;
  // Timers a cell starts are remembered so an interrupt can stop its background work.
  const track = (id: TimerId) => {
    if (state.running) cellTimers.add(id);
    return id;
  };
  G.setTimeout = (fn: unknown, ms?: number, ...args: unknown[]) => {
    const id: TimerId = originalSetTimeout(() => {
      cellTimers.delete(id);
      if (typeof fn === "function") fn(...args);
    }, ms);
    return track(id);
  };
  G.setInterval = (fn: unknown, ms?: number, ...args: unknown[]) =>
    track(originalSetInterval(() => {
      if (typeof fn === "function") fn(...args);
    }, ms));
  G.clearTimeout = (id?: TimerId) => {
    if (id !== undefined) cellTimers.delete(id);
    originalClearTimeout(id);
  };
  G.clearInterval = (id?: TimerId) => {
    if (id !== undefined) cellTimers.delete(id);
    originalClearInterval(id);
  };
}

/**
 * Forgets the tracked timers without clearing them (a new cell starts): an earlier cell's timers
 * that still run are no longer the new cell's to stop.
 */
export function forgetCellTimers(): void {
  cellTimers.clear();
}

/** Clears every timer the running cell started (an interrupt). */
export function clearCellTimers(): void {
  // An id is either a timeout or an interval; clearing it both ways needs no record of which.
  for (const id of cellTimers) {
    originalClearTimeout(id);
    originalClearInterval(id);
  }
  cellTimers.clear();
}
