// The run folder's lock: held by the process that writes the run, live or stale by PID and start
// time on this host and by heartbeat from another host, broken by exactly one process when stale.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  isLockLive,
  LOCK_FILE,
  processStartTime,
  readRunLock,
  RunLock,
  RunLockedError,
  type RunLockInfo,
} from "../../lib/train/run_lock.ts";

const LOCK_MODULE = new URL("../../lib/train/run_lock.ts", import.meta.url).href;

const writeLock = (dir: string, info: RunLockInfo) =>
  Deno.writeTextFile(join(dir, LOCK_FILE), JSON.stringify(info));

function foreign(over: Partial<RunLockInfo> = {}): RunLockInfo {
  const now = new Date().toISOString();
  return {
    pid: 4242,
    host: "another-node.cluster",
    processStart: "12345",
    started: now,
    heartbeat: now,
    token: crypto.randomUUID(),
    ...over,
  };
}

/** A child Deno process running `code` (with the lock module imported as `L`). */
function child(code: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["eval", `import * as L from "${LOCK_MODULE}";\n${code}`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("run lock: taken once, names its holder, refused to a second writer, released", async () => {
  const dir = await Deno.makeTempDir();
  const lock = await RunLock.acquire(dir);
  const info = await readRunLock(dir);
  assert.ok(info);
  assert.equal(info.pid, Deno.pid);
  assert.equal(info.host, Deno.hostname());
  assert.equal(info.processStart, await processStartTime(Deno.pid));
  assert.equal(info.token, lock.info.token);
  assert.ok(await isLockLive(info));
  await assert.rejects(RunLock.acquire(dir), (e: unknown) => {
    assert.ok(e instanceof RunLockedError);
    assert.match(e.message, new RegExp(`being written by process ${Deno.pid} on `));
    return true;
  });
  await lock.release();
  assert.equal(await readRunLock(dir), undefined, "the lock file is gone");
  const again = await RunLock.acquire(dir);
  await again.release();
});

Deno.test("run lock: a writer killed with SIGKILL leaves a stale lock that the next writer takes", async () => {
  const dir = await Deno.makeTempDir();
  const p = child(
    `await L.RunLock.acquire(${
      JSON.stringify(dir)
    }); console.log("held"); await new Promise(() => {});`,
  );
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assert.match((await reader.read()).value ?? "", /held/);
  const held = await readRunLock(dir);
  assert.equal(held?.pid, p.pid);
  assert.ok(await isLockLive(held!), "live while the writer runs");
  await assert.rejects(RunLock.acquire(dir), RunLockedError);
  p.kill("SIGKILL");
  await p.status;
  reader.releaseLock();
  await p.stdout.cancel().catch(() => {});
  await p.stderr.cancel();
  assert.equal(await isLockLive(held!), false, "stale once its process is gone");
  const lock = await RunLock.acquire(dir);
  assert.equal((await readRunLock(dir))?.pid, Deno.pid);
  await lock.release();
});

Deno.test("run lock: a reused PID with another start time is stale; other hosts go by heartbeat", async () => {
  const dir = await Deno.makeTempDir();
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    const start = await processStartTime(sleeper.pid);
    assert.ok(start !== null);
    const here = { host: Deno.hostname(), pid: sleeper.pid };
    assert.ok(await isLockLive(foreign({ ...here, processStart: start })));
    assert.equal(
      await isLockLive(foreign({ ...here, processStart: String(Number(start) + 1) })),
      false,
    );
  } finally {
    sleeper.kill();
    await sleeper.status;
  }
  // another node: a fresh heartbeat is live whatever its PID; an old one is stale
  const fresh = foreign();
  assert.ok(await isLockLive(fresh, 60));
  const old = foreign({ heartbeat: new Date(Date.now() - 120_000).toISOString() });
  assert.equal(await isLockLive(old, 60), false);
  await writeLock(dir, fresh);
  await assert.rejects(
    RunLock.acquire(dir, { refreshSeconds: 10, staleSeconds: 60 }),
    /another-node/,
  );
  await writeLock(dir, old);
  const lock = await RunLock.acquire(dir, { refreshSeconds: 10, staleSeconds: 60 });
  assert.equal((await readRunLock(dir))?.token, lock.info.token);
  await lock.release();
});

Deno.test("run lock: heartbeats refresh it; a writer whose lock was taken over is told to stop", async () => {
  const dir = await Deno.makeTempDir();
  let lost = "";
  const lock = await RunLock.acquire(dir, { refreshSeconds: 0.05, onLost: (why) => lost = why });
  const first = (await readRunLock(dir))!.heartbeat;
  await new Promise((r) => setTimeout(r, 200));
  const later = (await readRunLock(dir))!;
  assert.equal(later.token, lock.info.token);
  assert.ok(Date.parse(later.heartbeat) > Date.parse(first), "the heartbeat moved on");
  assert.equal(lock.lost, false);
  await writeLock(dir, foreign()); // someone judged it stale and took it
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(lock.lost, true);
  assert.match(lost, /taken over by process 4242 on another-node/);
  await lock.release();
  assert.equal((await readRunLock(dir))?.pid, 4242, "release leaves the new holder's lock alone");
});

Deno.test("run lock: processes racing for one stale lock: exactly one gets it", async () => {
  const dir = await Deno.makeTempDir();
  await writeLock(dir, foreign({ heartbeat: "2000-01-01T00:00:00.000Z" }));
  const racers = Array.from({ length: 4 }, () =>
    child(
      `await new Promise((r) => setTimeout(r, 1500 - (Date.now() % 1000)));
      // The winner stays alive a while: a racer that woke late must find a live holder, not a
      // stale lock left by a process that already exited.
      try { await L.RunLock.acquire(${JSON.stringify(dir)}); console.log("got");
        await new Promise((r) => setTimeout(r, 2500)); }
      catch (e) { console.log("refused: " + e.message); }`,
    ));
  const outs = await Promise.all(racers.map(async (p) => {
    const o = await p.output();
    return new TextDecoder().decode(o.stdout).trim();
  }));
  assert.equal(outs.filter((o) => o === "got").length, 1, outs.join("\n"));
  for (const o of outs.filter((o) => o !== "got")) {
    assert.match(
      o,
      /refused: run folder .* (is being written by process|another process is taking over)/,
    );
  }
});
