/**
 * End-to-end tests of the kernel, driven by Debian's jupyter_client through test/kernel/client.py
 * (which starts `deno run --allow-all kernel/main.ts CONNECTION_FILE` and reports what it saw).
 */
import assert from "node:assert/strict";

type Json = Record<string, unknown>;
type IopubMsg = { msg_type: string; content: Json };
type Run = { reply: Json; iopub: IopubMsg[] };

const CLIENT = new URL("./client.py", import.meta.url).pathname;

/** Runs one scenario group of client.py against a fresh kernel; returns its observations. */
async function group(name: string, transport = "tcp"): Promise<Json> {
  const tmp = await Deno.makeTempDir({ prefix: `teskd-kernel-${name}-` });
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [CLIENT, name, tmp, transport],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `client.py ${name} failed:\n${stderr}`);
    const result = JSON.parse(new TextDecoder().decode(out.stdout)) as Json;
    for (const [scenario, r] of Object.entries(result)) {
      const exc = (r as Json | null)?.exception;
      assert.equal(exc, undefined, `scenario ${scenario} raised:\n${exc}`);
    }
    return result;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const types = (r: Run) => r.iopub.map((m) => m.msg_type);
const ofType = (r: Run, t: string) => r.iopub.filter((m) => m.msg_type === t);
const streamText = (r: Run, name: string) =>
  ofType(r, "stream").filter((m) => m.content.name === name).map((m) => m.content.text).join("");

