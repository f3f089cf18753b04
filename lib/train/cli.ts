/**
 * Headless training: `deno task train --config <file.json> [--out <dir>] [--epochs <n>] [--resume]`.
 *
 * The JSON file holds {@link TrainConfig} fields (all optional; the defaults are the official recipe).
 * Progress goes to stderr; the output directory receives `config.json`, `last.safetensors` (after every
 * epoch, atomically), `history.json` (per-epoch records), `teacher.safetensors` (the deployable
 * teacher, students stripped) and `results.json` (final and best teacher accuracy). Ctrl-C stops
 * between steps; `--resume` continues from `last.safetensors`.
 *
 * @example
 * ```sh
 * echo '{"dataset": "synthetic", "epochs": 3, "widthMultiplier": 0.125}' > small.json
 * deno task train --config small.json --out runs/small
 * ```
 *
 * @module
 */
import { join } from "node:path";
import { initBackend } from "../backend/mod.ts";
import { writeFileAtomic } from "./atomic.ts";
import { exportTeacher } from "./checkpoint.ts";
import { resolveTrainConfig, type TrainConfig } from "./config.ts";
import { createExperiment } from "./experiment.ts";
import { type EpochRecord, type StepInfo, Trainer } from "./trainer.ts";
import { exists } from "../io/exists.ts";

/** Summary written to `results.json`. */
export interface TrainResults {
  /** Teacher top-1 (%) after the last epoch. */
  finalTeacherTop1: number;
  /** Best teacher top-1 (%) over all epochs, and its epoch. */
  bestTeacherTop1: number;
  /** Epoch (0-based) of {@link bestTeacherTop1}. */
  bestEpoch: number;
  /**
   * Best teacher top-1 (%) from the last milestone on (epoch ≥ 150 in the recipe): what the official
   * log reports as its result. Undefined when training stopped before that epoch.
   */
  officialBestTeacherTop1?: number;
  /** Top-1 (%) of every head after the last epoch. */
  finalTop1: Record<string, number>;
  /** Epochs completed. */
  epochs: number;
  /** Total training seconds (evaluation excluded). */
  trainSeconds: number;
}

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
  const log = opts.log ?? ((line: string) => console.error(line));
  const backend = await initBackend(config.backend);
  log(`backend: ${backend.name} (${backend.reason})`);
  await Deno.mkdir(config.outDir, { recursive: true });
  const writeJson = (name: string, value: unknown) =>
    writeFileAtomic(join(config.outDir, name), [
      new TextEncoder().encode(JSON.stringify(value, null, 2) + "\n"),
    ]);
  await writeJson("config.json", config);
  const exp = await createExperiment(config);
  try {
    log(
      `${config.method} ${config.network} on ${config.dataset}: ${exp.model.parameterCount()} parameters, ` +
        `${exp.data.size} training / ${exp.evalData.size} test images, ${exp.data.batchesPerEpoch} steps per epoch`,
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
          `epoch ${s.epoch + 1}/${config.epochs} step ${s.step + 1}/${s.batchesPerEpoch ?? "?"} ` +
            `loss ${s.loss.toFixed(4)} lr ${s.lr.toPrecision(3)} ${
              s.imagesPerSecond.toFixed(1)
            } img/s`,
        );
      },
      onEpoch: async (r: EpochRecord) => {
        await writeJson("history.json", trainer.history);
        const acc = Object.entries(r.eval).map(([h, a]) => `${h} ${a.top1.toFixed(2)}%`).join(", ");
        log(
          `epoch ${r.epoch + 1}/${config.epochs} loss ${r.loss.toFixed(4)} lr ${
            r.lr.toPrecision(3)
          } ` +
            `test top-1: ${acc} (${r.imagesPerSecond.toFixed(1)} img/s, ${
              r.trainSeconds.toFixed(1)
            } s)`,
        );
        await opts.onEpoch?.(r);
      },
    });
    const last = join(config.outDir, "last.safetensors");
    if (opts.resume && (await exists(last))) {
      await trainer.resume(last);
      log(`resumed from ${last} at epoch ${trainer.epoch + 1}`);
    }
    await trainer.fit({ signal: opts.signal });
    await exportTeacher(join(config.outDir, "teacher.safetensors"), exp.model, {
      network: config.network,
      numClasses: String(exp.numClasses),
    });
    const results = summarize(trainer.history, config);
    await writeJson("results.json", results);
    log(
      `done: final teacher top-1 ${results.finalTeacherTop1.toFixed(2)}%, best ${
        results.bestTeacherTop1.toFixed(2)
      }% ` +
        `(epoch ${results.bestEpoch + 1}); outputs in ${config.outDir}`,
    );
    return { history: trainer.history, results };
  } finally {
    exp.close();
  }
}

/** Final and best teacher accuracy of a history. */
export function summarize(history: EpochRecord[], config: TrainConfig): TrainResults {
  if (history.length === 0) throw new Error("summarize: the history is empty");
  const top1 = (r: EpochRecord) => r.eval.teacher?.top1 ?? NaN;
  let best = history[0];
  for (const r of history) if (top1(r) > top1(best)) best = r;
  const from = config.schedule === "multistep" ? (config.milestones.at(-1) ?? 0) : 0;
  const late = history.filter((r) => r.epoch >= from);
  const last = history[history.length - 1];
  return {
    finalTeacherTop1: top1(last),
    bestTeacherTop1: top1(best),
    bestEpoch: best.epoch,
    ...(late.length > 0 ? { officialBestTeacherTop1: Math.max(...late.map(top1)) } : {}),
    finalTop1: Object.fromEntries(Object.entries(last.eval).map(([h, a]) => [h, a.top1])),
    epochs: history.length,
    trainSeconds: history.reduce((s, r) => s + r.trainSeconds, 0),
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
  let listening = false;
  try {
    const a = parseArgs(args);
    let raw: unknown;
    try {
      raw = JSON.parse(await Deno.readTextFile(a.config));
    } catch (e) {
      throw new Error(`cannot read config ${a.config}: ${(e as Error).message}`);
    }
    const cfg = resolveTrainConfig(
      {
        ...(raw as object),
        ...(a.out ? { outDir: a.out } : {}),
        ...(a.epochs ? { epochs: a.epochs } : {}),
      },
      a.config,
    );
    if (opts.signal === undefined) {
      Deno.addSignalListener("SIGINT", onSigint);
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
    if (listening) Deno.removeSignalListener("SIGINT", onSigint);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
