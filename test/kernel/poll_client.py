"""Drives the teskd kernel's socket polling end to end; reports what it saw as JSON.

Usage: /usr/bin/python3 test/kernel/poll_client.py MODE TMPDIR
MODE "fd" starts the kernel as is (poll(2) on ZMQ_FD through FFI); "timer" sets
TESKD_KERNEL_POLL=timer (the fallback). poll_test.ts makes the assertions.
"""
import json
import os
import sys
import threading
import time

import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from client import Kernel, collect, control_request, shell_reply, value  # noqa: E402


def ping_ms(k):
    """Milliseconds for one heartbeat echo on a fresh REQ socket."""
    info = json.load(open(k.conn_file))
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.linger = 0
    sock.connect(f"tcp://{info['ip']}:{info['hb_port']}")
    t0 = time.perf_counter()
    sock.send(b"ping")
    ok = sock.poll(10_000)
    ms = (time.perf_counter() - t0) * 1000
    sock.close()
    return ms if ok else None


def info_ms(kc):
    t0 = time.perf_counter()
    msg_id = kc.kernel_info()
    shell_reply(kc, msg_id)
    ms = (time.perf_counter() - t0) * 1000
    collect(kc, msg_id)
    return ms


def main():
    mode, tmp = sys.argv[1], sys.argv[2]
    env = {"TESKD_KERNEL_POLL": "timer"} if mode == "timer" else {}
    k = Kernel(tmp, "poll-" + mode, extra_env=env)
    out = {}
    try:
        kc = k.kc
        out["value"] = value(kc, "1 + 1")
        # Requests arriving after the kernel went idle.
        out["idle_info_ms"] = []
        out["idle_ping_ms"] = []
        for _ in range(3):
            time.sleep(0.5)
            out["idle_info_ms"].append(info_ms(kc))
            time.sleep(0.5)
            out["idle_ping_ms"].append(ping_ms(k))
        # Heartbeat and control while a cell runs (it sleeps 1.5 s in the executor worker).
        msg_id = kc.execute("await new Promise((r) => setTimeout(r, 1500)); 7")
        time.sleep(0.3)
        t0 = time.perf_counter()
        out["busy_ping_ms"] = ping_ms(k)
        reply = control_request(kc, "kernel_info_request")
        out["busy_control_ms"] = (time.perf_counter() - t0) * 1000
        out["busy_control_status"] = reply["content"]["status"]
        out["busy_cell"] = shell_reply(kc, msg_id)["content"]["status"]
        out["busy_cell_ms"] = (time.perf_counter() - t0) * 1000
        collect(kc, msg_id)
        # A burst of requests sent without waiting: all answered, in order.
        ids = [kc.execute("%d * 2" % i) for i in range(30)]
        replies = [shell_reply(kc, i)["content"] for i in ids]
        out["burst_status"] = sorted(set(r["status"] for r in replies))
        out["burst_counts"] = [r["execution_count"] for r in replies]
        # Heartbeats from another thread while the shell is busy with the burst.
        pings = []
        t = threading.Thread(target=lambda: pings.extend(ping_ms(k) for _ in range(5)))
        t.start()
        ids = [kc.execute("1") for _ in range(20)]
        for i in ids:
            shell_reply(kc, i)
        t.join()
        out["burst_pings_ms"] = pings
        for i in ids:
            collect(kc, i)
        out["stderr"] = k.stderr_text()
    finally:
        k.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
