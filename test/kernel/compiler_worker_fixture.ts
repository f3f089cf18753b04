/**
 * Worker used by compiler_worker_test.ts: runs compiled cells the way the kernel's runtime does
 * (one persistent worker, `evaluateCell`), with a guard that throws after a set number of calls.
 *
 * @module
 */

import { evaluateCell, GUARD_NAME } from "../../kernel/compiler/mod.ts";

let guardCalls = 0;
let guardLimit = Infinity;
(globalThis as Record<string, unknown>)[GUARD_NAME] = () => {
  if (++guardCalls > guardLimit) throw new Error("interrupted");
};

self.onmessage = async (e: MessageEvent<{ js: string; guardLimit?: number }>) => {
  guardCalls = 0;
  guardLimit = e.data.guardLimit ?? Infinity;
  try {
    const value = await evaluateCell(e.data.js);
    self.postMessage({ ok: true, value: JSON.stringify(value) ?? "undefined", guardCalls });
  } catch (err) {
    self.postMessage({ ok: false, error: String((err as Error).stack ?? err), guardCalls });
  }
};
