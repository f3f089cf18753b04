/**
 * Plotly figures: plain plotly JSON (traces + layout + config) that display as
 * `application/vnd.plotly.v1+json` (JupyterLab/VS Code renderers), with an offline `text/html`
 * fallback (plotly.js embedded once per session, see plotly.ts) and a `text/plain` summary.
 *
 * @example
 * ```ts
 * const fig = lineChart({ teacher: [40, 60, 70], "8x8": [35, 55, 66] }, { title: "top-1 (%)" });
 * fig; // last expression of a cell: renders as a chart
 * ```
 *
 * @module
 */
import { JUPYTER_DISPLAY, type MimeBundle } from "./display.ts";
import { plotlyHtml } from "./plotly.ts";

/** The plotly MIME type. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** One plotly trace (plain plotly JSON: `type`, `x`, `y`, `name`, `mode`, `line`, …). */
export type Trace = Record<string, unknown> & {
  /** Trace type; plotly's default is "scatter". */
  type?: string;
  /** Legend name. */
  name?: string;
  /** X values. */
  x?: unknown[];
  /** Y values. */
  y?: unknown[];
};

/** Plotly layout (plain plotly JSON). */
export type Layout = Record<string, unknown>;

/** Plotly config (plain plotly JSON). */
export type PlotlyConfig = Record<string, unknown>;

let figureCounter = 0;

/** A plotly figure that renders through the display protocol. */
export class Figure {
  /** The traces. */
  readonly data: Trace[];
  /** The layout. */
  readonly layout: Layout;
  /** The config (responsive by default). */
  readonly config: PlotlyConfig;

  /**
   * A figure from plotly JSON; throws when a trace is not an object.
   *
   * @param data traces
   * @param layout layout (title, axes, …)
   * @param config plotly config
   */
  constructor(data: Trace[] = [], layout: Layout = {}, config: PlotlyConfig = {}) {
    if (!Array.isArray(data)) throw new TypeError("Figure: data must be an array of traces");
    for (const [i, t] of data.entries()) {
      if (typeof t !== "object" || t === null || Array.isArray(t)) {
        throw new TypeError(`Figure: trace ${i} must be an object, got ${typeof t}`);
      }
    }
    this.data = data;
    this.layout = layout;
    this.config = { responsive: true, displaylogo: false, ...config };
  }

  /** Adds a trace; returns this figure. */
  addTrace(trace: Trace): this {
    this.data.push(trace);
    return this;
  }

  /** The figure as plotly JSON. */
  toJSON(): { data: Trace[]; layout: Layout; config: PlotlyConfig } {
    // Round-trip so the result is plain JSON (no undefined, no NaN: plotly reads null as a gap).
    return JSON.parse(
      JSON.stringify({ data: this.data, layout: this.layout, config: this.config }),
    );
  }

  /** A one-line description: title and traces. */
  toString(): string {
    const title = titleText(this.layout.title);
    const traces = this.data.map((t, i) => {
      const n = Array.isArray(t.y) ? t.y.length : Array.isArray(t.x) ? t.x.length : 0;
      return `${t.name ?? `trace ${i}`} (${t.type ?? "scatter"}, ${n} points)`;
    });
    return `Figure${title ? ` "${title}"` : ""}: ${traces.length} trace${
      traces.length === 1 ? "" : "s"
    }${traces.length ? ` — ${traces.join(", ")}` : ""}`;
  }

  /** Self-contained HTML (carries plotly.js when it is the session's first figure). */
  toHtml(): string {
    const height = typeof this.layout.height === "number" ? this.layout.height : undefined;
    return plotlyHtml(`teskd-fig-${++figureCounter}-${crypto.randomUUID()}`, this.toJSON(), {
      height,
    });
  }

  /** The display bundle: plotly JSON, HTML fallback, text. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return {
      [PLOTLY_MIME]: this.toJSON(),
      "text/html": this.toHtml(),
      "text/plain": this.toString(),
    };
  }
}

function titleText(title: unknown): string {
  if (typeof title === "string") return title;
  if (typeof title === "object" && title !== null && "text" in title) {
    return String((title as { text: unknown }).text);
  }
  return "";
}

/** Options of {@link lineChart}. */
export interface LineChartOptions {
  /** Chart title. */
  title?: string;
  /** X axis title. Default "epoch". */
  xTitle?: string;
  /** Y axis title. */
  yTitle?: string;
  /** X values shared by all series (default 1, 2, …). */
  x?: number[];
  /** Plotly line mode. Default "lines+markers" up to 50 points, else "lines". */
  mode?: string;
  /** Figure height in pixels. Default 420. */
  height?: number;
}

/**
 * A line chart with one line per named series (non-finite values become gaps).
 *
 * @example
 * ```ts
 * lineChart({ loss: [2.3, 1.9, 1.6] }, { yTitle: "loss" });
 * ```
 */
export function lineChart(
  series: Record<string, number[]>,
  opts: LineChartOptions = {},
): Figure {
  const traces: Trace[] = Object.entries(series).map(([name, ys]) => {
    if (!Array.isArray(ys)) throw new TypeError(`lineChart: series "${name}" must be an array`);
    const x = opts.x ?? ys.map((_, i) => i + 1);
    if (x.length !== ys.length) {
      throw new RangeError(
        `lineChart: series "${name}" has ${ys.length} values but x has ${x.length}`,
      );
    }
    return {
      type: "scatter",
      mode: opts.mode ?? (ys.length <= 50 ? "lines+markers" : "lines"),
      name,
      x,
      y: ys.map((v) => (Number.isFinite(v) ? v : null)),
    };
  });
  return new Figure(traces, {
    ...(opts.title ? { title: { text: opts.title } } : {}),
    xaxis: { title: { text: opts.xTitle ?? "epoch" } },
    yaxis: opts.yTitle ? { title: { text: opts.yTitle } } : {},
    height: opts.height ?? 420,
    margin: { t: opts.title ? 50 : 20, r: 20, b: 60, l: 60 },
  });
}
