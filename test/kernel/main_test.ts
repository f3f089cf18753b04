import assert from "node:assert/strict";
import { parseArgs } from "../../kernel/main.ts";

Deno.test("main: connection file argument and the type-check setting", () => {
  const none = () => undefined;
  assert.deepEqual(parseArgs(["k.json"], none), { connectionFile: "k.json", typecheck: true });
  assert.deepEqual(parseArgs(["--no-typecheck", "k.json"], none), {
    connectionFile: "k.json",
    typecheck: false,
  });
  const off = (n: string) => (n === "TESKD_TYPECHECK" ? "0" : undefined);
  assert.equal(parseArgs(["k.json"], off).typecheck, false);
  assert.equal(parseArgs(["--typecheck", "k.json"], off).typecheck, true);
  assert.deepEqual(parseArgs(["--config=/p/deno.json", "k.json"], none), {
    connectionFile: "k.json",
    typecheck: true,
    configPath: "/p/deno.json",
  });
  assert.throws(() => parseArgs([], none), /usage/);
  assert.throws(() => parseArgs(["--bogus", "k.json"], none), /unknown option --bogus/);
});
