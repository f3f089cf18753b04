/**
 * The executor's process lifecycle: a shutdown at any moment of its start is not a failure and
 * leaves no executor process behind; a cell runs in a process of its own.
 */
import assert from "node:assert/strict";
import { Executor } from "../../kernel/executor.ts";

/** Whether a process with this id is alive (signal 0 only checks). */
function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

Deno.test("executor: terminated at any moment of its start, it resolves and leaves no process", async () => {
  for (const delayMs of [0, 5, 20, 50, 150, 400]) {
    const ex = new Executor(() => {});
    const started = ex.start();
    await new Promise((r) => setTimeout(r, delayMs));
    const pid = ex.pid;
    ex.terminate();
    await started; // a start ended on purpose is no failure (a kernel shut down at once exits 0)
    assert.equal(ex.pid, undefined, `after ${delayMs} ms: no executor adopted after terminate`);
    if (pid !== undefined) {
      for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(alive(pid), false, `after ${delayMs} ms: the executor process ${pid} ended`);
    }
  }
});

Deno.test("executor: a cell runs in the executor process, not this one", async () => {
  const ex = new Executor(() => {});
  try {
    await ex.start();
    const outcome = await ex.run(1, "return Deno.pid;", 0, false);
    assert.equal(outcome.status, "ok");
    const shown = outcome.status === "ok" ? String(outcome.result?.["text/plain"]) : "";
    assert.equal(Number(shown), ex.pid);
    assert.notEqual(Number(shown), Deno.pid);
  } finally {
    ex.terminate();
  }
});
