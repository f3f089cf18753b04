import assert from "node:assert/strict";
import { join } from "node:path";
import {
  KD_PAPER_RESULTS,
  KD_SOURCES,
  type KdPaperCell,
  kdPaperConfig,
  kdPaperTable,
  simkdReadmeTable,
  teskdAlongside,
  weightsLabel,
} from "../../lib/analysis/kd_paper.ts";
import { runTraining } from "../../lib/train/cli.ts";
import { resolveTrainConfig, type TrainConfigInput } from "../../lib/train/config.ts";
import { writeRunFolder } from "./fixture.ts";

const cell = (source: string, student: string, label: string): KdPaperCell => {
  const c = KD_PAPER_RESULTS.find((c) =>
    c.source === source && c.student === student && c.label === label
  );
  assert.ok(c, `a cell ${source} ${student} ${label}`);
  return c;
};

Deno.test("kd_paper: the SimKD README's table, its std, mdistiller's KD and ATSC", () => {
  const readme = KD_PAPER_RESULTS.filter((c) => c.source === "simkd-readme");
  assert.equal(readme.length, 12 * 3 + 1, "12 rows × 3 students, and the teacher once");
  const column = (student: string) =>
    readme.filter((c) => c.student === student).map((c) => c.top1);
  assert.deepEqual(column("resnet8x4"), [
    73.09,
    74.42,
    74.32,
    75.07,
    74.29,
    74.55,
    75.59,
    75.39,
    76.23,
    76.73,
    77.88,
    78.08,
  ]);
  assert.deepEqual(column("vgg8"), [
    70.46,
    72.73,
    72.91,
    71.9,
    73.12,
    73.19,
    73.54,
    73.23,
    75.27,
    74.74,
    75.62,
    75.76,
  ]);
  assert.deepEqual(column("ShuffleV2_1_5"), [
    74.15,
    76.82,
    77.12,
    77.51,
    77.18,
    77.11,
    77.66,
    77.55,
    79.13,
    78.96,
    79.48,
    79.54,
  ]);
  assert.deepEqual(column("resnet32x4"), [79.42]);
  // mean ± std where the repository's figure gives it: three resnet8x4 cells
  assert.deepEqual(
    readme.filter((c) => c.std !== undefined).map((c) => [c.label, c.top1, c.std, c.stdFrom]),
    [
      ["Student (vanilla)", 73.09, 0.3, "simkd-figure"],
      ["KD", 74.42, 0.05, "simkd-figure"],
      ["SimKD (f=2)", 78.08, 0.15, "simkd-figure"],
    ],
  );
  // every student learned from resnet32x4 (79.42); the vanilla students and the teacher alone
  for (const c of readme) {
    const alone = c.method?.name === "baseline";
    assert.equal(c.teacher, alone ? null : "resnet32x4", `${c.student} ${c.label}`);
    if (!alone) assert.equal(c.teacherTop1, 79.42);
  }
  // the published variants: SimKD's factor, the toolbox's weights
  assert.deepEqual(cell("simkd-readme", "vgg8", "SimKD (f=4)").method, {
    name: "simkd",
    cls: 0,
    div: 0,
    beta: 1,
    factor: 4,
  });
  assert.deepEqual(cell("simkd-readme", "resnet8x4", "SemCKD").method, {
    name: "semckd",
    cls: 1,
    div: 1,
    beta: 400,
  });

  // The same KD in two code bases: 1.09 apart, with other weights.
  const simkd = cell("simkd-readme", "resnet8x4", "KD");
  const md = cell("mdistiller-readme", "resnet8x4", "KD");
  assert.equal(md.top1, 73.33);
  assert.deepEqual(md.method, { name: "kd", cls: 0.1, div: 0.9 });
  assert.ok(Math.abs(simkd.top1! - md.top1! - 1.09) < 1e-9);
  assert.equal(KD_SOURCES["simkd-tensorboard"].selection, "last");
  assert.equal(cell("simkd-tensorboard", "resnet8x4", "kd").top1, 74.76);

  // ATSC: a row without a number; SimKD+/++ are not methods of the code
  const atsc = cell("atsc-paper", "resnet8x4", "ATSC");
  assert.equal(atsc.top1, null);
  assert.match(KD_SOURCES["atsc-paper"].note, /could not be retrieved/);
  assert.equal(cell("simkd-figure", "resnet8x4", "SimKD++").method, null);

  // the wide table as published
  const wide = simkdReadmeTable().objects() as Record<string, string>[];
  assert.equal(wide[1].resnet8x4, "74.42 ± 0.05");
  assert.equal(wide[1].vgg8, "72.73");
  assert.deepEqual(Object.values(wide[12]), ["Teacher ResNet-32x4", "79.42", "79.42", "79.42"]);
});

