/**
 * Headless training: `deno task train --config <file.json> [--out <dir>] [--epochs <n>] [--resume]`.
 *
 * The JSON file holds a {@link TrainConfig} (`data`, `model`, `method`, `optim`, `schedule`, …; every
 * field optional, the defaults are the method's official recipe), for any method. Progress goes to
 * stderr; the output directory receives `config.json`, `last.safetensors` (after every epoch,
 * atomically), `history.json` (per-epoch records), `deployed.safetensors` (the network the method
 * deploys: TESKD's teacher, KD's student, SimKD's student + projector + teacher classifier) and
 * `results.json` (final and best accuracy of the deployed network). While it trains, the process
 * holds the folder's lock (`running.json`, see run_lock.ts): a second writer of the same folder fails
 * at once. Ctrl-C (or SIGTERM, as a scheduler sends) stops between steps;
 * `--resume` continues from `last.safetensors`, refusing a config that differs from the checkpoint's
 * (except for more epochs).
 *
 * @example
 * ```sh
 * echo '{"data": {"dataset": "synthetic"}, "schedule": {"epochs": 3}, "model": {"widthMultiplier": 0.125}}' > small.json
 * deno task train --config small.json --out runs/small
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../backend/mod.ts";
import { writeFileAtomic } from "./atomic.ts";
import { exportDeployed, readCheckpointInfo } from "./checkpoint.ts";
import { configDiff, resolveTrainConfig, type TrainConfig } from "./config.ts";
import { createExperiment } from "./experiment.ts";
import { type EpochRecord, type StepInfo, Trainer } from "./trainer.ts";
import { exists } from "../io/exists.ts";
import {
  isLockLive,
  readRunLock,
  RunLock,
  RunLockedError,
  type RunLockOptions,
} from "./run_lock.ts";

/** Summary written to `results.json`. */
export interface TrainResults {
  /** The method. */
  method: string;
  /** The head the method deploys (e.g. "teacher" for TESKD, "student" for KD). */
  deployedHead: string;
  /** Top-1 (%) of the deployed network after the last epoch. */
  finalTop1: number;
  /** Best top-1 (%) of the deployed network over all epochs (the toolbox reports this one). */
  bestTop1: number;
  /** Epoch (0-based) of {@link bestTop1}. */
  bestEpoch: number;
  /**
   * Best top-1 (%) from the last learning-rate milestone on (epoch ≥ 150 in the TESKD recipe): what
   * the official TESKD log reports. Undefined when training stopped before that epoch.
   */
  bestAfterLastMilestoneTop1?: number;
  /** Top-1 (%) of every head after the last epoch. */
  finalTop1ByHead: Record<string, number>;
  /** Epochs completed. */
  epochs: number;
  /** Total training seconds (evaluation excluded). */
  trainSeconds: number;
}

/** File of a run folder that holds why its last attempt failed (removed when a new one starts). */
export const ERROR_FILE = "error.txt";

/** Options of {@link runTraining}. */
export interface RunOptions {
  /** Continue from `<outDir>/last.safetensors` when it exists. */
  resume?: boolean;
  /** Stops training between steps. */
  signal?: AbortSignal;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Minimum seconds between step progress lines. Default 10. */
  progressEvery?: number;
  /** Called after every epoch, once `history.json` holds it (awaited). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
  /** Heartbeat and staleness of the run folder's lock (run_lock.ts). */
  lock?: Omit<RunLockOptions, "onLost">;
}

/**
 * Runs a whole training from a config: the same code path as the CLI, usable from a notebook.
 *
 * @returns the history and the summary (also written to the output directory)
 */
export async function runTraining(
  config: TrainConfig,
  opts: RunOptions = {},
): Promise<{ history: EpochRecord[]; results: TrainResults }> {
  try {
    return await train(config, opts);
  } catch (e) {
    await recordFailure(config.outDir, e, opts.signal);
    throw e;
  }
}

/**
 * Leaves why a run failed in its folder (`error.txt`, for a sweep's status), unless it was stopped,
 * refused the lock, lost it, or never got a folder (a run that fails to start leaves none behind).
 */
async function recordFailure(outDir: string, e: unknown, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted || e instanceof RunLockedError || e instanceof RunLockLostError) return;
  if (!(await exists(outDir))) return;
  const holder = await readRunLock(outDir).catch(() => undefined);
  if (holder && holder.pid !== Deno.pid && (await isLockLive(holder))) return;
  const err = e instanceof Error ? e : new Error(String(e));
  await Deno.writeTextFile(join(outDir, ERROR_FILE), `${err.stack ?? err.message}\n`)
    .catch(() => {});
}

