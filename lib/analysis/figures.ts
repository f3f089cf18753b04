/**
 * Standard figures of a training run of any method, from the trainer's history (one record per
 * epoch): loss curves, accuracy curves per head, the heads side by side (the deployed one
 * highlighted), and several runs compared on what each deploys.
 *
 * @example
 * ```ts
 * accuracyCurves(trainer.history);                 // eval top-1 of every head per epoch
 * teacherVsStudents(trainer.history);              // best and final top-1 per head, bars
 * compareRuns({ baseline: a.history, teskd: b.history }); // each run's deployed head
 * ```
 *
 * @module
 */
import type { EpochRecord } from "../train/trainer.ts";
import type { Method, MethodConfigBase } from "../distill/method.ts";
import { getMethod } from "../distill/registry.ts";
import { Figure, lineChart, type Trace } from "./figure.ts";
import { PALETTE } from "./sparkline.ts";

/** Which accuracy to plot. */
export type Metric = "top1" | "top5";

function checkHistory(what: string, history: readonly EpochRecord[]): EpochRecord[] {
  if (!Array.isArray(history)) throw new TypeError(`${what}: history must be an array of records`);
  for (const [i, r] of history.entries()) {
    if (typeof r?.epoch !== "number" || typeof r.eval !== "object" || typeof r.terms !== "object") {
      throw new TypeError(`${what}: history[${i}] is not an epoch record`);
    }
  }
  return history as EpochRecord[];
}

function headsOf(history: EpochRecord[]): string[] {
  const heads: string[] = [];
  for (const r of history) {
    for (const h of Object.keys(r.eval)) if (!heads.includes(h)) heads.push(h);
  }
  return heads;
}

/** Options of {@link lossCurves}. */
export interface LossCurvesOptions {
  /** Chart title. Default "loss" (plus what the options changed). */
  title?: string;
  /**
   * Y axis scale. Default "linear". "log" keeps terms that differ by orders of magnitude readable
   * (TESKD's raw feature term is in the thousands, its KD term in the hundredths); points ≤ 0 have no
   * place on a log axis and are left out (gaps), which the title then says.
   */
  scale?: "linear" | "log";
  /**
   * Term name → its weight in the training total (see {@link lossWeights}). The trainer records
   * every term *before* its weight (`EpochRecord.terms`: TESKD's `fea_sum`, not `fea · fea_sum`), so
   * with this option each term is drawn multiplied by its weight, as "fea_sum × 1e-7": its
   * contribution to the total. The total (`loss`) is drawn as recorded, which already is the
   * weighted sum. Terms without a weight here are not drawn (their contribution is unknown) and the
   * title names them; the evaluation loss is not drawn either (it is no term of the training total).
   */
  weighted?: Record<string, number>;
}

/** A weight as written in a trace name: 0.8, 1e-7, 1000. */
const weightText = (w: number) => String(Number(w.toPrecision(4)));

/**
 * Training loss per epoch: the total, each term and (when evaluated) the evaluation loss (the
 * cross-entropy of the deployed head). Terms are drawn as the trainer records them, before their
 * weights; `weighted` draws their contributions to the total instead, and `scale: "log"` puts
 * terms of very different sizes on one readable axis.
 *
 * @example
 * ```ts
 * lossCurves(trainer.history);
 * lossCurves(trainer.history, { scale: "log", weighted: lossWeights(config.method) });
 * ```
 */
export function lossCurves(
  history: readonly EpochRecord[],
  opts: LossCurvesOptions = {},
): Figure {
  const h = checkHistory("lossCurves", history);
  const scale = opts.scale ?? "linear";
  if (scale !== "linear" && scale !== "log") {
    throw new RangeError(`lossCurves: scale must be "linear" or "log", got ${String(scale)}`);
  }
  const weights = opts.weighted;
  if (weights !== undefined) {
    for (const [k, w] of Object.entries(weights)) {
      if (!Number.isFinite(w)) throw new RangeError(`lossCurves: weight of "${k}" is ${w}`);
    }
  }
  const series: Record<string, number[]> = { loss: h.map((r) => r.loss) };
  const terms: string[] = [];
  for (const r of h) for (const k of Object.keys(r.terms)) if (!terms.includes(k)) terms.push(k);
  const unweighted: string[] = [];
  for (const k of terms) {
    const raw = h.map((r) => r.terms[k] ?? NaN);
    if (weights === undefined) series[k] = raw;
    else if (Object.hasOwn(weights, k)) {
      series[`${k} × ${weightText(weights[k])}`] = raw.map((v) => v * weights[k]);
    } else unweighted.push(k);
  }
  if (weights === undefined && h.some((r) => r.evalLoss !== undefined)) {
    series["eval loss"] = h.map((r) => r.evalLoss ?? NaN);
  }
  const notes: string[] = [];
  if (unweighted.length > 0) notes.push(`no weight, not drawn: ${unweighted.join(", ")}`);
  if (scale === "log") {
    // Plotly would silently drop them; a gap plus a note says why a curve breaks off.
    let dropped = 0;
    const where: string[] = [];
    for (const [name, ys] of Object.entries(series)) {
      const n = ys.filter((v) => v <= 0).length;
      if (n === 0) continue;
      dropped += n;
      where.push(name);
      series[name] = ys.map((v) => (v <= 0 ? NaN : v));
    }
    if (dropped > 0) {
      notes.push(`${dropped} point${dropped === 1 ? "" : "s"} ≤ 0 not drawn: ${where.join(", ")}`);
    }
  }
  const base = opts.title ??
    (weights === undefined ? "loss" : "loss: each term's contribution (term × weight)");
  const fig = lineChart(series, {
    x: h.map((r) => r.epoch + 1),
    title: notes.length > 0 ? `${base} (${notes.join("; ")})` : base,
    yTitle: weights === undefined ? "loss" : "weighted loss",
  });
  if (scale === "log") fig.layout.yaxis = { ...(fig.layout.yaxis as object), type: "log" };
  return fig;
}

