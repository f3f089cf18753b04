/**
 * Where the widgets' callback errors go: stderr, never the caller. A front end's message is handled
 * inside the kernel's comm dispatcher, and a user's callback failing there must not stop the other
 * callbacks nor the comm; the kernel shows stderr in the notebook (the cell's output, or the output
 * of the comm message being handled).
 *
 * @module
 */

/** Writes "<what> failed: <stack>" on stderr. */
export function reportError(what: string, e: unknown): void {
  const text = e instanceof Error ? e.stack ?? `${e.name}: ${e.message}` : String(e);
  try {
    Deno.stderr.writeSync(new TextEncoder().encode(`${what} failed: ${text}\n`));
  } catch {
    // Nowhere to report to (stderr closed): the error is dropped rather than thrown into a dispatcher.
  }
}
