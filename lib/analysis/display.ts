/**
 * The display protocol shared by every view of this directory: a value with a
 * `[Symbol.for("Jupyter.display")]()` method returning a MIME bundle renders richly in the teskd
 * kernel (and in Deno's own). The library never imports kernel code; for in-place updates it reads
 * the kernel's display transport from a well-known global, when there is one.
 *
 * @example
 * ```ts
 * const t = kernelDisplay();
 * if (t) t.display(view, { id: "progress" });
 * else console.error(view.toString());
 * ```
 *
 * @module
 */

/** A MIME bundle: MIME type → content (strings, or JSON for `+json` types). */
export type MimeBundle = Record<string, unknown>;

// The kernel contract (display symbol, transport) is defined once, in lib/jupyter.ts.
import { JUPYTER_DISPLAY } from "../jupyter.ts";
export {
  type DisplayTransport,
  JUPYTER_DISPLAY,
  KERNEL_DISPLAY,
  kernelDisplay,
} from "../jupyter.ts";

/** Anything that renders through the display protocol. */
export interface Displayable {
  /** The MIME bundle to show. */
  [JUPYTER_DISPLAY](): MimeBundle;
}

/** Escapes text for HTML/SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/**
 * HTML with every non-ASCII character as a numeric entity, so it reads right on a page whatever
 * its declared charset (e.g. "×" in "N rows × M columns").
 */
export function asciiHtml(html: string): string {
  return html.replace(/[\u0080-\u{10ffff}]/gu, (c) => `&#${c.codePointAt(0)};`);
}

/** Formats a number compactly for tables and labels (integers with separators, others 4 digits). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return x.toLocaleString("en-US");
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3);
  return x.toPrecision(4).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
}

/** Seconds as `1h02m`, `3m05s` or `12.3s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(r).padStart(2, "0")}s`;
}
