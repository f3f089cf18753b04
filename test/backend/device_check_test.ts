/**
 * The one-shot GPU check as it runs on a GPU machine, here as a dry run on the software adapter at
 * tiny sizes: the folder `deno task device-pack` makes (pruned npm dependencies and the command;
 * this Deno instead of the packed one) in a copy of the working tree without node_modules and with
 * an empty Deno cache, so the check and its packing cannot rot between GPU windows.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { DeviceCheckReport } from "../../bench/device_check.ts";
import { devicePack } from "../../tools/device_pack.ts";
import { CHECKOUT_DIR } from "../../kernel/install.ts";

/** Copies the files git would send (tracked and untracked-not-ignored) to `to`. */
async function copyWorkingTree(to: string): Promise<void> {
  const ls = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: CHECKOUT_DIR,
    stdout: "piped",
  }).output();
  assert.ok(ls.success, "git ls-files");
  for (const file of new TextDecoder().decode(ls.stdout).split("\0").filter((f) => f)) {
    const from = join(CHECKOUT_DIR, file);
    if (!(await Deno.stat(from).catch(() => null))?.isFile) continue; // deleted, not committed
    await Deno.mkdir(join(to, file, ".."), { recursive: true });
    await Deno.copyFile(from, join(to, file));
  }
}

Deno.test({
  name: "device check: packed, unpacked in a bare copy, the dry run passes and writes its report",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const tree = await Deno.makeTempDir({ prefix: "teskd-device-tree-" });
    const out = await Deno.makeTempDir({ prefix: "teskd-device-out-" });
    const denoDir = await Deno.makeTempDir({ prefix: "teskd-device-deno-dir-" });
    try {
      await copyWorkingTree(tree);
      // this machine's Deno; no Vulkan loader (this machine has one, and the test needs no network)
      const sizes = await devicePack(join(tree, ".device"), { skipDeno: true, noVulkan: true });
      assert.ok(
        sizes["node_modules.tar.xz"] < 8 * 2 ** 20,
        `packed npm deps: ${sizes["node_modules.tar.xz"]} bytes`,
      );
      const run = await new Deno.Command("bash", {
        args: [join(tree, ".device", "run.sh"), "--dry-run"],
        env: {
          DENO: Deno.execPath(),
          OUT: out,
          DENO_DIR: denoDir,
          TESKD_PYTHON: "/usr/bin/python3",
        },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(run.stdout);
      assert.equal(run.code, 0, text + new TextDecoder().decode(run.stderr).slice(-3000));
      const r = JSON.parse(
        await Deno.readTextFile(join(out, "device_check.json")),
      ) as DeviceCheckReport;
      assert.equal(r.options.dryRun, true);
      assert.ok(r.tests && r.tests.passed >= 7 && r.tests.failed === 0, JSON.stringify(r.tests));
      assert.ok(r.trainer?.ok, JSON.stringify(r.trainer));
      assert.equal(r.trainer!.steps.length, 3);
      assert.ok(r.bench && "lines" in r.bench, JSON.stringify(r.bench));
      assert.match(
        r.bench.lines.join("\n"),
        /GPU programs per step: teskd-webgpu \d+, PyTorch \d+/,
      );
      assert.match(text, /^WebGPU tests: \d+ passed, 0 failed$/m);
    } finally {
      for (const d of [tree, out, denoDir]) await Deno.remove(d, { recursive: true });
    }
  },
});
