/**
 * plotly.js for offline HTML: the minified bundle of the npm package `plotly.js-dist-min`, read from
 * node_modules, embedded in the first figure's HTML of the session only (later figures wait for
 * `window.Plotly`), never loaded from a CDN.
 *
 * The state is module-level on purpose: in the teskd kernel the library lives in the session's
 * worker, so "first figure of this module instance" is "first figure of the kernel session".
 *
 * @example
 * ```ts
 * const html = plotlyHtml("fig-1", { data: [], layout: {}, config: {} });
 * ```
 *
 * @module
 */
import { fileURLToPath } from "node:url";

let source: string | undefined;
let embedded = false;

/** The plotly.js bundle's text (read once). Throws naming the package when it is not installed. */
export function plotlySource(): string {
  if (source !== undefined) return source;
  let path: string;
  try {
    // Under Deno with nodeModulesDir "manual", the bare specifier resolves to the file in
    // node_modules/.deno/…; the package's "main" is plotly.min.js.
    path = fileURLToPath(import.meta.resolve("plotly.js-dist-min"));
  } catch (e) {
    throw new Error(
      `plotly.js-dist-min: cannot resolve the npm package (run \`deno install\`): ${
        (e as Error).message
      }`,
    );
  }
  const text = Deno.readTextFileSync(path);
  // A literal "</script" would end the inline <script> early.
  source = text.replace(/<\/(script)/gi, "<\\/$1");
  return source;
}

/** Whether the next figure's HTML will carry plotly.js. */
export function plotlyPending(): boolean {
  return !embedded;
}

/**
 * Makes the next figure's HTML carry plotly.js again, e.g. after clearing the output that held it
 * (later figures wait for `window.Plotly`, which then no page defines).
 */
export function resetPlotlyEmbedding(): void {
  embedded = false;
}

/** JSON safe inside an inline <script> (no `<` that could close it). */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/**
 * HTML showing a plotly figure in a div `id`: plotly.js itself the first time in the session, then
 * only the div and a script that draws once `window.Plotly` exists (or says why not after 60 s).
 */
export function plotlyHtml(
  id: string,
  figure: { data: unknown[]; layout: Record<string, unknown>; config: Record<string, unknown> },
  opts: { height?: number } = {},
): string {
  const parts: string[] = [];
  if (!embedded) {
    parts.push(`<script type="text/javascript">${plotlySource()}</script>`);
    embedded = true;
  }
  const height = opts.height ?? 420;
  parts.push(`<div id="${id}" class="teskd-plotly" style="width:100%;height:${height}px;"></div>`);
  parts.push(
    `<script type="text/javascript">(function () {
  var fig = ${scriptJson(figure)};
  var draw = function () {
    var el = document.getElementById(${JSON.stringify(id)});
    if (el) window.Plotly.newPlot(el, fig.data, fig.layout, fig.config);
  };
  if (window.Plotly) { draw(); return; }
  var tries = 0;
  var timer = setInterval(function () {
    if (window.Plotly) { clearInterval(timer); draw(); }
    else if (++tries > 600) {
      clearInterval(timer);
      var el = document.getElementById(${JSON.stringify(id)});
      if (el) el.textContent = "plotly.js is not loaded on this page (the output that embedded " +
        "it is gone): call resetPlotlyEmbedding() and display the figure again.";
    }
  }, 100);
})();</script>`,
  );
  return parts.join("\n");
}