Deno.test("kd_paper: each cell's protocol as a config, weights in words", () => {
  const kd = kdPaperConfig(cell("simkd-readme", "resnet8x4", "KD"));
  assert.equal(kd.recipe, "toolbox");
  assert.equal(kd.data.dataset, "cifar100");
  assert.equal(kd.data.batchSize, 64);
  assert.equal(kd.model.network, "resnet8x4");
  assert.deepEqual(kd.model.teacher, { network: "resnet32x4", widthMultiplier: 1 });
  assert.equal(kd.schedule.epochs, 240);
  assert.deepEqual(kd.schedule.milestones, [150, 180, 210]);
  assert.equal(kd.optim.lr, 0.05);
  assert.deepEqual(kd.method, { name: "kd", cls: 1, div: 1, temperature: 4 });
  // the toolbox's lower rate for ShuffleNet students
  assert.equal(kdPaperConfig(cell("simkd-readme", "ShuffleV2_1_5", "KD")).optim.lr, 0.01);
  const alone = kdPaperConfig(cell("simkd-readme", "resnet8x4", "Student (vanilla)"));
  assert.equal(alone.model.teacher, undefined);
  assert.equal(alone.method.name, "baseline");
  assert.throws(() => kdPaperConfig(cell("simkd-figure", "resnet8x4", "SimKD+")), /not a method/);

  assert.equal(
    weightsLabel({ name: "kd", cls: 0.1, div: 0.9, temperature: 4 }),
    "cls 0.1 · div 0.9",
  );
  assert.equal(
    weightsLabel({ name: "atsc", cls: 0, div: 0, beta: 1, w: 1, factor: 2 }),
    "cls 0 · div 0 · beta 1 · w 1",
  );
  assert.equal(weightsLabel({ name: "baseline" }), "CE only");
});

/** The synthetic stand-in of a run: the published networks and method, tiny data. */
const TINY: TrainConfigInput = {
  data: { dataset: "synthetic", synthetic: { classes: 4, train: 16 }, workers: 0 },
  schedule: { epochs: 3, milestones: [] },
  backend: "cpu",
};

/** A run folder of `cfg` written as the CLI writes it; the deployed head is the method's. */
async function writeRun(dir: string, cfg: TrainConfigInput, top1: number[], done = true) {
  const config = resolveTrainConfig({ ...cfg, outDir: dir });
  const head = config.method.name === "baseline" ? "model" : "student";
  await writeRunFolder(dir, config, head, top1, { done });
}

const STUDENT = (method: TrainConfigInput["method"], seed = 27, teacher = "resnet32x4") => ({
  ...TINY,
  seed,
  method,
  model: { network: "resnet8x4", teacher: { network: teacher, checkpoint: "t/teacher.pth" } },
});

