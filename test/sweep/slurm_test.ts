// Sweeps on a real Slurm: a one-node cluster started here (slurm_cluster.ts), a 2×2 grid of tiny
// runs as one job array, attaching instead of submitting twice, a task requeued mid-run that ends
// with the weights of an uninterrupted run, cancelling, and the batch script a user can resubmit.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ablationGrid,
  type AblationOptions,
  runAblation,
  sweepStatus,
  withFactors,
} from "../../lib/analysis/ablation.ts";
import { runTraining } from "../../lib/train/cli.ts";
import { readRunLock } from "../../lib/train/run_lock.ts";
import { parseSafetensors } from "../../lib/train/safetensors.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import { readSubmissions, slurmBatchScript } from "../../lib/sweep/slurm.ts";
import { main as sweepCli } from "../../lib/sweep/cli.ts";
import { TINY_RUN } from "../train/tiny_run.ts";
import { startCluster } from "./slurm_cluster.ts";

const readJson = async <T>(p: string) => JSON.parse(await Deno.readTextFile(p)) as T;
const EPOCHS = 6;

/** Waits until `check` holds (polling), failing after `seconds`. */
async function until(what: string, check: () => Promise<boolean>, seconds = 180) {
  const deadline = Date.now() + seconds * 1000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what} within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test("slurm: the batch script carries the typed options and trains the task's run", () => {
  const script = slurmBatchScript(
    {
      partition: "gpu",
      account: "lab42",
      timeLimit: "2-00:00:00",
      cpusPerRun: 8,
      gpusPerRun: 1,
      memory: "32G",
      extraSbatch: ["--constraint=a100"],
      setup: ["module load cuda/12.4"],
      deno: "/opt/deno/bin/deno",
    },
    {
      sweepDir: "/shared/runs/grid",
      runsFile: "/shared/runs/grid/slurm/array-0.runs",
      jobName: "teskd-grid",
    },
  );
  const lines = script.split("\n");
  for (
    const l of [
      "#SBATCH --job-name=teskd-grid",
      "#SBATCH --partition=gpu",
      "#SBATCH --account=lab42",
      "#SBATCH --time=2-00:00:00",
      "#SBATCH --cpus-per-task=8",
      "#SBATCH --gres=gpu:1",
      "#SBATCH --mem=32G",
      "#SBATCH --requeue",
      "#SBATCH --constraint=a100",
      "#SBATCH --output=/shared/runs/grid/slurm/%A_%a.out",
      "module load cuda/12.4",
    ]
  ) assert.ok(lines.includes(l), `script has "${l}"`);
  // every #SBATCH line comes before the first command (sbatch stops reading them there)
  const firstCommand = lines.findIndex((l) => l !== "" && !l.startsWith("#"));
  assert.ok(lines.findLastIndex((l) => l.startsWith("#SBATCH")) < firstCommand);
  assert.match(
    script,
    /sed -n "\$\(\(SLURM_ARRAY_TASK_ID \+ 1\)\)p" '\/shared\/runs\/grid\/slurm\/array-0.runs'/,
  );
  assert.match(
    script,
    /exec '\/opt\/deno\/bin\/deno' run --allow-all --config '.*deno\.json' '.*lib\/train\/cli\.ts' --config "\$dir\/config\.json" --resume >>"\$dir\/train\.log" 2>&1/,
  );
  assert.throws(
    () =>
      slurmBatchScript({ partition: "a b" }, { sweepDir: "/x", runsFile: "/x/r", jobName: "j" }),
    /partition must be a word/,
  );
  assert.throws(
    () => slurmBatchScript({ cpusPerRun: 0 }, { sweepDir: "/x", runsFile: "/x/r", jobName: "j" }),
    /cpusPerRun must be an integer ≥ 1/,
  );
  assert.throws(
    () => slurmBatchScript({ setup: ["a\nb"] }, { sweepDir: "/x", runsFile: "/x/r", jobName: "j" }),
    /one line per entry/,
  );
});

