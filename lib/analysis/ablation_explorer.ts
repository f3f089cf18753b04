/**
 * An interactive view of an ablation table: dropdowns pick the factor on the x axis, the metric
 * plotted and (optionally) a second factor as series, and the bar chart ({@link barByFactor}: mean
 * ± std over the other factors and seeds) is drawn again when one changes. It is a widget (a VBox
 * of the dropdowns and an Output widget holding the chart), so it works in any front end with a
 * widget manager; outside the kernel it displays as the chart of the current selection.
 *
 * @example
 * ```ts
 * const t = await ablationTable("runs/kd-ablation");
 * ablationExplorer(t, { metrics: ["final_top1", "best_top1"] }); // last expression of a cell
 * ```
 *
 * @module
 */
import { JUPYTER_DISPLAY } from "../jupyter.ts";
import { Dropdown, HBox, Output, type OutputItem, VBox } from "../widgets/mod.ts";
import { barByFactor } from "./ablation.ts";
import type { MimeBundle } from "./display.ts";
import type { Figure } from "./figure.ts";
import { column, factorColumns, RESULT_COLUMNS } from "./grid_columns.ts";
import type { ArqueroTable } from "./table.ts";

/** Options of {@link ablationExplorer}. */
export interface AblationExplorerOptions {
  /** Factors offered for the x axis and series. Default the table's factor columns. */
  factors?: string[];
  /** Metrics offered. Default the table's accuracy columns (final, best, per head). */
  metrics?: string[];
  /** The factor shown first. Default the first of `factors`. */
  factor?: string;
  /** The metric shown first. Default the first of `metrics`. */
  metric?: string;
  /** The series factor shown first ("" or undefined: none). */
  series?: string;
}

/** Label of the "no series" option. */
const NO_SERIES = "(none)";

/** The explorer's widgets and chart; see the module docs. */
export class AblationExplorer {
  /** Picks the factor on the x axis. */
  readonly factor: Dropdown<string>;
  /** Picks the metric. */
  readonly metric: Dropdown<string>;
  /** Picks the factor whose values are series ("" for none). */
  readonly series: Dropdown<string>;
  /** Holds the chart. */
  readonly chart: Output;
  /** Everything, as one widget. */
  readonly widget: VBox;
  readonly #table: ArqueroTable;

  /** An explorer of `table`; throws when there is no factor or no metric to offer. */
  constructor(table: ArqueroTable, opts: AblationExplorerOptions = {}) {
    const factors = opts.factors ?? factorColumns(table);
    const metrics = opts.metrics ?? defaultMetrics(table.columnNames());
    for (const c of [...factors, ...metrics]) column(table, c, "ablationExplorer");
    if (factors.length === 0) throw new Error("ablationExplorer: the table has no factor column");
    if (metrics.length === 0) throw new Error("ablationExplorer: the table has no metric column");
    this.#table = table;
    this.factor = new Dropdown({ options: factors, value: opts.factor, description: "factor" });
    this.metric = new Dropdown({ options: metrics, value: opts.metric, description: "metric" });
    this.series = new Dropdown<string>({
      options: [[NO_SERIES, ""], ...factors.map((f): [string, string] => [f, f])],
      value: opts.series ?? "",
      description: "series",
    });
    // The first chart goes with the Output's comm_open; each change replaces it in one update (no
    // blank flash between clearing and drawing).
    this.chart = new Output({ outputs: this.#outputs() });
    this.widget = new VBox({
      children: [new HBox({ children: [this.factor, this.metric, this.series] }), this.chart],
    });
    for (const d of [this.factor, this.metric, this.series]) {
      d.observe("value", () => (this.chart.outputs = this.#outputs()));
    }
  }

  /** The chart of the current selection. */
  figure(): Figure {
    const series = this.series.value || undefined;
    return barByFactor(this.#table, this.factor.value!, {
      metric: this.metric.value!,
      ...(series && series !== this.factor.value ? { series } : {}),
    });
  }

  /** The widget in the kernel; else (headless) the chart of the current selection. */
  [JUPYTER_DISPLAY](): MimeBundle {
    const bundle = this.widget[JUPYTER_DISPLAY](); // opens the widget when there is a kernel
    if (this.widget.isOpen) return bundle;
    // Headless: the chart the Output already holds, not drawn a second time.
    const shown = this.chart.outputs[0];
    return shown?.output_type === "display_data"
      ? shown.data as MimeBundle
      : this.figure()[JUPYTER_DISPLAY]();
  }

  /** The Output's content: the chart of the current selection, or why there is none. */
  #outputs(): OutputItem[] {
    try {
      const data = { ...this.figure()[JUPYTER_DISPLAY]() };
      return [{ output_type: "display_data", data, metadata: {} }];
    } catch (e) {
      return [{ output_type: "stream", name: "stderr", text: `${(e as Error).message}\n` }];
    }
  }
}

/** The accuracy columns of an ablation table, in the table's order. */
function defaultMetrics(columns: string[]): string[] {
  const known = new Set<string>(RESULT_COLUMNS.filter((c) => c.endsWith("top1")));
  return columns.filter((c) => known.has(c) || c.startsWith("final_top1_"));
}

/**
 * An {@link AblationExplorer} of `table`: pick factor, metric and series, see the bars.
 *
 * @example
 * ```ts
 * ablationExplorer(table, { factors: ["method.kd", "method.temperature"], metrics: ["final_top1"] });
 * ```
 */
export function ablationExplorer(
  table: ArqueroTable,
  opts: AblationExplorerOptions = {},
): AblationExplorer {
  return new AblationExplorer(table, opts);
}
