/**
 * The executor's process lifecycle: a shutdown at any moment of its start is not a failure and
 * leaves no executor process behind; a cell runs in a process of its own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Executor, EXECUTOR_DIED_ENAME } from "../../kernel/executor.ts";

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

Deno.test("executor: one that cannot start fails its start and its cells with why, once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "teskd-executor-test-" });
  const ex = new Executor(() => {}, { configPath: join(dir, "deno.json") });
  try {
    await Deno.writeTextFile(join(dir, "deno.json"), "{ not json");
    await assert.rejects(ex.start(), /the executor process could not start \(exit code [1-9]/);
    const outcome = await ex.run(1, "return 1;", 0, false);
    assert.equal(outcome.status, "error");
    if (outcome.status === "error") {
      assert.equal(outcome.ename, EXECUTOR_DIED_ENAME);
      assert.match(outcome.evalue, /could not start .*until the kernel is restarted/s);
    }
    // Not retried in a loop: the same (ended) process, no new one.
    const pid = ex.pid;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(ex.pid, pid);
  } finally {
    ex.terminate();
    await Deno.remove(dir, { recursive: true });
  }
});
