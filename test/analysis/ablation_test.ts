import assert from "node:assert/strict";
import { join } from "node:path";
import * as aq from "arquero";
import {
  ablationCurves,
  ablationGrid,
  type AblationRunEvent,
  ablationTable,
  barByFactor,
  meanStd,
  pivot,
  runAblation,
  runId,
  withFactors,
} from "../../lib/analysis/ablation.ts";
import type { TrainResults } from "../../lib/train/cli.ts";
import { resolveTrainConfig, type TrainConfig } from "../../lib/train/config.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import type { TeskdConfig } from "../../lib/distill/teskd.ts";
import { TINY_RUN, tinyRun } from "../train/tiny_run.ts";
import { makeOneHeadHistory } from "./fixture.ts";

const TINY = TINY_RUN;
const quiet = () => {};

const readJson = async <T>(p: string) => JSON.parse(await Deno.readTextFile(p)) as T;

Deno.test("ablation: a 2×2 grid trains, persists CLI run folders, and is skipped when re-run", async () => {
  const dir = await Deno.makeTempDir();
  const events: AblationRunEvent[] = [];
  const factors = { "method.kd": [0, 0.8], "method.temperature": [2, 4] };
  const t = await runAblation({
    base: TINY,
    factors,
    dir,
    log: quiet,
    onRun: (e) => events.push(e),
  });
  assert.equal(t.numRows(), 4);
  const cols = t.columnNames();
  assert.deepEqual(cols, [
    "id",
    "method.kd",
    "method.temperature",
    "state",
    "method",
    "recipe",
    "seed",
    "epochs_done",
    "epochs",
    "deployed_head",
    "final_top1",
    "best_top1",
    "best_epoch",
    "best_after_last_milestone_top1",
    "final_top1_8x8",
    "final_top1_teacher",
    "train_s",
    "dir",
  ]);
  assert.deepEqual(t.array("method.kd"), [0, 0, 0.8, 0.8]);
  assert.deepEqual(t.array("method.temperature"), [2, 4, 2, 4]);
  assert.deepEqual(t.array("state"), ["finished", "finished", "finished", "finished"]);
  assert.deepEqual(t.array("epochs_done"), [1, 1, 1, 1]);
  assert.deepEqual(t.array("method"), ["teskd", "teskd", "teskd", "teskd"]);
  assert.deepEqual(t.array("recipe"), ["teskd", "teskd", "teskd", "teskd"]);
  assert.deepEqual(t.array("seed"), [27, 27, 27, 27]);
  assert.deepEqual(t.array("epochs"), [1, 1, 1, 1]);
  assert.deepEqual(t.array("deployed_head"), ["teacher", "teacher", "teacher", "teacher"]);
  assert.equal(events.filter((e) => e.phase === "start").length, 4);
  assert.equal(events.filter((e) => e.phase === "end").length, 4);

  const mtimes: number[] = [];
  for (const [i, id] of (t.array("id") as string[]).entries()) {
    const kd = factors["method.kd"][i >> 1];
    const temperature = factors["method.temperature"][i & 1];
    assert.equal(id, runId({ "method.kd": kd, "method.temperature": temperature }));
    assert.match(id, /^method\.kd=[0-9.]+_method\.temperature=[24]-[0-9a-f]{8}$/);
    const runDir = join(dir, id);
    const cfg = await readJson<TrainConfig>(join(runDir, "config.json"));
    const method = cfg.method as TeskdConfig;
    assert.equal(method.kd, kd);
    assert.equal(method.temperature, temperature);
    assert.deepEqual(method.levels, ["8x8"], "the other fields of the base's method are kept");
    assert.equal(cfg.outDir, runDir);
    const history = await readJson<EpochRecord[]>(join(runDir, "history.json"));
    const results = await readJson<TrainResults>(join(runDir, "results.json"));
    assert.equal(history.length, 1);
    assert.equal(t.get("final_top1", i), results.finalTop1);
    assert.equal(t.get("best_top1", i), results.bestTop1);
    assert.equal(t.get("final_top1", i), history[0].eval.teacher.top1);
    assert.equal(t.get("final_top1_teacher", i), history[0].eval.teacher.top1);
    assert.equal(t.get("final_top1_8x8", i), history[0].eval["8x8"].top1);
    // kd = 0 means no KD term in the total; the logged kd_sum is still computed
    assert.ok(Number.isFinite(history[0].loss));
    mtimes.push((await Deno.stat(join(runDir, "results.json"))).mtime!.getTime());
  }

  // Re-running does not train again: no onRun call, results untouched, same table.
  const again: AblationRunEvent[] = [];
  const t2 = await runAblation({
    base: TINY,
    factors,
    dir,
    log: quiet,
    onRun: (e) => again.push(e),
  });
  assert.equal(again.length, 0);
  for (const [i, id] of (t.array("id") as string[]).entries()) {
    const m = (await Deno.stat(join(dir, id, "results.json"))).mtime!.getTime();
    assert.equal(m, mtimes[i]);
  }
  assert.deepEqual(t2.objects(), t.objects());
  assert.deepEqual((await ablationTable(dir)).objects(), t.objects());

  // figures from the table
  const bars = barByFactor(t, "method.kd", { series: "method.temperature" });
  assert.equal(bars.data.length, 2);
  assert.deepEqual(bars.data[0].x, ["0", "0.8"]);
  assert.equal(bars.data[0].name, "method.temperature=2");
  assert.deepEqual(bars.layout.yaxis, { title: { text: "final_top1" } });
  const curves = await ablationCurves(t);
  assert.equal(curves.data.length, 4);
  assert.equal(curves.data[0].name, "method.kd=0, method.temperature=2");
  assert.deepEqual(curves.data[0].y, [t.get("final_top1", 0)], "the deployed head's curve");
});