/** The run's lock was taken over by another process: this one stopped writing. */
class RunLockLostError extends Error {
  override name = "RunLockLostError";
}

async function train(
  config: TrainConfig,
  opts: RunOptions,
): Promise<{ history: EpochRecord[]; results: TrainResults }> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const backend = await initBackend(config.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  const writeJson = (name: string, value: unknown) =>
    writeFileAtomic(join(config.outDir, name), [
      new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"),
    ]);
  const last = join(config.outDir, "last.safetensors");
  if (opts.resume && (await exists(last))) await checkResumable(last, config);
  const exp = await createExperiment(config);
  let lock: RunLock | undefined;
  try {
    // Only once the run can start: a run that fails to start leaves no folder behind.
    await Deno.mkdir(config.outDir, { recursive: true });
    // This process writes the folder: it holds the lock, so no second writer can start.
    const lost = new AbortController();
    lock = await RunLock.acquire(config.outDir, {
      ...opts.lock,
      onLost: (why) =>
        lost.abort(new RunLockLostError(`${why}: this process stops writing the run`)),
    });
    const signal = opts.signal ? AbortSignal.any([opts.signal, lost.signal]) : lost.signal;
    await Deno.remove(join(config.outDir, ERROR_FILE)).catch(() => {}); // a new attempt
    await writeJson("config.json", config);
    const teacher = config.model.teacher ? ` from ${config.model.teacher.network}` : "";
    log(
      `${config.method.name}: ${config.model.network}${teacher} on ${config.data.dataset}, ` +
        `${exp.distiller.module.trainableParameters().reduce((n, p) => n + p.variable.size, 0)} ` +
        `trained parameters, ${exp.data.size} training / ${exp.evalData.size} test images, ` +
        `${exp.data.batchesPerEpoch} steps per epoch`,
    );
    let lastLine = 0;
    const every = (opts.progressEvery ?? 10) * 1000;
    const trainer = new Trainer({
      ...exp.trainerOptions(),
      checkpointDir: config.outDir,
      onStep: (s: StepInfo) => {
        const now = performance.now();
        if (now - lastLine < every) return;
        lastLine = now;
        log(
          `epoch ${s.epoch + 1}/${config.schedule.epochs} step ${s.step + 1}/${
            s.batchesPerEpoch ?? "?"
          } ` +
            `loss ${s.loss.toFixed(4)} lr ${s.lr.toPrecision(3)} ${
              s.imagesPerSecond.toFixed(1)
            } img/s`,
        );
      },
      onEpoch: async (r: EpochRecord) => {
        await writeJson("history.json", trainer.history);
        const acc = Object.entries(r.eval).map(([h, a]) => `${h} ${a.top1.toFixed(2)}%`).join(", ");
        log(
          `epoch ${r.epoch + 1}/${config.schedule.epochs} loss ${r.loss.toFixed(4)} lr ${
            r.lr.toPrecision(3)
          } ` +
            `test top-1: ${acc} (${r.imagesPerSecond.toFixed(1)} img/s, ${
              r.trainSeconds.toFixed(1)
            } s)`,
        );
        await opts.onEpoch?.(r);
      },
    });
    if (opts.resume && (await exists(last))) {
      await trainer.resume(last);
      log(`resumed from ${last} at epoch ${trainer.epoch + 1}`);
    }
    await trainer.fit({ signal });
    await exportDeployed(join(config.outDir, "deployed.safetensors"), exp.distiller, {
      network: config.model.network,
      numClasses: String(exp.numClasses),
    });
    const results = summarize(trainer.history, config);
    await writeJson("results.json", results);
    log(
      `done: ${results.deployedHead} top-1 final ${results.finalTop1.toFixed(2)}%, best ${
        results.bestTop1.toFixed(2)
      }% (epoch ${results.bestEpoch + 1}); outputs in ${config.outDir}`,
    );
    return { history: trainer.history, results };
  } finally {
    await lock?.release();
    exp.close();
  }
}

/**
 * Refuses to resume from a checkpoint whose config differs from `config` in anything but a larger
 * number of epochs (the same run, trained longer).
 */
async function checkResumable(path: string, config: TrainConfig): Promise<void> {
  const info = await readCheckpointInfo(path);
  if (info.config === undefined) return;
  let saved: TrainConfig;
  try {
    saved = resolveTrainConfig(info.config, `${path} (its config)`);
  } catch (e) {
    throw new Error(`cannot resume from ${path}: ${(e as Error).message}`);
  }
  const grown = config.schedule.epochs >= saved.schedule.epochs;
  const diff = configDiff(saved, config).filter((f) => !(f === "schedule.epochs" && grown));
  if (diff.length > 0) {
    throw new Error(
      `cannot resume from ${path}: the config differs from the checkpoint's in ${
        diff.join(", ")
      } ` +
        `(only schedule.epochs may grow); use another --out, or the checkpoint's config`,
    );
  }
}

