"""Drives the teskd kernel with Debian's jupyter_client and reports what it saw as JSON.

Usage: /usr/bin/python3 test/kernel/client.py GROUP TMPDIR
Starts `deno run --allow-all kernel/main.ts CONNECTION_FILE` itself (so tests can signal it),
runs the scenarios of GROUP against it and prints one JSON object: scenario name -> observations.
The Deno tests (kernel_test.ts) make the assertions.
"""
import json
import os
import signal
import subprocess
import sys
import time
import traceback

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 30


class Kernel:
    """A kernel process plus a connected BlockingKernelClient."""

    def __init__(self, tmp, name, extra_env=None, transport="tcp", settle=True):
        ip = "127.0.0.1" if transport == "tcp" else os.path.join(tmp, name + "-ipc")
        self.dir = tmp
        self.conn_file = os.path.join(tmp, name + "-connection.json")
        write_connection_file(self.conn_file, ip=ip, transport=transport,
                              key=os.urandom(16).hex().encode())
        env = dict(os.environ)
        env["TESKD_HISTORY_FILE"] = os.path.join(tmp, "history.jsonl")
        env.update(extra_env or {})
        self.stderr = open(os.path.join(tmp, name + "-stderr.txt"), "w")
        self.started = time.time()
        self.proc = subprocess.Popen(
            ["deno", "run", "--allow-all",
             os.path.join(ROOT, "kernel", os.environ.get("TESKD_KERNEL_ENTRY", "main.ts")), self.conn_file],
            cwd=ROOT, env=env, stdout=self.stderr, stderr=self.stderr)
        self.wait_heartbeat()
        self.kc = BlockingKernelClient(connection_file=self.conn_file)
        self.kc.load_connection_file()
        self.kc.start_channels()
        # Not wait_for_ready(): jupyter_client 7.4's heartbeat thread misreports a live kernel.
        deadline = time.time() + 60
        while True:
            msg_id = self.kc.kernel_info()
            try:
                shell_reply(self.kc, msg_id, timeout=2)
                break
            except Exception:
                if time.time() > deadline:
                    raise
        if settle:
            time.sleep(0.3)
            while True:
                try:
                    self.kc.get_iopub_msg(timeout=0.2)
                except Exception:
                    break
        self.ready_s = time.time() - self.started

    def wait_heartbeat(self, timeout=60):
        """Waits for a heartbeat echo; raises when none comes within `timeout` seconds."""
        info = json.load(open(self.conn_file))
        addr = (f"tcp://{info['ip']}:{info['hb_port']}" if info["transport"] == "tcp"
                else f"ipc://{info['ip']}-{info['hb_port']}")
        sock = zmq.Context.instance().socket(zmq.REQ)
        sock.linger = 0
        sock.connect(addr)
        sock.send(b"ping")
        ok = sock.poll(timeout * 1000)
        sock.close()
        if not ok:
            raise RuntimeError("kernel did not answer its heartbeat: " + self.stderr_text())

    def stderr_text(self):
        self.stderr.flush()
        with open(self.stderr.name) as f:
            return f.read()

    def close(self):
        self.kc.stop_channels()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()


STASH = []


def next_iopub(kc, msg_id, deadline):
    """The next iopub message of request `msg_id`; others are kept for their own collect()."""
    for i, m in enumerate(STASH):
        if m["parent_header"].get("msg_id") == msg_id:
            return STASH.pop(i)
    while time.time() < deadline:
        m = kc.get_iopub_msg(timeout=max(0.01, deadline - time.time()))
        if m["parent_header"].get("msg_id") == msg_id:
            return m
        STASH.append(m)
        del STASH[:-2000]
    raise TimeoutError("no iopub message")


def collect(kc, msg_id, timeout=TIMEOUT):
    """iopub messages of one request up to and including its idle status."""
    out = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = next_iopub(kc, msg_id, deadline)
        except Exception:
            break
        out.append({"msg_type": m["msg_type"], "content": m["content"]})
        if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
            break
    return out


