import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CellCompiler } from "../../kernel/compiler/mod.ts";

const PROJECT_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));

/** One notebook directory with a documented helper module, shared by the tests below. */
const cwd = await Deno.makeTempDir();
// The compiler caches `deno types` under $XDG_CACHE_HOME/teskd: keep that inside the temp dir.
Deno.env.set("XDG_CACHE_HOME", join(cwd, ".cache"));
await Deno.writeTextFile(
  join(cwd, "helper.ts"),
  "/** Scales a value.\n * @param n the value */\nexport function scale(n: number): number {\n  return n * 2;\n}\n",
);
const compiler = new CellCompiler({ cwd, configPath: PROJECT_CONFIG });

function errors(code: string): string[] {
  return compiler.compile(code).diagnostics.map((d) =>
    `${d.ename} ${d.line}:${d.column} ${d.code}`
  );
}

Deno.test("typecheck: a type error stops the cell and is positioned in the cell", () => {
  const result = compiler.compile("const ok = 1;\nconst n: number = 'text';");
  assert.equal(result.ok, false);
  assert.equal(result.js, undefined);
  assert.equal(result.diagnostics.length, 1);
  const [d] = result.diagnostics;
  assert.deepEqual([d.ename, d.line, d.column, d.code, d.category], [
    "TSError",
    2,
    7,
    2322,
    "error",
  ]);
  assert.match(d.message, /'string' is not assignable to type 'number'/);
});

Deno.test("typecheck: later cells see earlier declarations, imports and their types", () => {
  const first = [
    "let counter = 0;",
    "const limit = 10;",
    "function bump(by: number): number { return counter += by; }",
    "class Box<T> { constructor(public value: T) {} }",
    "interface Point { x: number; y: number }",
    "type Name = string;",
    "enum Color { Red, Green }",
    'import { scale } from "./helper.ts";',
    'import * as path from "node:path";',
  ].join("\n");
  assert.deepEqual(errors(first), []);
  compiler.commit(first);
  const second =
    "counter++;\nconst b = new Box<Point>({ x: 1, y: 2 });\nconst nm: Name = path.join('a');\n" +
    "const c: Color = Color.Green;\nbump(scale(b.value.x));";
  assert.deepEqual(errors(second), []);
  assert.deepEqual(errors("counter = 'no';"), ["TSError 1:1 2322"]);
  assert.deepEqual(errors("limit = 3;"), ["TSError 1:1 2588"]);
  assert.deepEqual(errors("\nnew Box<Point>({ x: 1 });"), ["TSError 2:16 2345"]);
  assert.deepEqual(errors("scale('2');"), ["TSError 1:7 2345"]);
  assert.deepEqual(errors("path.join(1);"), ["TSError 1:11 2345"]);
});

Deno.test("typecheck: re-declaring a name in a later cell replaces its type", () => {
  compiler.commit("const label = 1;");
  assert.deepEqual(errors("const label = 'one';\nlabel.toUpperCase();"), []);
  compiler.commit("const label = 'one';");
  assert.deepEqual(errors("label.toUpperCase();"), []);
  assert.deepEqual(errors("label.toFixed();"), ["TSError 1:7 2551"]);
});

Deno.test("typecheck: npm packages are typed from node_modules", () => {
  const cell = 'import * as aq from "arquero";\nconst t = aq.table({ a: [1, 2] });\nt.numRows();';
  assert.deepEqual(errors(cell), []);
  assert.deepEqual(errors('import * as aq from "arquero";\naq.noSuchExport();'), [
    "TSError 2:4 2339",
  ]);
  assert.deepEqual(
    errors('import { table } from "npm:arquero@8.0.3";\ntable({ a: [1] }).numRows();'),
    [],
  );
  assert.deepEqual(errors('import { x } from "https://example.com/mod.ts";\nx;'), []);
  // @tensorflow/tfjs re-exports its sub-packages, which live in Deno's node_modules/.deno store.
  const tf =
    'import * as tf from "@tensorflow/tfjs";\nimport type { Tensor } from "@tensorflow/tfjs";\n';
  assert.deepEqual(errors(tf + "const t: Tensor = tf.tensor([1, 2]);\nt.shape;"), []);
  assert.deepEqual(errors(tf + "tf.tensor([1]).noSuchMethod();"), ["TSError 3:16 2339"]);
});