/** Final and best accuracy of the deployed head over a history. */
export function summarize(history: EpochRecord[], config: TrainConfig): TrainResults {
  if (history.length === 0) throw new Error("summarize: the history is empty");
  const head = history[0].deployedHead;
  const top1 = (r: EpochRecord) => r.eval[head]?.top1 ?? NaN;
  let best = history[0];
  for (const r of history) if (top1(r) > top1(best)) best = r;
  const s = config.schedule;
  const from = s.kind === "multistep" ? (s.milestones.at(-1) ?? 0) : 0;
  const late = history.filter((r) => r.epoch >= from);
  const last = history[history.length - 1];
  return {
    method: config.method.name,
    deployedHead: head,
    finalTop1: top1(last),
    bestTop1: top1(best),
    bestEpoch: best.epoch,
    ...(late.length > 0 ? { bestAfterLastMilestoneTop1: Math.max(...late.map(top1)) } : {}),
    finalTop1ByHead: Object.fromEntries(Object.entries(last.eval).map(([h, a]) => [h, a.top1])),
    epochs: history.length,
    trainSeconds: history.reduce((sum, r) => sum + r.trainSeconds, 0),
  };
}

/** Reads a config file and applies `--out` and `--epochs` to it; empty and `null` files are errors. */
async function readConfigFile(
  path: string,
  a: { out?: string; epochs?: number },
): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read config ${path}: ${(e as Error).message}`);
  }
  if (text.trim() === "") {
    throw new Error(`${path} is empty: a config is a JSON object (give {} for every default)`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw; // resolve says why
  const cfg = raw as Record<string, unknown>;
  const schedule = (cfg.schedule ?? {}) as Record<string, unknown>;
  return {
    ...cfg,
    ...(a.out ? { outDir: a.out } : {}),
    ...(a.epochs ? { schedule: { ...schedule, epochs: a.epochs } } : {}),
  };
}

const USAGE = "usage: deno task train --config <file.json> [--out <dir>] [--epochs <n>] [--resume]";

/** Parses the command line. */
export function parseArgs(
  args: string[],
): { config: string; out?: string; epochs?: number; resume: boolean } {
  let config: string | undefined;
  let out: string | undefined;
  let epochs: number | undefined;
  let resume = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    if (a === "--config") config = value();
    else if (a === "--out") out = value();
    else if (a === "--epochs") {
      epochs = Number(value());
      if (!Number.isInteger(epochs) || epochs < 1) {
        throw new Error(`--epochs must be a positive integer\n${USAGE}`);
      }
    } else if (a === "--resume") resume = true;
    else throw new Error(`unknown argument "${a}"\n${USAGE}`);
  }
  if (config === undefined) throw new Error(`--config is required\n${USAGE}`);
  return { config, out, epochs, resume };
}

/**
 * The CLI: returns the process exit code (0 done, 1 error, 130 interrupted).
 *
 * @param args command-line arguments
 * @param opts log sink and signal (tests)
 */
export async function main(
  args: string[],
  opts: Omit<RunOptions, "resume" | "onEpoch"> = {},
): Promise<number> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const ctrl = new AbortController();
  const onSigint = () => ctrl.abort(new Error("interrupted (Ctrl-C)"));
  // A scheduler stops a job with SIGTERM (scancel, preemption, a requeue): stop the same way.
  const onSigterm = () => ctrl.abort(new Error("terminated (SIGTERM)"));
  let listening = false;
  try {
    const a = parseArgs(args);
    const cfg = resolveTrainConfig(await readConfigFile(a.config, a), a.config);
    if (opts.signal === undefined) {
      Deno.addSignalListener("SIGINT", onSigint);
      Deno.addSignalListener("SIGTERM", onSigterm);
      listening = true;
    }
    await runTraining(cfg, { ...opts, log, resume: a.resume, signal: opts.signal ?? ctrl.signal });
    return 0;
  } catch (e) {
    const signal = opts.signal ?? ctrl.signal;
    if (signal.aborted) {
      log(
        `stopped: ${
          (e as Error).message
        }. Run again with --resume to continue from the last epoch.`,
      );
      return 130;
    }
    log(`error: ${(e as Error).message}`);
    return 1;
  } finally {
    if (listening) {
      Deno.removeSignalListener("SIGINT", onSigint);
      Deno.removeSignalListener("SIGTERM", onSigterm);
    }
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
