/** The Output widget: its `outputs` trait as ipywidgets' append_stdout/append_display_data set it. */
import assert from "node:assert/strict";
import { lineChart, PLOTLY_MIME } from "../../lib/analysis/mod.ts";
import { Output } from "../../lib/widgets/mod.ts";
import { withTransport } from "./recording_transport.ts";

Deno.test("Output: appendStdout/appendStderr/appendDisplayData/clear sync the outputs list", async () => {
  await withTransport((t) => {
    const out = new Output();
    const comm = t.comm(out.modelId);
    out.appendStdout("a\n");
    out.appendStderr("b\n");
    out.appendDisplayData({ "text/plain": "x", "text/html": "<b>x</b>" });
    const fig = lineChart({ loss: [2, 1] });
    out.appendDisplayData(fig);
    assert.deepEqual(comm.sent[0].data, {
      method: "update",
      state: { outputs: [{ output_type: "stream", name: "stdout", text: "a\n" }] },
      buffer_paths: [],
    });
    const last = comm.sent.at(-1)!.data.state as { outputs: Record<string, unknown>[] };
    assert.equal(last.outputs.length, 4);
    assert.deepEqual(last.outputs[1], { output_type: "stream", name: "stderr", text: "b\n" });
    assert.deepEqual(last.outputs[2], {
      output_type: "display_data",
      data: { "text/plain": "x", "text/html": "<b>x</b>" },
      metadata: {},
    });
    const figData = last.outputs[3].data as Record<string, unknown>;
    assert.deepEqual(figData[PLOTLY_MIME], fig.toJSON());
    out.clear();
    assert.deepEqual(comm.sent.at(-1)!.data.state, { outputs: [] });
    assert.throws(() => out.appendDisplayData(3), /displayable value or a MIME bundle/);
  });
});

Deno.test("Output: capture() sends console output into the widget, sync and async", async () => {
  const out = new Output();
  const r = out.capture(() => {
    console.log("x", 1, { a: 2 });
    console.error("oops");
    return 5;
  });
  assert.equal(r, 5);
  assert.deepEqual(out.outputs, [
    { output_type: "stream", name: "stdout", text: "x 1 { a: 2 }\n" },
    { output_type: "stream", name: "stderr", text: "oops\n" },
  ]);
  const logBefore = console.log;
  await out.capture(async () => {
    await Promise.resolve();
    console.info("later");
  }, { clear: true });
  assert.equal(console.log, logBefore, "console restored");
  assert.deepEqual(out.outputs, [{ output_type: "stream", name: "stdout", text: "later\n" }]);
  assert.throws(() =>
    out.capture(() => {
      throw new Error("bad");
    }), /bad/);
  assert.match(String((out.outputs.at(-1) as { text: string }).text), /Error: bad/);
  assert.equal(console.log, logBefore, "console restored after an error");
});