Deno.test({
  name:
    "slurm: a 2×2 grid as one job array; attach, requeue mid-run, resume to the same weights, cancel",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const cluster = await startCluster();
    try {
      const dir = await Deno.makeTempDir({ prefix: "teskd-sweep-" });
      const grid: AblationOptions = {
        base: withFactors(TINY_RUN, { "data.synthetic.train": 64, "schedule.epochs": EPOCHS }),
        factors: { "method.kd": [0, 0.8], seed: [1, 2] },
        dir,
        launcher: "slurm",
        slurm: {
          cpusPerRun: 1,
          memory: "500M",
          maxConcurrent: 2,
          timeLimit: "00:20:00",
          pollSeconds: 0.5,
        },
        log: () => {},
      };
      const runs = ablationGrid(grid);

      // Submit without waiting: one array of four tasks, at most two at once.
      const submitted = await runAblation({ ...grid, slurm: { ...grid.slurm, detach: true } });
      assert.equal(submitted.numRows(), 4);
      const [sub] = await readSubmissions(dir);
      assert.deepEqual(sub.runs, runs.map((r) => r.id));
      const script = await Deno.readTextFile(sub.script);
      assert.match(script, /#SBATCH --cpus-per-task=1/);
      const queue = await cluster.run("squeue", "-h", "-r", "-j", sub.jobId, "-o", "%i %T");
      assert.equal(queue.trim().split("\n").length, 4, queue);

      // Requeue the first task as soon as it has finished an epoch (Slurm kills it with SIGTERM).
      const victim = runs[0];
      let requeued = false;
      const requeue = (async () => {
        await until("the first run trains its second epoch under Slurm", async () => {
          const lock = await readRunLock(victim.config.outDir);
          const h = await readJson<EpochRecord[]>(join(victim.config.outDir, "history.json"))
            .catch(() => []);
          return lock?.slurmJob === `${sub.jobId}_0` && h.length >= 1 && h.length < EPOCHS - 1;
        });
        const status = await sweepStatus(dir, grid);
        assert.equal(status.get("state", 0), "running");
        assert.equal(status.get("job", 0), `${sub.jobId}_0`);
        assert.match(String(status.get("detail", 0)), /^pid \d+ on .*: epoch \d done, loss /);
        assert.ok(["pending", "running"].includes(String(status.get("state", 3))));
        await cluster.run("scontrol", "requeue", `${sub.jobId}_0`);
        // Slurm holds a requeued job back for two minutes; let it start again at once.
        await until(
          "the requeued task is pending",
          async () =>
            (await cluster.run("squeue", "-h", "-r", "-j", `${sub.jobId}_0`, "-o", "%T")).trim() ===
              "PENDING",
        );
        await cluster.run("scontrol", "update", `JobId=${sub.jobId}_0`, "StartTime=now");
        requeued = true;
      })();

      // Running the grid again attaches to the array and waits: nothing is submitted twice.
      const lines: string[] = [];
      const t = await runAblation({ ...grid, log: (l) => lines.push(l) });
      await requeue;
      assert.ok(requeued);
      assert.equal((await readSubmissions(dir)).length, 1, "no second submission");
      assert.ok(
        lines.some((l) => /already (pending|running) as Slurm job/.test(l)),
        lines.join("\n"),
      );
      assert.deepEqual(t.array("state"), ["finished", "finished", "finished", "finished"]);
      assert.deepEqual(t.array("epochs_done"), [EPOCHS, EPOCHS, EPOCHS, EPOCHS]);

      // The requeued run restarted once, resumed from its checkpoint, and kept every epoch once.
      const log = await Deno.readTextFile(join(victim.config.outDir, "train.log"));
      assert.match(log, new RegExp(`slurm job ${sub.jobId}_0 on .* \\(restart 0\\)`));
      assert.match(log, new RegExp(`slurm job ${sub.jobId}_0 on .* \\(restart 1\\)`));
      assert.match(log, /stopped: terminated \(SIGTERM\)/);
      assert.match(log, /resumed from .*last\.safetensors at epoch [2-9]/);
      const history = await readJson<EpochRecord[]>(join(victim.config.outDir, "history.json"));
      assert.deepEqual(history.map((h) => h.epoch), [...Array(EPOCHS).keys()]);

      // ... and ends with the weights of the same run trained without interruption.
      const whole = join(dir, "uninterrupted");
      const ref = await runTraining({ ...victim.config, outDir: whole }, { log: () => {} });
      assert.deepEqual(history.map((h) => h.loss), ref.history.map((h) => h.loss));
      const a = parseSafetensors(
        await Deno.readFile(join(victim.config.outDir, "deployed.safetensors")),
      );
      const b = parseSafetensors(await Deno.readFile(join(whole, "deployed.safetensors")));
      assert.deepEqual([...a.tensors.keys()], [...b.tensors.keys()]);
      for (const [name, e] of a.tensors) assert.deepEqual(e.data, b.tensors.get(name)!.data, name);

      // Again: everything is finished, nothing is submitted.
      await runAblation(grid);
      assert.equal((await readSubmissions(dir)).length, 1);

      // A long run submitted from the CLI; a notebook attaches to it, and interrupting the cell
      // detaches (the task trains on); with cancelOnAbort the interrupt cancels the array.
      const longDir = join(dir, "long");
      const gridFile = join(dir, "long.json");
      const longGrid = {
        base: withFactors(TINY_RUN, { "data.synthetic.train": 64, "schedule.epochs": 500 }),
        factors: { seed: [7] },
        dir: longDir,
        launcher: "slurm" as const,
        slurm: { cpusPerRun: 1, memory: "500M", timeLimit: "00:20:00", pollSeconds: 0.5 },
      };
      await Deno.writeTextFile(gridFile, JSON.stringify(longGrid));
      const out: string[] = [];
      assert.equal(await sweepCli(["--config", gridFile, "--detach"], (l) => out.push(l)), 0);
      assert.match(out.join("\n"), /submitted Slurm job array \d+: 1 run\(s\)/);
      const [long] = ablationGrid(longGrid);
      const [longSub] = await readSubmissions(longDir);
      await until(
        "the long run trains",
        async () => (await readRunLock(long.config.outDir)) !== undefined,
      );
      const attachAndInterrupt = async (cancelOnAbort: boolean) => {
        const ctrl = new AbortController();
        const attached = runAblation({
          ...longGrid,
          slurm: { ...longGrid.slurm, cancelOnAbort },
          signal: ctrl.signal,
          log: () => {},
        });
        setTimeout(() => ctrl.abort(new Error("cell interrupted")), 1500);
        await assert.rejects(attached, /cell interrupted/);
      };
      await attachAndInterrupt(false);
      assert.equal((await readSubmissions(longDir)).length, 1, "attached, not submitted again");
      const queued = await cluster.run("squeue", "-h", "-r", "-j", longSub.jobId, "-o", "%T");
      assert.equal(queued.trim(), "RUNNING", "detached: the task trains on");
      await attachAndInterrupt(true);
      await until(
        "the cancelled run's trainer released its lock",
        async () => (await readRunLock(long.config.outDir)) === undefined,
        60,
      );
      await until(
        "the scheduler reports it cancelled",
        async () =>
          (await sweepStatus(longDir, { launcher: "slurm" })).get("state", 0) === "cancelled",
        60,
      );
      const status: string[] = [];
      assert.equal(await sweepCli(["--config", gridFile, "--status"], (l) => status.push(l)), 0);
      const row = status.join("\n").split("\n").find((l) => l.startsWith("|seed=7-"));
      assert.match(row ?? "", /\|cancelled\|/);
      assert.match(
        row ?? "",
        /\|CANCELLED \(exit 130:0\) ⏎ .* ⏎ stopped: terminated \(SIGTERM\)\./,
      );
      // The CLI's --cancel: nothing left in flight here; the grid of four has ended too.
      const said: string[] = [];
      assert.equal(await sweepCli(["--config", gridFile, "--cancel"], (l) => said.push(l)), 0);
      assert.match(said.join("\n"), /nothing of .* is queued or running/);
    } finally {
      await cluster.stop();
    }
  },
});
