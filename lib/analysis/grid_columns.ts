/**
 * The columns of an ablation table (`ablationTable`) and the small readers the grid views share:
 * which columns are factors, a checked column, rows grouped by setting.
 *
 * @module
 */
import type { ArqueroTable } from "./table.ts";

/** The protocol of each run, after `state` (a factor of the same name takes the column's place). */
export const PROTOCOL_COLUMNS = ["method", "recipe", "seed"] as const;
/** Columns of an ablation table after the protocol (then come `final_top1_<head>` columns). */
export const RESULT_COLUMNS = [
  "epochs_done",
  "epochs",
  "deployed_head",
  "final_top1",
  "best_top1",
  "best_epoch",
  "best_after_last_milestone_top1",
] as const;
/** The last columns of an ablation table. */
export const TRAILING_COLUMNS = ["train_s", "dir"] as const;

/**
 * The factor columns of an ablation table: those between `id` and `state` (the table's own order),
 * else (a table whose columns were reordered) every column that is not one of the fixed ones.
 */
export function factorColumns(table: ArqueroTable): string[] {
  const names = table.columnNames();
  const [i, j] = [names.indexOf("id"), names.indexOf("state")];
  if (i >= 0 && j > i) return names.slice(i + 1, j);
  const fixed = new Set<string>([
    "id",
    "state",
    ...PROTOCOL_COLUMNS,
    ...RESULT_COLUMNS,
    ...TRAILING_COLUMNS,
  ]);
  return names.filter((c) => !fixed.has(c) && !c.startsWith("final_top1_"));
}

/** The column `name` of `table`, checked (`what` names the caller in the error, which lists the columns). */
export function column(table: ArqueroTable, name: string, what: string): unknown[] {
  if (typeof table?.columnNames !== "function") {
    throw new TypeError(`${what}: table must be an Arquero table`);
  }
  if (!table.columnNames().includes(name)) {
    throw new Error(
      `${what}: no column "${name}" (columns: ${table.columnNames().join(", ")})`,
    );
  }
  return table.array(name) as unknown[];
}

/** A finite number. */
export const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Row indices grouped by the values of the `by` columns, in first-seen (grid) order. */
export function groups(
  table: ArqueroTable,
  by: string[],
  what: string,
): { key: unknown[]; rows: number[] }[] {
  const cols = by.map((b) => column(table, b, what));
  const out = new Map<string, { key: unknown[]; rows: number[] }>();
  for (let i = 0; i < table.numRows(); i++) {
    const key = cols.map((c) => c[i]);
    const k = JSON.stringify(key);
    if (!out.has(k)) out.set(k, { key, rows: [] });
    out.get(k)!.rows.push(i);
  }
  return [...out.values()];
}
