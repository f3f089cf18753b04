/**
 * A sweep at a glance, from the table of {@link ablationTable}/{@link runAblation}: the curves of
 * each setting as mean ± std over its seeds (as W&B and TensorBoard group runs), every run on
 * parallel coordinates from its factors to its results, and one row per setting with its numbers
 * as "79.15 ± 0.20" beside the protocol they were measured with.
 *
 * A *setting* is one combination of values of the grouping columns: by default the factor columns
 * of the table (those between `id` and `state`) other than "seed", so that the seeds of a setting
 * are what its mean and spread are taken over.
 *
 * @example
 * ```ts
 * const t = await ablationTable("runs/kd-ablation");
 * sweepResults(t);                       // one row per setting, sortable: .orderby(aq.desc("final_top1_mean"))
 * await groupedCurves(t);                // deployed head's top-1 per epoch, mean ± std per setting
 * parallelCoordinates(t);                // factors → final and best top-1, one line per run
 * ```
 *
 * @module
 */
import * as aq from "arquero";
import { factorLabel, meanStdText, readRunHistory, sampleStats } from "./ablation.ts";
import { Figure, type Trace } from "./figure.ts";
import { PALETTE } from "./sparkline.ts";
import { type ArqueroTable, displayable } from "./table.ts";
import { column, factorColumns, finite, groups } from "./grid_columns.ts";

/** The grouping columns: `by`, or the factor columns other than "seed". */
function settingColumns(table: ArqueroTable, by: string[] | undefined, what: string): string[] {
  const cols = by ?? factorColumns(table).filter((c) => c !== "seed");
  for (const c of cols) column(table, c, what);
  return cols;
}

/** "method.kd=0.8, method.temperature=4"; "all runs" when nothing is grouped on. */
function settingName(by: string[], key: unknown[]): string {
  return by.length === 0 ? "all runs" : by.map((c, j) => `${c}=${factorLabel(key[j])}`).join(", ");
}

