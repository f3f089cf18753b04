/**
 * What launches the runs of a sweep: one interface, one file per implementation (local processes:
 * local.ts; a Slurm job array: slurm.ts). A launcher receives the unfinished runs of a grid, each
 * run folder already holding its `config.json`, and trains them to their end with the headless
 * trainer (`lib/train/cli.ts --resume`, or `runTraining` in this process). It never starts a run
 * that is already being trained, here or on another node: the trainer holds the folder's lock
 * (run_lock.ts), and a launcher attaches to such a run instead. Adding another way to run (an SSH
 * host list, a cloud batch service) is one more file implementing {@link SweepLauncher}.
 *
 * @module
 */
import { join } from "node:path";
import type { TrainResults } from "../train/cli.ts";
import type { TrainConfig } from "../train/config.ts";
import type { EpochRecord } from "../train/trainer.ts";
import { isLockLive, readRunLock } from "../train/run_lock.ts";

/** One run of a sweep. */
export interface SweepRun {
  /** Stable id: the run folder's name under the sweep folder. */
  id: string;
  /** The varied factor values of this run. */
  factors: Record<string, unknown>;
  /** The resolved configuration (`outDir` = `<sweep>/<id>`). */
  config: TrainConfig;
}

/** What a launcher reports about a run. */
export interface SweepRunEvent {
  /** "start": training (or resuming) begins; "end": it finished; "error": it failed. */
  phase: "start" | "end" | "error";
  /** The run id (its folder name under the sweep folder). */
  id: string;
  /** The varied factor values of this run. */
  factors: Record<string, unknown>;
  /** The full configuration of the run. */
  config: TrainConfig;
  /** The summary, at "end". */
  results?: TrainResults;
  /** The failure, at "error". */
  error?: Error;
}

/** What a launcher is given besides the runs. */
export interface LaunchContext {
  /** The sweep folder (`ablation.json` and one folder per run). */
  dir: string;
  /** Stops waiting: a launcher stops or detaches from its runs and rejects with the reason. */
  signal?: AbortSignal;
  /** Progress lines. */
  log: (line: string) => void;
  /** Called when a run starts, ends or fails. */
  onRun?: (event: SweepRunEvent) => void;
  /** Called after every epoch of a run trained in this process. */
  onEpoch?: (id: string, record: EpochRecord) => void | Promise<void>;
}

/** A run as the scheduler sees it (launchers with a scheduler). */
export interface SchedulerRunState {
  /** The scheduler's job id of the run (`<array job>_<task>` for an array task). */
  jobId: string;
  /** Normalised state. */
  state: "pending" | "running" | "completed" | "failed" | "cancelled" | "unknown";
  /** The scheduler's own word for it ("PENDING", "TIMEOUT", "OUT_OF_MEMORY", …). */
  raw: string;
  /** Why it waits or how it ended ("Priority", "Resources", an exit code), where known. */
  reason?: string;
}

/** Launches the runs of a sweep (see the module doc). */
export interface SweepLauncher {
  /** "local", "slurm", … */
  readonly name: string;
  /**
   * Trains `runs` (unfinished runs of the sweep) until each has ended: finished, failed or
   * stopped. Runs already being trained are waited for, never started a second time.
   *
   * @throws the signal's reason when aborted
   */
  launch(runs: SweepRun[], ctx: LaunchContext): Promise<void>;
  /** The scheduler's view of the sweep's runs, by run id (empty without a scheduler). */
  schedulerStates(dir: string): Promise<Map<string, SchedulerRunState>>;
  /** Stops everything this launcher has in flight for the sweep `dir`; what it stopped (job ids). */
  cancel(dir: string): Promise<string[]>;
}

/** Resolves after `ms`, or at once when `signal` aborts (then rejects with its reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Whether a live process (here or on another node) is training the run in `runDir`. */
export async function beingTrained(runDir: string): Promise<boolean> {
  const lock = await readRunLock(runDir);
  return lock !== undefined && (await isLockLive(lock));
}

/**
 * Waits until no live process holds the run folder's lock (a run trained by someone else: another
 * notebook, a process whose parent died, a node of the cluster).
 */
export async function waitWhileTrained(
  runDir: string,
  signal?: AbortSignal,
  pollMs = 1000,
): Promise<void> {
  while (await beingTrained(runDir)) await sleep(pollMs, signal);
}

/** The last `n` lines of a run's `train.log` ("" when there is none). */
export async function logTail(runDir: string, n = 20): Promise<string> {
  try {
    const text = await Deno.readTextFile(join(runDir, "train.log"));
    return text.trimEnd().split("\n").slice(-n).join("\n");
  } catch {
    return "";
  }
}
