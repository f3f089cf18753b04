/**
 * The local launcher: the runs of a sweep on this machine, one after another in this process
 * (`parallel: 1`) or `parallel` at a time as headless trainer processes (`lib/train/cli.ts
 * --resume`). A child writes its output straight into `<run>/train.log` (not through a pipe to this
 * process), so it keeps training, and keeps its log, if this process dies; it holds its run's lock,
 * so running the sweep again attaches to it instead of starting a second writer.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runTraining, type TrainResults } from "../train/cli.ts";
import {
  beingTrained,
  type LaunchContext,
  logTail,
  type SchedulerRunState,
  sleep,
  type SweepLauncher,
  type SweepRun,
  waitWhileTrained,
} from "./launcher.ts";

/** Options of {@link localLauncher}. */
export interface LocalLauncherOptions {
  /** Runs at once, each in its own trainer process. Default 1: one after another, in this process. */
  parallel?: number;
}

/** The repository's deno.json and the trainer CLI, found from this module's location. */
export function trainerPaths(): { denoJson: string; cli: string } {
  const here = dirname(fileURLToPath(import.meta.url));
  return { denoJson: join(here, "../../deno.json"), cli: join(here, "../train/cli.ts") };
}

/** The launcher of runs on this machine (see the module doc). */
export function localLauncher(opts: LocalLauncherOptions = {}): SweepLauncher {
  const parallel = opts.parallel ?? 1;
  if (!Number.isInteger(parallel) || parallel < 1) {
    throw new Error(`localLauncher: parallel must be an integer ≥ 1, got ${parallel}`);
  }
  return {
    name: "local",
    async launch(runs: SweepRun[], ctx: LaunchContext): Promise<void> {
      let next = 0;
      const lane = async () => {
        while (next < runs.length) await runOne(runs[next++], ctx, parallel);
      };
      // allSettled: on an abort every lane must finish stopping its child before the sweep rejects
      const lanes = await Promise.allSettled(
        Array.from({ length: Math.min(parallel, runs.length) }, lane),
      );
      const stopped = lanes.find((l): l is PromiseRejectedResult => l.status === "rejected");
      if (stopped) throw stopped.reason;
    },
    schedulerStates: () => Promise.resolve(new Map<string, SchedulerRunState>()),
    // Children stop with the signal given to launch; nothing is queued anywhere else.
    cancel: () => Promise.resolve([]),
  };
}

/** Trains one run (or waits for the process already training it); failures are left in its folder. */
async function runOne(run: SweepRun, ctx: LaunchContext, parallel: number): Promise<void> {
  ctx.signal?.throwIfAborted();
  const dir = run.config.outDir;
  if (await beingTrained(dir)) {
    ctx.log(`[${run.id}] already being trained by another process: waiting for it`);
    await waitWhileTrained(dir, ctx.signal);
    return;
  }
  ctx.onRun?.({ phase: "start", id: run.id, factors: run.factors, config: run.config });
  try {
    const results = parallel > 1 ? await runChild(run, ctx) : await runHere(run, ctx);
    ctx.onRun?.({ phase: "end", ...run, results });
  } catch (e) {
    if (ctx.signal?.aborted) throw ctx.signal.reason ?? e;
    const error = e instanceof Error ? e : new Error(String(e));
    ctx.onRun?.({ phase: "error", ...run, error });
  }
}

/** One run in this process. */
async function runHere(run: SweepRun, ctx: LaunchContext): Promise<TrainResults> {
  const { results } = await runTraining(run.config, {
    resume: true,
    signal: ctx.signal,
    log: (l) => ctx.log(`[${run.id}] ${l}`),
    onEpoch: ctx.onEpoch ? (r) => ctx.onEpoch!(run.id, r) : undefined,
  });
  return results;
}

/**
 * One run in a trainer process whose stdout and stderr go to `<run>/train.log` (appended); the
 * new lines of the log are passed on to `ctx.log` while it runs.
 */
async function runChild(run: SweepRun, ctx: LaunchContext): Promise<TrainResults> {
  const { denoJson, cli } = trainerPaths();
  const dir = run.config.outDir;
  const logPath = join(dir, "train.log");
  const cfgPath = join(dir, "config.json");
  const child = new Deno.Command("/bin/sh", {
    args: [
      "-c",
      'log="$1"; shift; exec "$@" >>"$log" 2>&1',
      "sh",
      logPath,
      Deno.execPath(),
      ...["run", "--allow-all", "--config", denoJson, cli, "--config", cfgPath, "--resume"],
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const onAbort = () => {
    try {
      child.kill("SIGINT"); // the CLI stops between steps, keeping its last checkpoint
    } catch { /* already exited */ }
  };
  ctx.signal?.addEventListener("abort", onAbort);
  let offset = (await Deno.stat(logPath).catch(() => null))?.size ?? 0;
  let pending = "";
  const decoder = new TextDecoder();
  const follow = async () => {
    const file = await Deno.open(logPath, { read: true }).catch(() => null);
    if (file === null) return;
    try {
      await file.seek(offset, Deno.SeekMode.Start);
      const buf = new Uint8Array(64 * 1024);
      for (let n = await file.read(buf); n !== null && n > 0; n = await file.read(buf)) {
        offset += n;
        pending += decoder.decode(buf.subarray(0, n), { stream: true });
      }
    } finally {
      file.close();
    }
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const l of lines) ctx.log(`[${run.id}] ${l}`);
  };
  let done = false;
  const status = child.status.finally(() => (done = true));
  try {
    while (!done) {
      await Promise.race([status, sleep(500)]);
      await follow();
    }
    const st = await status;
    ctx.signal?.throwIfAborted();
    if (!st.success) {
      throw new Error(`run ${run.id} failed (exit ${st.code}):\n${await logTail(dir)}`);
    }
  } finally {
    ctx.signal?.removeEventListener("abort", onAbort);
  }
  const results = await Deno.readTextFile(join(dir, "results.json")).catch(() => null);
  if (results === null) throw new Error(`run ${run.id}: the trainer exited without results.json`);
  return JSON.parse(results) as TrainResults;
}
