/**
 * Arquero tables in notebooks: a bounded HTML/text rendering (first and last rows, first and last
 * columns, with the totals "N rows × M columns"), and the library's standard tables — a trainer's
 * history and a model summary — as Arquero tables that display themselves.
 *
 * @example
 * ```ts
 * import * as aq from "arquero";
 * tableView(aq.from(rows));                     // any Arquero table
 * historyTable(trainer.history).orderby(aq.desc("top1_teacher")); // an ordinary Arquero table
 * ```
 *
 * @module
 */
import * as aq from "arquero";
import type { ColumnTable } from "arquero";
import type { EpochRecord } from "../train/trainer.ts";
import type { SummaryRow } from "../models/summary.ts";
import { asciiHtml, escapeXml, formatNumber, JUPYTER_DISPLAY, type MimeBundle } from "./display.ts";

/** An Arquero table (what `aq.from`/`aq.table` return). */
export type ArqueroTable = ColumnTable;

/** Bounds of a table rendering. */
export interface TableViewOptions {
  /** Rows shown from the top. Default 10. */
  head?: number;
  /** Rows shown from the bottom (when the table is longer than head + tail). Default 5. */
  tail?: number;
  /** Columns shown at most (the first ones and the last few). Default 20. */
  maxColumns?: number;
  /** Caption shown above the table. */
  caption?: string;
}

const ELLIPSIS = "…";

/** The cells to show: header names and row strings, with ellipsis markers where cut. */
function layout(t: ArqueroTable, o: Required<Omit<TableViewOptions, "caption">>) {
  for (const k of ["head", "tail", "maxColumns"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0) {
      throw new RangeError(`tableView: ${k} must be a non-negative integer, got ${o[k]}`);
    }
  }
  const names = t.columnNames();
  const n = t.numRows();
  let cols: (string | null)[] = names;
  if (names.length > o.maxColumns) {
    const tailCols = Math.min(4, Math.floor(o.maxColumns / 4));
    const headCols = o.maxColumns - tailCols;
    cols = [...names.slice(0, headCols), null, ...names.slice(names.length - tailCols)];
  }
  const cut = n > o.head + o.tail;
  const pick = (offset: number, limit: number) =>
    (t.objects({ offset, limit }) as Record<string, unknown>[]).map((r, i) => ({
      index: offset + i,
      cells: cols.map((c) => (c === null ? ELLIPSIS : cellText(r[c]))),
    }));
  const rows = cut ? [...pick(0, o.head), null, ...pick(n - o.tail, o.tail)] : pick(0, n);
  return { cols, rows, n, m: names.length };
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return formatNumber(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** "N rows × M columns". */
function totals(n: number, m: number): string {
  return `${n.toLocaleString("en-US")} row${n === 1 ? "" : "s"} × ${m} column${m === 1 ? "" : "s"}`;
}

/** HTML of a table, bounded by `opts`, with its totals. */
export function tableHtml(t: ArqueroTable, opts: TableViewOptions = {}): string {
  const { cols, rows, n, m } = layout(t, withDefaults(opts));
  const th = (s: string) => `<th style="text-align:right">${escapeXml(s)}</th>`;
  const head = `<tr><th></th>${cols.map((c) => th(c ?? ELLIPSIS)).join("")}</tr>`;
  const body = rows.map((r) =>
    r === null
      ? `<tr><th>${ELLIPSIS}</th>${cols.map(() => `<td>${ELLIPSIS}</td>`).join("")}</tr>`
      : `<tr><th>${r.index}</th>${
        r.cells.map((c) => `<td style="text-align:right">${escapeXml(c)}</td>`).join("")
      }</tr>`
  ).join("\n");
  const caption = opts.caption ? `<caption>${escapeXml(opts.caption)}</caption>` : "";
  return asciiHtml(
    `<div class="teskd-table"><table class="dataframe">${caption}<thead>${head}</thead>` +
      `<tbody>\n${body}\n</tbody></table>\n<p>${totals(n, m)}</p></div>`,
  );
}

/** Aligned plain text of a table, bounded by `opts`, with its totals. */
export function tableText(t: ArqueroTable, opts: TableViewOptions = {}): string {
  const { cols, rows, n, m } = layout(t, withDefaults(opts));
  const header = ["", ...cols.map((c) => c ?? ELLIPSIS)];
  const lines = rows.map((r) =>
    r === null ? [ELLIPSIS, ...cols.map(() => ELLIPSIS)] : [String(r.index), ...r.cells]
  );
  const widths = header.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j].length)));
  const fmt = (l: string[]) => l.map((c, j) => c.padStart(widths[j])).join("  ").trimEnd();
  return [
    ...(opts.caption ? [opts.caption] : []),
    fmt(header),
    ...lines.map(fmt),
    totals(n, m),
  ].join("\n");
}

function withDefaults(o: TableViewOptions): Required<Omit<TableViewOptions, "caption">> {
  return { head: o.head ?? 10, tail: o.tail ?? 5, maxColumns: o.maxColumns ?? 20 };
}