Deno.test("ablation: an interrupted run resumes from its checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const ctrl = new AbortController();
  const opts = {
    base: tinyRun({ schedule: { epochs: 2 } }),
    factors: { seed: [5] },
    dir,
    log: quiet,
  };
  await assert.rejects(
    runAblation({
      ...opts,
      signal: ctrl.signal,
      onEpoch: (_id, r) => {
        if (r.epoch === 0) ctrl.abort(new Error("stop after epoch 1"));
      },
    }),
    /stop after epoch 1/,
  );
  const interrupted = await ablationTable(dir);
  // a factor named like a protocol column ("seed") is that column, once
  assert.deepEqual(interrupted.columnNames().slice(0, 6), [
    "id",
    "seed",
    "state",
    "method",
    "recipe",
    "epochs_done",
  ]);
  assert.equal(interrupted.get("seed", 0), 5);
  assert.equal(interrupted.get("state", 0), "interrupted");
  assert.equal(interrupted.get("epochs_done", 0), 1);
  assert.equal(interrupted.get("epochs", 0), 2);
  // an unfinished run shows its numbers so far, from the deployed head
  const [first] = await readJson<EpochRecord[]>(
    join(dir, String(interrupted.get("id", 0)), "history.json"),
  );
  assert.equal(interrupted.get("final_top1", 0), first.eval[first.deployedHead].top1);

  const epochs: number[] = [];
  const t = await runAblation({ ...opts, onEpoch: (_id, r) => void epochs.push(r.epoch) });
  assert.deepEqual(epochs, [1]); // only the second epoch was trained
  assert.equal(t.get("state", 0), "finished");
  assert.equal(t.get("epochs_done", 0), 2);

  // the resumed run equals an uninterrupted one
  const whole = await runAblation({ ...opts, dir: join(dir, "whole") });
  const h = (d: string) => readJson<EpochRecord[]>(join(d, String(t.get("id", 0)), "history.json"));
  const [a, b] = [await h(dir), await h(join(dir, "whole"))];
  assert.deepEqual(a.map((r) => [r.loss, r.eval]), b.map((r) => [r.loss, r.eval]));
  assert.equal(whole.get("final_top1", 0), t.get("final_top1", 0));
});

Deno.test("ablation: parallel processes give the same results as sequential runs", async () => {
  const dir = await Deno.makeTempDir();
  const factors = { seed: [1, 2] };
  const seq = await runAblation({ base: TINY, factors, dir: join(dir, "seq"), log: quiet });
  const par = await runAblation({
    base: TINY,
    factors,
    dir: join(dir, "par"),
    log: quiet,
    parallel: 2,
  });
  assert.deepEqual(par.array("id"), seq.array("id"));
  assert.deepEqual(par.array("state"), ["finished", "finished"]);
  for (const id of seq.array("id") as string[]) {
    const a = await readJson<EpochRecord[]>(join(dir, "seq", id, "history.json"));
    const b = await readJson<EpochRecord[]>(join(dir, "par", id, "history.json"));
    assert.deepEqual(
      b.map((r) => [r.loss, r.terms, r.eval]),
      a.map((r) => [r.loss, r.terms, r.eval]),
    );
    const log = await Deno.readTextFile(join(dir, "par", id, "train.log"));
    const results = await readJson<TrainResults>(join(dir, "par", id, "results.json"));
    assert.match(log, new RegExp(`done: ${results.deployedHead} top-1 final`));
  }
});

