import assert from "node:assert/strict";
import { join } from "node:path";
import { ablationTable, runAblation } from "../../lib/analysis/ablation.ts";
import { PAPER_RESULTS, paperConfig, paperTable } from "../../lib/analysis/paper.ts";
import {
  DEFAULT_TRAIN_CONFIG,
  resolveTrainConfig,
  type TrainConfig,
} from "../../lib/train/config.ts";
import { TINY_RUN } from "../train/tiny_run.ts";

Deno.test("paper: the headline table and the configs that reproduce it", async () => {
  const cells = PAPER_RESULTS.map((c) => [c.dataset, c.method, c.top1, c.gain ?? null]);
  assert.deepEqual(cells, [
    ["CIFAR-100", "baseline", 74.41, null],
    ["CIFAR-100", "teskd", 79.15, 4.74],
    ["ImageNet", "baseline", 69.71, null],
    ["ImageNet", "teskd", 71.14, 1.43],
  ]);
  // the published gains are the differences of the published numbers
  assert.ok(Math.abs(79.15 - 74.41 - 4.74) < 1e-9 && Math.abs(71.14 - 69.71 - 1.43) < 1e-9);
  const teskd = paperConfig(PAPER_RESULTS[1]);
  assert.deepEqual(teskd, resolveTrainConfig({}));
  assert.equal(teskd.epochs, 200);
  assert.deepEqual(teskd.milestones, [100, 150]);
  assert.equal(paperConfig(PAPER_RESULTS[0]).method, "baseline");
  assert.throws(() => paperConfig(PAPER_RESULTS[2]), /cannot be trained here.*process group/s);

  const t = await paperTable();
  assert.equal(t.numRows(), 4);
  assert.deepEqual(t.array("paper_top1"), [74.41, 79.15, 69.71, 71.14]);
  assert.deepEqual(t.array("state"), [
    "not run",
    "not run",
    "not runnable here",
    "not runnable here",
  ]);
  assert.deepEqual(t.array("measured_final"), [null, null, null, null]);
});

/** A 1/64-width CPU run standing in for the recipe: only the size fields differ. */
const TINY: Partial<TrainConfig> = {
  dataset: "cifar100",
  widthMultiplier: 1 / 64,
  workers: 0,
  backend: "cpu",
};

Deno.test("paper: measured runs join their cells with gap, state and recipe differences", async () => {
  const dir = await Deno.makeTempDir();
  // Two finished-looking runs and one in progress, written in the CLI's format by hand (training on
  // CIFAR-100 is not possible in a test): teskd finished, baseline interrupted at 3/200.
  const write = async (id: string, cfg: Partial<TrainConfig>, top1: number[], done: boolean) => {
    const runDir = join(dir, id);
    await Deno.mkdir(runDir, { recursive: true });
    const config = resolveTrainConfig({ ...TINY, ...cfg, outDir: runDir });
    await Deno.writeTextFile(join(runDir, "config.json"), JSON.stringify(config));
    const history = top1.map((v, epoch) => ({
      epoch,
      lr: 0.1,
      loss: 1,
      terms: {},
      trainTop1: {},
      eval: { teacher: { top1: v, top5: 90 } },
      images: 1,
      steps: 1,
      globalStep: epoch + 1,
      trainSeconds: 1,
      evalSeconds: 1,
      imagesPerSecond: 1,
    }));
    await Deno.writeTextFile(join(runDir, "history.json"), JSON.stringify(history));
    if (done) {
      await Deno.writeTextFile(
        join(runDir, "results.json"),
        JSON.stringify({
          finalTeacherTop1: top1.at(-1),
          bestTeacherTop1: Math.max(...top1),
          bestEpoch: top1.indexOf(Math.max(...top1)),
          officialBestTeacherTop1: Math.max(...top1.slice(1)),
          finalTop1: { teacher: top1.at(-1) },
          epochs: top1.length,
          trainSeconds: top1.length,
        }),
      );
    }
  };
  await write("teskd-a", { epochs: 3, milestones: [1] }, [70, 78.5, 78], true);
  await write("base-a", { method: "baseline" }, [40, 50, 55], false);
  // a synthetic run matches no cell
  await write("synthetic", { dataset: "synthetic" }, [30], true);

  const t = await paperTable(dir);
  const row = (i: number) => t.objects()[i] as Record<string, unknown>;
  assert.equal(row(0).run, "base-a");
  assert.equal(row(0).state, "interrupted");
  assert.equal(row(0).epochs, "3/200");
  assert.equal(row(0).measured_final, 55);
  assert.equal(row(0).measured_best, 55);
  assert.equal(row(0).gap_final, Math.round((55 - 74.41) * 100) / 100);
  assert.equal(row(0).recipe, "differs: widthMultiplier");
  assert.equal(row(1).run, "teskd-a");
  assert.equal(row(1).state, "finished");
  assert.equal(row(1).epochs, "3/3");
  assert.equal(row(1).measured_final, 78);
  assert.equal(row(1).measured_best, 78.5); // best from the last milestone (epoch 1) on
  assert.equal(row(1).gap_best, Math.round((78.5 - 79.15) * 100) / 100);
  assert.equal(row(1).recipe, "differs: widthMultiplier, epochs, milestones");
  assert.equal(row(1).runs, 1);
  assert.equal(row(2).state, "not runnable here");
  assert.equal(row(2).run, null);

  // the same join from an ablation table
  assert.deepEqual((await paperTable(await ablationTable(dir))).objects(), t.objects());
  assert.ok(DEFAULT_TRAIN_CONFIG.dataset === "cifar100");
});

Deno.test("paper: a table from runAblation joins the baseline cell", async () => {
  const dir = await Deno.makeTempDir();
  const t = await runAblation({
    base: { ...TINY_RUN, syntheticTrain: 8, milestones: [] },
    factors: { method: ["baseline"] },
    dir,
    log: () => {},
  });
  // synthetic data is not CIFAR-100: the run is listed in the ablation but matches no paper cell
  const p = await paperTable(t);
  assert.deepEqual(p.array("runs"), [0, 0, 0, 0]);
  assert.equal(t.get("method", 0), "baseline");
  assert.equal(t.get("state", 0), "finished");
});