Deno.test("kernel: protocol, execution, output, display, comms, stdin, history", async (t) => {
  const r = await group("basic");

  await t.step("kernel_info_reply describes a TypeScript kernel", () => {
    const info = r.kernel_info as { content: Json; iopub: IopubMsg[] };
    assert.equal(info.content.status, "ok");
    assert.equal(info.content.protocol_version, "5.4");
    assert.equal(info.content.implementation, "teskd");
    const lang = info.content.language_info as Json;
    assert.equal(lang.name, "typescript");
    assert.equal(lang.mimetype, "text/typescript");
    assert.equal(lang.file_extension, ".ts");
    assert.match(String(lang.version), /^\d+\.\d+/);
    assert.ok(Array.isArray(info.content.help_links));
    assert.deepEqual(info.iopub.map((m) => m.content.execution_state), ["busy", "idle"]);
  });

  await t.step("execute: streams in order, execute_result, busy/idle around", () => {
    const e = r.execute as Run;
    assert.equal(e.reply.status, "ok");
    assert.equal(e.reply.execution_count, 1);
    // streams may arrive in more than one message each; the frontend joins them
    const kinds = types(e).filter((k, i, a) => !(k === "stream" && a[i - 1] === "stream"));
    assert.deepEqual(kinds, ["status", "execute_input", "stream", "execute_result", "status"]);
    assert.equal(streamText(e, "stdout"), "hello { a: 1 }\nraw bytes\n");
    assert.equal(streamText(e, "stderr"), "oops\n");
    const result = ofType(e, "execute_result")[0].content;
    assert.deepEqual(result.data, { "text/plain": "42" });
    assert.equal(result.execution_count, 1);
  });

  await t.step("silent and store_history=false do not count", () => {
    const s = r.silent as { before: number; silent: Run; nohist: Run; after: Run };
    assert.equal(s.silent.reply.execution_count, s.before);
    assert.deepEqual(types(s.silent), ["status", "stream", "status"]);
    assert.equal(s.nohist.reply.execution_count, s.before);
    assert.equal(s.after.reply.execution_count, s.before + 1);
  });

  await t.step("state persists across cells; values print like Deno.inspect", () => {
    const s = r.state as Json;
    assert.equal(s.fx, "42");
    assert.equal(s.cls, "3");
    assert.equal(s.rerun1, "1");
    assert.equal(s.rerun2, "2");
    assert.equal(s.await, "9");
    assert.equal(s.obj, '{ a: 1, b: [ 1, 2 ], m: Map(1) { 1 => "z" } }');
    assert.equal(s.str, '"text"');
    assert.deepEqual(types(s.undef as Run), ["status", "execute_input", "status"]);
    const ux = (s.user_expressions as Run).reply.user_expressions as Record<string, Json>;
    assert.deepEqual(ux.ok, { status: "ok", data: { "text/plain": "84" }, metadata: {} });
    assert.equal(ux.bad.status, "error");
    assert.equal(ux.bad.ename, "SyntaxError");
  });

  await t.step("complete, inspect and is_complete answer from the compiler", () => {
    const i = r.introspect as Record<string, Json>;
    assert.equal(i.complete.status, "ok");
    assert.ok((i.complete.matches as string[]).includes("max"));
    assert.equal(i.complete.cursor_start, 5);
    assert.equal(i.complete.cursor_end, 7);
    assert.equal(i.inspect.found, true);
    assert.match(String((i.inspect.data as Json)["text/plain"]), /Math\.max/);
    assert.deepEqual(i.incomplete, { status: "incomplete", indent: "  " });
    assert.deepEqual(i.complete_ok, { status: "complete" });
  });

  await t.step("name? and name?? open the pager with the inspection and the source", () => {
    const p = r.pager as Record<string, Run> & { code: string };
    const page = (run: Run) => {
      assert.equal(run.reply.status, "ok");
      const payload = run.reply.payload as Json[];
      assert.equal(payload.length, 1, JSON.stringify(run.reply));
      assert.equal(payload[0].source, "page");
      assert.equal(payload[0].start, 0);
      return String((payload[0].data as Json)["text/plain"]);
    };
    const help = page(p.help);
    assert.match(help, /function addOne\(a: number\): number/);
    assert.match(help, /Adds one to its argument\./);
    assert.doesNotMatch(help, /return a \+ 1/, "`?` shows no source");
    const source = page(p.source);
    assert.match(
      source,
      /Source \(an earlier cell\):\n.*function addOne\(a: number\) \{ return a \+ 1; \}/s,
    );
    assert.match(page(p.prefix), /max\(/);
    assert.deepEqual(p.missing.reply.payload, []);
    assert.equal(streamText(p.missing, "stdout"), "Object `noSuchName` not found.\n");
    assert.equal(p.code, "1");
  });

  await t.step("protocol 5.4: a new iopub subscriber is welcomed with its subscription", () => {
    const w = r.welcome as Record<string, Json | null>;
    for (const [key, topic] of [["all", ""], ["kernel.", "kernel."]] as const) {
      const got = w[key] as Json;
      assert.ok(got, `no iopub_welcome for subscription ${JSON.stringify(topic)}`);
      assert.equal(got.msg_type, "iopub_welcome");
      assert.deepEqual(got.content, { subscription: topic });
      assert.deepEqual(got.parent, {});
    }
    assert.equal(w.after, "2");
  });

  await t.step("errors carry ename, evalue and the cell's line:col", () => {
    const e = r.errors as Record<string, Run> & { after: string; exit: string };
    const rt = e.runtime.reply;
    assert.equal(rt.status, "error");
    assert.equal(rt.ename, "TypeError");
    assert.equal(rt.evalue, "boom");
    assert.match((rt.traceback as string[]).join("\n"), /cell-\d+\.ts:3:7/);
    assert.equal(ofType(e.runtime, "error").length, 1);
    const nested = (e.nested.reply.traceback as string[]).join("\n");
    assert.match(nested, /at g \(cell-\d+\.ts:2:\d+\)/);
    // the kernel's own frames (executor entry, worker modules, evaluation wrapper) are hidden
    for (const run of [e.runtime, e.nested]) {
      const frames = (run.reply.traceback as string[]).slice(1).join("\n");
      assert.doesNotMatch(frames, /kernel\/(worker\/|executor_worker|compiler\/eval)/);
    }
    assert.match(nested, /cell-\d+\.ts:4:1/);
    assert.equal(e.syntax.reply.ename, "SyntaxError");
    assert.match((e.syntax.reply.traceback as string[]).join("\n"), /:1:7/);
    assert.equal(e.typeerr.reply.ename, "TSError");
    assert.match(String(e.typeerr.reply.evalue), /not assignable/);
    assert.equal(e.after, "3"); // declarations before the throw exist
    assert.match(String(e.exit), /^ERROR Error: Deno\.exit\(3\) is not available/);
  });

  await t.step("stop_on_error aborts queued cells without running them", () => {
    const s = r.stop_on_error as { replies: Json[]; check: string; late: Json };
    assert.deepEqual(s.replies.map((x) => x.status), ["error", "aborted", "aborted"]);
    assert.equal(s.replies[0].evalue, "first fails");
    assert.equal(s.check, '"undefined"');
    assert.equal(s.late.status, "ok");
  });

  await t.step("a print before a yield and 3 s of synchronous work arrives at the yield", () => {
    const p = r.print_then_busy as { first_after_s: number; cell_s: number; second: string };
    assert.ok(p.cell_s >= 3, `the cell took ${p.cell_s}s`);
    assert.ok(p.first_after_s < 1.5, `the first line came after ${p.first_after_s}s`);
    assert.equal(p.second, "second\n");
  });
  await t.step("a 10,000-line flood arrives complete and before idle", () => {
    const f = r.flood as { text: string; last_types: string[] };
    const lines = f.text.split("\n").slice(0, -1);
    assert.equal(lines.length, 10000);
    assert.equal(lines[0], "line 0");
    assert.equal(lines[9999], "line 9999");
    assert.ok(lines.every((l, i) => l === `line ${i}`));
    assert.deepEqual(f.last_types.slice(-2), ["stream", "status"]);
  });

  await t.step("display, update by id, helpers, clear_output, rich results", () => {
    const d = r.display as { display: Run; rich: Run; last: Run };
    assert.deepEqual(types(d.display).slice(2, -1), [
      "display_data",
      "update_display_data",
      "update_display_data",
      "display_data",
      "display_data",
      "clear_output",
    ]);
    const [first, png, json] = ofType(d.display, "display_data").map((m) => m.content);
    assert.equal((first.data as Json)["text/html"], "<b>hi</b>");
    assert.deepEqual(first.transient, { display_id: "d1" });
    const updates = ofType(d.display, "update_display_data").map((m) => m.content);
    assert.equal((updates[0].data as Json)["text/markdown"], "*x*");
    assert.deepEqual(updates[1].transient, { display_id: "d1" });
    assert.equal((png.data as Json)["image/png"], "AQID");
    assert.deepEqual((json.data as Json)["application/json"], { k: 1 });
    assert.deepEqual(ofType(d.display, "clear_output")[0].content, { wait: true });
    const rich = ofType(d.rich, "execute_result")[0].content;
    assert.deepEqual(rich.data, { "text/html": "<i>r</i>" });
    assert.deepEqual(types(d.last), ["status", "execute_input", "display_data", "status"]);
  });

  await t.step("comms both ways; unknown target is closed", () => {
    const c = r.comms as Record<string, IopubMsg[]> & { info: Json; kernel_open: Run };
    const opened = c.open.filter((m) => m.msg_type === "comm_msg")[0].content;
    assert.deepEqual(opened, { comm_id: "c1", data: { opened: { hi: 1 } } });
    const echo = c.msg.filter((m) => m.msg_type === "comm_msg")[0].content;
    assert.deepEqual(echo.data, { echo: { x: 1 } });
    assert.deepEqual(c.info.comms, { c1: { target_name: "echo" } });
    assert.ok(
      c.close.some((m) => m.msg_type === "stream" && m.content.text === "closed by frontend\n"),
    );
    const unknown = c.unknown.filter((m) => m.msg_type === "comm_close");
    assert.equal(unknown.length, 1);
    assert.equal(unknown[0].content.comm_id, "c2");
    const k = c.kernel_open;
    assert.deepEqual(types(k).slice(2, -1), ["comm_open", "comm_msg", "comm_close"]);
    const open = ofType(k, "comm_open")[0].content;
    assert.equal(open.target_name, "front");
    assert.deepEqual(open.data, { a: 1 });
    assert.deepEqual(ofType(k, "comm_msg")[0].content.data, { b: 2 });
  });

  await t.step("stdin: input() and prompt(); refused at once without allow_stdin", () => {
    const s = r.stdin as { prompts: string[]; iopub: IopubMsg[]; refused: Run; refused_sync: Run };
    assert.deepEqual(s.prompts, ["name? ", "sync? "]);
    const result = s.iopub.filter((m) => m.msg_type === "execute_result")[0].content;
    assert.deepEqual(result.data, { "text/plain": '"BOB/yes"' });
    for (const refused of [s.refused, s.refused_sync]) {
      assert.equal(refused.reply.status, "error");
      assert.match(String(refused.reply.evalue), /allow_stdin=false/);
    }
  });

  await t.step("history: tail, search unique, range of this session", () => {
    const h = r.history as Record<string, { history: [number, number, string][] }>;
    assert.deepEqual(h.tail.history.map((x) => x[2]), [
      "const hist2 = 'beta';",
      "hist1 + 'alpha-again'",
    ]);
    assert.deepEqual(h.search.history.map((x) => x[2]), [
      "const hist1 = 'alpha';",
      "hist1 + 'alpha-again'",
    ]);
    assert.deepEqual(h.range.history.map((x) => x[1]), [1, 2]);
  });
});

Deno.test("kernel: forged signatures dropped, malformed frames survived (ipc)", async () => {
  const r = (await group("wire", "ipc")).wire as Json;
  assert.equal(r.forged, '"undefined"');
  assert.equal(r.alive, "2");
  assert.equal((r.huge_reply as Json).status, "ok");
  const log = String(r.stderr);
  assert.match(log, /dropped message on shell: invalid message signature/);
  assert.match(log, /no <IDS\|MSG> delimiter frame/);
  assert.match(log, /not valid UTF-8 JSON/);
  assert.match(log, /unknown message type no_such_request/);
});

Deno.test("kernel: interrupts by message and SIGINT, awaiting and busy cells", async () => {
  const all = await group("interrupt");
  // The type check runs off the main thread: heartbeat and control answer during it, and an
  // interrupt stops the cell before it runs.
  const tc = all.typecheck_busy as Json;
  assert.equal(tc.warm, "2");
  assert.equal(typeof tc.hb_latency_s, "number", "heartbeat silent during a type check");
  assert.ok(Number(tc.hb_latency_s) < 0.5, `heartbeat took ${tc.hb_latency_s}s`);
  assert.equal(tc.control_status, "ok");
  assert.ok(Number(tc.control_latency_s) < 0.5, `control took ${tc.control_latency_s}s`);
  const tcReply = tc.reply as Json;
  assert.equal(tcReply.ename, "KeyboardInterrupt");
  assert.match(String(tcReply.evalue), /before it ran/);
  // The check is cancelled, not waited out (30 such functions take seconds to check here).
  assert.ok(Number(tc.stop_s) < 1, `the interrupted type check took ${tc.stop_s}s to stop`);
  assert.equal(tc.ran, '"undefined"');
  assert.equal(tc.uninterrupted, "true");
  const r = all.interrupt as Record<string, Json>;
  for (const k of ["await_message", "await_signal", "busy_signal", "background"]) {
    const c = r[k] as { reply: Json; stop_s: number };
    assert.equal(c.reply.status, "error", k);
    assert.equal(c.reply.ename, "KeyboardInterrupt", k);
    assert.ok(c.stop_s < 1, `${k} took ${c.stop_s}s`);
  }
  assert.equal((r.busy_message as unknown as { reply: Json }).reply.ename, "KeyboardInterrupt");
  assert.equal(r.hb_alive_during_busy, true);
  assert.equal(r.control_info_during_busy, "ok");
  assert.ok(Number(r.control_latency_s) < 1);
  assert.equal(r.ticks_after, "0"); // the interrupted cell's interval no longer runs
  assert.equal((r.signal_aborted as unknown as { reply: Json }).reply.ename, "KeyboardInterrupt");
  assert.equal(r.state, '"still here"');
  // A synchronous call that cannot be stopped: the first interrupt waits for it (the notice on the
  // cell's stderr, once), the cell stops with KeyboardInterrupt when it returns, state kept.
  const sync = r.sync_call as unknown as { reply: Json; stop_s: number; stderr: string };
  assert.equal(sync.reply.ename, "KeyboardInterrupt");
  assert.ok(sync.stop_s > 1.5 && sync.stop_s < 4, `stopped after ${sync.stop_s}s`);
  assert.equal(sync.stderr.match(/waiting for a synchronous call/g)?.length, 1, sync.stderr);
  assert.match(sync.stderr, /Interrupt again to reset the kernel/);
  assert.equal(r.sync_call_state, '"still here 1"', "the variables and the finished call's effect");
  // Code that never returns: only the second interrupt replaces the worker (state lost).
  assert.equal(r.endless_alive_after_first, true);
  const endless = r.endless as unknown as { reply: Json; stop_s: number; stderr: string };
  assert.equal(endless.reply.ename, "KeyboardInterrupt");
  assert.match(String(endless.reply.evalue), /second interrupt reset the kernel/);
  assert.match(endless.stderr, /waiting for a synchronous call/);
  assert.ok(endless.stop_s < 4, `the reset took ${endless.stop_s}s`);
  assert.equal(r.after_reset, "2");
  assert.equal(r.state_after_reset, '"undefined"');
  assert.equal(r.alive, true);
});

Deno.test("kernel: an interrupt inside a training step of seconds stops it at once, state kept, fit() resumes exactly", async () => {
  const r = (await group("interrupt_training")).interrupt_training as Record<string, Json>;
  assert.equal(r.setup, "0", JSON.stringify(r));
  const reply = r.reply as Json;
  assert.equal(reply.ename, "KeyboardInterrupt");
  const steps = JSON.parse(JSON.parse(String(r.step_seconds))) as number[];
  // the step was stopped inside (it takes seconds), not waited out
  assert.ok(Number(r.stop_s) < 1, `stopped after ${r.stop_s}s; uninterrupted steps took ${steps}`);
  assert.ok(Math.min(...steps) > 1, `a step takes seconds here: ${steps}`);
  // interrupted inside the second step: the first one kept, the second not applied
  assert.equal(r.after_interrupt, '"still here 1 0"', "the state kept, the step not applied");
  assert.equal(r.resumed, "1");
  assert.equal(r.same_as_uninterrupted, "true");
  assert.equal(r.alive, true);
});

Deno.test("kernel: shutdown and restart exit cleanly; history persists", async () => {
  const r = await group("lifecycle");
  const early = r.shutdown_at_start as { reply: Json; exit: number };
  assert.deepEqual(early.reply, { status: "ok", restart: false }, JSON.stringify(early));
  assert.equal(early.exit, 0, JSON.stringify(early));
  const shutdown = r.shutdown as { reply: Json; exit: number };
  assert.deepEqual(shutdown.reply, { status: "ok", restart: false });
  assert.equal(shutdown.exit, 0);
  const restart = r.restart as { reply: Json; exit: number; history: Json };
  assert.deepEqual(restart.reply, { status: "ok", restart: true });
  assert.equal(restart.exit, 0);
  const rows = (restart.history as { history: [number, number, string][] }).history;
  assert.equal(rows.length, 1);
  assert.equal(rows[0][2], "'persist-marker-1'");
});

Deno.test("kernel: out-of-memory cells fail with the limit named; the kernel survives", async () => {
  const r = (await group("oom")).out_of_memory as Record<string, Json>;
  const heap = r.heap_reply as Json;
  assert.equal(heap.status, "error");
  assert.equal(heap.ename, "OutOfMemoryError", JSON.stringify(heap));
  // what ran out, the limit, how to raise it, and that the state is gone
  assert.match(String(heap.evalue), /JavaScript heap memory/);
  assert.match(String(heap.evalue), /256 MiB, set by TESKD_HEAP_LIMIT_MB/);
  assert.match(String(heap.evalue), /state .* is lost/);
  assert.deepEqual(r.heap_iopub_types, ["status", "execute_input", "error", "status"]);
  assert.equal(r.alive, true, "the kernel process survived");
  assert.equal(r.kernel_info_after, "ok");
  assert.equal(r.gone, '"undefined"', "the executor restarted without the old state");
  // the compiler's view was reset with it: redeclaring `kept` is no error
  assert.equal(r.redeclare, "7");
  assert.equal(r.tensor_setup, '"teskd-cpu"');
  const tensor = r.tensor_reply as Json;
  assert.equal(tensor.ename, "TensorMemoryError", JSON.stringify(tensor));
  assert.match(String(tensor.evalue), /128 MiB .* limit of 64 MiB \(TESKD_TENSOR_MEMORY_MB/);
  // refused before it was registered: the state and the other tensors are kept
  assert.equal(r.tensor_after, '"7 1024 1"');
  assert.notEqual(
    Number(r.executor_pid),
    Number(r.kernel_pid),
    "user code runs in its own process",
  );
  const killed = r.killed_reply as Json;
  assert.equal(killed.ename, "OutOfMemoryError", JSON.stringify(killed));
  assert.match(
    String(killed.evalue),
    /killed \(SIGKILL\).*out-of-memory killer.*state .* is lost/s,
  );
  assert.equal(r.after_kill, "42");
  assert.equal(r.alive_end, true);
});
