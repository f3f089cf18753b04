import assert from "node:assert/strict";
import { countJunit, summaryLine } from "../../tools/test.ts";

Deno.test("JUnit reports are counted per test case, failures and errors as failed", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="4" failures="1" errors="0" time="0.1">
  <testsuite name="./a_test.ts" tests="4">
    <testcase name="one" classname="./a_test.ts" time="0.01"></testcase>
    <testcase name="two" classname="./a_test.ts" time="0.01"/>
    <testcase name="three" classname="./a_test.ts" time="0.01">
      <failure message="boom">AssertionError</failure>
    </testcase>
    <testcase name="four" classname="./a_test.ts" time="0"><skipped/></testcase>
  </testsuite>
</testsuites>`;
  assert.deepEqual(countJunit(xml), { passed: 2, failed: 1, skipped: 1 });
});

Deno.test("the summary line has the plain form CI reads", () => {
  const plain = /^(\w+: )?\d+ passed, \d+ failed(, \d+ skipped)?$/;
  assert.match(summaryLine({ passed: 12, failed: 0, skipped: 0 }), plain);
  assert.equal(
    summaryLine({ passed: 3, failed: 1, skipped: 2 }),
    "summary: 3 passed, 1 failed, 2 skipped",
  );
});

Deno.test("the test task ends with the summary line and fails on a failing test", async () => {
  // Runs the real runner on one deliberately failing test file, outside the suite's own directory.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/fails_test.ts`,
      'Deno.test("fails", () => { throw new Error("expected failure"); });\n' +
        'Deno.test("passes", () => {});\n',
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL("../../tools/test.ts", import.meta.url).pathname,
        "--tests-only",
        "--",
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(lines.at(-1), "summary: 1 passed, 1 failed");
    assert.equal(out.code, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