Deno.test("typecheck: the directive and the options turn checking off", () => {
  const bad = "const n: number = 'text';\nn";
  assert.equal(compiler.compile(bad).ok, false);
  assert.equal(compiler.compile("// @ts-nocheck\n" + bad).ok, true);
  assert.equal(compiler.compile(bad, { typecheck: false }).ok, true);
  const unchecked = new CellCompiler({ cwd, configPath: PROJECT_CONFIG, typecheck: false });
  assert.equal(unchecked.compile(bad).ok, true);
  // Syntax errors are never skipped.
  assert.equal(compiler.compile("// @ts-nocheck\nconst = ;").diagnostics[0].ename, "SyntaxError");
});

Deno.test("typecheck: an incremental check of a small cell is fast after warm-up", () => {
  compiler.compile("const warm = [1, 2, 3].map((x) => x + counter);");
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const start = performance.now();
    const result = compiler.compile(`const v${i} = bump(${i}) + limit;\nv${i}`);
    times.push(performance.now() - start);
    assert.equal(result.ok, true);
  }
  const median = times.sort((a, b) => a - b)[2];
  console.log(`incremental check median: ${median.toFixed(1)} ms`);
  // The target is 100 ms; the margin absorbs other processes on a shared machine.
  assert.ok(median < 300, `median ${median} ms`);
});

Deno.test("typecheck: edits to imported files and global augmentations are seen", async () => {
  const file = join(cwd, "changing.ts");
  await Deno.writeTextFile(file, "export const value = 1;\n");
  assert.deepEqual(errors('import { value } from "./changing.ts";\nvalue.toFixed();'), []);
  await Deno.writeTextFile(file, "export const value = 'now a string';\n");
  await Deno.utime(file, new Date(), new Date(Date.now() + 5000));
  assert.deepEqual(errors('import { value } from "./changing.ts";\nvalue.toFixed();'), [
    "TSError 2:7 2551",
  ]);
  compiler.commit("declare global {\n  var sessionTag: string;\n}");
  assert.deepEqual(errors("sessionTag.toUpperCase();"), []);
});

