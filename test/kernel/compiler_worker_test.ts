import assert from "node:assert/strict";
import { join } from "node:path";
import { CellCompiler } from "../../kernel/compiler/mod.ts";

interface Reply {
  ok: boolean;
  value?: string;
  error?: string;
  guardCalls: number;
}

/** Compiles and runs cells one after another in one worker, as the kernel does. */
async function withWorker(
  cwd: string,
  body: (run: (code: string, guardLimit?: number) => Promise<Reply>) => Promise<void>,
): Promise<void> {
  const compiler = new CellCompiler({ cwd, typecheck: false });
  const worker = new Worker(new URL("./compiler_worker_fixture.ts", import.meta.url), {
    type: "module",
  });
  const run = (code: string, guardLimit?: number) => {
    const result = compiler.compile(code);
    assert.ok(result.ok, JSON.stringify(result.diagnostics));
    return new Promise<Reply>((resolve) => {
      worker.onmessage = (e: MessageEvent<Reply>) => {
        const reply = e.data;
        if (reply.error) reply.error = result.mapStack(reply.error);
        compiler.commit(code);
        resolve(reply);
      };
      worker.postMessage({ js: result.js, guardLimit });
    });
  };
  try {
    await body(run);
  } finally {
    worker.terminate();
  }
}

Deno.test("worker: dynamic imports of node:, relative, and npm modules resolve", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      join(cwd, "helper.ts"),
      "export const triple = (n: number) => n * 3;\n",
    );
    await withWorker(cwd, async (run) => {
      const r1 = await run(
        'import * as path from "node:path";\nimport { triple } from "./helper.ts";\n' +
          'import * as aq from "arquero";\nimport { table } from "npm:arquero@8.0.3";',
      );
      assert.equal(r1.ok, true, r1.error ?? "");
      const r2 = await run(
        '[path.join("a", "b"), triple(2), aq.table({ x: [1, 2, 3] }).numRows()]',
      );
      assert.deepEqual(JSON.parse(r2.value!), ["a/b", 6, 3]);
      const r3 = await run("typeof table");
      assert.equal(JSON.parse(r3.value!), "function");
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("worker: state persists across cells and the guard stops while(true)", async () => {
  const cwd = await Deno.makeTempDir();
  try {
    await withWorker(cwd, async (run) => {
      assert.equal((await run("let total = 0;\nfunction add(n: number) { total += n; }")).ok, true);
      await run("add(2);\nadd(3);");
      assert.equal((await run("total")).value, "5");
      const looped = await run("let spins = 0;\nwhile (true) { spins++; }", 1000);
      assert.equal(looped.ok, false);
      assert.match(looped.error!, /interrupted/);
      assert.equal(looped.guardCalls, 1001);
      // The worker survives the interrupt and keeps the state made before it.
      assert.equal((await run("[total, spins]")).value, "[5,1000]");
    });
  } finally {
    await Deno.remove(cwd, { recursive: true });
  }
});
