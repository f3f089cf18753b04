/**
 * `deno task test`: the whole suite, as CI runs it. Stages, each timed:
 * type check (`deno check` over kernel/, lib/, test/, bench/, tools/), `deno fmt --check`, `deno lint`,
 * then `deno test` over test/. Ends with one plain line `summary: N passed, N failed` that counts every
 * test plus the three static checks, and exits non-zero when anything failed.
 * Arguments after `--` go to `deno test` (e.g. `deno task test -- --filter kernel`); `--tests-only` skips
 * the static checks for a quicker local run.
 *
 * @module
 */
import { join } from "node:path";
import { CHECKOUT_DIR } from "../kernel/install.ts";

/** Test counts read from a JUnit report. */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Counts passed, failed and skipped test cases in a JUnit XML report (as `deno test --junit-path` writes). */
export function countJunit(xml: string): TestCounts {
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  for (const match of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = match[2] ?? "";
    if (/<(failure|error)\b/.test(body)) counts.failed++;
    else if (/<skipped\b/.test(body)) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

/** The summary line CI reads. */
export function summaryLine(counts: TestCounts): string {
  const skipped = counts.skipped ? `, ${counts.skipped} skipped` : "";
  return `summary: ${counts.passed} passed, ${counts.failed} failed${skipped}`;
}

async function stage(name: string, args: string[]): Promise<boolean> {
  const start = performance.now();
  console.log(`\n=== ${name}: deno ${args.join(" ")}`);
  const status = await new Deno.Command(Deno.execPath(), { args, cwd: CHECKOUT_DIR }).spawn()
    .status;
  const seconds = ((performance.now() - start) / 1000).toFixed(1);
  console.log(`=== ${name}: ${status.success ? "ok" : "FAILED"} in ${seconds} s`);
  return status.success;
}

async function main(extra: string[], testsOnly: boolean): Promise<number> {
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  const statics: [string, string[]][] = testsOnly ? [] : [
    ["type check", ["check", "kernel/", "lib/", "test/", "bench/", "tools/"]],
    ["format", ["fmt", "--check"]],
    ["lint", ["lint"]],
  ];
  for (const [name, args] of statics) {
    if (await stage(name, args)) counts.passed++;
    else counts.failed++;
  }
  const reportDir = await Deno.makeTempDir({ prefix: "teskd-test-" });
  const junit = join(reportDir, "junit.xml");
  // Types were checked above; checking again in every test process and Worker only costs time.
  const testsOk = await stage("tests", [
    "test",
    "--allow-all",
    "--no-check",
    `--junit-path=${junit}`,
    ...extra,
  ]);
  let tests: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  try {
    tests = countJunit(await Deno.readTextFile(junit));
  } catch {
    console.log("no JUnit report was written: the test run itself failed to start");
  }
  await Deno.remove(reportDir, { recursive: true });
  // A run that failed without a failing case (e.g. a module that does not load) still counts as a failure.
  if (!testsOk && tests.failed === 0) tests.failed = 1;
  counts.passed += tests.passed;
  counts.failed += tests.failed;
  counts.skipped += tests.skipped;
  console.log();
  console.log(summaryLine(counts));
  return counts.failed === 0 ? 0 : 1;
}

if (import.meta.main) {
  const dashdash = Deno.args.indexOf("--");
  const own = dashdash >= 0 ? Deno.args.slice(0, dashdash) : Deno.args;
  const unknown = own.filter((a) => a !== "--tests-only");
  if (unknown.length > 0) {
    console.error(
      `test: unknown option ${unknown[0]}; usage: test [--tests-only] [-- DENO_TEST_ARGS]`,
    );
    Deno.exit(2);
  }
  Deno.exit(await main(dashdash >= 0 ? Deno.args.slice(dashdash + 1) : [], own.length > 0));
}
