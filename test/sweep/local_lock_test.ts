// The scenario of a notebook killed during a parallel sweep: its trainer processes own their runs
// (they hold the run folders' locks), keep training, read as "running", and running the grid again
// attaches to them instead of starting a second writer.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ablationGrid,
  ablationTable,
  runAblation,
  withFactors,
} from "../../lib/analysis/ablation.ts";
import type { AblationRunEvent } from "../../lib/analysis/ablation.ts";
import { runTraining } from "../../lib/train/cli.ts";
import { isLockLive, readRunLock, RunLockedError } from "../../lib/train/run_lock.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import { TINY_RUN } from "../train/tiny_run.ts";

const ABLATION = new URL("../../lib/analysis/ablation.ts", import.meta.url).href;

const readJson = async <T>(p: string) => JSON.parse(await Deno.readTextFile(p)) as T;

Deno.test("sweep lock: SIGKILL of the notebook leaves its runs owned by their trainers; no second writer", async () => {
  const dir = await Deno.makeTempDir();
  const grid = {
    base: withFactors(TINY_RUN, { "data.synthetic.train": 64, "schedule.epochs": 12 }),
    factors: { seed: [1, 2] },
    dir,
    parallel: 2,
  };
  const runs = ablationGrid(grid);
  // The "notebook": a process running the grid with two trainer processes.
  const notebook = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { runAblation } from "${ABLATION}";
       await runAblation({ ...${JSON.stringify(grid)}, log: () => {} });`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  // Kill it once both trainers hold their locks and have finished an epoch.
  const deadline = Date.now() + 120_000;
  for (;;) {
    assert.ok(Date.now() < deadline, "both runs started training within 2 minutes");
    let ready = 0;
    for (const r of runs) {
      const lock = await readRunLock(r.config.outDir);
      const history = await readJson<EpochRecord[]>(join(r.config.outDir, "history.json"))
        .catch(() => []);
      if (lock && lock.pid !== notebook.pid && history.length >= 1) ready++;
    }
    if (ready === runs.length) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  notebook.kill("SIGKILL");
  await notebook.status;

  const holders = await Promise.all(runs.map((r) => readRunLock(r.config.outDir)));
  for (const h of holders) {
    assert.ok(h && (await isLockLive(h)), "each trainer lives on and holds its run");
  }
  const during = await ablationTable(dir);
  assert.deepEqual(during.array("state"), ["running", "running"]);
  // A second writer cannot start, in this process or any other.
  await assert.rejects(
    runTraining(runs[0].config, { resume: true, log: () => {} }),
    (e: unknown) => e instanceof RunLockedError && e.holder.pid === holders[0]!.pid,
  );

  // Running the grid again attaches to the trainers and waits for them.
  const lines: string[] = [];
  const events: AblationRunEvent[] = [];
  const t = await runAblation({ ...grid, log: (l) => lines.push(l), onRun: (e) => events.push(e) });
  assert.deepEqual(events, [], "no run was started again");
  for (const r of runs) {
    assert.ok(lines.includes(`[${r.id}] already being trained by another process: waiting for it`));
  }
  assert.deepEqual(t.array("state"), ["finished", "finished"]);
  for (const [i, r] of runs.entries()) {
    const history = await readJson<EpochRecord[]>(join(r.config.outDir, "history.json"));
    assert.deepEqual(history.map((h) => h.epoch), [...Array(12).keys()]);
    const log = await Deno.readTextFile(join(r.config.outDir, "train.log"));
    assert.equal(log.match(/^backend: /gm)?.length, 1, "one trainer wrote the run");
    assert.equal(await readRunLock(r.config.outDir), undefined, `run ${i}: its lock was released`);
  }
});
