/**
 * Sweeps from the command line: `deno task sweep --config grid.json [--dir <folder>]
 * [--launcher local|slurm] [--parallel <n>] [--detach] [--status] [--cancel]`.
 *
 * `grid.json` holds what `runAblation` takes: `{ "base": {…}, "factors": {"method.kd": [0, 1],
 * "seed": [1, 2, 3]}, "dir": "runs/kd", "launcher": "slurm", "slurm": {"partition": "gpu",
 * "gpusPerRun": 1} }`; the flags override its fields. Without `--status`/`--cancel` it trains the
 * grid (or attaches to it when it is in flight) and prints the results table; Ctrl-C stops waiting
 * (local runs stop between steps; a Slurm array runs on unless `slurm.cancelOnAbort`). `--detach`
 * (Slurm) submits and returns at once. `--status` prints where each run stands, `--cancel` cancels
 * the sweep's Slurm jobs.
 *
 * @example
 * ```sh
 * deno task sweep --config grid.json --launcher slurm --detach
 * deno task sweep --config grid.json --status
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import type { ArqueroTable } from "../analysis/table.ts";
import {
  type AblationOptions,
  launcherOf,
  runAblation,
  sweepStatus,
} from "../analysis/ablation.ts";

const USAGE = "usage: deno task sweep --config <grid.json> [--dir <folder>] " +
  "[--launcher local|slurm] [--parallel <n>] [--detach] [--status] [--cancel]";

/** What the command line asks for. */
interface SweepArgs {
  grid: AblationOptions;
  action: "run" | "status" | "cancel";
}

async function parseSweepArgs(args: string[]): Promise<SweepArgs> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: "string" },
        dir: { type: "string" },
        launcher: { type: "string" },
        parallel: { type: "string" },
        detach: { type: "boolean", default: false },
        status: { type: "boolean", default: false },
        cancel: { type: "boolean", default: false },
      },
    }));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  const over: Partial<AblationOptions> = {};
  if (values.dir !== undefined) over.dir = values.dir;
  if (values.launcher !== undefined) {
    if (values.launcher !== "local" && values.launcher !== "slurm") {
      throw new Error(`--launcher is local or slurm\n${USAGE}`);
    }
    over.launcher = values.launcher;
  }
  if (values.parallel !== undefined) over.parallel = Number(values.parallel);
  const detach = values.detach;
  const action: SweepArgs["action"] = values.status ? "status" : values.cancel ? "cancel" : "run";
  const configPath = values.config;
  if (configPath === undefined) throw new Error(`--config is required\n${USAGE}`);
  let grid: AblationOptions;
  try {
    grid = JSON.parse(await Deno.readTextFile(configPath));
  } catch (e) {
    throw new Error(`cannot read the grid ${configPath}: ${(e as Error).message}`);
  }
  if (typeof grid !== "object" || grid === null || Array.isArray(grid)) {
    throw new Error(`${configPath}: a grid is an object { base, factors, dir, launcher, slurm }`);
  }
  grid = { ...grid, ...over };
  if (detach) {
    if ((grid.launcher ?? "local") !== "slurm") {
      throw new Error("--detach needs the slurm launcher");
    }
    grid.slurm = { ...grid.slurm, detach: true };
  }
  if (typeof grid.dir !== "string") throw new Error(`the grid needs a "dir" (or --dir)\n${USAGE}`);
  return { grid, action };
}

/**
 * Every row of a table as Markdown (Arquero's own printing stops at 10 rows); line breaks inside a
 * cell (a failed run's log lines) shown as " ⏎ " so that each run stays one row.
 */
function printTable(t: ArqueroTable, log: (l: string) => void): void {
  const oneLine = (v: unknown) => (typeof v === "string" ? v.replaceAll("\n", " ⏎ ") : String(v));
  const format = Object.fromEntries(
    t.columnNames().filter((c) => typeof t.get(c, 0) === "string").map((c) => [c, oneLine]),
  );
  log(t.toMarkdown({ limit: Infinity, format }));
}

/**
 * The command: returns the exit code (0 done, 1 error or failed runs, 130 interrupted).
 *
 * @param args command-line arguments
 * @param log output lines (default: stdout for tables, stderr for progress)
 */
export async function main(args: string[], log?: (line: string) => void): Promise<number> {
  const out = log ?? ((l: string) => console.log(l));
  const progress = log ?? ((l: string) => console.error(l));
  const ctrl = new AbortController();
  const onSignal = () => ctrl.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const { grid, action } = await parseSweepArgs(args);
    if (action === "status") {
      printTable(await sweepStatus(grid.dir, grid), out);
      return 0;
    }
    if (action === "cancel") {
      const launcher = launcherOf(grid);
      const stopped = await launcher.cancel(grid.dir);
      progress(
        stopped.length > 0
          ? `cancelled ${launcher.name} job(s) ${stopped.join(", ")} of ${grid.dir}`
          : `nothing of ${grid.dir} is queued or running on the ${launcher.name} launcher`,
      );
      return 0;
    }
    const table = await runAblation({ ...grid, signal: ctrl.signal, log: progress });
    printTable(table, out);
    return 0;
  } catch (e) {
    if (ctrl.signal.aborted) {
      progress(`stopped waiting: ${(e as Error).message}; run the same command again to attach`);
      return 130;
    }
    progress(`error: ${(e as Error).message}`);
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
