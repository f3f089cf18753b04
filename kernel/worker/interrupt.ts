/**
 * The error an interrupted cell sees. Its own module because the guard (globals.ts), a blocked
 * `prompt()` (stdin.ts) and the running cell (cells.ts) all raise it, and the unhandled-error
 * handlers recognise it to stay quiet.
 * @module
 */
import { INTERRUPT_ENAME } from "../runtime_contract.ts";

/** The error a cell sees when it is interrupted (like Python's KeyboardInterrupt). */
export class InterruptError extends Error {
  /** The `ename` the frontend shows: KeyboardInterrupt. */
  override name: string = INTERRUPT_ENAME;
  /** An interrupt error with the message every interrupted cell shows. */
  constructor() {
    super("interrupted by the user");
  }
}
