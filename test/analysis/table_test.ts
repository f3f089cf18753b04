import assert from "node:assert/strict";
import * as aq from "arquero";
import {
  historyTable,
  JUPYTER_DISPLAY,
  summaryTable,
  tableHtml,
  tableText,
  tableView,
} from "../../lib/analysis/mod.ts";
import type { SummaryRow } from "../../lib/models/summary.ts";
import { makeHistory } from "./fixture.ts";

/** A table of `n` rows and `m` columns c0…c(m-1) with cell value row*1000+col. */
function grid(n: number, m: number) {
  const cols: Record<string, number[]> = {};
  for (let j = 0; j < m; j++) cols[`c${j}`] = Array.from({ length: n }, (_, i) => i * 1000 + j);
  return aq.table(cols);
}

const bodyRows = (html: string) => html.split("<tbody>")[1].split("</tbody>")[0].match(/<tr>/g)!;

Deno.test("tableView: bounded HTML and text with totals", () => {
  const t = grid(100, 30);
  const b = tableView(t)[JUPYTER_DISPLAY]();
  assert.deepEqual(Object.keys(b).sort(), ["text/html", "text/plain"]);
  const html = String(b["text/html"]);
  assert.match(html, /100 rows &#215; 30 columns/, "totals (× as an entity)");
  assert.equal(bodyRows(html).length, 10 + 1 + 5, "first 10, an ellipsis row, last 5");
  assert.match(html, /<th>0<\/th>/);
  assert.match(html, /<th>9<\/th>/);
  assert.doesNotMatch(html, /<th>10<\/th>/);
  assert.match(html, /<th>95<\/th>.*<td[^>]*>95,000<\/td>/);
  assert.match(html, /<th>99<\/th>/);
  const headCells = html.split("<thead>")[1].split("</thead>")[0].match(/<th/g)!;
  assert.equal(headCells.length, 1 + 20 + 1, "index, 20 columns, an ellipsis column");
  assert.match(html, />c0</);
  assert.match(html, />c29</);
  assert.doesNotMatch(html, />c20</);

  const text = String(b["text/plain"]);
  const lines = text.split("\n");
  assert.equal(lines.length, 1 + 16 + 1);
  assert.equal(lines.at(-1), "100 rows × 30 columns");

  const small = tableHtml(grid(3, 2));
  assert.equal(bodyRows(small).length, 3);
  assert.match(small, /3 rows &#215; 2 columns/);
  assert.match(tableText(grid(1, 1)), /1 row × 1 column$/);
  assert.match(tableHtml(aq.table({ s: ["<b>&"] })), /&lt;b&gt;&amp;/);
  assert.throws(() => tableHtml(t, { head: -1 }), /head must be a non-negative integer/);
  assert.throws(() => tableView({} as never), /must be an Arquero table/);
});

Deno.test("historyTable: one row per epoch, loss terms, accuracies per head, lr, speed, time", () => {
  const h = makeHistory(4);
  const t = historyTable(h);
  assert.equal(t.numRows(), 4);
  for (
    const c of [
      "epoch",
      "lr",
      "loss",
      "loss_ce",
      "loss_kd",
      "loss_fea",
      "train_top1_teacher",
      "top1_teacher",
      "top1_8x8",
      "top5_16x16",
      "eval_loss",
      "images_per_s",
      "train_s",
      "eval_s",
    ]
  ) assert.ok(t.columnNames().includes(c), `column ${c}`);
  assert.deepEqual(t.array("epoch"), [1, 2, 3, 4]);
  assert.deepEqual(t.array("loss_kd"), h.map((r) => r.terms.kd));
  assert.deepEqual(t.array("top1_8x8"), h.map((r) => r.eval["8x8"].top1));
  assert.deepEqual(t.array("lr"), h.map((r) => r.lr));
  // Still an ordinary Arquero table, and it displays itself.
  assert.equal(t.filter((d: { epoch: number }) => d.epoch > 2).numRows(), 2);
  const html = String(
    (t as unknown as Record<symbol, () => Record<string, unknown>>)
      [JUPYTER_DISPLAY]()["text/html"],
  );
  assert.match(html, /4 rows &#215; \d+ columns/);
  assert.match(html, /training history/);
  assert.throws(() => historyTable([{}] as never), /history\[0\] is not an epoch record/);
});

Deno.test("summaryTable: model summary rows with the total", () => {
  const rows: SummaryRow[] = [
    { part: "teacher", name: "stage 1", modules: "conv1, bn1", output: "64×32×32", params: 1000 },
    { part: "student 8x8", name: "head 8x8", modules: "fc_b3", output: "10", params: 234 },
  ];
  const t = summaryTable(rows);
  assert.deepEqual(t.columnNames(), ["part", "name", "modules", "output", "params"]);
  assert.deepEqual(t.array("params"), [1000, 234]);
  const b = (t as unknown as Record<symbol, () => Record<string, unknown>>)[JUPYTER_DISPLAY]();
  assert.match(String(b["text/html"]), /1,234 parameters/);
  assert.match(String(b["text/plain"]), /head 8x8/);
  assert.throws(() => summaryTable([{ name: 1 }] as never), /rows\[0\] is not a summary row/);
});
