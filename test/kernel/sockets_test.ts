/**
 * Tests of the kernel's socket polling (kernel/sockets.ts) and the poll(2) waiter under it
 * (kernel/fd_wait.ts): waking on ZMQ_FD, kicks, the timer fallback, stopping.
 */
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { FdWaiter } from "../../kernel/fd_wait.ts";
import { bindSockets, SocketPoller } from "../../kernel/sockets.ts";
import type { ConnectionInfo } from "../../kernel/connection.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A ROUTER bound to a free port and a DEALER connected to it. */
async function pair(): Promise<{ router: zmq.Router; dealer: zmq.Dealer; close(): void }> {
  const router = new zmq.Router({ linger: 0 });
  await router.bind("tcp://127.0.0.1:*");
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(router.lastEndpoint!);
  return {
    router,
    dealer,
    close() {
      router.close();
      dealer.close();
    },
  };
}

/** Collects the last frame of every message as text; `next(n)` waits for the n-th one. */
function collector(timeoutMs: number) {
  const got: string[] = [];
  const waiters: { n: number; resolve(): void }[] = [];
  return {
    got,
    handler(frames: Uint8Array[]) {
      got.push(new TextDecoder().decode(frames[frames.length - 1]));
      for (const w of waiters.filter((w) => got.length >= w.n)) w.resolve();
    },
    async next(n: number): Promise<void> {
      if (got.length >= n) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((resolve) => waiters.push({ n, resolve })),
        new Promise<void>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`only ${got.length} of ${n} messages in ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
    },
  };
}

Deno.test("SocketPoller (fd): messages arriving while idle wake it, with no timer", async () => {
  const { router, dealer, close } = await pair();
  // The safety-net re-check is a minute away: only the ZMQ_FD wake can deliver within the test.
  const poller = new SocketPoller({ mechanism: "fd", recheckMs: 60_000 });
  assert.equal(poller.mechanism, "fd");
  const c = collector(5_000);
  poller.add(router, (f) => c.handler(f));
  try {
    for (let i = 0; i < 3; i++) {
      await sleep(150); // idle: the poller is waiting in poll(2)
      await dealer.send(`idle-${i}`);
      await c.next(i + 1);
    }
    // A burst: every message delivered, in order.
    for (let i = 0; i < 50; i++) await dealer.send(`burst-${i}`);
    await c.next(53);
    assert.deepEqual(c.got, [
      "idle-0",
      "idle-1",
      "idle-2",
      ...Array.from({ length: 50 }, (_, i) => `burst-${i}`),
    ]);
  } finally {
    await poller.stop();
    close();
  }
});

Deno.test("SocketPoller (fd): request/reply on the polled socket answers every request", async () => {
  // An echo server on the polled ROUTER, replying as the kernel does: send, then kick() (a send
  // may consume the readiness signal of the next request).
  const { router, dealer, close } = await pair();
  const poller = new SocketPoller({ mechanism: "fd", recheckMs: 60_000 });
  poller.add(router, (frames) => {
    queueMicrotask(async () => {
      await router.send(frames);
      poller.kick();
    });
  });
  try {
    for (let i = 0; i < 200; i++) {
      await dealer.send(`ping-${i}`);
      const deadline = Date.now() + 5_000;
      while (!dealer.readable) {
        assert.ok(Date.now() < deadline, `no echo of ping-${i} within 5 s`);
        await sleep(0);
      }
      const [echo] = await dealer.receive();
      assert.equal(new TextDecoder().decode(echo), `ping-${i}`);
    }
  } finally {
    await poller.stop();
    close();
  }
});

Deno.test("SocketPoller (timer): the fallback delivers messages too", async () => {
  const { router, dealer, close } = await pair();
  const poller = new SocketPoller({ mechanism: "timer" });
  assert.equal(poller.mechanism, "timer");
  const c = collector(5_000);
  poller.add(router, (f) => c.handler(f));
  try {
    await sleep(100);
    await dealer.send("a");
    await dealer.send("b");
    await c.next(2);
    assert.deepEqual(c.got, ["a", "b"]);
  } finally {
    await poller.stop();
    close();
  }
});

Deno.test("SocketPoller (fd): a socket closed under it turns it to timers, others still served", async () => {
  const a = await pair();
  const b = await pair();
  const poller = new SocketPoller({ mechanism: "fd", recheckMs: 60_000 });
  const c = collector(5_000);
  poller.add(a.router, () => {});
  poller.add(b.router, (f) => c.handler(f));
  const error = console.error;
  const logged: string[] = [];
  console.error = (...args: unknown[]) => logged.push(args.join(" "));
  try {
    // Its descriptor goes (ZeroMQ's reaper thread closes it a little later): the next poll(2)
    // reports POLLNVAL. A wait already in flight does not notice a close, so messages on the
    // other socket end it, until the poller has turned to timers.
    a.close();
    const deadline = Date.now() + 5_000;
    let sent = 0;
    while (poller.mechanism === "fd" && Date.now() < deadline) {
      await b.dealer.send(`ping-${sent++}`);
      await sleep(20);
    }
    assert.equal(poller.mechanism, "timer");
    await b.dealer.send("still here");
    await c.next(sent + 1);
    assert.equal(c.got.at(-1), "still here");
    assert.ok(logged.some((l) => l.includes("polling with timers instead")), logged.join("\n"));
  } finally {
    console.error = error;
    await poller.stop();
    b.close();
  }
});

Deno.test("SocketPoller (fd): a socket without a readable ZMQ_FD turns it to timers", async () => {
  const { router, dealer, close } = await pair();
  // Stands for a zeromq build whose sockets do not give out their descriptor.
  const opaque = {
    closed: false,
    readable: false,
    getInt32Option(): number {
      throw new Error("option not supported");
    },
  } as unknown as zmq.Router;
  const poller = new SocketPoller({ mechanism: "fd", recheckMs: 60_000 });
  const c = collector(5_000);
  const error = console.error;
  const logged: string[] = [];
  console.error = (...args: unknown[]) => logged.push(args.join(" "));
  try {
    poller.add(opaque, () => {});
    poller.add(router, (f) => c.handler(f));
    await dealer.send("via timers");
    await c.next(1);
    assert.equal(poller.mechanism, "timer");
    assert.ok(logged.some((l) => l.includes("cannot read a socket's ZMQ_FD")), logged.join("\n"));
  } finally {
    console.error = error;
    await poller.stop();
    close();
  }
});

/**
 * Open pipe descriptors of this process (Linux's /proc); ZeroMQ's own descriptors are sockets and
 * eventfds, which it closes asynchronously, so only pipes are counted.
 */
const openFds = () =>
  [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
    try {
      return Deno.readLinkSync(`/proc/self/fd/${e.name}`).startsWith("pipe:");
    } catch {
      return false; // closed meanwhile
    }
  }).length;

Deno.test("SocketPoller: stop() closes the waiter's wake pipe, also before any add()", async () => {
  const before = openFds();
  const idle = new SocketPoller({ mechanism: "fd" });
  assert.equal(openFds(), before + 2, "the waiter's wake pipe");
  await idle.stop();
  assert.equal(openFds(), before);
  const { router, close } = await pair();
  const withSockets = openFds();
  const used = new SocketPoller({ mechanism: "fd" });
  used.add(router, () => {});
  await sleep(20);
  await used.stop();
  assert.equal(openFds(), withSockets);
  close();
});

Deno.test("FdWaiter: wake() ends a wait, timeouts expire, bad descriptors are reported", async () => {
  const waiter = FdWaiter.open();
  assert.ok(waiter, "FdWaiter needs the ffi permission (tests run with -A) on Linux/macOS");
  try {
    let t0 = performance.now();
    const pending = waiter.wait([], 60_000);
    await sleep(20);
    waiter.wake();
    assert.equal(await pending, "ok");
    assert.ok(performance.now() - t0 < 10_000, "wake() did not end the wait");
    t0 = performance.now();
    assert.equal(await waiter.wait([], 30), "ok");
    assert.ok(performance.now() - t0 >= 25, "the timeout did not hold");
    // A descriptor number far above any open one is invalid.
    assert.equal(await waiter.wait([1 << 20], 60_000), "invalid");
    await assert.rejects(
      async () => await Promise.all([waiter.wait([], 50), waiter.wait([], 50)]),
      /already in flight/,
    );
  } finally {
    await waiter.close();
  }
  await assert.rejects(() => waiter.wait([], 10), /after close/);
});

Deno.test("FdWaiter: TESKD_KERNEL_POLL=timer rules it out; SocketPoller falls back", () => {
  const saved = Deno.env.get("TESKD_KERNEL_POLL");
  Deno.env.set("TESKD_KERNEL_POLL", "timer");
  try {
    assert.equal(FdWaiter.open(), undefined);
    assert.equal(new SocketPoller().mechanism, "timer");
    assert.throws(() => new SocketPoller({ mechanism: "fd" }), /needs the ffi permission/);
  } finally {
    if (saved === undefined) Deno.env.delete("TESKD_KERNEL_POLL");
    else Deno.env.set("TESKD_KERNEL_POLL", saved);
  }
});

/** Ports that were free a moment ago (bound to port 0, then released). */
async function freePorts(n: number): Promise<number[]> {
  const sockets = Array.from({ length: n }, () => new zmq.Router({ linger: 0 }));
  await Promise.all(sockets.map((s) => s.bind("tcp://127.0.0.1:*")));
  const ports = sockets.map((s) => Number(s.lastEndpoint!.split(":").pop()));
  for (const s of sockets) s.close();
  return ports;
}

Deno.test("bindSockets: one port taken fails the bind and leaves the other four free", async () => {
  const taken = new zmq.Router({ linger: 0 });
  await taken.bind("tcp://127.0.0.1:*");
  const [shell, control, stdin, iopub, hb] = await freePorts(5);
  const info = (hbPort: number): ConnectionInfo => ({
    transport: "tcp",
    ip: "127.0.0.1",
    key: "",
    signature_scheme: "hmac-sha256",
    shell_port: shell,
    control_port: control,
    stdin_port: stdin,
    iopub_port: iopub,
    hb_port: hbPort,
  });
  try {
    const takenPort = Number(taken.lastEndpoint!.split(":").pop());
    await assert.rejects(bindSockets(info(takenPort)), /in use/i);
    // The four that did bind were closed again: a second kernel gets them. ZeroMQ closes
    // sockets on its own thread, so the ports take a moment (milliseconds) to come free; a
    // socket left open would hold its port until the garbage collector got to it (about 1 s).
    const deadline = Date.now() + 500;
    for (;;) {
      try {
        (await bindSockets(info(hb))).close();
        break;
      } catch (e) {
        if (Date.now() > deadline) throw e;
        await sleep(20);
      }
    }
  } finally {
    taken.close();
  }
});
