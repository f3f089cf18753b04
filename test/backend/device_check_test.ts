/**
 * The one-shot GPU check runs here as on a GPU machine, as a dry run on the software adapter at
 * tiny sizes: the same command, the same report, so it cannot rot between GPU windows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { DeviceCheckReport } from "../../bench/device_check.ts";

Deno.test({
  name: "device check: the dry run runs the WebGPU tests, the Trainer comparison and bench gpu",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = join(dir, "report.json");
    const script = new URL("../../bench/device_check.ts", import.meta.url).pathname;
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", script, "--dry-run", "--out", out],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(run.stdout);
    assert.equal(run.code, 0, text + new TextDecoder().decode(run.stderr).slice(-2000));
    const r = JSON.parse(await Deno.readTextFile(out)) as DeviceCheckReport;
    assert.equal(r.options.dryRun, true);
    assert.ok(r.tests && r.tests.passed >= 7 && r.tests.failed === 0, JSON.stringify(r.tests));
    assert.ok(r.trainer?.ok, JSON.stringify(r.trainer));
    assert.equal(r.trainer!.steps.length, 3);
    assert.ok(r.bench && "lines" in r.bench, JSON.stringify(r.bench));
    const lines = r.bench.lines.join("\n");
    assert.match(lines, /GPU programs per step: teskd-webgpu \d+, PyTorch \d+/);
    assert.match(text, /^WebGPU tests: \d+ passed, 0 failed$/m);
    assert.match(text, /^report: /m);
  },
});