/**
 * The weight of each loss term of a method in its training total, from the method's (resolved)
 * config, for {@link lossCurves}'s `weighted`; each method declares them (`Method.lossWeights`):
 * - "baseline": `cls` × 1;
 * - "teskd": `ce_sum` × ce, `kd_sum` × kd, `fea_sum` × fea (these three add up to the total), and
 *   their per-head parts `ce_teacher`, `ce_<level>` × ce, `kd_<level>` × kd, `fea_<level>` × fea for
 *   the config's levels (every head's CE weight is 1 in TESKD's distiller);
 * - the toolbox methods (kd, fitnet, at, sp, vid, crd, srrl, semckd, simkd, atsc): `cls` × cls,
 *   `div` × div, the method's own term `kd` × beta (when the method has a beta) and, for atsc, the
 *   anchor `w` × w. Parts logged beside `kd` (`kd_pairs.<i>`, `s_loss`, …) and terms outside the
 *   total (atsc's `cls_teacher_unused`) get none: they are breakdowns, not contributions.
 *
 * @param method the method config of a run (`config.method` of its config.json, or
 *   `resolveTrainConfig(…).method`): every weight field must be present
 * @throws Error when a weight field is missing or the method's loss is unknown here
 *
 * @example
 * ```ts
 * const cfg = JSON.parse(await Deno.readTextFile("runs/teskd/config.json"));
 * lossCurves(history, { scale: "log", weighted: lossWeights(cfg.method) });
 * ```
 */
export function lossWeights(method: { readonly name: string }): Record<string, number> {
  if (typeof method?.name !== "string") {
    throw new TypeError("lossWeights: method must be a method config ({ name, … })");
  }
  let m: Method<MethodConfigBase>;
  try {
    m = getMethod(method.name);
  } catch (e) {
    throw new Error(
      `lossWeights: the loss terms of method "${method.name}" are not known here (${
        (e as Error).message
      })`,
    );
  }
  return m.lossWeights(method);
}

/**
 * Evaluation accuracy of every head per epoch (one line per head: for TESKD the teacher and each
 * student; one line for a method with one head).
 *
 * @example
 * ```ts
 * accuracyCurves(trainer.history, { metric: "top5" });
 * ```
 */
export function accuracyCurves(
  history: readonly EpochRecord[],
  opts: { metric?: Metric; title?: string } = {},
): Figure {
  const h = checkHistory("accuracyCurves", history);
  const metric = opts.metric ?? "top1";
  const series: Record<string, number[]> = {};
  for (const head of headsOf(h)) series[head] = h.map((r) => r.eval[head]?.[metric] ?? NaN);
  return lineChart(series, {
    x: h.map((r) => r.epoch + 1),
    title: opts.title ?? `evaluation ${metric === "top1" ? "top-1" : "top-5"} accuracy per head`,
    yTitle: `${metric === "top1" ? "top-1" : "top-5"} (%)`,
  });
}

/**
 * Loss and accuracy side by side in one figure (left: loss terms; right: eval top-1 per head).
 *
 * @example
 * ```ts
 * curves(trainer.history);
 * ```
 */