Deno.test("ablation: meanStd and pivot match hand computation", () => {
  const t = aq.table({
    kd: [0, 0, 0, 0.8, 0.8, 0.8],
    levels: ["8x8", "8x8", "all", "8x8", "all", "all"],
    seed: [1, 2, 1, 1, 1, 2],
    top1: [70, 72, 74, 75, 78, null],
  });
  const ms = meanStd(t, "kd", "top1");
  assert.deepEqual(ms.array("kd"), [0, 0.8]);
  assert.deepEqual(ms.array("n"), [3, 2]);
  assert.deepEqual(ms.array("mean"), [72, 76.5]);
  // sample std: kd 0 → sqrt(((−2)² + 0² + 2²) / 2) = 2; kd 0.8 → sqrt((1.5² + 1.5²) / 1) = 2.1213…
  assert.equal(ms.get("std", 0), 2);
  assert.ok(Math.abs((ms.get("std", 1) as number) - Math.sqrt(4.5)) < 1e-12);
  assert.equal(ms.get("mean_std", 0), "72.00 ± 2.00");
  const one = meanStd(t, ["kd", "levels"], "top1");
  assert.equal(one.numRows(), 4);
  assert.deepEqual(one.array("n"), [2, 1, 1, 1]);
  assert.deepEqual(one.array("std"), [Math.SQRT2, null, null, null]);

  const p = pivot(t, "kd", "levels", "top1");
  assert.deepEqual(p.columnNames(), ["kd", "8x8", "all"]);
  assert.deepEqual(p.array("8x8"), [71, 75]);
  assert.deepEqual(p.array("all"), [74, 78]);
  assert.throws(() => meanStd(t, "kd", "nope"), /no column "nope"/);
});

Deno.test("ablation: bad grids fail with clear messages before training", () => {
  const grid = (factors: Record<string, unknown[]>, base = TINY) =>
    ablationGrid({ base, factors, dir: "x" });
  assert.throws(() => grid({ kdd: [1] }), /unknown field "kdd"/);
  assert.throws(() => grid({ kd: [1] }), /unknown field "kd".*did you mean "method\.kd"\?/);
  assert.throws(() => grid({ epochs: [1] }), /did you mean "schedule\.epochs"\?/);
  assert.throws(() => grid({ "method.kdd": [1] }), /unknown field "kdd" for method "teskd"/);
  assert.throws(() => grid({ "schedule.epoch": [1] }), /unknown field "schedule\.epoch"/);
  assert.throws(() => grid({ "method.kd": [] }), /factor "method\.kd" needs a non-empty list/);
  assert.throws(
    () => grid({ "method.fusion": ["sum"] }),
    /"fusion" must be one of add-concat, add, concat/,
  );
  assert.throws(() => grid({ "seed.x": [1] }), /"seed" must be a number, got \{"x":1\}/);
  assert.throws(
    () => grid({ "seed.x": [1] }, { ...TINY, seed: 3 }),
    /factor "seed\.x": "seed" is not a group of fields/,
  );
  assert.throws(() => grid({ "model..network": [1] }), /not a dotted path/);
  assert.throws(() => grid({ outDir: ["y"] }), /outDir cannot be a factor/);
  assert.throws(() => grid({ method: ["nope"] }), /unknown method "nope"/);

  const runs = grid({
    "method.levels": [["8x8"], ["8x8", "16x16"]],
    "method.detachTeacher": [false, true],
  });
  assert.equal(runs.length, 4);
  const m3 = runs[3].config.method as TeskdConfig;
  assert.deepEqual(m3.levels, ["8x8", "16x16"]);
  assert.equal(m3.detachTeacher, true);
  assert.equal(
    runs[3].id,
    runId({ "method.levels": ["8x8", "16x16"], "method.detachTeacher": true }),
  );
  assert.match(runs[3].id, /^method\.levels=8x8\+16x16_method\.detachTeacher=true-[0-9a-f]{8}$/);
  assert.notEqual(runs[0].id, runs[1].id);

  // any field by its dotted path, nested groups included
  const deep = grid({
    "model.widthMultiplier": [0.5],
    "schedule.epochs": [3],
    "data.synthetic.train": [24],
    seed: [9],
  })[0].config;
  assert.equal(deep.model.widthMultiplier, 0.5);
  assert.equal(deep.schedule.epochs, 3);
  assert.deepEqual(deep.schedule.milestones, [1], "the base's other schedule fields stay");
  assert.equal(deep.data.synthetic.train, 24);
  assert.equal(deep.data.synthetic.size, 8);
  assert.equal(deep.seed, 9);
});

