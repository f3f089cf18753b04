/**
 * Tests of the type-checking session's cell files (kernel/compiler/session.ts): more cells than
 * one batch of pre-imported slots, re-declarations across batches, reset.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CellCompiler } from "../../kernel/compiler/mod.ts";

const PROJECT_CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const cwd = await Deno.makeTempDir();
// The compiler caches `deno types` under $XDG_CACHE_HOME/teskd: keep that inside the temp dir.
Deno.env.set("XDG_CACHE_HOME", join(cwd, ".cache"));

const codes = (c: CellCompiler, code: string) => c.compile(code).diagnostics.map((d) => d.code);

Deno.test("session: cells beyond the first batch of slots see and shadow earlier ones", () => {
  const c = new CellCompiler({ cwd, configPath: PROJECT_CONFIG });
  // 70 declaring cells: more than two batches of 32 slots.
  for (let i = 0; i < 70; i++) {
    const code = `const n${i}: number = ${i};\ninterface T${i} { v: number }`;
    assert.equal(c.compile(code).ok, true, `cell ${i}`);
    c.commit(code);
  }
  assert.deepEqual(codes(c, "const t: T0 = { v: n0 + n33 + n69 };"), []);
  assert.deepEqual(codes(c, "const bad: T69 = { v: 'x' };"), [2322]);
  // A name of cell 1 re-declared in cell 71 takes the new type.
  c.commit("const n0 = 'now text';");
  assert.deepEqual(codes(c, "n0.toUpperCase();"), []);
  assert.deepEqual(codes(c, "n0.toFixed();"), [2551]);
  c.reset();
  assert.deepEqual(codes(c, "n33 + 1"), [2304]);
  c.commit("const n33 = 'after reset';");
  assert.deepEqual(codes(c, "n33.length"), []);
});

Deno.test("compile: `declares` tells whether a commit would record anything", () => {
  const c = new CellCompiler({ cwd, configPath: PROJECT_CONFIG, typecheck: false });
  const declares = (code: string) => c.compile(code).declares;
  assert.equal(declares("1 + 1"), false);
  assert.equal(declares("console.log('x');\nfor (let i = 0; i < 2; i++) {}"), false);
  assert.equal(declares("const a = 1;"), true);
  assert.equal(declares("function f() {}"), true);
  assert.equal(declares("type T = number;"), true);
  assert.equal(declares("import * as path from 'node:path';"), true);
  assert.equal(declares("declare global {\n  var tag: string;\n}"), true);
  // What a skipped commit would have done: nothing visible to later cells.
  const t = new CellCompiler({ cwd, configPath: PROJECT_CONFIG });
  t.commit("const kept = 1;");
  t.commit("kept + 1");
  assert.deepEqual(codes(t, "kept.toFixed();"), []);
});
