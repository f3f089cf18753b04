import assert from "node:assert/strict";
import {
  accuracyCurves,
  compareRuns,
  curves,
  Figure,
  JUPYTER_DISPLAY,
  lineChart,
  lossCurves,
  PLOTLY_MIME,
  plotlyPending,
  resetPlotlyEmbedding,
  teacherVsStudents,
} from "../../lib/analysis/mod.ts";
import { makeHistory, makeOneHeadHistory } from "./fixture.ts";

type Fig = { data: Record<string, unknown>[]; layout: Record<string, unknown>; config: unknown };

const BANNER = "* plotly.js v3.1.2";
const count = (s: string, sub: string) => s.split(sub).length - 1;

/** Runs the drawing script of a figure's HTML against a fake page; returns newPlot's arguments. */
function runDrawScript(html: string): unknown[] {
  const scripts = [...html.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)]
    .map((m) => m[1]);
  const draw = scripts[scripts.length - 1];
  const div = /<div id="([^"]+)"/.exec(html)?.[1];
  let args: unknown[] = [];
  const el = { id: div };
  const window = { Plotly: { newPlot: (...a: unknown[]) => (args = a) } };
  const document = { getElementById: (id: string) => (id === div ? el : null) };
  new Function("window", "document", draw)(window, document);
  assert.equal(args[0], el, "drawn into the figure's own div");
  return args;
}

