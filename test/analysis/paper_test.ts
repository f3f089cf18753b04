import assert from "node:assert/strict";
import { join } from "node:path";
import { ablationTable, runAblation } from "../../lib/analysis/ablation.ts";
import { PAPER_RESULTS, paperConfig, paperTable } from "../../lib/analysis/paper.ts";
import { resolveTrainConfig, type TrainConfigInput } from "../../lib/train/config.ts";
import { TINY_RUN } from "../train/tiny_run.ts";
import { writeRunFolder } from "./fixture.ts";

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
  // Both CIFAR-100 cells: the TESKD paper's recipe on its ResNet-18, the official TESKD settings.
  const teskd = paperConfig(PAPER_RESULTS[1]);
  assert.deepEqual(teskd, resolveTrainConfig({}), "TESKD's cell is the defaults");
  const baseline = paperConfig(PAPER_RESULTS[0]);
  for (const cfg of [teskd, baseline]) {
    assert.equal(cfg.recipe, "teskd");
    assert.equal(cfg.data.dataset, "cifar100");
    assert.equal(cfg.model.network, "cifarresnet18");
    assert.equal(cfg.schedule.epochs, 200);
    assert.deepEqual(cfg.schedule.milestones, [100, 150]);
    assert.equal(cfg.optim.lr, 0.1);
    assert.equal(cfg.optim.nesterov, true);
    assert.equal(cfg.data.batchSize, 128);
  }
  assert.deepEqual(teskd.method, resolveTrainConfig({ method: "teskd" }).method);
  assert.deepEqual(baseline.method, { name: "baseline" });
  // the baseline differs from TESKD in its method only
  const { method: _a, outDir: _b, ...teskdRest } = teskd;
  const { method: _c, outDir: _d, ...baselineRest } = baseline;
  assert.deepEqual(baselineRest, teskdRest);
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
const TINY = {
  recipe: "teskd",
  data: { dataset: "cifar100", workers: 0 },
  model: { network: "cifarresnet18", widthMultiplier: 1 / 64 },
  backend: "cpu",
} as const satisfies TrainConfigInput;

Deno.test("paper: measured runs join their cells with gap, state and recipe differences", async () => {
  const dir = await Deno.makeTempDir();
  // Two finished-looking runs and one in progress, written in the CLI's format by hand (training on
  // CIFAR-100 is not possible in a test): teskd finished, baseline interrupted at 3/200.
  // The deployed head is the method's: "teacher" for TESKD, "model" for the baseline; each run has
  // another head ("other") that scores higher, which the table must not read.
  const write = async (id: string, cfg: TrainConfigInput, top1: number[], done: boolean) => {
    const runDir = join(dir, id);
    const config = resolveTrainConfig({ ...TINY, ...cfg, outDir: runDir });
    const head = config.method.name === "baseline" ? "model" : "teacher";
    await writeRunFolder(runDir, config, head, top1, {
      done,
      afterLastMilestone: Math.max(...top1.slice(1)),
    });
  };
  await write("teskd-a", { schedule: { epochs: 3, milestones: [1] } }, [70, 78.5, 78], true);
  await write("base-a", { method: "baseline" }, [40, 50, 55], false);
  // a synthetic run, another network, or the baseline on another recipe's defaults: see below
  await write("synthetic", { data: { dataset: "synthetic", workers: 0 } }, [30], true);
  await write("other-net", { model: { network: "resnet8x4" } }, [90, 91], true);
  await write("base-toolbox", { recipe: "toolbox", method: "baseline" }, [20, 21], false);

  const t = await paperTable(dir);
  const row = (i: number) => t.objects()[i] as Record<string, unknown>;
  assert.equal(row(0).run, "base-a");
  assert.equal(row(0).state, "interrupted");
  assert.equal(row(0).epochs, "3/200");
  assert.equal(row(0).measured_final, 55);
  assert.equal(row(0).measured_best, 55);
  assert.equal(row(0).gap_final, Math.round((55 - 74.41) * 100) / 100);
  assert.equal(row(0).recipe, "differs: model.widthMultiplier");
  // the toolbox-recipe baseline matches too (fewer epochs done, so not picked)
  assert.equal(row(0).runs, 2);
  assert.equal(row(1).run, "teskd-a");
  assert.equal(row(1).state, "finished");
  assert.equal(row(1).epochs, "3/3");
  assert.equal(row(1).measured_final, 78);
  assert.equal(row(1).measured_best, 78.5); // best from the last milestone (epoch 1) on
  assert.equal(row(1).gap_best, Math.round((78.5 - 79.15) * 100) / 100);
  assert.equal(
    row(1).recipe,
    "differs: model.widthMultiplier, schedule.epochs, schedule.milestones",
  );
  assert.equal(row(1).runs, 1, "neither the synthetic run nor the other network matches");
  assert.equal(row(2).state, "not runnable here");
  assert.equal(row(2).run, null);

  // the same join from an ablation table
  assert.deepEqual((await paperTable(await ablationTable(dir))).objects(), t.objects());

  // with only the toolbox-recipe baseline, it is picked and its recipe differences are named
  await Deno.remove(join(dir, "base-a"), { recursive: true });
  const only = (await paperTable(dir)).objects()[0] as Record<string, unknown>;
  assert.equal(only.run, "base-toolbox");
  assert.equal(only.measured_final, 21);
  assert.match(String(only.recipe), /^differs: recipe, data\.batchSize, model\.widthMultiplier, /);
  assert.match(String(only.recipe), /optim\.lr, optim\.nesterov, schedule\.epochs, /);
});

Deno.test("paper: a table from runAblation joins the baseline cell", async () => {
  const dir = await Deno.makeTempDir();
  const t = await runAblation({
    base: {
      ...TINY_RUN,
      data: { ...TINY_RUN.data, synthetic: { ...TINY_RUN.data?.synthetic, train: 8 } },
      schedule: { epochs: 1, milestones: [] },
    },
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
