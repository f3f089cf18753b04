import assert from "node:assert/strict";
import * as aq from "arquero";
import {
  ablationGrid,
  ablationTable,
  groupedCurves,
  JUPYTER_DISPLAY,
  lossCurves,
  lossWeights,
  parallelCoordinates,
  sweepResults,
} from "../../lib/analysis/mod.ts";
import { METHOD_NAMES, resolveMethodConfig } from "../../lib/distill/registry.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import { tinyRun } from "../train/tiny_run.ts";
import { makeHistory, writeGridManifest, writeRunFolder } from "./fixture.ts";

type Trace = Record<string, unknown>;

/** Sample standard deviation (n − 1), written out here rather than taken from the library. */
const sd = (xs: number[]) => {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return Math.sqrt(xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1));
};

/** Element-wise equality to 1e-9 (sums of floats), nulls where expected. */
function close(actual: unknown, expected: (number | null)[], what: string) {
  assert.ok(Array.isArray(actual), `${what}: an array`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  expected.forEach((e, i) => {
    if (e === null) assert.equal(actual[i], null, `${what}[${i}]`);
    else {assert.ok(
        Math.abs((actual[i] as number) - e) < 1e-9,
        `${what}[${i}]: ${actual[i]} ≠ ${e}`,
      );}
  });
}

/**
 * A grid written by hand: "method.levels" ∈ {[8x8], [8x8, 16x16]} × seed ∈ {1, 2, 3, 4}, TESKD,
 * 3 epochs; the teacher (deployed) scores the top-1 below per epoch, a head "other" always 99.
 * - 8x8: seeds 1, 2 finished; seed 3 interrupted after 2 epochs; seed 4 not run.
 * - 8x8+16x16: seeds 1, 2, 3 finished; seed 4 not run.
 */
const TOP1: Record<string, Record<number, { top1: number[]; done: boolean }>> = {
  "8x8": {
    1: { top1: [10, 20, 18], done: true },
    2: { top1: [12, 26, 24], done: true },
    3: { top1: [14, 23], done: false },
  },
  "8x8+16x16": {
    1: { top1: [20, 40, 50], done: true },
    2: { top1: [22, 58, 56], done: true },
    3: { top1: [30, 42, 62], done: true },
  },
};

async function writeGrid(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const base = tinyRun({ schedule: { epochs: 3, milestones: [1] } });
  const factors = { "method.levels": [["8x8"], ["8x8", "16x16"]], seed: [1, 2, 3, 4] };
  const runs = ablationGrid({ base, factors, dir });
  await writeGridManifest(dir, base, factors, runs);
  for (const r of runs) {
    const levels = (r.factors["method.levels"] as string[]).join("+");
    const run = TOP1[levels][r.factors.seed as number];
    if (run) await writeRunFolder(r.config.outDir, r.config, "teacher", run.top1, run);
  }
  return dir;
}

Deno.test("sweep views: the fixture grid reads as expected", async () => {
  const t = await ablationTable(await writeGrid());
  assert.deepEqual(t.array("method.levels"), [
    ...Array(4).fill("8x8"),
    ...Array(4).fill("8x8+16x16"),
  ]);
  assert.deepEqual(t.array("seed"), [1, 2, 3, 4, 1, 2, 3, 4]);
  assert.deepEqual(t.array("state"), [
    "finished",
    "finished",
    "interrupted",
    "not run",
    "finished",
    "finished",
    "finished",
    "not run",
  ]);
  // the interrupted run has numbers so far, which the results must not average
  assert.deepEqual(t.array("final_top1"), [18, 24, 23, null, 50, 56, 62, null]);
});

Deno.test("groupedCurves: mean ± sample std per setting and epoch, n where runs stop", async () => {
  const t = await ablationTable(await writeGrid());
  const fig = (await groupedCurves(t)).toJSON();
  // per setting: band upper, band lower, mean line
  assert.deepEqual(fig.data.map((d) => d.name), [
    "method.levels=8x8 + std",
    "method.levels=8x8 − std",
    "method.levels=8x8",
    "method.levels=8x8+16x16 + std",
    "method.levels=8x8+16x16 − std",
    "method.levels=8x8+16x16",
  ]);
  const [up1, lo1, mean1, up2, lo2, mean2] = fig.data as Trace[];
  for (const d of fig.data) assert.deepEqual(d.x, [1, 2, 3]);

  // 8x8: epoch 1 {10, 12, 14}, epoch 2 {20, 26, 23}, epoch 3 {18, 24} (seed 3 stopped at 2)
  const m1 = [12, 23, 21];
  const s1 = [2, 3, sd([18, 24])];
  close(mean1.y, m1, "8x8 mean");
  close(up1.y, m1.map((m, i) => m + s1[i]), "8x8 upper");
  close(lo1.y, m1.map((m, i) => m - s1[i]), "8x8 lower");
  assert.deepEqual(mean1.customdata, [3, 3, 2], "n per epoch");
  assert.deepEqual(mean1.text, ["n=3, std 2.00", "n=3, std 3.00", "n=2, std 4.24"]);

  // 8x8+16x16: {20, 22, 30}, {40, 58, 42}, {50, 56, 62}
  const m2 = [24, 140 / 3, 56];
  const s2 = [sd([20, 22, 30]), sd([40, 58, 42]), 6];
  assert.ok(Math.abs(s2[0] - Math.sqrt(28)) < 1e-12, "hand: ((−4)² + (−2)² + 6²) / 2 = 28");
  close(mean2.y, m2, "8x8+16x16 mean");
  close(up2.y, m2.map((m, i) => m + s2[i]), "8x8+16x16 upper");
  close(lo2.y, m2.map((m, i) => m - s2[i]), "8x8+16x16 lower");
  assert.deepEqual(mean2.customdata, [3, 3, 3]);

  // the band: lower fills to upper, out of the legend, no hover, translucent line colour
  for (const [b, color] of [[up1, "#1f77b4"], [lo1, "#1f77b4"], [up2, "#ff7f0e"]] as const) {
    assert.equal(b.showlegend, false);
    assert.equal(b.hoverinfo, "skip");
    assert.equal((b.line as { color: string }).color, color);
  }
  assert.equal(up1.fill, undefined);
  assert.equal(lo1.fill, "tonexty");
  assert.equal(lo1.fillcolor, "rgba(31,119,180,0.2)");
  assert.equal(lo2.fillcolor, "rgba(255,127,14,0.2)");
  assert.equal(mean1.legendgroup, up1.legendgroup, "hiding a setting hides its band");
  assert.equal((mean2.line as { color: string }).color, "#ff7f0e");
  assert.equal(
    (fig.layout.title as { text: string }).text,
    "teacher top-1 (%): mean ± std over runs by method.levels",
  );
});

Deno.test("groupedCurves: one run per setting has no band; head, metric, errors", async () => {
  const dir = await writeGrid();
  const t = await ablationTable(dir);
  const each = (await groupedCurves(t, { by: ["method.levels", "seed"] })).toJSON();
  // the two runs not run have no history: skipped
  assert.equal(each.data.length, 6, "six mean lines, no band trace");
  assert.ok(each.data.every((d) => d.fill === undefined && d.showlegend !== false));
  assert.equal(each.data[2].name, "method.levels=8x8, seed=3");
  assert.deepEqual(each.data[2].y, [14, 23]);
  assert.deepEqual(each.data[2].customdata, [1, 1]);
  assert.deepEqual(each.data[2].text, ["n=1", "n=1"]);

  // another head, another metric: the writer's head "other" scores 99, top-5 is 90 everywhere
  const other = (await groupedCurves(t, { head: "other" })).toJSON();
  assert.deepEqual(other.data[2].y, [99, 99, 99]);
  assert.deepEqual(other.data[0].y, [99, 99, 99], "std 0: the band is the line");
  const top5 = (await groupedCurves(t, { metric: "top5", by: [] })).toJSON();
  assert.equal(top5.data.at(-1)!.name, "all runs");
  assert.deepEqual(top5.data.at(-1)!.y, [90, 90, 90]);
  assert.deepEqual(top5.data.at(-1)!.customdata, [6, 6, 5]);

  const missing = t.array("id")[3] as string; // seed 4: never run
  await assert.rejects(
    groupedCurves(await ablationTable(dir, [missing])),
    (e) => e instanceof RangeError && /no run of the table has a history yet/.test(e.message),
  );
  await assert.rejects(groupedCurves(t, { by: ["method.kd"] }), /no column "method\.kd"/);
});

Deno.test("parallelCoordinates: factor and metric axes, categorical ticks, null rows dropped", async () => {
  const t = await ablationTable(await writeGrid());
  const fig = parallelCoordinates(t).toJSON();
  assert.equal(fig.data.length, 1);
  const pc = fig.data[0] as {
    type: string;
    dimensions: Record<string, unknown>[];
    line: Record<string, unknown>;
  };
  assert.equal(pc.type, "parcoords");
  assert.deepEqual(pc.dimensions.map((d) => d.label), [
    "method.levels",
    "seed",
    "final_top1",
    "best_top1",
  ]);
  // the two runs never run (seed 4) have no metric: left out
  assert.deepEqual(pc.dimensions[0], {
    label: "method.levels",
    values: [0, 0, 0, 1, 1, 1],
    tickvals: [0, 1],
    ticktext: ["8x8", "8x8+16x16"],
  });
  assert.deepEqual(pc.dimensions[1], { label: "seed", values: [1, 2, 3, 1, 2, 3] });
  assert.deepEqual(pc.dimensions[2].values, [18, 24, 23, 50, 56, 62]);
  assert.deepEqual(pc.dimensions[3].values, [20, 26, 23, 50, 58, 62]);
  assert.deepEqual(pc.line.color, [18, 24, 23, 50, 56, 62], "coloured by the first metric");
  assert.equal(pc.line.showscale, true);
  assert.deepEqual(pc.line.colorbar, { title: { text: "final_top1" } });
  assert.match(
    (fig.layout.title as { text: string }).text,
    /\(2 runs without final_top1\/best_top1 left out\)$/,
  );

  const one = parallelCoordinates(t, { factors: ["seed"], metrics: ["best_epoch"] }).toJSON();
  const d1 = (one.data[0] as { dimensions: Record<string, unknown>[] }).dimensions;
  assert.deepEqual(d1.map((d) => d.label), ["seed", "best_epoch"]);
  assert.deepEqual(d1[1].values, [2, 2, 2, 3, 2, 3]);
  assert.throws(
    () => parallelCoordinates(t.filter((d: { state: string }) => d.state === "not run")),
    (e) => e instanceof RangeError && /no run has a value/.test((e as Error).message),
  );
});

Deno.test("sweepResults: mean ± std over the finished runs of each setting, with the protocol", async () => {
  const t = await ablationTable(await writeGrid());
  const r = sweepResults(t);
  assert.deepEqual(r.columnNames(), [
    "method.levels",
    "n",
    "final_top1",
    "best_top1",
    "method",
    "recipe",
    "epochs",
    "seeds",
    "states",
    "final_top1_mean",
    "final_top1_std",
    "best_top1_mean",
    "best_top1_std",
  ]);
  const rows = r.objects() as Record<string, unknown>[];
  assert.deepEqual(rows.map((x) => x["method.levels"]), ["8x8", "8x8+16x16"]);
  // 8x8: finished seeds 1 and 2 only (final 18, 24; best 20, 26), not the interrupted seed 3
  assert.equal(rows[0].n, 2);
  close([rows[0].final_top1_mean, rows[0].final_top1_std], [21, sd([18, 24])], "8x8 final");
  close([rows[0].best_top1_mean, rows[0].best_top1_std], [23, sd([20, 26])], "8x8 best");
  assert.equal(rows[0].final_top1, "21.00 ± 4.24");
  assert.equal(rows[0].best_top1, "23.00 ± 4.24");
  assert.equal(rows[0].states, "2 finished, 1 interrupted, 1 not run");
  // 8x8+16x16: final 50, 56, 62; best 50, 58, 62
  assert.equal(rows[1].n, 3);
  close([rows[1].final_top1_mean, rows[1].final_top1_std], [56, 6], "final");
  close([rows[1].best_top1_mean, rows[1].best_top1_std], [170 / 3, sd([50, 58, 62])], "best");
  assert.equal(rows[1].final_top1, "56.00 ± 6.00");
  assert.equal(rows[1].best_top1, "56.67 ± 6.11");
  assert.equal(rows[1].states, "3 finished, 1 not run");
  for (const x of rows) {
    assert.deepEqual([x.method, x.recipe, x.epochs, x.seeds], ["teskd", "teskd", "3", "1,2,3,4"]);
  }
  // an ordinary Arquero table, displayed
  assert.deepEqual(r.orderby(aq.desc("final_top1_mean")).array("method.levels"), [
    "8x8+16x16",
    "8x8",
  ]);
  const shown = (r as unknown as Record<symbol, () => Record<string, unknown>>)[JUPYTER_DISPLAY]();
  assert.match(String(shown["text/plain"]), /56\.00 ± 6\.00/);

  // one run per setting: the mean alone, no std; none finished: empty
  const each = sweepResults(t, { by: ["method.levels", "seed"] }).objects() as Record<
    string,
    unknown
  >[];
  assert.equal(each.length, 8);
  assert.deepEqual(each.map((x) => x.final_top1), [
    "18.00",
    "24.00",
    "",
    "",
    "50.00",
    "56.00",
    "62.00",
    "",
  ]);
  assert.deepEqual(each.map((x) => x.final_top1_std), Array(8).fill(null));
  assert.deepEqual(each.map((x) => x.n), [1, 1, 0, 0, 1, 1, 1, 0]);
  assert.ok(!Object.hasOwn(each[0], "seeds"), "seed is a grouping column");
  assert.equal(each[2].states, "1 interrupted");
});

Deno.test("sweepResults: protocol values that differ are joined, seeds sorted as numbers", () => {
  const t = aq.table({
    id: ["a", "b", "c", "d"],
    lr: [0.1, 0.1, 0.1, 0.05],
    state: ["finished", "finished", "running", "finished"],
    method: ["kd", "kd", "kd", "kd"],
    recipe: ["toolbox", "toolbox", "toolbox", "toolbox"],
    seed: [10, 2, 7, 1],
    epochs: [240, 120, 240, 240],
    final_top1: [70, 72, 10, 71.234],
    best_top1: [71, 73, 11, 71.5],
  });
  const rows = sweepResults(t, { metrics: ["final_top1"] }).objects() as Record<string, unknown>[];
  assert.deepEqual(rows, [
    {
      lr: 0.1,
      n: 2,
      final_top1: `71.00 ± ${sd([70, 72]).toFixed(2)}`,
      method: "kd",
      recipe: "toolbox",
      epochs: "240, 120",
      seeds: "2,7,10",
      states: "2 finished, 1 running",
      final_top1_mean: 71,
      final_top1_std: sd([70, 72]),
    },
    {
      lr: 0.05,
      n: 1,
      final_top1: "71.23",
      method: "kd",
      recipe: "toolbox",
      epochs: "240",
      seeds: "1",
      states: "1 finished",
      final_top1_mean: 71.234,
      final_top1_std: null,
    },
  ]);
});

/** A TESKD history with its raw (unweighted) terms as the trainer records them, and one extra. */
function teskdHistory(): EpochRecord[] {
  return makeHistory(3).map((r, e) => ({
    ...r,
    terms: {
      ce_sum: 4 - e,
      kd_sum: 0.05 * (e + 1),
      fea_sum: 3000 + 100 * e,
      ce_teacher: 2 - e / 2,
      ce_8x8: 2 - e / 2,
      kd_8x8: 0.05 * (e + 1),
      fea_8x8: 3000 + 100 * e,
      extra: 1,
    },
  }));
}

Deno.test("lossCurves: weighted terms are each term's contribution; log scale drops points ≤ 0", () => {
  const h = teskdHistory();
  const method = resolveMethodConfig({ name: "teskd", levels: ["8x8"] });
  const w = lossWeights(method);
  assert.deepEqual(w, {
    ce_sum: 0.2,
    kd_sum: 0.8,
    fea_sum: 1e-7,
    ce_teacher: 0.2,
    ce_8x8: 0.2,
    kd_8x8: 0.8,
    fea_8x8: 1e-7,
  });
  const fig = lossCurves(h, { weighted: w }).toJSON();
  assert.deepEqual(fig.data.map((d) => d.name), [
    "loss",
    "ce_sum × 0.2",
    "kd_sum × 0.8",
    "fea_sum × 1e-7",
    "ce_teacher × 0.2",
    "ce_8x8 × 0.2",
    "kd_8x8 × 0.8",
    "fea_8x8 × 1e-7",
  ], "no eval loss, no unweighted term");
  assert.deepEqual(fig.data[0].y, h.map((r) => r.loss), "the total as recorded");
  close(fig.data[3].y, [3000e-7, 3100e-7, 3200e-7], "fea_sum × 1e-7");
  close(fig.data[2].y, [0.04, 0.08, 0.12], "kd_sum × 0.8");
  close(fig.data[1].y, [0.8, 0.6, 0.4], "ce_sum × 0.2");
  assert.match((fig.layout.title as { text: string }).text, /no weight, not drawn: extra\)$/);
  assert.deepEqual(fig.layout.yaxis, { title: { text: "weighted loss" } });

  // log scale: a zero and a negative point become gaps, and the title says so
  h[1].terms.kd_sum = 0;
  h[2].terms.kd_sum = -0.1;
  const log = lossCurves(h, { scale: "log" }).toJSON();
  assert.equal((log.layout.yaxis as { type: string }).type, "log");
  const kd = log.data.find((d) => d.name === "kd_sum")!;
  assert.deepEqual(kd.y, [0.05, null, null]);
  assert.deepEqual(log.data.find((d) => d.name === "fea_sum")!.y, [3000, 3100, 3200]);
  assert.ok(log.data.some((d) => d.name === "eval loss"), "unweighted: everything drawn");
  assert.equal(
    (log.layout.title as { text: string }).text,
    "loss (2 points ≤ 0 not drawn: kd_sum)",
  );
  // the default stays linear, points ≤ 0 drawn
  const lin = lossCurves(h).toJSON();
  assert.equal((lin.layout.yaxis as { type?: string }).type, undefined);
  assert.deepEqual(lin.data.find((d) => d.name === "kd_sum")!.y, [0.05, 0, -0.1]);
  assert.deepEqual(lin.layout.title, { text: "loss" });
  assert.throws(() => lossCurves(h, { scale: "ln" as never }), /scale must be "linear" or "log"/);
});

Deno.test("lossWeights: every method's weights from its resolved config", () => {
  for (const name of METHOD_NAMES) {
    const w = lossWeights(resolveMethodConfig(name));
    assert.ok(Object.keys(w).length > 0, name);
  }
  assert.deepEqual(lossWeights(resolveMethodConfig("baseline")), { cls: 1 });
  assert.deepEqual(lossWeights(resolveMethodConfig({ name: "kd", div: 0.9, cls: 0.1 })), {
    cls: 0.1,
    div: 0.9,
  });
  assert.deepEqual(lossWeights(resolveMethodConfig("fitnet")), { cls: 1, div: 1, kd: 100 });
  assert.deepEqual(lossWeights(resolveMethodConfig("atsc")), { cls: 0, div: 0, kd: 1, w: 1 });
  assert.equal(Object.keys(lossWeights(resolveMethodConfig("teskd"))).length, 4 + 3 * 3);
  assert.throws(() => lossWeights({ name: "teskd" }), /no numeric field "ce"/);
  assert.throws(() => lossWeights({ name: "mine" }), /loss terms of method "mine" are not known/);
});