/** `#1f77b4` → `rgba(31,119,180,a)`: the band in its line's colour, see-through. */
function translucent(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** Options of {@link groupedCurves}. */
export interface GroupedCurvesOptions {
  /** Columns whose values make a setting. Default: the factor columns other than "seed". */
  by?: string[];
  /**
   * What is drawn per epoch: the evaluation "top1" (default) or "top5" of the head, or the training
   * "loss" (the epoch's mean total, `EpochRecord.loss`; the head plays no part).
   */
  metric?: "top1" | "top5" | "loss";
  /** The head of every run. Default: the head each run deploys (its last record's). */
  head?: string;
  /** Chart title. */
  title?: string;
}

/**
 * One line per setting: at every epoch, the mean over the setting's runs (its seeds) of the
 * deployed head's evaluation top-1 (or `metric`), with a shaded band from mean − std to
 * mean + std (sample std, n − 1), as W&B and TensorBoard draw grouped runs. At an epoch only some
 * runs have reached, the mean and std are those of the runs that have (n is in the hover text and
 * in the line's `customdata`); where n = 1 there is no band (a setting of one run has none at all).
 * Runs without a history are skipped. The band is two traces before its line, upper then lower
 * with `fill: "tonexty"`, out of the legend; hiding a setting in the legend hides its band too.
 *
 * @throws RangeError when no run of the table has a history yet, or a run does not say which head
 *   it deploys and `head` is not given
 *
 * @example
 * ```ts
 * await groupedCurves(t);                                  // by the factors other than seed
 * await groupedCurves(t, { by: ["method.kd"], head: "8x8", metric: "top5" });
 * ```
 */
export async function groupedCurves(
  table: ArqueroTable,
  opts: GroupedCurvesOptions = {},
): Promise<Figure> {
  const what = "groupedCurves";
  const dirs = column(table, "dir", what);
  const by = settingColumns(table, opts.by, what);
  const metric = opts.metric ?? "top1";
  if (!["top1", "top5", "loss"].includes(metric)) {
    throw new RangeError(`${what}: metric must be "top1", "top5" or "loss", got ${metric}`);
  }
  const ids = table.columnNames().includes("id") ? (table.array("id") as unknown[]) : undefined;
  const histories = await Promise.all(
    dirs.map((d) => typeof d === "string" ? readRunHistory(d) : []),
  );
  if (histories.every((h) => h.length === 0)) {
    throw new RangeError(`${what}: no run of the table has a history yet (nothing to draw)`);
  }
  const heads = new Set<string>();
  /** A run's value at each of its epochs (epoch index → value). */
  const valuesOf = (i: number): Map<number, number> => {
    const h = histories[i];
    const out = new Map<number, number>();
    if (h.length === 0) return out;
    let head = opts.head;
    if (metric !== "loss") {
      head ??= h.at(-1)?.deployedHead;
      if (typeof head !== "string" || head === "") {
        throw new RangeError(
          `${what}: run ${ids?.[i] ?? i} does not say which head it deploys; pass head`,
        );
      }
      heads.add(head);
    }
    for (const r of h) {
      const v = metric === "loss" ? r.loss : r.eval?.[head!]?.[metric];
      if (finite(v)) out.set(r.epoch, v);
    }
    return out;
  };

  const data: Trace[] = [];
  let color = 0;
  for (const s of groups(table, by, what)) {
    const runs = s.rows.filter((i) => histories[i].length > 0).map(valuesOf);
    if (runs.length === 0) continue;
    const epochs = [...new Set(runs.flatMap((r) => [...r.keys()]))].sort((a, b) => a - b);
    const st = epochs.map((e) => sampleStats(runs.map((r) => r.get(e))));
    const x = epochs.map((e) => e + 1);
    const name = settingName(by, s.key);
    const c = PALETTE[color++ % PALETTE.length];
    if (st.some((t) => t.std !== null)) {
      // null where n = 1: a gap in the band, not a band of zero width that looks like certainty
      const bound = (sign: number) =>
        st.map((t) => (t.std === null ? null : t.mean! + sign * t.std));
      const band = {
        type: "scatter",
        mode: "lines",
        x,
        line: { width: 0, color: c },
        legendgroup: name,
        showlegend: false,
        hoverinfo: "skip",
      };
      data.push({ ...band, name: `${name} + std`, y: bound(1) });
      data.push({
        ...band,
        name: `${name} − std`,
        y: bound(-1),
        fill: "tonexty",
        fillcolor: translucent(c, 0.2),
      });
    }
    data.push({
      type: "scatter",
      mode: x.length <= 50 ? "lines+markers" : "lines",
      name,
      x,
      y: st.map((t) => t.mean),
      line: { color: c },
      legendgroup: name,
      customdata: st.map((t) => t.n),
      text: st.map((t) => `n=${t.n}${t.std === null ? "" : `, std ${t.std.toFixed(2)}`}`),
      hovertemplate: `${name}<br>epoch %{x}: %{y:.2f} (%{text})<extra></extra>`,
    });
  }
  const label = metric === "loss"
    ? "training loss"
    : `${metric === "top1" ? "top-1" : "top-5"} (%)`;
  const head = metric === "loss" ? "" : heads.size === 1 ? `${[...heads][0]} ` : "deployed head ";
  return new Figure(data, {
    title: {
      text: opts.title ??
        `${head}${label}: mean ± std over runs${by.length ? ` by ${by.join(", ")}` : ""}`,
    },
    xaxis: { title: { text: "epoch" } },
    yaxis: { title: { text: label } },
    hovermode: "x",
    height: 420,
    margin: { t: 50, r: 20, b: 60, l: 60 },
  });
}

/** Options of {@link parallelCoordinates}. */
export interface ParallelCoordinatesOptions {
  /** Factor columns, one axis each. Default: every factor column of the table (seed included). */
  factors?: string[];
  /** Metric columns, one axis each; the lines are coloured by the first. Default final and best top-1. */
  metrics?: string[];
  /** Chart title. */
  title?: string;
}

/**
 * Every run as one line across parallel axes: one per factor, then one per metric (Plotly
 * `parcoords`), the lines coloured by the first metric (with a colour bar) — which settings lead to
 * good results, at a glance. A factor whose values are all numbers is a numeric axis; any other
 * (method labels, level lists, booleans) is categorical: its values in first-seen order at 0, 1, …
 * with `tickvals`/`ticktext`. Runs with a missing (null, non-finite) metric are left out, which the
 * title says.
 *
 * @throws RangeError when no run has every metric
 *
 * @example
 * ```ts
 * parallelCoordinates(t, { metrics: ["best_top1", "train_s"] });
 * ```
 */
export function parallelCoordinates(
  table: ArqueroTable,
  opts: ParallelCoordinatesOptions = {},
): Figure {
  const what = "parallelCoordinates";
  const factors = opts.factors ?? factorColumns(table);
  const metrics = opts.metrics ?? ["final_top1", "best_top1"];
  if (metrics.length === 0) throw new RangeError(`${what}: give at least one metric`);
  const metricValues = metrics.map((m) => column(table, m, what));
  const factorValues = factors.map((f) => column(table, f, what));
  const kept: number[] = [];
  for (let i = 0; i < table.numRows(); i++) {
    if (metricValues.every((v) => finite(v[i]))) kept.push(i);
  }
  if (kept.length === 0) {
    throw new RangeError(`${what}: no run has a value of ${metrics.join(", ")} yet`);
  }
  const dimensions = factors.map((f, j) => {
    const vs = kept.map((i) => factorValues[j][i]);
    if (vs.every(finite)) return { label: f, values: vs };
    const ticktext: string[] = [];
    const labels = vs.map((v) => (v === null || v === undefined ? "null" : factorLabel(v)));
    for (const l of labels) if (!ticktext.includes(l)) ticktext.push(l);
    return {
      label: f,
      values: labels.map((l) => ticktext.indexOf(l)),
      tickvals: ticktext.map((_, k) => k),
      ticktext,
    };
  });
  for (const [j, m] of metrics.entries()) {
    dimensions.push({ label: m, values: kept.map((i) => metricValues[j][i] as number) });
  }
  const left = table.numRows() - kept.length;
  const note = left > 0
    ? ` (${left} run${left === 1 ? "" : "s"} without ${metrics.join("/")} left out)`
    : "";
  return new Figure([{
    type: "parcoords",
    dimensions,
    line: {
      color: kept.map((i) => metricValues[0][i]),
      colorscale: "Viridis",
      showscale: true,
      colorbar: { title: { text: metrics[0] } },
    },
  }], {
    title: {
      text: (opts.title ?? `runs: ${factors.join(", ") || "—"} → ${metrics.join(", ")}`) + note,
    },
    height: 460,
    margin: { t: 80, r: 80, b: 40, l: 80 },
  });
}

/** Options of {@link sweepResults}. */
export interface SweepResultsOptions {
  /** Columns whose values make a setting. Default: the factor columns other than "seed". */
  by?: string[];
  /** Metric columns summarised. Default `final_top1` (last epoch) and `best_top1` (best epoch). */
  metrics?: string[];
}

/** The order states are counted in: the results first, then what is still to come. */
const STATE_ORDER = [
  "finished",
  "running",
  "pending",
  "interrupted",
  "failed",
  "cancelled",
  "not run",
];

/** Distinct non-null values of `rows` in a column, as text, joined with ", " (first-seen order). */
function distinctText(values: unknown[], rows: number[]): string {
  const out: string[] = [];
  for (const i of rows) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    const t = factorLabel(v);
    if (!out.includes(t)) out.push(t);
  }
  return out.join(", ");
}

