/**
 * End-to-end tests of how the kernel waits for messages (kernel/sockets.ts): poll(2) on ZeroMQ's
 * descriptors through FFI, and the timer fallback (TESKD_KERNEL_POLL=timer). Driven by Debian's
 * jupyter_client through test/kernel/poll_client.py.
 */
import assert from "node:assert/strict";

const CLIENT = new URL("./poll_client.py", import.meta.url).pathname;
const FALLBACK_LINE = "checking the sockets every 1–10 ms instead";

interface Seen {
  value: string;
  idle_info_ms: number[];
  idle_ping_ms: (number | null)[];
  busy_ping_ms: number | null;
  busy_control_ms: number;
  busy_control_status: string;
  busy_cell: string;
  busy_cell_ms: number;
  burst_status: string[];
  burst_counts: number[];
  burst_pings_ms: (number | null)[];
  stderr: string;
}

async function drive(mode: "fd" | "timer"): Promise<Seen> {
  const tmp = await Deno.makeTempDir({ prefix: `teskd-kernel-poll-${mode}-` });
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [CLIENT, mode, tmp],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `poll_client.py ${mode} failed:\n${stderr}`);
    return JSON.parse(new TextDecoder().decode(out.stdout)) as Seen;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function checkServes(seen: Seen): void {
  assert.equal(seen.value, "2");
  // Idle requests are answered promptly (generous bounds: the machine may be loaded).
  assert.ok(median(seen.idle_info_ms) < 200, `idle kernel_info: ${seen.idle_info_ms}`);
  assert.ok(seen.idle_ping_ms.every((ms) => ms !== null && ms < 1000), `${seen.idle_ping_ms}`);
  // Heartbeat and control answer while a cell runs, long before it ends (1.5 s).
  assert.ok(seen.busy_ping_ms !== null && seen.busy_ping_ms < 1000, `${seen.busy_ping_ms}`);
  assert.equal(seen.busy_control_status, "ok");
  assert.ok(seen.busy_control_ms < 1000, `control during a cell: ${seen.busy_control_ms} ms`);
  assert.equal(seen.busy_cell, "ok");
  assert.ok(seen.busy_cell_ms > seen.busy_control_ms, "control waited for the cell");
  // A burst: all answered, in order.
  assert.deepEqual(seen.burst_status, ["ok"]);
  const first = seen.burst_counts[0];
  assert.deepEqual(seen.burst_counts, seen.burst_counts.map((_, i) => first + i));
  assert.ok(seen.burst_pings_ms.every((ms) => ms !== null), `${seen.burst_pings_ms}`);
}

Deno.test("kernel polling: poll(2) on ZMQ_FD serves idle, busy and burst traffic", async () => {
  const seen = await drive("fd");
  checkServes(seen);
  assert.ok(!seen.stderr.includes(FALLBACK_LINE), seen.stderr);
});

Deno.test("kernel polling: the timer fallback serves the same traffic", async () => {
  const seen = await drive("timer");
  checkServes(seen);
  assert.ok(seen.stderr.includes(FALLBACK_LINE), seen.stderr);
});
