/**
 * The compiler in its worker (kernel/compiler_host.ts): the same answers as CellCompiler, a
 * cancellable type check, and clear failures for bad options and after close().
 */
import assert from "node:assert/strict";
import { CompilerHost } from "../../kernel/compiler_host.ts";
import { evaluateCell, TypeCheckCancelled } from "../../kernel/compiler/mod.ts";

Deno.test("compiler host: compile, commit, complete, inspect, isComplete, reset", async () => {
  const cwd = await Deno.makeTempDir();
  const host = new CompilerHost({ cwd });
  try {
    await host.ready;
    const ok = await host.compile("const hostAnswer: number = 42;\nhostAnswer");
    assert.equal(ok.ok, true);
    assert.match(ok.js ?? "", /globalThis\.hostAnswer = 42/);
    // A type error stops the cell, with the cell's own position.
    const bad = await host.compile('const hostBad: number = "x";');
    assert.equal(bad.ok, false);
    assert.equal(bad.diagnostics[0].ename, "TSError");
    assert.equal(bad.diagnostics[0].line, 1);
    // Committed declarations are seen by later cells, and by completion and inspection.
    await host.commit("const hostAnswer: number = 42;\nhostAnswer");
    assert.equal((await host.compile("hostAnswer.toFixed(1)")).ok, true);
    const completions = await host.complete("hostAnswer.toF", 14);
    assert.ok(completions.matches.includes("toFixed"), completions.matches.join(","));
    assert.equal(completions.cursor_start, 11);
    const info = await host.inspect("hostAnswer", 3, 0);
    assert.equal(info.found, true);
    assert.match(info.data["text/plain"], /const hostAnswer: number/);
    assert.deepEqual(await host.isComplete("if (x) {"), { status: "incomplete", indent: "  " });
    // Stack positions of a compiled cell map back to the cell's lines.
    const thrower = await host.compile("\n\nthrow new Error('boom');");
    const err = await evaluateCell(thrower.js ?? "").then(() => undefined, (e: Error) => e);
    assert.ok(err instanceof Error);
    assert.match(await thrower.mapStack(err.stack ?? ""), /cell-\d+\.ts:3:\d+/);
    // After reset, earlier declarations are gone for the checker.
    await host.reset();
    const gone = await host.compile("hostAnswer");
    assert.equal(gone.ok, false);
    assert.match(gone.diagnostics[0].message, /Cannot find name 'hostAnswer'/);
  } finally {
    host.close();
    await Deno.remove(cwd, { recursive: true });
  }
  await assert.rejects(host.compile("1"), /closed/);
});

Deno.test("compiler host: cancel() stops a long type check; the next compile works", async () => {
  const cwd = await Deno.makeTempDir();
  const host = new CompilerHost({ cwd });
  try {
    await host.compile("1"); // the checker is loaded
    // Each function builds its own 400-element tuple type: ~0.15 s apiece here, 6 s in all.
    const heavy = [
      "type Rep<S extends string, N extends number, A extends S[] = []> =",
      "  A['length'] extends N ? A : Rep<S, N, [...A, S]>;",
      ...Array.from(
        { length: 40 },
        (_, i) => `function h${i}(): Rep<'h${i}', 400>['length'] { return 400; }`,
      ),
    ].join("\n");
    const started = performance.now();
    const compiling = host.compile(heavy);
    await new Promise((r) => setTimeout(r, 200));
    host.cancel();
    await assert.rejects(compiling, TypeCheckCancelled);
    const took = performance.now() - started;
    assert.ok(took < 1500, `cancelled after ${took.toFixed(0)} ms`);
    assert.equal((await host.compile("const afterCancel: string = 'ok';")).ok, true);
  } finally {
    host.close();
    await Deno.remove(cwd, { recursive: true });
  }
});

Deno.test("compiler host: unusable options reject ready and every call", async () => {
  const host = new CompilerHost({ cwd: "relative/dir" });
  try {
    await assert.rejects(host.ready, /not an existing absolute directory/);
    await assert.rejects(host.compile("1"), /not an existing absolute directory/);
  } finally {
    host.close();
  }
});