/**
 * The sweep's results, one row per setting: the grouping columns, `n` (finished runs with a value
 * of every metric: only those are averaged, so a run still training does not pull the mean), and
 * per metric `<metric>` ("79.15 ± 0.20": mean ± sample std (n − 1) at two decimals; the mean alone
 * when n = 1; "" when n = 0), then the protocol the numbers come from — `method`, `recipe`, `epochs`
 * (each the distinct values of the setting's runs, joined with ", " where they differ), `seeds`
 * (sorted, joined with ","), `states` ("3 finished", "2 finished, 1 running") — and last the
 * numbers to sort on, `<metric>_mean` and `<metric>_std` (null when undefined). A protocol column
 * the table lacks, or that is a grouping column, is left out; a table without `state` counts every
 * run as finished. It is an ordinary Arquero table that displays itself.
 *
 * @example
 * ```ts
 * sweepResults(t).orderby(aq.desc("final_top1_mean"));
 * sweepResults(t, { by: ["method.kd"], metrics: ["best_after_last_milestone_top1"] });
 * ```
 */
export function sweepResults(table: ArqueroTable, opts: SweepResultsOptions = {}): ArqueroTable {
  const what = "sweepResults";
  const by = settingColumns(table, opts.by, what);
  const metrics = opts.metrics ?? ["final_top1", "best_top1"];
  if (metrics.length === 0) throw new RangeError(`${what}: give at least one metric`);
  const metricValues = metrics.map((m) => column(table, m, what));
  const names = table.columnNames();
  const states = names.includes("state") ? (table.array("state") as unknown[]) : undefined;
  const gs = groups(table, by, what);

  const data: Record<string, unknown[]> = {};
  by.forEach((c, j) => (data[c] = gs.map((g) => g.key[j])));
  const used = gs.map((g) =>
    g.rows.filter((i) =>
      (states === undefined || states[i] === "finished") && metricValues.every((v) => finite(v[i]))
    )
  );
  data.n = used.map((u) => u.length);
  const stats = metricValues.map((v) => used.map((u) => sampleStats(u.map((i) => v[i]))));
  metrics.forEach((m, j) => {
    data[m] = stats[j].map(meanStdText);
  });
  for (const p of ["method", "recipe", "epochs"]) {
    if (!names.includes(p) || by.includes(p)) continue;
    const vs = table.array(p) as unknown[];
    data[p] = gs.map((g) => distinctText(vs, g.rows));
  }
  if (names.includes("seed") && !by.includes("seed")) {
    const vs = table.array("seed") as unknown[];
    data.seeds = gs.map((g) => {
      const seeds = [...new Set(g.rows.map((i) => vs[i]).filter((v) => v !== null))];
      // numbers in numeric order (2 before 10), anything else after them by its label
      seeds.sort((a, b) =>
        finite(a) && finite(b)
          ? a - b
          : finite(a)
          ? -1
          : finite(b)
          ? 1
          : factorLabel(a).localeCompare(factorLabel(b))
      );
      return seeds.map(factorLabel).join(",");
    });
  }
  data.states = gs.map((g) => {
    const count = new Map<string, number>();
    for (const i of g.rows) {
      const s = states === undefined ? "finished" : String(states[i] ?? "unknown");
      count.set(s, (count.get(s) ?? 0) + 1);
    }
    const rank = (s: string) => (STATE_ORDER.includes(s) ? STATE_ORDER.indexOf(s) : Infinity);
    return [...count].sort(([a], [b]) => rank(a) - rank(b)).map(([s, n]) => `${n} ${s}`).join(", ");
  });
  metrics.forEach((m, j) => {
    data[`${m}_mean`] = stats[j].map((s) => s.mean);
    data[`${m}_std`] = stats[j].map((s) => s.std);
  });
  return displayable(aq.table(data), {
    caption: `results by ${by.join(", ") || "—"}: mean ± std over finished runs`,
    maxColumns: 30,
  });
}