Deno.test("kd_paper: measured runs join their cells with the gap, seeds and protocol", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const kd = { name: "kd", cls: 1, div: 1 };
    // SimKD's KD with two seeds (a folder of CLI runs), mdistiller's KD, SimKD f=4: nested folders
    await writeRun(join(dir, "kd/s27"), STUDENT(kd, 27), [50, 60, 58]);
    await writeRun(join(dir, "kd/s28"), STUDENT(kd, 28), [52, 57, 62]);
    await writeRun(join(dir, "kd/md"), STUDENT({ name: "kd", cls: 0.1, div: 0.9 }), [40, 45, 44]);
    await writeRun(join(dir, "simkd4"), STUDENT({ name: "simkd", factor: 4 }), [30, 35, 31]);
    // KD from another teacher (no match), and KD at another temperature (a match, farther off)
    await writeRun(join(dir, "kd-wrn"), STUDENT(kd, 27, "wrn_40_2"), [90, 91, 92]);
    await writeRun(join(dir, "kd/t2"), STUDENT({ ...kd, temperature: 2 }, 29), [10, 11, 12]);
    // FitNet: a finished tiny run, and the published protocol interrupted at 2/240 (preferred)
    await writeRun(join(dir, "fitnet-tiny"), STUDENT({ name: "fitnet" }), [20, 21, 22]);
    const faithful = kdPaperConfig(cell("simkd-readme", "resnet8x4", "FitNet"));
    await writeRun(
      join(dir, "fitnet-paper"),
      {
        ...(faithful as unknown as TrainConfigInput),
        model: { ...faithful.model, teacher: { network: "resnet32x4", checkpoint: "x" } },
      },
      [5, 9],
      false,
    );
    // VGG-8 under the zoo's other name for it
    await writeRun(join(dir, "vgg"), {
      ...STUDENT(kd),
      model: { ...STUDENT(kd).model, network: "vgg8_bn" },
    }, [
      41,
      42,
    ]);
    // ATSC: measured, but nothing published to compare with
    await writeRun(join(dir, "atsc"), STUDENT({ name: "atsc" }), [33, 34, 35]);
    // the teacher alone
    await writeRun(join(dir, "teacher"), {
      ...TINY,
      method: "baseline",
      model: { network: "resnet32x4" },
    }, [70, 80, 75]);
    // the student alone: a real run of the CLI's code path (its config names the grid's teacher)
    const real = resolveTrainConfig({
      data: {
        dataset: "synthetic",
        synthetic: { classes: 4, train: 8, test: 8, size: 8 },
        batchSize: 8,
        workers: 0,
      },
      method: "baseline",
      model: { network: "resnet8x4", teacher: { network: "resnet32x4", checkpoint: "t.pth" } },
      schedule: { epochs: 1, milestones: [] },
      backend: "cpu",
      outDir: join(dir, "grid/alone"),
    });
    const { results } = await runTraining(real, { log: () => {} });

    const t = await kdPaperTable(dir);
    assert.equal(t.numRows(), KD_PAPER_RESULTS.length);
    const row = (source: string, student: string, label: string) => {
      const r = (t.objects() as Record<string, unknown>[]).find((r) =>
        r.source === source && r.student === student && r.method === label
      );
      assert.ok(r, `${source} ${student} ${label}`);
      return r;
    };

    // SimKD's KD: the two seeds averaged, best epoch (what the README reports)
    const kdRow = row("simkd-readme", "resnet8x4", "KD");
    // KD at T = 2 matches (its protocol differs more: not picked, not averaged); the other teacher not
    assert.equal(kdRow.runs, 3);
    assert.equal(kdRow.run_seeds, "27, 28");
    assert.equal(kdRow.measured_best, 61);
    assert.equal(kdRow.measured_final, 60);
    assert.equal(kdRow.measured, 61);
    assert.equal(kdRow.measured_std, Math.round(Math.SQRT2 * 100) / 100);
    assert.equal(kdRow.gap, Math.round((61 - 74.42) * 100) / 100);
    assert.equal(kdRow.published, 74.42);
    assert.equal(kdRow.std, 0.05);
    assert.equal(kdRow.weights, "cls 1 · div 1");
    assert.equal(kdRow.run_weights, "cls 1 · div 1");
    assert.equal(kdRow.run_epochs, "3/3");
    assert.equal(kdRow.run_dataset, "synthetic");
    assert.equal(kdRow.run_teacher, "resnet32x4 ← t/teacher.pth");
    assert.equal(kdRow.comparable, false);
    assert.match(
      String(kdRow.protocol),
      /^differs: data\.dataset, schedule\.epochs, schedule\.milestones$/,
    );
    // the screenshot reports the last epoch: the same runs, their final accuracy
    const tb = row("simkd-tensorboard", "resnet8x4", "kd");
    assert.equal(tb.measured, 60);
    assert.equal(tb.gap, Math.round((60 - 74.76) * 100) / 100);
    // mdistiller's weights: only the run with those weights
    const md = row("mdistiller-readme", "resnet8x4", "KD");
    assert.deepEqual([md.runs, md.measured, md.run_weights], [1, 45, "cls 0.1 · div 0.9"]);
    assert.equal(md.gap, Math.round((45 - 73.33) * 100) / 100);
    // SimKD's factor picks the cell
    assert.equal(row("simkd-readme", "resnet8x4", "SimKD (f=4)").measured, 35);
    assert.equal(row("simkd-readme", "resnet8x4", "SimKD (f=2)").state, "not run");
    assert.equal(row("simkd-readme", "vgg8", "SimKD (f=4)").runs, 0);
    assert.deepEqual([
      row("simkd-readme", "vgg8", "KD").run,
      row("simkd-readme", "vgg8", "KD").measured,
    ], [
      "vgg",
      42,
    ]);
    // the published protocol first, even unfinished
    const fit = row("simkd-readme", "resnet8x4", "FitNet");
    assert.deepEqual([fit.run, fit.state, fit.run_epochs, fit.runs], [
      "fitnet-paper",
      "interrupted",
      "2/240",
      2,
    ]);
    assert.deepEqual([fit.protocol, fit.comparable, fit.measured], ["as published", false, 9]);
    assert.equal(fit.run_teacher, "resnet32x4 ← x", "the checkpoint path is not a protocol field");
    // ATSC measured, no gap
    const atsc = row("atsc-paper", "resnet8x4", "ATSC");
    assert.deepEqual([atsc.published, atsc.measured, atsc.gap], [null, 35, null]);
    assert.match(String(atsc.note), /not retrievable/);
    // the networks alone: the teacher, and the real CLI run (whose unused teacher is not shown)
    const teacher = row("simkd-readme", "resnet32x4", "Teacher ResNet-32x4");
    assert.deepEqual([teacher.measured, teacher.gap], [80, Math.round((80 - 79.42) * 100) / 100]);
    const alone = row("simkd-readme", "resnet8x4", "Student (vanilla)");
    assert.equal(alone.run, "alone");
    assert.equal(alone.measured, Math.round(results.bestTop1 * 100) / 100);
    assert.equal(alone.run_teacher, null);
    assert.doesNotMatch(String(alone.protocol), /model\.teacher/);
    assert.equal(alone.weights, "CE only");
    // SimKD+ cannot be run here
    assert.equal(row("simkd-figure", "resnet8x4", "SimKD+").state, "not in the code");

    // a filter on students, and the same join from one run folder
    const only = await kdPaperTable(join(dir, "kd/md"), { students: ["resnet8x4"] });
    assert.ok((only.array("student") as string[]).every((s) => s === "resnet8x4"));
    assert.equal(
      (only.objects() as Record<string, unknown>[]).filter((r) => r.run !== null).length,
      1,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kd_paper: TESKD's paper shares no setting with the KD tables", () => {
  const t = teskdAlongside().objects() as Record<string, unknown>[];
  assert.deepEqual(t.map((r) => [r.dataset, r.method, r.top1]), [
    ["CIFAR-100", "baseline", 74.41],
    ["CIFAR-100", "teskd", 79.15],
    ["ImageNet", "baseline", 69.71],
    ["ImageNet", "teskd", 71.14],
  ]);
  assert.ok(t.every((r) => r.same_setting === false));
  assert.match(String(t[1].why), /no KD cell has cifarresnet18.*no pretrained teacher/);
  assert.match(String(t[2].why), /CIFAR-100 only/);
});