export function curves(history: readonly EpochRecord[], opts: { title?: string } = {}): Figure {
  const loss = lossCurves(history);
  const acc = accuracyCurves(history);
  const data: Trace[] = [
    ...loss.data.map((t) => ({ ...t, legendgroup: "loss" })),
    ...acc.data.map((t) => ({ ...t, xaxis: "x2", yaxis: "y2", legendgroup: "accuracy" })),
  ];
  return new Figure(data, {
    ...(opts.title ? { title: { text: opts.title } } : {}),
    xaxis: { domain: [0, 0.45], title: { text: "epoch" } },
    yaxis: { title: { text: "loss" } },
    xaxis2: { domain: [0.55, 1], title: { text: "epoch" }, anchor: "y2" },
    yaxis2: { title: { text: "top-1 (%)" }, anchor: "x2" },
    height: 420,
    margin: { t: opts.title ? 50 : 20, r: 20, b: 60, l: 60 },
  });
}

/** The head a history's method deploys (the last record's), if the records say. */
function deployedHeadOf(history: readonly EpochRecord[]): string | undefined {
  const h = history.at(-1)?.deployedHead;
  return typeof h === "string" && h !== "" ? h : undefined;
}

/**
 * Every head of a run side by side — for TESKD the teacher against its students: best and final
 * evaluation accuracy of every head, as bars, the deployed head highlighted.
 *
 * @example
 * ```ts
 * teacherVsStudents(trainer.history);
 * ```
 */
export function teacherVsStudents(
  history: readonly EpochRecord[],
  opts: { metric?: Metric; title?: string } = {},
): Figure {
  const h = checkHistory("teacherVsStudents", history);
  if (h.length === 0) throw new RangeError("teacherVsStudents: the history is empty");
  const metric = opts.metric ?? "top1";
  const heads = headsOf(h);
  if (heads.length === 0) {
    throw new RangeError("teacherVsStudents: no evaluation results in the history");
  }
  const best = heads.map((hd) => Math.max(...h.map((r) => r.eval[hd]?.[metric] ?? -Infinity)));
  const last = h[h.length - 1];
  const final = heads.map((hd) => last.eval[hd]?.[metric] ?? null);
  const deployed = deployedHeadOf(h);
  const colors = heads.map((hd, i) => (hd === deployed ? "#3367d6" : PALETTE[(i + 1) % 6]));
  const label = metric === "top1" ? "top-1" : "top-5";
  return new Figure([
    {
      type: "bar",
      name: `best ${label}`,
      x: heads,
      y: best,
      marker: { color: colors },
      text: best.map((v) => v.toFixed(2)),
      textposition: "auto",
    },
    { type: "bar", name: `final ${label}`, x: heads, y: final, marker: { color: "#bbb" } },
  ], {
    title: {
      text: opts.title ??
        `${label} (%) per head${deployed !== undefined ? ` (${deployed} deployed)` : ""}`,
    },
    barmode: "group",
    yaxis: { title: { text: `${label} (%)` } },
    height: 420,
    margin: { t: 50, r: 20, b: 60, l: 60 },
  });
}

/**
 * Several runs compared: one line per run for the evaluation accuracy of the head each run deploys
 * (its records' `deployedHead`: the baseline's "model", TESKD's "teacher", a KD student …), or of
 * the head `head` of every run.
 *
 * @example
 * ```ts
 * compareRuns({ baseline: base.history, teskd: run.history });   // what each method deploys
 * compareRuns({ a: a.history, b: b.history }, { head: "8x8" });  // one head of every run
 * ```
 */
export function compareRuns(
  runs: Record<string, readonly EpochRecord[]>,
  opts: { head?: string; metric?: Metric; title?: string } = {},
): Figure {
  const metric = opts.metric ?? "top1";
  const names = Object.keys(runs);
  if (names.length === 0) throw new RangeError("compareRuns: no runs given");
  const used = new Set<string>();
  const data: Trace[] = names.map((name) => {
    const h = checkHistory(`compareRuns (run "${name}")`, runs[name]);
    const head = opts.head ?? deployedHeadOf(h);
    if (head === undefined && h.length > 0) {
      throw new RangeError(
        `compareRuns: run "${name}" does not say which head it deploys; pass opts.head`,
      );
    }
    if (head !== undefined) used.add(head);
    if (head !== undefined && h.length && !h.some((r) => r.eval[head])) {
      throw new RangeError(
        `compareRuns: run "${name}" has no head "${head}" (heads: ${headsOf(h).join(", ")})`,
      );
    }
    return {
      type: "scatter",
      mode: h.length <= 50 ? "lines+markers" : "lines",
      name,
      x: h.map((r) => r.epoch + 1),
      y: h.map((r) => (head === undefined ? null : r.eval[head]?.[metric] ?? null)),
    };
  });
  const label = metric === "top1" ? "top-1" : "top-5";
  return new Figure(data, {
    title: {
      text: opts.title ??
        `${used.size === 1 ? [...used][0] : "deployed head"} ${label} (%) by run`,
    },
    xaxis: { title: { text: "epoch" } },
    yaxis: { title: { text: `${label} (%)` } },
    height: 420,
    margin: { t: 50, r: 20, b: 60, l: 60 },
  });
}