Deno.test("typecheck: the project import map resolves bare names", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "lib"));
    await Deno.writeTextFile(
      join(dir, "lib/mod.ts"),
      "export function greet(name: string): string {\n  return name;\n}\n",
    );
    await Deno.writeTextFile(
      join(dir, "deno.json"),
      JSON.stringify({ imports: { mylib: "./lib/mod.ts" } }),
    );
    const c = new CellCompiler({ cwd: dir });
    assert.equal(c.compile('import { greet } from "mylib";\ngreet("a");').ok, true);
    const bad = c.compile('import { greet } from "mylib";\ngreet(1);');
    assert.deepEqual(bad.diagnostics.map((d) => [d.line, d.column, d.code]), [[2, 7, 2345]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("complete: members of typed values before they run, with the replaced range", () => {
  const code = "const arr = [1, 2];\narr.fi";
  const r = compiler.complete(code, code.length);
  assert.ok(r.matches.includes("filter") && r.matches.includes("find"), r.matches.join());
  assert.ok(!r.matches.includes("map"), "matches are filtered by the typed prefix");
  assert.equal(r.cursor_start, code.length - 2);
  assert.equal(r.cursor_end, code.length);
  // Mid-cell, after a non-BMP character: positions are code points.
  const mid = "const s = '😀';\nlimit.toF\nconst after = 1;";
  const cursor = [...mid.slice(0, mid.indexOf(".toF") + 4)].length;
  const m = compiler.complete(mid, cursor);
  assert.ok(m.matches.includes("toFixed"), m.matches.join());
  assert.deepEqual([m.cursor_start, m.cursor_end], [cursor - 3, cursor]);
  // Names from committed cells complete too.
  assert.ok(compiler.complete("bu", 2).matches.includes("bump"));
});

Deno.test("complete: keywords and import paths", () => {
  const kw = compiler.complete("cons", 4);
  assert.ok(kw.matches.includes("const") && kw.matches.includes("console"), kw.matches.join());
  const code = 'import { scale } from "./';
  const paths = compiler.complete(code, code.length);
  assert.ok(paths.matches.includes("helper.ts"), paths.matches.join());
  assert.ok(!paths.matches.some((m) => m.startsWith("__teskd")), "virtual files stay hidden");
  assert.equal(paths.cursor_end, code.length);
});

Deno.test("inspect: signature and JSDoc of user and library symbols", () => {
  const user = compiler.inspect("scale(2)", 2, 0);
  assert.equal(user.found, true);
  assert.match(user.data["text/plain"], /function scale\(n: number\): number/);
  assert.match(user.data["text/plain"], /Scales a value\./);
  assert.match(user.data["text/markdown"], /```ts\nfunction scale/);
  const lib = compiler.inspect("Math.max(1, 2)", 6, 1);
  assert.match(lib.data["text/plain"], /max\(\.\.\.values: number\[\]\): number/);
  assert.match(lib.data["text/plain"], /larger of a set/);
  const local = compiler.inspect("counter", 7, 0);
  assert.equal(local.data["text/plain"], "let counter: number");
  // A variable of an earlier cell keeps its JSDoc; a same-named one of this cell has its own.
  compiler.commit("/** Rows per page. */\nconst pageRows = 20;");
  const earlier = compiler.inspect("pageRows * 2", 3, 0);
  assert.equal(earlier.data["text/plain"], "const pageRows: 20\n\nRows per page.");
  const shadowed = compiler.inspect("{ const pageRows = 5; pageRows; }", 25, 0);
  assert.equal(shadowed.data["text/plain"], "const pageRows: 5");
  assert.deepEqual(compiler.inspect("   ", 1, 0), { found: false, data: {} });
});

Deno.test("typecheck: runtime globals are declared, and a cell may replace them", () => {
  assert.deepEqual(errors("display(1);\nkernel.interruptSignal.aborted;"), []);
  assert.deepEqual(errors("display.nope;"), ["TSError 1:9 2339"]);
  compiler.commit("const json = { rows: 3 };");
  assert.deepEqual(errors("json.rows + 1;"), []);
  const custom = new CellCompiler({
    cwd,
    configPath: PROJECT_CONFIG,
    globalsDts: "declare var answer: 42;",
  });
  assert.deepEqual(custom.compile("const a: 42 = answer;").diagnostics, []);
});

Deno.test("typecheck: reset forgets committed cells", () => {
  const c = new CellCompiler({ cwd, configPath: PROJECT_CONFIG });
  c.commit("const forgotten = 1;");
  assert.equal(c.compile("forgotten + 1").ok, true);
  c.reset();
  const after = c.compile("forgotten + 1");
  assert.deepEqual(after.diagnostics.map((d) => [d.line, d.column, d.code]), [[1, 1, 2304]]);
  c.commit("const forgotten = 'back';");
  assert.equal(c.compile("forgotten.length").ok, true);
});

Deno.test("typecheck: Deno's timers and web globals are known to cells", () => {
  assert.deepEqual(errors("await new Promise((r) => setTimeout(r, 1));"), []);
  assert.deepEqual(errors("const t = setInterval(() => {}, 5);\nclearInterval(t);"), []);
  assert.deepEqual(errors("clearTimeout(setTimeout(() => {}, 5));\nqueueMicrotask(() => {});"), []);
  // One error at the argument (2345, or 2769 once @types/node adds its overloads).
  assert.match(errors("setTimeout('not a function', 1);").join(), /^TSError 1:12 (2345|2769)$/);
});

Deno.test("typecheck: Deno's types were cached once, then the notebook directory is removed", async () => {
  const cached = [...Deno.readDirSync(join(cwd, ".cache/teskd"))].map((e) => e.name);
  assert.equal(cached.length, 1);
  assert.match(
    cached[0],
    new RegExp(`^deno-types-${Deno.version.deno.replaceAll(".", "\\.")}-\\d+\\.d\\.ts$`),
  );
  await Deno.remove(cwd, { recursive: true });
  assert.equal(await Deno.stat(cwd).then(() => true, () => false), false);
});
