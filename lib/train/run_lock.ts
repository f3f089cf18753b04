/**
 * The lock of a run folder: `<run>/running.json`, held by the process that trains into the folder
 * (its PID, host and start time), refreshed while it trains, released when it stops. It makes two
 * writers of one run folder impossible, on one machine and across the nodes of a cluster that share
 * the folder, and lets any reader tell a run in progress from one whose writer died.
 *
 * - **Taking it** is atomic: the lock is written to a private file first, then hard-linked to
 *   `running.json`; the link fails when the name exists (on local file systems and on NFS, where
 *   `O_EXCL` was long unreliable and linking is the classic safe way).
 * - **Live or stale.** On the holder's host the holder is alive when its PID exists with the same
 *   process start time (so a reused PID is not mistaken for it); from another host, when its
 *   heartbeat is younger than `staleSeconds` (heartbeats come every `refreshSeconds`; a clock skew
 *   between nodes smaller than the difference is tolerated).
 * - **Breaking a stale lock** happens under a second lock (`running.json.break`, same link trick):
 *   the breaker re-reads the lock, removes it only if it is still the stale one it saw, and links
 *   its own. Two processes that both find a lock stale can therefore not both take it over.
 * - **Losing it**: each refresh checks the file still holds this lock's token; when it does not
 *   (someone judged it stale, e.g. after the node was frozen for longer than `staleSeconds`),
 *   `onLost` is called and the writer must stop.
 *
 * @example
 * ```ts
 * const lock = await RunLock.acquire("runs/a", { onLost: (why) => ctrl.abort(new Error(why)) });
 * try { await trainer.fit({ signal: ctrl.signal }); } finally { await lock.release(); }
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.ts";

/** File name of the lock inside a run folder. */
export const LOCK_FILE = "running.json";
const BREAK_FILE = `${LOCK_FILE}.break`;

/** What `running.json` holds. */
export interface RunLockInfo {
  /** The training process. */
  pid: number;
  /** Its host name. */
  host: string;
  /** Its start time as the kernel counts it (Linux `/proc/<pid>/stat` field 22), null elsewhere. */
  processStart: string | null;
  /** When the lock was taken (ISO 8601). */
  started: string;
  /** The last refresh (ISO 8601). */
  heartbeat: string;
  /** Identifies this holding of the lock (a UUID). */
  token: string;
  /** The Slurm job (`<job>_<task>` for an array task) when the holder runs under Slurm. */
  slurmJob?: string;
}

/** Options of {@link RunLock.acquire}. */
export interface RunLockOptions {
  /** Seconds between heartbeats. Default 30. */
  refreshSeconds?: number;
  /** A holder on another host whose heartbeat is older than this is stale. Default 300. */
  staleSeconds?: number;
  /** Called once when the lock is found taken over by another process. */
  onLost?: (reason: string) => void;
}

/** The run folder is being written by a live process. */
export class RunLockedError extends Error {
  /** The lock's holder. */
  readonly holder: RunLockInfo;

  constructor(runDir: string, holder: RunLockInfo) {
    super(
      `run folder ${runDir} is being written by process ${holder.pid} on ${holder.host}` +
        `${holder.slurmJob ? ` (Slurm job ${holder.slurmJob})` : ""} since ${holder.started} ` +
        `(last heartbeat ${holder.heartbeat}); two writers cannot share a run folder`,
    );
    this.name = "RunLockedError";
    this.holder = holder;
  }
}

const DEFAULT_REFRESH_S = 30;
const DEFAULT_STALE_S = 300;
/** A break lock older than this belongs to a breaker that died between its steps. */
const BREAK_STALE_MS = 60_000;

/** The host name of this machine. */
export function hostName(): string {
  return Deno.hostname();
}

/** A process's start time (`/proc/<pid>/stat` field 22), null when unknown or gone. */
export async function processStartTime(pid: number): Promise<string | null> {
  if (Deno.build.os !== "linux") return null;
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null; // field 22 overall: 20th after the name
  } catch {
    return null;
  }
}

/** Reads a run folder's lock; undefined when there is none (or it is not a lock of this format). */
export async function readRunLock(runDir: string): Promise<RunLockInfo | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(runDir, LOCK_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const info = JSON.parse(text) as RunLockInfo;
    return typeof info.pid === "number" && typeof info.token === "string" ? info : undefined;
  } catch {
    return undefined; // only a lock of an older version could be partial: it was never linked half-written
  }
}

/**
 * Whether a lock's holder is still alive (see the module doc): on this host by PID and start time,
 * from another host by the age of its heartbeat.
 */
export async function isLockLive(
  info: RunLockInfo,
  staleSeconds = DEFAULT_STALE_S,
): Promise<boolean> {
  if (info.host === hostName() && Deno.build.os === "linux") {
    if (info.pid === Deno.pid) return true;
    const start = await processStartTime(info.pid);
    if (start === null) return false;
    return info.processStart === null || info.processStart === undefined ||
      start === info.processStart;
  }
  const age = Date.now() - Date.parse(info.heartbeat);
  return Number.isFinite(age) && age <= staleSeconds * 1000;
}