Deno.test("ablation: the method is a factor like any other, by name or config", () => {
  // "method" replaces the base's method; "method.<field>" then sets a field of each
  const runs = ablationGrid({
    base: TINY,
    factors: { method: ["teskd", { name: "kd", cls: 0.5 }], "method.temperature": [2] },
    dir: "x",
  });
  assert.deepEqual(runs.map((r) => r.config.method), [
    resolveTrainConfig({ method: { name: "teskd", temperature: 2 } }).method,
    resolveTrainConfig({ method: { name: "kd", cls: 0.5, temperature: 2 } }).method,
  ]);
  assert.throws(
    () =>
      ablationGrid({ base: TINY, factors: { method: ["baseline"], "method.kd": [1] }, dir: "x" }),
    /unknown field "kd" for method "baseline"/,
  );
  // each method's own recipe unless the base names one
  const recipes = ablationGrid({ base: TINY, factors: { method: ["baseline", "teskd"] }, dir: "x" })
    .map((r) => [r.config.recipe, r.config.optim.lr]);
  assert.deepEqual(recipes, [["toolbox", 0.05], ["teskd", 0.1]]);
  const same = ablationGrid({
    base: { ...TINY, recipe: "teskd" },
    factors: { method: ["baseline", "teskd"] },
    dir: "x",
  }).map((r) => r.config.recipe);
  assert.deepEqual(same, ["teskd", "teskd"]);

  // the base's method by name, or none (the default method), gets the field
  assert.deepEqual(withFactors({ method: "teskd" }, { "method.kd": 0 }).method, {
    name: "teskd",
    kd: 0,
  });
  assert.equal(
    (resolveTrainConfig(withFactors({}, { "method.kd": 0 })).method as TeskdConfig).kd,
    0,
  );
  const base = structuredClone(TINY);
  withFactors(base, { "method.kd": 0, "schedule.epochs": 9 });
  assert.deepEqual(base, TINY, "the base is not changed");

  // ids: stable, file-safe, distinct for configs with the same name
  const ids = ablationGrid({
    base: TINY,
    factors: { method: [{ name: "teskd", levels: ["8x8"] }, { name: "teskd", fusion: "add" }] },
    dir: "x",
  }).map((r) => r.id);
  assert.match(ids[0], /^method=teskd-levels=8x8--[0-9a-f]{8}$/);
  assert.match(ids[1], /^method=teskd-fusion=add--[0-9a-f]{8}$/);
});

Deno.test("ablation: a grid over methods trains each, its metrics from each run's deployed head", async () => {
  const dir = await Deno.makeTempDir();
  const t = await runAblation({
    base: TINY,
    factors: { method: ["baseline", { name: "teskd", levels: ["8x8"] }] },
    dir,
    log: quiet,
  });
  assert.deepEqual(t.array("method"), ["baseline", "teskd(levels=8x8)"]);
  assert.deepEqual(t.array("recipe"), ["toolbox", "teskd"]);
  assert.deepEqual(t.array("state"), ["finished", "finished"]);
  assert.deepEqual(t.array("deployed_head"), ["model", "teacher"]);
  const heads = t.columnNames().filter((c) => c.startsWith("final_top1_"));
  assert.deepEqual(heads, ["final_top1_8x8", "final_top1_model", "final_top1_teacher"]);
  for (const [i, id] of (t.array("id") as string[]).entries()) {
    const results = await readJson<TrainResults>(join(dir, id, "results.json"));
    const history = await readJson<EpochRecord[]>(join(dir, id, "history.json"));
    const head = history[0].deployedHead;
    assert.equal(results.deployedHead, head);
    assert.equal(t.get("final_top1", i), history[0].eval[head].top1);
    assert.equal(t.get("final_top1", i), results.finalTop1);
    assert.equal(t.get("best_top1", i), results.bestTop1);
    assert.equal(t.get(`final_top1_${head}`, i), t.get("final_top1", i));
  }
  // every head of every run has its column; a run without that head has null there
  assert.equal(t.get("final_top1_teacher", 0), null);
  assert.equal(t.get("final_top1_8x8", 0), null);
  assert.equal(t.get("final_top1_model", 1), null);
  assert.equal(typeof t.get("final_top1_8x8", 1), "number");
  // the curves follow each run's deployed head too
  const curves = await ablationCurves(t);
  assert.deepEqual(curves.data.map((c) => c.name), ["method=baseline", "method=teskd(levels=8x8)"]);
  assert.deepEqual(curves.data.map((c) => c.y), [[t.get("final_top1", 0)], [
    t.get("final_top1", 1),
  ]]);
  assert.deepEqual(meanStd(t, "method", "final_top1").array("mean"), t.array("final_top1"));
});