/** A displayable view of an Arquero table. */
export class TableView {
  /**
   * Wraps `table`; throws when it is not an Arquero table.
   *
   * @param table the table shown
   * @param options rendering bounds
   */
  constructor(readonly table: ArqueroTable, readonly options: TableViewOptions = {}) {
    if (typeof table?.columnNames !== "function" || typeof table?.objects !== "function") {
      throw new TypeError("TableView: table must be an Arquero table (from arquero's from/table)");
    }
  }

  /** Plain-text rendering. */
  toString(): string {
    return tableText(this.table, this.options);
  }

  /** The display bundle: bounded HTML and text. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return {
      "text/html": tableHtml(this.table, this.options),
      "text/plain": tableText(this.table, this.options),
    };
  }
}

/**
 * Wraps an Arquero table for display.
 *
 * @example
 * ```ts
 * tableView(aq.from(rows), { head: 5, caption: "runs" });
 * ```
 */
export function tableView(table: ArqueroTable, options: TableViewOptions = {}): TableView {
  return new TableView(table, options);
}

/**
 * Gives this table instance a display method (bounded HTML and text), so it renders when it is a
 * cell's value; it stays an ordinary Arquero table (tables derived from it do not display: wrap
 * them with {@link tableView}).
 */
export function displayable<T extends ArqueroTable>(table: T, options: TableViewOptions = {}): T {
  const view = new TableView(table, options);
  Object.defineProperty(table, JUPYTER_DISPLAY, {
    value: () => view[JUPYTER_DISPLAY](),
    configurable: true,
  });
  return table;
}

/** Keys of `pick(record)` over all records, in first-seen order. */
function keysOf(records: EpochRecord[], pick: (r: EpochRecord) => Record<string, unknown>) {
  const keys: string[] = [];
  for (const r of records) {
    for (const k of Object.keys(pick(r))) if (!keys.includes(k)) keys.push(k);
  }
  return keys;
}

/**
 * A trainer's history as an Arquero table, one row per epoch: `epoch` (1-based), `lr`, `loss`,
 * `loss_<term>` per loss term, `train_top1_<head>`, `top1_<head>` and `top5_<head>` per head,
 * `eval_loss`, `images_per_s`, `train_s`, `eval_s`. Missing values are null. The table displays
 * itself (see {@link displayable}).
 *
 * @example
 * ```ts
 * historyTable(trainer.history);
 * ```
 */
export function historyTable(history: readonly EpochRecord[]): ArqueroTable {
  if (!Array.isArray(history)) {
    throw new TypeError("historyTable: history must be an array of epoch records");
  }
  const recs = history as EpochRecord[];
  for (const [i, r] of recs.entries()) {
    if (typeof r?.epoch !== "number" || typeof r.terms !== "object" || typeof r.eval !== "object") {
      throw new TypeError(`historyTable: history[${i}] is not an epoch record`);
    }
  }
  const terms = keysOf(recs, (r) => r.terms);
  const trainHeads = keysOf(recs, (r) => r.trainTop1 ?? {});
  const evalHeads = keysOf(recs, (r) => r.eval);
  const num = (v: number | undefined) => (v === undefined ? null : v);
  const cols: Record<string, (number | null)[]> = {
    epoch: recs.map((r) => r.epoch + 1),
    lr: recs.map((r) => r.lr),
    loss: recs.map((r) => r.loss),
  };
  for (const k of terms) cols[`loss_${k}`] = recs.map((r) => num(r.terms[k]));
  for (const h of trainHeads) cols[`train_top1_${h}`] = recs.map((r) => num(r.trainTop1?.[h]));
  for (const h of evalHeads) cols[`top1_${h}`] = recs.map((r) => num(r.eval[h]?.top1));
  for (const h of evalHeads) cols[`top5_${h}`] = recs.map((r) => num(r.eval[h]?.top5));
  if (recs.some((r) => r.evalLoss !== undefined)) cols.eval_loss = recs.map((r) => num(r.evalLoss));
  cols.images_per_s = recs.map((r) => r.imagesPerSecond);
  cols.train_s = recs.map((r) => r.trainSeconds);
  cols.eval_s = recs.map((r) => r.evalSeconds);
  return displayable(aq.table(cols), { caption: "training history" });
}

/**
 * Model summary rows (from `teacherSummary`/`teskdSummary`) as an Arquero table with columns part,
 * name, modules, output, params; it displays itself, with the total parameter count in its caption.
 *
 * @example
 * ```ts
 * summaryTable(teskdSummary(net));
 * ```
 */
export function summaryTable(rows: readonly SummaryRow[]): ArqueroTable {
  if (!Array.isArray(rows)) throw new TypeError("summaryTable: rows must be an array");
  for (const [i, r] of rows.entries()) {
    if (typeof r?.name !== "string" || typeof r.params !== "number") {
      throw new TypeError(`summaryTable: rows[${i}] is not a summary row (name, params)`);
    }
  }
  const total = rows.reduce((s, r) => s + r.params, 0);
  const t = aq.table({
    part: rows.map((r) => r.part),
    name: rows.map((r) => r.name),
    modules: rows.map((r) => r.modules),
    output: rows.map((r) => r.output),
    params: rows.map((r) => r.params),
  });
  return displayable(t, {
    head: 50,
    caption: `model summary — ${total.toLocaleString("en-US")} parameters`,
  });
}