/** Links a private file holding `content` to `path`; false when `path` already exists. */
async function linkNew(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, content, { createNew: true });
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** The lock of one run folder, held by this process (see the module doc). */
export class RunLock {
  #runDir: string;
  #info: RunLockInfo;
  #timer: ReturnType<typeof setInterval> | undefined;
  #released = false;
  #lost = false;
  #refreshing: Promise<void> = Promise.resolve();

  private constructor(runDir: string, info: RunLockInfo) {
    this.#runDir = runDir;
    this.#info = info;
  }

  /** What this lock wrote (its latest heartbeat). */
  get info(): RunLockInfo {
    return { ...this.#info };
  }

  /**
   * Takes the lock of `runDir` (which must exist), breaking a stale one.
   *
   * @throws RunLockedError when a live process holds it
   */
  static async acquire(runDir: string, opts: RunLockOptions = {}): Promise<RunLock> {
    const refresh = opts.refreshSeconds ?? DEFAULT_REFRESH_S;
    const stale = opts.staleSeconds ?? DEFAULT_STALE_S;
    if (!(refresh > 0) || !(stale > refresh)) {
      throw new RangeError(
        `RunLock: refreshSeconds (${refresh}) must be > 0 and below staleSeconds (${stale})`,
      );
    }
    const now = new Date().toISOString();
    const slurm = Deno.env.get("SLURM_JOB_ID");
    const task = Deno.env.get("SLURM_ARRAY_TASK_ID");
    const arrayJob = Deno.env.get("SLURM_ARRAY_JOB_ID");
    const info: RunLockInfo = {
      pid: Deno.pid,
      host: hostName(),
      processStart: await processStartTime(Deno.pid),
      started: now,
      heartbeat: now,
      token: crypto.randomUUID(),
      ...(slurm ? { slurmJob: arrayJob && task ? `${arrayJob}_${task}` : slurm } : {}),
    };
    const path = join(runDir, LOCK_FILE);
    const content = JSON.stringify(info, null, 2) + "\n";
    if (!(await linkNew(path, content))) {
      const holder = await readRunLock(runDir);
      if (holder && (await isLockLive(holder, stale))) throw new RunLockedError(runDir, holder);
      await RunLock.#breakStale(runDir, holder, content);
    }
    const lock = new RunLock(runDir, info);
    const timer = setInterval(() => {
      lock.#refreshing = lock.#refreshing.then(() => lock.#refresh(opts.onLost));
    }, refresh * 1000);
    Deno.unrefTimer(timer); // a heartbeat never keeps the process alive
    lock.#timer = timer;
    return lock;
  }

  /** Replaces the stale lock `seen` by ours, under the break lock. */
  static async #breakStale(runDir: string, seen: RunLockInfo | undefined, content: string) {
    const breakPath = join(runDir, BREAK_FILE);
    const breaker = JSON.stringify({ pid: Deno.pid, host: hostName(), at: Date.now() });
    if (!(await linkNew(breakPath, breaker))) {
      const st = await Deno.stat(breakPath).catch(() => null);
      const age = st?.mtime ? Date.now() - st.mtime.getTime() : 0;
      if (age < BREAK_STALE_MS) {
        throw new Error(`run folder ${runDir}: another process is taking over its stale lock`);
      }
      await Deno.remove(breakPath).catch(() => {});
      if (!(await linkNew(breakPath, breaker))) {
        throw new Error(`run folder ${runDir}: another process is taking over its stale lock`);
      }
    }
    try {
      const now = await readRunLock(runDir);
      if (now && now.token !== seen?.token) throw new RunLockedError(runDir, now);
      await Deno.remove(join(runDir, LOCK_FILE)).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      if (!(await linkNew(join(runDir, LOCK_FILE), content))) {
        const holder = await readRunLock(runDir);
        throw holder
          ? new RunLockedError(runDir, holder)
          : new Error(`run folder ${runDir}: its lock appeared while being taken over`);
      }
    } finally {
      await Deno.remove(breakPath).catch(() => {});
    }
  }

  async #refresh(onLost?: (reason: string) => void): Promise<void> {
    if (this.#released || this.#lost) return;
    const now = await readRunLock(this.#runDir).catch(() => undefined);
    if (now?.token !== this.#info.token) {
      this.#lost = true;
      clearInterval(this.#timer);
      onLost?.(
        now
          ? `the lock of ${this.#runDir} was taken over by process ${now.pid} on ${now.host}`
          : `the lock of ${this.#runDir} was removed`,
      );
      return;
    }
    this.#info = { ...this.#info, heartbeat: new Date().toISOString() };
    await writeFileAtomic(join(this.#runDir, LOCK_FILE), [
      new TextEncoder().encode(JSON.stringify(this.#info, null, 2) + "\n"),
    ]).catch(() => {}); // a missed heartbeat is retried at the next one
  }

  /** Whether another process took this lock over (the writer must stop). */
  get lost(): boolean {
    return this.#lost;
  }

  /** Stops the heartbeat and removes the lock if it is still ours. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    clearInterval(this.#timer);
    await this.#refreshing;
    const now = await readRunLock(this.#runDir).catch(() => undefined);
    if (now?.token === this.#info.token) {
      await Deno.remove(join(this.#runDir, LOCK_FILE)).catch(() => {});
    }
  }
}