def shell_reply(kc, msg_id, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m = kc.get_shell_msg(timeout=max(0.01, deadline - time.time()))  # raises Empty on timeout
        if m["parent_header"].get("msg_id") == msg_id:
            return m
    raise TimeoutError("no shell reply")


def run(kc, code, **kw):
    msg_id = kc.execute(code, **kw)
    reply = shell_reply(kc, msg_id)
    return {"reply": reply["content"], "iopub": collect(kc, msg_id)}


def value(kc, code):
    """The text/plain result of a cell, or the error."""
    r = run(kc, code)
    for m in r["iopub"]:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"].get("text/plain")
        if m["msg_type"] == "error":
            return "ERROR " + m["content"]["ename"] + ": " + m["content"]["evalue"]
    return None


def control_request(kc, msg_type, content=None, timeout=TIMEOUT):
    msg = kc.session.msg(msg_type, content or {})
    kc.control_channel.send(msg)
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = kc.get_control_msg(timeout=max(0.01, deadline - time.time()))
        if r["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
            return r
    raise TimeoutError("no control reply to " + msg_type)


# ---- scenarios -------------------------------------------------------------------------------

def s_kernel_info(k):
    kc = k.kc
    msg_id = kc.kernel_info()
    reply = shell_reply(kc, msg_id)
    return {"content": reply["content"], "iopub": collect(kc, msg_id), "ready_s": k.ready_s}


def s_execute(k):
    kc = k.kc
    code = ('console.log("hello", { a: 1 });\n'
            'Deno.stdout.writeSync(new TextEncoder().encode("raw bytes\\n"));\n'
            'console.error("oops");\n'
            '40 + 2')
    return run(kc, code)


def s_silent(k):
    kc = k.kc
    before = run(kc, "1")["reply"]["execution_count"]
    silent = run(kc, 'console.log("quiet"); 5', silent=True)
    nohist = run(kc, "6", store_history=False)
    after = run(kc, "7")
    return {"before": before, "silent": silent, "nohist": nohist, "after": after}


def s_state(k):
    kc = k.kc
    run(kc, "const x: number = 40;\nfunction f(a: number) { return a + 2; }\nclass P { v = 3 }")
    return {
        "fx": value(kc, "f(x)"),
        "cls": value(kc, "new P().v"),
        "rerun1": value(kc, "const y = 1; y"),
        "rerun2": value(kc, "const y = 2; y"),
        "await": value(kc, "await Promise.resolve(9)"),
        "obj": value(kc, "({ a: 1, b: [1, 2], m: new Map([[1, 'z']]) })"),
        "str": value(kc, "'text'"),
        "undef": run(kc, "let u;"),
        "user_expressions": run(kc, "0", user_expressions={"ok": "f(x) * 2", "bad": "nope("}),
    }


def s_introspect(k):
    kc = k.kc
    code = "Math.ma"
    complete = shell_reply(kc, kc.complete(code, len(code)))["content"]
    inspect = shell_reply(kc, kc.inspect("Math.max", 6))["content"]
    incomplete = shell_reply(kc, kc.is_complete("function f() {"))["content"]
    complete_ok = shell_reply(kc, kc.is_complete("1 + 1"))["content"]
    return {"complete": complete, "inspect": inspect, "incomplete": incomplete,
            "complete_ok": complete_ok}


def s_pager(k):
    """`name?` and `name??` open the pager (a `page` payload), as in ipykernel."""
    kc = k.kc
    run(kc, "/** Adds one to its argument. */\nfunction addOne(a: number) { return a + 1; }")
    return {
        "help": run(kc, "addOne?"),
        "source": run(kc, "addOne??"),
        "prefix": run(kc, "?Math.max"),
        "missing": run(kc, "noSuchName?"),
        # a conditional expression is code, not a help request
        "code": value(kc, "const c = true; c ? 1 : 2"),
    }


def s_welcome(k):
    """Protocol 5.4: each new iopub subscriber gets `iopub_welcome` (JEP 65) with its topic."""
    info = json.load(open(k.conn_file))
    # Its own Session: the client's would record the signatures and then refuse the copies that
    # reach the client's iopub channel as replays.
    session = Session(key=k.kc.session.key)
    out = {}
    for topic in ["", "kernel."]:
        sock = zmq.Context.instance().socket(zmq.SUB)
        sock.linger = 0
        sock.connect(f"tcp://{info['ip']}:{info['iopub_port']}")
        sock.setsockopt(zmq.SUBSCRIBE, topic.encode())
        got = None
        if sock.poll(10000):
            frames = sock.recv_multipart()
            idents, msg = session.feed_identities(frames)
            msg = session.deserialize(msg)
            got = {"ident": [i.decode() for i in idents], "msg_type": msg["header"]["msg_type"],
                   "content": msg["content"], "parent": msg["parent_header"]}
        sock.close()
        out[topic or "all"] = got
    # the jupyter_client already connected keeps working
    out["after"] = value(k.kc, "1 + 1")
    return out


def s_errors(k):
    kc = k.kc
    return {
        "runtime": run(kc, 'const a1 = 1;\nconst b1 = 2;\nthrow new TypeError("boom");'),
        "nested": run(kc, 'function g() {\n  return (null as unknown as { q: number }).q;\n}\ng()'),
        "syntax": run(kc, "const = 5;"),
        "typeerr": run(kc, 'const s: string = 1;\ns'),
        "after": value(kc, "a1 + b1"),
        "exit": value(kc, "Deno.exit(3)"),
    }


def s_stop_on_error(k):
    kc = k.kc
    ids = [
        kc.execute("// @ts-nocheck\nawait new Promise((r) => setTimeout(r, 300));\n"
                   "throw new Error('first fails');"),
        kc.execute("// @ts-nocheck\nglobalThis.ranAfter = 1;"),
        kc.execute("// @ts-nocheck\nglobalThis.ranAfter2 = 1;"),
    ]
    replies = [shell_reply(kc, i)["content"] for i in ids]
    for i in ids:
        collect(kc, i)
    check = value(kc, "// @ts-nocheck\ntypeof globalThis.ranAfter")
    # A request sent right after the error reply (before idle) is not aborted.
    failing = kc.execute("throw new Error('again');")
    shell_reply(kc, failing)
    late = kc.execute("'late ran'")
    late_reply = shell_reply(kc, late)["content"]
    collect(kc, failing)
    collect(kc, late)
    return {"replies": replies, "check": check, "late": late_reply}


def s_flood(k):
    kc = k.kc
    r = run(kc, 'for (let i = 0; i < 10000; i++) console.log("line " + i);\n'
                'void Deno.stderr.writeSync(new TextEncoder().encode("end\\n"));')
    text = "".join(m["content"]["text"] for m in r["iopub"]
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")
    types = [m["msg_type"] for m in r["iopub"]]
    return {"text": text, "last_types": types[-3:], "n_stream": types.count("stream")}


def s_print_then_busy(k):
    """A print, a yield, then 3 s of synchronous work (a training loop's shape): the print reaches
    the frontend at the yield, not after the work."""
    kc = k.kc
    t0 = time.time()
    msg_id = kc.execute('console.log("first");\n'
                        'await new Promise((r) => setTimeout(r, 0));\n'
                        'const t = Date.now(); while (Date.now() - t < 3000) {}\n'
                        'console.log("second");')
    deadline = time.time() + TIMEOUT
    arrival = None
    while arrival is None:
        m = next_iopub(kc, msg_id, deadline)
        if m["msg_type"] == "stream" and "first" in m["content"]["text"]:
            arrival = time.time() - t0
    shell_reply(kc, msg_id)
    rest = collect(kc, msg_id)
    second = "".join(m["content"]["text"] for m in rest if m["msg_type"] == "stream")
    return {"first_after_s": arrival, "cell_s": time.time() - t0, "second": second}


def s_display(k):
    kc = k.kc
    return {
        "display": run(kc, 'const h = display(html("<b>hi</b>"), { id: "d1" });\n'
                           'h.update(markdown("*x*"));\n'
                           'updateDisplay("d1", svg("<svg></svg>"));\n'
                           'display(png(new Uint8Array([1, 2, 3])));\n'
                           'display(json({ k: 1 }));\n'
                           'clearOutput({ wait: true });'),
        "rich": run(kc, '({ [Symbol.for("Jupyter.display")]() { return { "text/html": "<i>r</i>" }; } })'),
        # a cell ending in display(x) shows x once, not its handle as the result too
        "last": run(kc, 'display(html("<i>last</i>"))'),
    }


def s_comms(k):
    kc = k.kc
    run(kc, 'kernel.comms.registerTarget("echo", (comm, data) => {\n'
            '  comm.onMsg((d) => comm.send({ echo: d }));\n'
            '  comm.onClose(() => console.log("closed by frontend"));\n'
            '  comm.send({ opened: data });\n'
            '});')
    out = {}
    msg = kc.session.msg("comm_open", {"comm_id": "c1", "target_name": "echo", "data": {"hi": 1}})
    kc.shell_channel.send(msg)
    out["open"] = collect(kc, msg["header"]["msg_id"])
    msg = kc.session.msg("comm_msg", {"comm_id": "c1", "data": {"x": 1}})
    kc.shell_channel.send(msg)
    out["msg"] = collect(kc, msg["header"]["msg_id"])
    out["info"] = shell_reply(kc, kc.comm_info())["content"]
    msg = kc.session.msg("comm_close", {"comm_id": "c1", "data": {}})
    kc.shell_channel.send(msg)
    out["close"] = collect(kc, msg["header"]["msg_id"])
    msg = kc.session.msg("comm_open", {"comm_id": "c2", "target_name": "nobody", "data": {}})
    kc.shell_channel.send(msg)
    out["unknown"] = collect(kc, msg["header"]["msg_id"])
    out["kernel_open"] = run(kc, 'const kc = kernel.comms.open("front", { a: 1 });\n'
                                 'kc.send({ b: 2 });\nkc.close();')
    return out


def answer_stdin(kc, answers):
    """Answers input requests with `answers` in order; returns the prompts seen."""
    prompts = []
    for a in answers:
        m = kc.get_stdin_msg(timeout=TIMEOUT)
        prompts.append(m["content"]["prompt"])
        kc.input(a)
    return prompts


def s_stdin(k):
    kc = k.kc
    msg_id = kc.execute('const who = await input("name? ");\nconst q = prompt("sync? ");\n'
                        'who.toUpperCase() + "/" + q', allow_stdin=True)
    prompts = answer_stdin(kc, ["bob", "yes"])
    reply = shell_reply(kc, msg_id)["content"]
    iopub = collect(kc, msg_id)
    refused = run(kc, 'await input("x? ")', allow_stdin=False)
    refused_sync = run(kc, 'prompt("x? ")', allow_stdin=False)
    return {"prompts": prompts, "reply": reply, "iopub": iopub, "refused": refused,
            "refused_sync": refused_sync}


def s_history(k):
    kc = k.kc
    run(kc, "const hist1 = 'alpha';")
    run(kc, "const hist2 = 'beta';")
    run(kc, "hist1 + 'alpha-again'")
    tail = shell_reply(kc, kc.history(hist_access_type="tail", n=2))["content"]
    search = shell_reply(kc, kc.history(hist_access_type="search", pattern="*alpha*", unique=True))["content"]
    rng = shell_reply(kc, kc.history(hist_access_type="range", session=0, start=1, stop=3))["content"]
    return {"tail": tail, "search": search, "range": rng}


def s_wire(k):
    """Forged signatures, malformed frames, bad JSON and unknown types, via a raw DEALER socket."""
    kc = k.kc
    info = json.load(open(k.conn_file))
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    addr = (f"tcp://{info['ip']}:{info['shell_port']}" if info["transport"] == "tcp"
            else f"ipc://{info['ip']}-{info['shell_port']}")
    sock.connect(addr)
    forged = kc.session.msg("execute_request", {"code": "// @ts-nocheck\nglobalThis.forged = 1;", "silent": False,
                                                "store_history": True, "user_expressions": {},
                                                "allow_stdin": False})
    frames = kc.session.serialize(forged)
    frames[1] = b"0" * 64  # wrong signature
    sock.send_multipart(frames)
    frames2 = kc.session.serialize(forged)
    del frames2[1]  # missing signature frame
    sock.send_multipart(frames2)
    sock.send_multipart([b"garbage"])
    sock.send_multipart([b"<IDS|MSG>", b"sig", b"{"])
    bad = [b"{not json", b"{}", b"{}", b"{}"]
    sock.send_multipart([b"<IDS|MSG>", kc.session.sign(bad)] + bad)
    unknown = kc.session.msg("no_such_request", {})
    sock.send_multipart(kc.session.serialize(unknown))
    huge = kc.session.msg("execute_request", {"code": "'" + "x" * (8 * 1024 * 1024) + "'.length",
                                              "silent": False, "store_history": False,
                                              "user_expressions": {}, "allow_stdin": False})
    sock.send_multipart(kc.session.serialize(huge))
    huge_reply = None
    if sock.poll(TIMEOUT * 1000):
        parts = sock.recv_multipart()
        huge_reply = kc.session.deserialize(parts[parts.index(b"<IDS|MSG>") + 1:])["content"]
    sock.close()
    time.sleep(0.3)
    return {"forged": value(kc, "// @ts-nocheck\ntypeof globalThis.forged"), "alive": value(kc, "1 + 1"),
            "huge_reply": huge_reply, "stderr": k.stderr_text()}


def interrupt_case(k, code, how):
    kc = k.kc
    msg_id = kc.execute("// @ts-nocheck\n" + code)
    time.sleep(0.5)
    t0 = time.time()
    if how == "signal":
        os.kill(k.proc.pid, signal.SIGINT)
        ctl = None
    else:
        ctl = control_request(kc, "interrupt_request")["content"]
    reply = shell_reply(kc, msg_id)["content"]
    stop_s = time.time() - t0
    collect(kc, msg_id)
    return {"reply": reply, "stop_s": stop_s, "control_reply": ctl}


def heavy_cell(n):
    """A cell whose type check takes about n * 0.15 s here, then sets a flag. Each function builds
    its own 400-element tuple type (distinct element types: nothing is shared between them), and
    TypeScript polls for cancellation at every function declaration."""
    lines = ["type Rep<S extends string, N extends number, A extends S[] = []> = "
             "A['length'] extends N ? A : Rep<S, N, [...A, S]>;"]
    lines += [f"function heavy{i}(): Rep<'h{i}', 400>['length'] {{ return 400; }}" for i in range(n)]
    lines.append("const heavyRan = true;")
    return "\n".join(lines)


def s_typecheck_busy(k):
    """Heartbeat and control answer while a cell is type-checked; an interrupt stops it unrun, at once."""
    kc = k.kc
    out = {}
    # Loading the checker (the first typed cell) has no cancellation points: let it finish.
    out["warm"] = value(kc, "1 + 1")
    msg_id = kc.execute(heavy_cell(30))
    time.sleep(0.3)
    t0 = time.time()
    try:
        k.wait_heartbeat(timeout=2)
        out["hb_latency_s"] = time.time() - t0
    except RuntimeError:
        out["hb_latency_s"] = None
    t0 = time.time()
    out["control_status"] = control_request(kc, "kernel_info_request")["content"]["status"]
    out["control_latency_s"] = time.time() - t0
    t0 = time.time()
    control_request(kc, "interrupt_request")
    out["reply"] = shell_reply(kc, msg_id)["content"]
    out["stop_s"] = time.time() - t0
    collect(kc, msg_id)
    out["ran"] = value(kc, "// @ts-nocheck\ntypeof heavyRan")
    # Uninterrupted, the same kind of cell runs after its check.
    t0 = time.time()
    out["uninterrupted"] = value(kc, heavy_cell(4) + "\nheavyRan")
    out["uninterrupted_s"] = time.time() - t0
    return out


def s_interrupt(k):
    kc = k.kc
    run(kc, "const kept = 'still here';\nlet ticks = 0;")
    out = {}
    out["await_message"] = interrupt_case(k, "await new Promise((r) => setTimeout(r, 60000));", "message")
    out["await_signal"] = interrupt_case(k, "await new Promise((r) => setTimeout(r, 60000));", "signal")
    # Heartbeat and control answer while a busy loop runs.
    msg_id = kc.execute("while (true) {}")
    time.sleep(0.3)
    t0 = time.time()
    try:
        k.wait_heartbeat(timeout=2)
        out["hb_alive_during_busy"] = True
    except RuntimeError:
        out["hb_alive_during_busy"] = False
    out["control_info_during_busy"] = control_request(kc, "kernel_info_request")["content"]["status"]
    out["control_latency_s"] = time.time() - t0
    control_request(kc, "interrupt_request")
    out["busy_message"] = {"reply": shell_reply(kc, msg_id)["content"]}
    collect(kc, msg_id)
    out["busy_signal"] = interrupt_case(k, "for (;;) { ticks++; }", "signal")
    out["background"] = interrupt_case(
        k, "setInterval(() => { ticks = -1000; }, 20);\nawait new Promise(() => {});", "message")
    run(kc, "ticks = 0;")
    time.sleep(0.2)
    out["ticks_after"] = value(kc, "ticks")
    out["signal_aborted"] = interrupt_case(
        k, "const sig = globalThis[Symbol.for('teskd.kernel.interruptSignal')];\n"
           "await new Promise((_, rej) => sig.addEventListener('abort', () => rej(new Error('saw abort'))));",
        "message")
    out["state"] = value(kc, "kept")
    # A synchronous call the compiler did not instrument (a 3-second spin from a module of plain
    # JavaScript, called in a loop): the first interrupt waits for it, says so once on the cell's
    # stderr, and the cell stops with KeyboardInterrupt when the call returns; nothing is lost.
    spin = os.path.join(k.dir, "spin.js")
    with open(spin, "w") as f:
        f.write("export function spin(ms) { const t = Date.now(); while (Date.now() - t < ms) {} }\n")
    run(kc, f"// @ts-nocheck\nimport {{ spin }} from 'file://{spin}';\nlet spins = 0;")
    msg_id = kc.execute("// @ts-nocheck\nfor (let i = 0; i < 10; i++) { spin(3000); spins++; }")
    time.sleep(0.5)
    t0 = time.time()
    control_request(kc, "interrupt_request")
    reply = shell_reply(kc, msg_id)["content"]
    stop_s = time.time() - t0
    msgs = collect(kc, msg_id)
    stderr = "".join(m["content"]["text"] for m in msgs
                     if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
    out["sync_call"] = {"reply": reply, "stop_s": stop_s, "stderr": stderr}
    out["sync_call_state"] = value(kc, "kept + ' ' + spins")
    # Code that never returns: the notice, then a second interrupt resets the kernel.
    msg_id = kc.execute("// @ts-nocheck\neval('while (true) {}')")
    time.sleep(0.5)
    t0 = time.time()
    control_request(kc, "interrupt_request")
    time.sleep(2.0)  # past the grace period: the notice is out, the worker still busy
    out["endless_alive_after_first"] = k.proc.poll() is None
    control_request(kc, "interrupt_request")
    reply = shell_reply(kc, msg_id)["content"]
    msgs = collect(kc, msg_id)
    out["endless"] = {
        "reply": reply,
        "stop_s": time.time() - t0,
        "stderr": "".join(m["content"]["text"] for m in msgs
                          if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"),
    }
    out["after_reset"] = value(kc, "1 + 1")
    out["state_after_reset"] = value(kc, "// @ts-nocheck\ntypeof kept")
    out["alive"] = k.proc.poll() is None
    return out


TRAINING_SETUP = """
import { createExperiment, initBackend, resolveTrainConfig, Trainer } from "teskd";
await initBackend("cpu");
// Full-width ResNet-18 at batch 128: a step takes seconds on two cores.
let report = true;
async function makeTrainer() {
  const exp = await createExperiment(resolveTrainConfig({
    method: "baseline",
    data: { dataset: "synthetic", synthetic: { size: 32, train: 256, test: 16, classes: 10 },
            batchSize: 128, evalBatchSize: 16, workers: 0 },
    model: { network: "cifarresnet18" },
    schedule: { epochs: 1, milestones: [] },
    backend: "cpu",
    outDir: "unused",
  }));
  const stepSeconds: number[] = [];
  let last = performance.now();
  const t = new Trainer({ ...exp.trainerOptions(), onStep: (s) => {
    stepSeconds.push((performance.now() - last) / 1000);
    last = performance.now();
    // display() reaches the frontend at once (stdout is batched until the worker's next turn)
    if (report) display(`step ${s.globalStep} done`);
  } });
  return { t, stepSeconds };
}
const run = await makeTrainer();
const kept = "still here";
"""


def s_interrupt_training(k):
    """Trainer.fit() interrupted inside a step of seconds: it stops within a kernel's time (the
    engine checks between kernels), the step is not applied, and fit() continues to the result of an
    uninterrupted run."""
    kc = k.kc
    out = {}
    out["setup"] = value(kc, TRAINING_SETUP + "\nrun.t.globalStep")
    msg_id = kc.execute("await run.t.fit();")
    # Once the first step is done, interrupt half a second into the second (steps take seconds).
    deadline = time.time() + TIMEOUT
    while True:
        m = next_iopub(kc, msg_id, deadline)
        if m["msg_type"] == "display_data" and \
                "step 1 done" in m["content"]["data"].get("text/plain", ""):
            break
    time.sleep(0.5)
    t0 = time.time()
    control_request(kc, "interrupt_request")
    out["reply"] = shell_reply(kc, msg_id)["content"]
    out["stop_s"] = time.time() - t0
    collect(kc, msg_id)
    run(kc, "report = false;")
    out["after_interrupt"] = value(kc, "`${kept} ${run.t.globalStep} ${run.t.history.length}`")
    out["resumed"] = value(kc, "await run.t.fit(); run.t.history.length")
    out["step_seconds"] = value(kc, "JSON.stringify(run.stepSeconds)")
    out["same_as_uninterrupted"] = value(
        kc,
        "const whole = await makeTrainer(); await whole.t.fit();\n"
        "JSON.stringify(whole.t.history.map((r) => [r.loss, r.terms, r.eval])) === "
        "JSON.stringify(run.t.history.map((r) => [r.loss, r.terms, r.eval]))")
    out["alive"] = k.proc.poll() is None
    return out


def s_out_of_memory(k):
    """A cell exhausting the JavaScript heap (limit 256 MiB here) and one allocating past the CPU
    engine's tensor memory limit (64 MiB here): the kernel survives both and says what ran out."""
    kc = k.kc
    out = {"kernel_pid": k.proc.pid}
    run(kc, "const kept = 'kept before'; const big: number[][] = [];")
    t0 = time.time()
    r = run(kc, "while (true) big.push(new Array(1e6).fill(1));")
    out["heap_s"] = time.time() - t0
    out["heap_reply"] = r["reply"]
    out["heap_iopub_types"] = [m["msg_type"] for m in r["iopub"]]
    out["alive"] = k.proc.poll() is None
    out["kernel_info_after"] = shell_reply(kc, kc.kernel_info())["content"]["status"]
    out["gone"] = value(kc, "// @ts-nocheck\ntypeof kept")
    out["redeclare"] = value(kc, "const kept = 7; kept")
    out["tensor_setup"] = value(
        kc, 'import * as tf from "@tensorflow/tfjs";\nimport { initBackend } from "teskd";\n'
            'await initBackend("cpu");\nconst small = tf.ones([1024]);\ntf.getBackend()')
    r = run(kc, "tf.zeros([4096, 8192]).shape")
    out["tensor_reply"] = r["reply"]
    out["tensor_after"] = value(kc, "`${kept} ${small.shape} ${tf.memory().numTensors}`")
    # What the system's OOM killer does to the process that holds the memory: user code runs in the
    # executor process, not the kernel's.
    out["executor_pid"] = value(kc, "Deno.pid")
    r = run(kc, "Deno.kill(Deno.pid, 'SIGKILL'); await new Promise((r) => setTimeout(r, 10000));")
    out["killed_reply"] = r["reply"]
    out["after_kill"] = value(kc, "40 + 2")
    out["alive_end"] = k.proc.poll() is None
    return out


def s_shutdown(k):
    kc = k.kc
    run(kc, "'persist-marker-1'")
    r = control_request(kc, "shutdown_request", {"restart": False})["content"]
    try:
        code = k.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    return {"reply": r, "exit": code}


def s_shutdown_at_start(k):
    """A shutdown_request as soon as kernel_info is answered: often before the kernel's executor
    worker has started (the kernel serves requests while it loads)."""
    early = Kernel(os.path.dirname(k.conn_file), "early", settle=False)
    try:
        r = control_request(early.kc, "shutdown_request", {"restart": False})["content"]
        try:
            code = early.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        return {"reply": r, "exit": code, "ready_s": early.ready_s}
    finally:
        early.close()


def s_restart(k):
    kc = k.kc
    hist = shell_reply(kc, kc.history(hist_access_type="search", pattern="*persist-marker*"))["content"]
    r = control_request(kc, "shutdown_request", {"restart": True})["content"]
    try:
        code = k.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        code = None
    return {"reply": r, "exit": code, "history": hist}


GROUPS = {
    "basic": [s_kernel_info, s_execute, s_silent, s_state, s_introspect, s_pager, s_welcome, s_errors,
              s_stop_on_error, s_flood, s_print_then_busy, s_display, s_comms, s_stdin, s_history],
    "wire": [s_wire],
    "interrupt": [s_typecheck_busy, s_interrupt],
    "interrupt_training": [s_interrupt_training],
    "lifecycle": [s_shutdown_at_start, s_shutdown, "NEWKERNEL", s_restart],
    "oom": [s_out_of_memory],
}

# Kernel environment per group.
GROUP_ENV = {"oom": {"TESKD_HEAP_LIMIT_MB": "256", "TESKD_TENSOR_MEMORY_MB": "64"}}


def main():
    group, tmp = sys.argv[1], sys.argv[2]
    transport = sys.argv[3] if len(sys.argv) > 3 else "tcp"
    results = {}
    k = Kernel(tmp, group, transport=transport, extra_env=GROUP_ENV.get(group))
    try:
        for s in GROUPS[group]:
            if s == "NEWKERNEL":
                k.close()
                k = Kernel(tmp, group + "2", transport=transport)
                continue
            name = s.__name__[2:]
            t0 = time.time()
            try:
                results[name] = s(k)
            except Exception:
                results[name] = {"exception": traceback.format_exc()}
            print(f"{name}: {time.time() - t0:.2f}s", file=sys.stderr, flush=True)
        results["_stderr"] = k.stderr_text()
    finally:
        k.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
