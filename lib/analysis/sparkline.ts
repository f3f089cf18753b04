/**
 * Small inline SVG line charts (sparklines) for live views, and a bounded series that keeps a long
 * run's values in a fixed number of points by averaging neighbours.
 *
 * @example
 * ```ts
 * sparkline({ loss: [2.3, 2.1, 1.8] }, { width: 240, height: 48 });
 * ```
 *
 * @module
 */
import { escapeXml, formatNumber } from "./display.ts";

/** Colours of successive series. */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"];

/** Options of {@link sparkline}. */
export interface SparklineOptions {
  /** Width in pixels. Default 260. */
  width?: number;
  /** Height in pixels. Default 56. */
  height?: number;
  /** Label drawn in the top-left corner. */
  label?: string;
}

/**
 * SVG of one or more series on shared axes (min and max written at the right), with a legend when
 * there are several. Non-finite values are skipped.
 */
export function sparkline(series: Record<string, number[]>, opts: SparklineOptions = {}): string {
  const w = opts.width ?? 260, h = opts.height ?? 56;
  const pad = 4, top = opts.label ? 14 : 4, right = 44;
  const all = Object.values(series).flat().filter(Number.isFinite);
  const lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  const span = hi - lo || 1;
  const lines = Object.entries(series).map(([name, ys], k) => {
    const n = ys.length;
    const pts = ys.map((y, i) =>
      Number.isFinite(y)
        ? `${(pad + (n <= 1 ? 0 : (i / (n - 1)) * (w - pad - right))).toFixed(1)},${
          (top + (1 - (y - lo) / span) * (h - top - pad)).toFixed(1)
        }`
        : ""
    ).filter((p) => p !== "");
    const color = PALETTE[k % PALETTE.length];
    return `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${
      pts.join(" ")
    }"><title>${escapeXml(name)}</title></polyline>`;
  });
  const names = Object.keys(series);
  const legend = names.length > 1
    ? names.map((n, k) =>
      `<tspan fill="${PALETTE[k % PALETTE.length]}">${escapeXml(n)}${
        k < names.length - 1 ? " " : ""
      }</tspan>`
    ).join("")
    : "";
  const label = opts.label
    ? `<text x="${pad}" y="10" font-size="10" fill="#333">${escapeXml(opts.label)}${
      legend ? " " : ""
    }${legend}</text>`
    : "";
  const scale = all.length
    ? `<text x="${w - 2}" y="${top + 8}" font-size="9" text-anchor="end" fill="#666">${
      formatNumber(hi)
    }</text><text x="${w - 2}" y="${h - pad}" font-size="9" text-anchor="end" fill="#666">${
      formatNumber(lo)
    }</text>`
    : "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" ` +
    `viewBox="0 0 ${w} ${h}" font-family="sans-serif">` +
    `<rect width="${w}" height="${h}" fill="#fafafa" stroke="#ddd"/>${label}${
      lines.join("")
    }${scale}</svg>`;
}

/**
 * A series kept to at most `capacity` points: when full, neighbouring points are averaged in
 * pairs and later values are averaged over twice as many raw values.
 */
export class BoundedSeries {
  readonly #values: number[] = [];
  #bucket = 1;
  #sum = 0;
  #count = 0;

  /**
   * An empty series.
   *
   * @param capacity points kept at most (even, ≥ 4). Default 256.
   */
  constructor(readonly capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 4 || capacity % 2) {
      throw new RangeError(`BoundedSeries: capacity must be an even integer ≥ 4, got ${capacity}`);
    }
  }

  /** Adds a raw value (non-finite values are ignored). */
  push(v: number): void {
    if (!Number.isFinite(v)) return;
    this.#sum += v;
    if (++this.#count < this.#bucket) return;
    this.#values.push(this.#sum / this.#count);
    this.#sum = 0;
    this.#count = 0;
    if (this.#values.length >= this.capacity) {
      const half: number[] = [];
      for (let i = 0; i < this.#values.length; i += 2) {
        half.push((this.#values[i] + this.#values[i + 1]) / 2);
      }
      this.#values.splice(0, this.#values.length, ...half);
      this.#bucket *= 2;
    }
  }

  /** The kept points. */
  values(): number[] {
    return [...this.#values];
  }
}
