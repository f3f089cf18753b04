import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CellCompiler, evaluateCell, GUARD_NAME } from "../../kernel/compiler/mod.ts";

const PROJECT_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const scope = globalThis as Record<string, unknown>;
let guardCalls = 0;
let guardLimit = Infinity;
scope[GUARD_NAME] = () => {
  if (++guardCalls > guardLimit) throw new Error("interrupted by guard");
};

/**
 * Both ways a cell becomes JavaScript: emitted from the program that type-checked it, and
 * transpiled on its own (type-checking off). Every transform test runs through both.
 */
const EMITTERS = [
  { name: "checked", typecheck: true },
  { name: "transpiled", typecheck: false },
] as const;
type Emitter = typeof EMITTERS[number];

/** A compiler for `cwd` with the project's import map (bare names resolve for the checker). */
function compilerFor(cwd: string, emitter: Emitter): CellCompiler {
  return new CellCompiler({ cwd, configPath: PROJECT_CONFIG, typecheck: emitter.typecheck });
}

/** Compiles, runs and commits one cell; returns its value. */
async function run(compiler: CellCompiler, code: string): Promise<unknown> {
  const result = compiler.compile(code);
  assert.ok(result.ok, JSON.stringify(result.diagnostics));
  assert.ok(result.js);
  const value = await evaluateCell(result.js);
  compiler.commit(code);
  return value;
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): every declaration kind persists across cells`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const c = compilerFor(cwd, emitter);
      await run(
        c,
        [
          "const tA = 1;",
          "let tB = 2;",
          "var tC = 3;",
          "function tD(n: number): number { return n + tA; }",
          "class TE { constructor(public v: number) {} twice() { return this.v * 2; } }",
          "enum TF { Red, Green }",
          "const enum TCE { A = 3 }",
          "type TG = { a: number };",
          "interface TH { b: string }",
          "namespace TN { export const k = 7; }",
          "const { tI, tJ: [tK = 5, ...tL] } = { tI: 9, tJ: [undefined, 1, 2] };",
        ].join("\n"),
      );
      const value = await run(
        c,
        "const g: TG = { a: 1 }; const h: TH = { b: 'x' };\n" +
          "tB += 1;\n[tA, tB, tC, tD(1), new TE(4).twice(), TF.Green, TN.k, tI, tK, tL, g.a, h.b, TCE.A]",
      );
      assert.deepEqual(value, [1, 3, 3, 2, 8, 1, 7, 9, 5, [1, 2], 1, "x", 3]);
      // A const enum exists at run time too: a cell that is not type-checked reads it.
      assert.equal(await evaluateCell(c.compile("TCE.A", { typecheck: false }).js ?? ""), 3);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): re-running a const cell, top-level await and the last value`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const c = compilerFor(cwd, emitter);
      assert.equal(await run(c, "const tRe = 1;\ntRe"), 1);
      assert.equal(await run(c, "const tRe = 2;\ntRe"), 2);
      const waited = await run(
        c,
        "const tW = await new Promise<number>((r) => setTimeout(() => r(4), 5));\ntW * 2",
      );
      assert.equal(waited, 8);
      assert.equal(await run(c, "const tX = 1;"), undefined, "a declaration is not a value");
      const names =
        "const tArrow = () => 1;\nconst tFn = function () {};\nconst tCls = class {};\n" +
        "[tArrow.name, tFn.name, tCls.name]";
      assert.deepEqual(await run(c, names), ["tArrow", "tFn", "tCls"]);
      assert.equal(
        await run(c, "tW;\nfunction tLater() {}"),
        undefined,
        "the last statement decides",
      );
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): static imports of node: builtins and relative files bind names`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        join(cwd, "dep.ts"),
        "export default 10;\nexport const plus = (a: number) => a + 1;\n",
      );
      const c = compilerFor(cwd, emitter);
      await run(
        c,
        'import * as tPath from "node:path";\nimport tTen, { plus as tPlus } from "./dep.ts";',
      );
      assert.deepEqual(await run(c, '[tPath.basename("/a/b.txt"), tPlus(tTen)]'), ["b.txt", 11]);
      const js = c.compile('import x from "./dep.ts";').js ?? "";
      assert.ok(js.includes(`"${new URL("dep.ts", `file://${cwd}/`).href}"`), js);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): guards sit in every loop and function body and interrupt while(true)`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const c = compilerFor(cwd, emitter);
      const js = c.compile(
        "for (;;) break;\nfor (const a of []) a;\nfor (const k in {}) k;\nwhile (false) 1;\n" +
          "do {} while (false);\nfunction f() {}\nconst g = () => 1;\nclass K { m() {} get p() { return 1; } }\n" +
          "const fib = (n: number): number => n < 2 ? n : fib(n - 1) + fib(n - 2);",
      ).js ?? "";
      // 5 loops, f, m, p and the self-recursive arrow fib; the plain arrow g stays as written.
      assert.equal(js.split(`${GUARD_NAME}()`).length - 1, 9);
      assert.match(js, /g: \(\) => 1/);
      guardCalls = 0;
      guardLimit = 50;
      try {
        const result = c.compile("let tSpins = 0;\nwhile (true) { tSpins++; }");
        await assert.rejects(evaluateCell(result.js ?? ""), /interrupted by guard/);
      } finally {
        guardLimit = Infinity;
      }
      assert.equal(guardCalls, 51);
      assert.equal(scope.tSpins, 50);
      // Semantics are otherwise unchanged: a guarded generator and arrow still work.
      assert.deepEqual(
        await run(c, "function* tGen() { yield 1; yield 2; }\n[...tGen()].map((x) => x * 3)"),
        [3, 6],
      );
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): Arquero parses a cell's arrow expressions (their source is unchanged)`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const c = compilerFor(cwd, emitter);
      await run(c, 'import * as tAq from "arquero";');
      const out = await run(
        c,
        "tAq.table({ g: ['a', 'a', 'b'], x: [1, 2, 4] })\n" +
          "  .derive({ y: (d: { x: number }) => d.x * 10 })\n" +
          "  .groupby('g').rollup({ s: (d: { y: number }) => tAq.op.sum(d.y) })\n" +
          "  .objects()",
      );
      assert.deepEqual(out, [{ g: "a", s: 30 }, { g: "b", s: 40 }]);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): syntax errors carry the cell's line and column`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const c = compilerFor(cwd, emitter);
      const result = c.compile("const a = 1;\nconst b = (2 + ;\n");
      assert.equal(result.ok, false);
      assert.equal(result.js, undefined);
      const [d] = result.diagnostics;
      assert.equal(d.ename, "SyntaxError");
      assert.equal(d.line, 2);
      assert.equal(d.column, 16);
      // Columns count code points: the emoji is one column.
      const wide = c.compile('const s = "😀";  )');
      assert.equal(wide.diagnostics[0].line, 1);
      assert.equal(wide.diagnostics[0].column, 17);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