Deno.test("ablation: the table reads each run's deployed head, never a fixed one", async () => {
  // Run folders written by hand in the CLI's format: a finished run that deploys "student" and an
  // interrupted one that deploys "model", each with a head "aux" that scores far higher.
  const dir = await Deno.makeTempDir();
  const write = async (id: string, head: string, top1: number[], method: string, done: boolean) => {
    const runDir = join(dir, id);
    await Deno.mkdir(runDir);
    const config = resolveTrainConfig(
      tinyRun({ method, schedule: { epochs: 5, milestones: [1] }, outDir: runDir }),
    );
    await Deno.writeTextFile(join(runDir, "config.json"), JSON.stringify(config));
    const history = makeOneHeadHistory(top1.length, head).map((r, e) => ({
      ...r,
      eval: { ...r.eval, [head]: { top1: top1[e], top5: 90 } },
    }));
    await Deno.writeTextFile(join(runDir, "history.json"), JSON.stringify(history));
    if (done) {
      const results: TrainResults = {
        method,
        deployedHead: head,
        finalTop1: top1.at(-1)!,
        bestTop1: Math.max(...top1),
        bestEpoch: top1.indexOf(Math.max(...top1)),
        bestAfterLastMilestoneTop1: Math.max(...top1.slice(1)),
        finalTop1ByHead: { aux: 95, [head]: top1.at(-1)! },
        epochs: top1.length,
        trainSeconds: 1,
      };
      await Deno.writeTextFile(join(runDir, "results.json"), JSON.stringify(results));
    }
  };
  await write("a-kd", "student", [40, 60, 50, 55, 52], "kd", true);
  await write("b-baseline", "model", [10, 30, 20], "baseline", false);
  const t = await ablationTable(dir);
  const rows = t.objects() as Record<string, unknown>[];
  assert.deepEqual(rows.map((r) => [r.id, r.method, r.recipe, r.state, r.deployed_head]), [
    ["a-kd", "kd", "toolbox", "finished", "student"],
    ["b-baseline", "baseline", "toolbox", "interrupted", "model"],
  ]);
  assert.deepEqual(rows.map((r) => [r.final_top1, r.best_top1, r.best_epoch]), [
    [52, 60, 2],
    [20, 30, 2],
  ]);
  // from the last milestone (epoch 1) on; for the unfinished run, so far
  assert.deepEqual(rows.map((r) => r.best_after_last_milestone_top1), [60, 30]);
  assert.deepEqual(rows.map((r) => r.final_top1_aux), [95, 95]);
  assert.deepEqual(rows.map((r) => r.final_top1_student), [52, null]);
  assert.deepEqual(rows.map((r) => r.final_top1_model), [null, 20]);
  assert.deepEqual(rows.map((r) => [r.epochs_done, r.epochs]), [[5, 5], [3, 5]]);
});

Deno.test("ablation: stopping parallel runs keeps their checkpoints; they resume in new processes", async () => {
  const dir = await Deno.makeTempDir();
  const opts = {
    base: withFactors(TINY, { "data.synthetic.train": 48, "schedule.epochs": 3 }),
    factors: { seed: [1, 2] },
    dir,
    log: quiet,
    parallel: 2,
  };
  const ids = ablationGrid(opts).map((r) => r.id);
  const ctrl = new AbortController();
  // stop as soon as both processes have finished their first epoch
  const poll = setInterval(async () => {
    let n = 0;
    for (const id of ids) {
      try {
        await Deno.stat(join(dir, id, "history.json"));
        n++;
      } catch { /* not yet */ }
    }
    if (n === ids.length) ctrl.abort(new Error("stopped by the test"));
  }, 50);
  try {
    await assert.rejects(runAblation({ ...opts, signal: ctrl.signal }), /stopped by the test/);
  } finally {
    clearInterval(poll);
  }
  const stopped = await ablationTable(dir);
  for (let i = 0; i < 2; i++) {
    // a process may have completed all epochs before the stop reached it
    assert.ok(["interrupted", "finished"].includes(stopped.get("state", i) as string));
    assert.ok((stopped.get("epochs_done", i) as number) >= 1);
  }
  const t = await runAblation(opts);
  assert.deepEqual(t.array("state"), ["finished", "finished"]);
  assert.deepEqual(t.array("epochs_done"), [3, 3]);
  for (const id of ids) {
    const h = await readJson<EpochRecord[]>(join(dir, id, "history.json"));
    assert.deepEqual(h.map((r) => r.epoch), [0, 1, 2]);
  }
});
