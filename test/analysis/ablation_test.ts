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
} from "../../lib/analysis/ablation.ts";
import type { TrainConfig } from "../../lib/train/config.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import { TINY_RUN } from "../train/tiny_run.ts";

const TINY = TINY_RUN;
const quiet = () => {};

const readJson = async <T>(p: string) => JSON.parse(await Deno.readTextFile(p)) as T;

Deno.test("ablation: a 2×2 grid trains, persists CLI run folders, and is skipped when re-run", async () => {
  const dir = await Deno.makeTempDir();
  const events: AblationRunEvent[] = [];
  const factors = { kd: [0, 0.8], temperature: [2, 4] };
  const t = await runAblation({
    base: TINY,
    factors,
    dir,
    log: quiet,
    onRun: (e) => events.push(e),
  });
  assert.equal(t.numRows(), 4);
  const cols = t.columnNames();
  assert.deepEqual(cols.slice(0, 4), ["id", "kd", "temperature", "state"]);
  assert.ok(cols.includes("final_top1_8x8") && cols.includes("best_teacher_top1"));
  assert.deepEqual(t.array("kd"), [0, 0, 0.8, 0.8]);
  assert.deepEqual(t.array("temperature"), [2, 4, 2, 4]);
  assert.deepEqual(t.array("state"), ["finished", "finished", "finished", "finished"]);
  assert.deepEqual(t.array("epochs_done"), [1, 1, 1, 1]);
  assert.equal(events.filter((e) => e.phase === "start").length, 4);
  assert.equal(events.filter((e) => e.phase === "end").length, 4);

  const mtimes: number[] = [];
  for (const [i, id] of (t.array("id") as string[]).entries()) {
    assert.equal(id, runId({ kd: factors.kd[i >> 1], temperature: factors.temperature[i & 1] }));
    const runDir = join(dir, id);
    const cfg = await readJson<TrainConfig>(join(runDir, "config.json"));
    assert.equal(cfg.kd, factors.kd[i >> 1]);
    assert.equal(cfg.temperature, factors.temperature[i & 1]);
    assert.equal(cfg.outDir, runDir);
    const history = await readJson<EpochRecord[]>(join(runDir, "history.json"));
    const results = await readJson<{ finalTeacherTop1: number }>(join(runDir, "results.json"));
    assert.equal(history.length, 1);
    assert.equal(t.get("final_teacher_top1", i), results.finalTeacherTop1);
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
  const bars = barByFactor(t, "kd", { series: "temperature" });
  assert.equal(bars.data.length, 2);
  assert.deepEqual(bars.data[0].x, ["0", "0.8"]);
  const curves = await ablationCurves(t);
  assert.equal(curves.data.length, 4);
  assert.equal(curves.data[0].name, "kd=0, temperature=2");
});

Deno.test("ablation: an interrupted run resumes from its checkpoint", async () => {
  const dir = await Deno.makeTempDir();
  const ctrl = new AbortController();
  const opts = { base: { ...TINY, epochs: 2 }, factors: { seed: [5] }, dir, log: quiet };
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
  assert.equal(interrupted.get("state", 0), "interrupted");
  assert.equal(interrupted.get("epochs_done", 0), 1);
  assert.equal(interrupted.get("epochs", 0), 2);

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
  assert.equal(whole.get("final_teacher_top1", 0), t.get("final_teacher_top1", 0));
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
    assert.match(log, /done: final teacher top-1/);
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
  assert.throws(
    () => ablationGrid({ base: TINY, factors: { kdd: [1] }, dir: "x" }),
    /unknown field "kdd"/,
  );
  assert.throws(
    () => ablationGrid({ base: TINY, factors: { kd: [] }, dir: "x" }),
    /factor "kd" needs a non-empty list/,
  );
  assert.throws(
    () => ablationGrid({ base: TINY, factors: { fusion: ["sum"] }, dir: "x" }),
    /"fusion" must be one of add-concat, add, concat/,
  );
  const runs = ablationGrid({
    base: TINY,
    factors: { levels: [["8x8"], ["8x8", "16x16"]], detachTeacher: [false, true] },
    dir: "x",
  });
  assert.equal(runs.length, 4);
  assert.deepEqual(runs[3].config.levels, ["8x8", "16x16"]);
  assert.equal(runs[3].config.detachTeacher, true);
  assert.equal(runs[3].id, runId({ levels: ["8x8", "16x16"], detachTeacher: true }));
  assert.match(runs[3].id, /^levels=8x8\+16x16_detachTeacher=true-[0-9a-f]{8}$/);
  assert.notEqual(runs[0].id, runs[1].id);
});

Deno.test("ablation: stopping parallel runs keeps their checkpoints; they resume in new processes", async () => {
  const dir = await Deno.makeTempDir();
  const opts = {
    base: { ...TINY, syntheticTrain: 48, epochs: 3 },
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