for (const emitter of EMITTERS) {
  Deno.test(`transform (${emitter.name}): runtime error stacks map to the cell's own lines`, async () => {
    const cwd = await Deno.makeTempDir();
    try {
      const c = compilerFor(cwd, emitter);
      const result = c.compile(
        "const tOk = 1;\n\nfunction tBoom(): never {\n  throw new Error('boom');\n}\n\ntBoom();",
      );
      const error = await evaluateCell(result.js ?? "").then(() => undefined, (e: Error) => e);
      assert.ok(error instanceof Error);
      const mapped = result.mapStack(error.stack ?? "");
      assert.match(mapped, /at tBoom \(cell-\d+\.ts:4:9\)/, mapped);
      assert.match(mapped, /cell-\d+\.ts:7:1\)/, mapped);
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  });
}

Deno.test("isComplete: complete, incomplete with indent, invalid", () => {
  const c = new CellCompiler({ cwd: Deno.cwd(), typecheck: false });
  assert.deepEqual(c.isComplete("const a = 1;"), { status: "complete" });
  assert.deepEqual(c.isComplete(""), { status: "complete" });
  assert.deepEqual(c.isComplete("function f() {"), { status: "incomplete", indent: "  " });
  assert.deepEqual(c.isComplete("if (a) {\n  for (;;) {"), {
    status: "incomplete",
    indent: "    ",
  });
  assert.equal(c.isComplete("const s = `abc").status, "incomplete");
  assert.equal(c.isComplete("foo(1,").status, "incomplete");
  assert.equal(c.isComplete("1 +* 2;").status, "invalid");
  assert.equal(c.isComplete('const s = "abc').status, "invalid");
  assert.equal(c.isComplete("/* open comment").status, "incomplete");
  assert.equal(c.isComplete("const = 5;").status, "invalid");
});