Deno.test("Figure: MIME bundle, plotly JSON, plotly.js embedded once per session, offline", () => {
  resetPlotlyEmbedding();
  const fig = lineChart({ teacher: [40, 60, NaN, 70], "8x8": [35, 55, 60, 66] }, {
    title: "top-1",
    yTitle: "%",
  });
  assert.equal(plotlyPending(), true);
  const b1 = fig[JUPYTER_DISPLAY]();
  assert.deepEqual(Object.keys(b1).sort(), [PLOTLY_MIME, "text/html", "text/plain"].sort());
  const json = JSON.parse(JSON.stringify(b1[PLOTLY_MIME])) as Fig;
  assert.deepEqual(Object.keys(json).sort(), ["config", "data", "layout"]);
  assert.equal(json.data.length, 2);
  assert.deepEqual(json.data[0].y, [40, 60, null, 70], "NaN becomes a gap (null)");
  assert.deepEqual(json.data[0].x, [1, 2, 3, 4]);
  assert.equal(json.data[1].name, "8x8");
  assert.deepEqual(json.layout.title, { text: "top-1" });
  assert.match(String(b1["text/plain"]), /top-1.*2 traces.*teacher.*8x8/);

  const html1 = String(b1["text/html"]);
  const lib = Deno.readTextFileSync(
    new URL(import.meta.resolve("plotly.js-dist-min")),
  );
  assert.equal(count(html1, BANNER), 1, "first figure carries plotly.js");
  assert.ok(html1.length > lib.length, "the whole bundle is inline");
  assert.equal(plotlyPending(), false);

  const b2 = lineChart({ loss: [3, 2, 1] })[JUPYTER_DISPLAY]();
  const html2 = String(b2["text/html"]);
  assert.equal(count(html2, BANNER), 0, "later figures do not repeat plotly.js");
  assert.ok(html2.length < 5000);
  const b3 = new Figure([{ type: "bar", x: ["a"], y: [1] }])[JUPYTER_DISPLAY]();
  assert.equal(count(String(b3["text/html"]), BANNER), 0);
  for (const html of [html1, html2]) {
    assert.doesNotMatch(html, /<script[^>]*\bsrc=/i, "no external script");
    assert.doesNotMatch(html.replace(lib, ""), /cdn|https:\/\//i);
  }
  // The drawing script draws the figure's own data once Plotly exists.
  const args = runDrawScript(html2);
  assert.deepEqual((args[1] as Fig["data"])[0].y, [3, 2, 1]);

  resetPlotlyEmbedding();
  assert.equal(count(String(fig[JUPYTER_DISPLAY]()["text/html"]), BANNER), 1, "after reset");
});

Deno.test("Figure: data in the HTML cannot close the script; bad input is named", () => {
  const fig = new Figure([{ name: "</script><b>x", x: [1], y: [2] }]);
  const html = String(fig[JUPYTER_DISPLAY]()["text/html"]);
  assert.equal(count(html.toLowerCase(), "</script>"), count(html.toLowerCase(), "<script"));
  const args = runDrawScript(html);
  assert.equal((args[1] as Fig["data"])[0].name, "</script><b>x");
  assert.throws(() => new Figure([1 as never]), /trace 0 must be an object/);
  assert.throws(() => lineChart({ a: [1, 2] }, { x: [1] }), /series "a" has 2 values but x has 1/);
});

Deno.test("standard figures from a history", () => {
  const h = makeHistory(6);
  const loss = lossCurves(h).toJSON();
  assert.deepEqual(loss.data.map((t) => t.name), ["loss", "ce", "kd", "fea", "eval loss"]);
  assert.deepEqual(loss.data[1].y, h.map((r) => r.terms.ce));
  assert.deepEqual(loss.data[0].x, [1, 2, 3, 4, 5, 6]);

  const acc = accuracyCurves(h, { metric: "top5" }).toJSON();
  assert.deepEqual(acc.data.map((t) => t.name), ["teacher", "8x8", "16x16"]);
  assert.deepEqual(acc.data[2].y, h.map((r) => r.eval["16x16"].top5));

  const both = curves(h).toJSON();
  assert.equal(both.data.length, 8);
  assert.equal(both.data.filter((t) => t.xaxis === "x2" && t.yaxis === "y2").length, 3);

  const bars = teacherVsStudents(h).toJSON();
  assert.deepEqual(bars.data[0].x, ["teacher", "8x8", "16x16"]);
  const best8 = Math.max(...h.map((r) => r.eval["8x8"].top1));
  assert.equal((bars.data[0].y as number[])[1], best8);
  assert.equal((bars.data[1].y as number[])[1], h[5].eval["8x8"].top1);
  assert.ok(best8 > h[5].eval["8x8"].top1, "fixture: best differs from final");
  assert.throws(() => teacherVsStudents([]), /history is empty/);

  const runs = compareRuns({ a: makeHistory(4), b: makeHistory(4, 2) }).toJSON();
  assert.deepEqual(runs.data.map((t) => t.name), ["a", "b"]);
  assert.deepEqual(runs.data[1].y, makeHistory(4, 2).map((r) => r.eval.teacher.top1));
  assert.deepEqual(runs.layout.title, { text: "teacher top-1 (%) by run" });
  assert.throws(() => compareRuns({ a: h }, { head: "4x4" }), /run "a" has no head "4x4"/);
  assert.throws(() => lossCurves([{ epoch: 0 } as never]), /history\[0\] is not an epoch record/);
});

Deno.test("figures follow each run's deployed head, whatever the method", () => {
  const base = makeOneHeadHistory(4); // deploys "model"; its "aux" head scores higher
  const teskd = makeHistory(4, 2); // deploys "teacher"
  const runs = compareRuns({ baseline: base, teskd }).toJSON();
  assert.deepEqual(runs.data[0].y, base.map((r) => r.eval.model.top1));
  assert.deepEqual(runs.data[1].y, teskd.map((r) => r.eval.teacher.top1));
  assert.deepEqual(runs.layout.title, { text: "deployed head top-1 (%) by run" });
  // an explicit head is taken from every run
  const aux = compareRuns({ a: base, b: makeOneHeadHistory(4, "student") }, { head: "aux" });
  assert.deepEqual(aux.toJSON().data[1].y, [95, 95, 95, 95]);
  const unnamed = base.map((r) => ({ ...r, deployedHead: undefined as unknown as string }));
  assert.throws(() => compareRuns({ old: unnamed }), /run "old" does not say which head/);
  assert.equal(compareRuns({ old: unnamed }, { head: "model" }).data.length, 1);

  const bars = teacherVsStudents(base).toJSON();
  assert.deepEqual(bars.data[0].x, ["aux", "model"]);
  const colors = (bars.data[0].marker as { color: string[] }).color;
  assert.equal(colors[1], "#3367d6", "the deployed head is highlighted");
  assert.notEqual(colors[0], "#3367d6");
  assert.match(String((bars.layout.title as { text: string }).text), /model deployed/);
});
