"""Kernel benchmark client: times kernels as a real Jupyter client sees them.

Usage: /usr/bin/python3 bench/kernel_client.py CONFIG_JSON
CONFIG_JSON: {"tmp": DIR, "teskd": [argv…], "reference": [argv…] | null, "starts": N,
              "warmup": N, "trivial": N, "typed": N, "env": {…}}
Each argv contains "{connection_file}". Prints one JSON object of timings in milliseconds.

Driven by bench/kernel.ts (`deno task bench kernel`), which prints the medians. The client is
Debian's jupyter_client (BlockingKernelClient): its sockets block in zmq_poll, so it adds no polling
delay of its own. A round trip is measured from sending execute_request to receiving the iopub
`status: idle` whose parent is that request (the end of the request in the Jupyter protocol); the
shell reply has arrived by then too.
"""
import json
import os
import queue
import subprocess
import sys
import time

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

TIMEOUT = 60
# Every kernel process started, so that none outlives a failed run.
STARTED = []


class Kernel:
    """One kernel process with a connected client; `start_ms` is spawn → kernel_info_reply."""

    def __init__(self, argv, tmp, name, env):
        self.conn_file = os.path.join(tmp, name + ".json")
        write_connection_file(self.conn_file, ip="127.0.0.1", key=os.urandom(16).hex().encode())
        full_env = dict(os.environ)
        full_env.update(env)
        cmd = [a.replace("{connection_file}", self.conn_file) for a in argv]
        self.kc = BlockingKernelClient(connection_file=self.conn_file)
        self.kc.load_connection_file()
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(cmd, env=full_env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        STARTED.append(self.proc)
        self.kc.start_channels()
        msg_id = self.kc.kernel_info()
        shell_reply(self.kc, msg_id)
        self.start_ms = (time.perf_counter() - t0) * 1000
        # iopub is a PUB socket: messages sent before the subscription took hold are lost. Ask
        # until one arrives, so that later rounds see all of theirs.
        while True:
            msg_id = self.kc.kernel_info()
            shell_reply(self.kc, msg_id)
            try:
                wait_idle(self.kc, msg_id, timeout=1)
                break
            except TimeoutError:
                pass

    def close(self):
        try:
            self.kc.shutdown()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        self.kc.stop_channels()


def shell_reply(kc, msg_id):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        m = kc.get_shell_msg(timeout=max(0.01, deadline - time.time()))
        if m["parent_header"].get("msg_id") == msg_id:
            return m
    raise TimeoutError("no shell reply")


def wait_idle(kc, msg_id, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            m = kc.get_iopub_msg(timeout=max(0.01, deadline - time.time()))
        except queue.Empty:
            break
        if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"):
            return
    raise TimeoutError("no idle status")


def execute(kc, code):
    """Milliseconds from execute_request to its idle status; fails unless the cell succeeded."""
    t0 = time.perf_counter()
    msg_id = kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=True)
    wait_idle(kc, msg_id)
    ms = (time.perf_counter() - t0) * 1000
    reply = shell_reply(kc, msg_id)
    if reply["content"]["status"] != "ok":
        raise RuntimeError("bench cell failed: %s" % reply["content"].get("evalue"))
    return ms


def kernel_info(kc):
    t0 = time.perf_counter()
    msg_id = kc.kernel_info()
    wait_idle(kc, msg_id)
    ms = (time.perf_counter() - t0) * 1000
    shell_reply(kc, msg_id)
    return ms


def trivial(kc, n, warmup):
    for _ in range(warmup):
        execute(kc, "1 + 1")
    return [execute(kc, "1 + 1") for _ in range(n)]


def paused(kc, n):
    """Trivial cells after a wait, as when a person types: the kernel has gone idle in between."""
    out = []
    for _ in range(n):
        time.sleep(0.6)
        out.append(execute(kc, "1 + 1"))
    return out


def main():
    cfg = json.loads(sys.argv[1])
    tmp, env = cfg["tmp"], cfg.get("env", {})
    out = {"start": [], "deno_start": []}
    for i in range(cfg["starts"]):
        k = Kernel(cfg["teskd"], tmp, "start-%d" % i, env)
        out["start"].append(k.start_ms)
        k.close()
    k = Kernel(cfg["teskd"], tmp, "teskd", env)
    out["trivial"] = trivial(k.kc, cfg["trivial"], cfg["warmup"])
    out["kernel_info"] = [kernel_info(k.kc) for _ in range(cfg["trivial"])]
    out["trivial_after_pause"] = paused(k.kc, cfg["paused"])
    out["untyped"] = [
        execute(k.kc, "// @ts-nocheck\ninterface Q%d { x: number; y: number }\n"
                "const q%d: Q%d = { x: %d, y: 2 };\nMath.hypot(q%d.x, q%d.y)" % ((i,) * 6))
        for i in range(cfg["typed"])]
    out["typed"] = [
        execute(k.kc, "interface P%d { x: number; y: number }\n"
                "const p%d: P%d = { x: %d, y: 2 };\nMath.hypot(p%d.x, p%d.y)" % ((i,) * 6))
        for i in range(cfg["typed"])]
    k.close()
    if cfg.get("reference"):
        r = Kernel(cfg["reference"], tmp, "reference", {})
        out["deno_start"].append(r.start_ms)
        out["deno_trivial"] = trivial(r.kc, cfg["trivial"], cfg["warmup"])
        out["deno_trivial_after_pause"] = paused(r.kc, cfg["paused"])
        r.close()
    print(json.dumps(out))


if __name__ == "__main__":
    try:
        main()
    except zmq.ZMQError as e:
        sys.exit("kernel bench client: ZeroMQ error: %s" % e)
    finally:
        for p in STARTED:
            if p.poll() is None:
                p.kill()
                p.wait()
