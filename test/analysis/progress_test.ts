import assert from "node:assert/strict";
import { type DisplayTransport, JUPYTER_DISPLAY, ProgressView } from "../../lib/analysis/mod.ts";
import { makeHistory, makeOneHeadHistory, makeStep } from "./fixture.ts";

Deno.test("ProgressView: one display, updated in place, with every quantity", () => {
  const calls: { kind: string; id: string; html: string; text: string }[] = [];
  const record = (kind: string, id: string, v: unknown) => {
    const b = (v as Record<symbol, () => Record<string, unknown>>)[JUPYTER_DISPLAY]();
    calls.push({ kind, id, html: String(b["text/html"]), text: String(b["text/plain"]) });
  };
  const transport: DisplayTransport = {
    display: (v, opts) => record("display", opts?.id ?? "", v),
    update: (id, v) => record("update", id, v),
  };
  const view = new ProgressView({ epochs: 4, updateEveryMs: 0, transport, title: "run A" });
  const h = makeHistory(2);
  for (let e = 0; e < 2; e++) {
    for (let s = 0; s < 5; s++) view.onStep(makeStep(e, s, 5));
    view.onEpoch(h[e]);
  }
  assert.equal(calls.length, 12);
  assert.equal(calls[0].kind, "display");
  assert.ok(calls.slice(1).every((c) => c.kind === "update"));
  assert.ok(calls.every((c) => c.id === view.id), "always the same display id");
  const last = calls.at(-1)!;
  for (const s of ["run A", "ce", "kd", "fea", "lr", "images/s", "time left", "teacher", "8x8"]) {
    assert.ok(last.html.includes(s), `html shows ${s}`);
  }
  assert.ok(last.html.includes(h[1].eval["16x16"].top1.toFixed(2)), "student accuracy");
  assert.ok(last.html.includes("2/4"), "epoch 2 of 4");
  assert.equal((last.html.match(/<svg /g) ?? []).length, 2, "loss and accuracy curves");
  assert.match(last.text, /epoch 2\/4 done: loss .* top-1 teacher 34\.00/);
  assert.match(last.html, /<b>teacher<\/b> <span class="teskd-deployed">\(deployed\)/);
  assert.equal((last.html.match(/\(deployed\)/g) ?? []).length, 1, "one deployed head");

  // Any method: a one-head run (the baseline's "model") shows its head, marked as deployed.
  let shown = "";
  const one = new ProgressView({
    epochs: 2,
    updateEveryMs: 0,
    transport: {
      display: () => {},
      update: (_id, v) =>
        shown = String(
          (v as Record<symbol, () => Record<string, unknown>>)[JUPYTER_DISPLAY]()["text/html"],
        ),
    },
  });
  for (const r of makeOneHeadHistory(2)) {
    one.onStep({ ...makeStep(r.epoch, 0, 1), terms: { cls: 1 } });
    one.onEpoch(r);
  }
  assert.match(shown, /<b>model<\/b> <span class="teskd-deployed">\(deployed\)/);
  assert.match(shown, /<td>aux<\/td>/);
  assert.ok(!shown.includes("teacher"), "nothing about a teacher in a run that has none");

  // Rate limited: fast steps do not flood the display.
  const slow: string[] = [];
  const v2 = new ProgressView({
    updateEveryMs: 60_000,
    transport: { display: () => slow.push("d"), update: () => slow.push("u") },
  });
  for (let s = 0; s < 50; s++) v2.onStep(makeStep(0, s, 50));
  v2.onEpoch(makeHistory(1)[0]);
  assert.deepEqual(slow, ["d", "u"], "first step shows, the epoch end updates");
  assert.throws(() => new ProgressView({ epochs: 0 }), /epochs must be a positive integer/);
});

Deno.test("ProgressView: headless, progress lines go to stderr", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./progress_headless_fixture.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  assert.equal(new TextDecoder().decode(out.stdout), "stdout untouched\n");
  const lines = stderr.trim().split("\n");
  assert.equal(lines.filter((l) => / step \d\/3 /.test(l)).length, 6, stderr);
  assert.match(
    lines[0],
    /^epoch 1\/2 step 1\/3 loss 2\.5 \(ce 1\.5, kd 0\.75, fea 0\.25\) lr 0\.1 640 img\/s/,
  );
  const done = lines.filter((l) => l.includes(" done: "));
  assert.equal(done.length, 2);
  assert.match(
    done[1],
    /^epoch 2\/2 done: .* top-1 teacher 34\.00, 8x8 \d+\.00, 16x16 28\.00 .* left 0\.0s$/,
  );
});
