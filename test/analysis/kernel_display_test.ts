/**
 * The kernel's display transport for libraries (`globalThis[Symbol.for("teskd.kernel.display")]`)
 * and the ProgressView on top of it, through the real kernel driven by jupyter_client
 * (kernel_display_client.py, which reuses test/kernel/client.py).
 */
import assert from "node:assert/strict";

type Json = Record<string, unknown>;
type Msg = { msg_type: string; content: Json };
type Run = { reply: Json; iopub: Msg[] };

const CLIENT = new URL("./kernel_display_client.py", import.meta.url).pathname;
const displayId = (m: Msg) => (m.content.transient as Json | undefined)?.display_id;
const data = (m: Msg) => m.content.data as Json;

Deno.test("kernel: display transport global, and ProgressView updating one display", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "teskd-analysis-kernel-" });
  let result: Record<string, Run>;
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [CLIENT, tmp],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    result = JSON.parse(new TextDecoder().decode(out.stdout));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }

  const t = result.transport;
  assert.equal(t.reply.status, "ok", JSON.stringify(t));
  const shown = t.iopub.filter((m) => m.msg_type.endsWith("display_data"));
  assert.deepEqual(shown.map((m) => m.msg_type), [
    "display_data",
    "update_display_data",
    "display_data",
  ]);
  assert.equal(displayId(shown[0]), "lib-1");
  assert.deepEqual(data(shown[0]), { "text/html": "<b>one</b>" });
  assert.equal(displayId(shown[1]), "lib-1");
  assert.deepEqual(data(shown[1]), { "text/plain": '"two"' });
  assert.deepEqual(data(shown[2]), { "text/plain": "3" });
  assert.equal(typeof displayId(shown[2]), "string", "a display without id gets one");
  assert.notEqual(displayId(shown[2]), "lib-1");

  const p = result.progress;
  assert.equal(p.reply.status, "ok", JSON.stringify(p));
  const res = p.iopub.find((m) => m.msg_type === "execute_result")!;
  const id = JSON.parse(String(data(res)["text/plain"]));
  const views = p.iopub.filter((m) => m.msg_type.endsWith("display_data"));
  assert.equal(views[0].msg_type, "display_data");
  assert.equal(views.length, 1 + 6 + 2 - 1, "one display, then an update per step and epoch");
  assert.ok(views.slice(1).every((m) => m.msg_type === "update_display_data"));
  assert.ok(views.every((m) => displayId(m) === id), "every message targets the view's id");
  const last = data(views.at(-1)!);
  assert.match(String(last["text/html"]), /kernel run/);
  assert.match(String(last["text/plain"]), /epoch 2\/2 done: .* top-1 teacher 34\.00/);
  const streams = p.iopub.filter((m) => m.msg_type === "stream");
  assert.ok(
    streams.every((m) => !String(m.content.text).includes("epoch")),
    "no headless lines inside the kernel",
  );

  const f = result.figures;
  assert.equal(f.reply.status, "ok", JSON.stringify(f).slice(0, 2000));
  const figs = f.iopub.filter((m) =>
    m.msg_type === "display_data" || m.msg_type === "execute_result"
  );
  assert.equal(figs.length, 3);
  const banner = "* plotly.js v3.1.2";
  const html = figs.map((m) => String(data(m)["text/html"]));
  assert.deepEqual(html.map((h) => h.split(banner).length - 1), [1, 0, 0], "plotly.js once");
  assert.ok(html.every((h) => !/<script[^>]*\bsrc=/i.test(h)));
  const plotly = figs.map((m) => data(m)["application/vnd.plotly.v1+json"] as Json);
  assert.deepEqual((plotly[2].data as Json[])[0].y, [5]);
});
