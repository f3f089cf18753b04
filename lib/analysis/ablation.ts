/**
 * Ablations: a grid of training runs over any {@link TrainConfig} field, named by its dotted path
 * ("method.kd", "method.levels", "method.fusion", "model.widthMultiplier", "schedule.epochs",
 * "seed", …), for any method. The factor "method" takes whole method configs or names (`["kd", {
 * name: "simkd", factor: 4 }]`), so the method itself can be varied; "method.<field>" sets one field
 * of the base's method (or of the "method" factor's). Runs go one after another in this process or
 * in parallel CLI processes, persist as ordinary CLI run folders (`<dir>/<run-id>/config.json`,
 * `history.json`, `results.json`, checkpoints) and resume: finished runs are skipped, interrupted
 * ones continue from their last checkpoint. Results come back as an Arquero table whose metrics are
 * those of each run's deployed network (whatever the method deploys), with helpers for mean ± std
 * over seeds, pivots and standard plots.
 *
 * @example
 * ```ts
 * const t = await runAblation({
 *   base: { data: { dataset: "synthetic" }, schedule: { epochs: 5 }, model: { widthMultiplier: 0.125 } },
 *   factors: { "method.kd": [0, 0.8], seed: [1, 2, 3] },
 *   dir: "runs/kd-ablation",
 * });
 * meanStd(t, "method.kd", "final_top1");
 * barByFactor(t, "method.kd");
 * ```
 *
 * @module
 */
import * as aq from "arquero";
import { join } from "node:path";
import { writeFileAtomic } from "../train/atomic.ts";
import { ERROR_FILE, summarize, type TrainResults } from "../train/cli.ts";
import { isLockLive, readRunLock } from "../train/run_lock.ts";
import {
  beingTrained,
  logTail,
  type SchedulerRunState,
  type SweepLauncher,
  type SweepRun,
  type SweepRunEvent,
} from "../sweep/launcher.ts";
import { localLauncher } from "../sweep/local.ts";
import { slurmLauncher, type SlurmOptions } from "../sweep/slurm.ts";
import { resolveTrainConfig, type TrainConfig, type TrainConfigInput } from "../train/config.ts";
import type { EpochRecord } from "../train/trainer.ts";
import { exists } from "../io/exists.ts";
import { type ArqueroTable, displayable } from "./table.ts";
import {
  column,
  factorColumns,
  finite,
  groups,
  PROTOCOL_COLUMNS,
  RESULT_COLUMNS,
  TRAILING_COLUMNS,
} from "./grid_columns.ts";
import { Figure, type Trace } from "./figure.ts";
import { compareRuns, type Metric } from "./figures.ts";
import { PALETTE } from "./sparkline.ts";

/**
 * State of one run of a grid: "pending" (queued in a scheduler), "running" (a live process holds
 * its lock), "finished", "failed" (its error.txt, or the scheduler's verdict), "cancelled" (by the
 * scheduler), "interrupted" (stopped, resumable), "not run".
 */
export type RunState =
  | "not run"
  | "pending"
  | "running"
  | "interrupted"
  | "failed"
  | "cancelled"
  | "finished";

/** What {@link AblationOptions.onRun} receives. */
export type AblationRunEvent = SweepRunEvent;

/** Options of {@link runAblation}. */
export interface AblationOptions {
  /**
   * What every run shares: any part of a config (the defaults are the method's recipe). `outDir` is
   * set per run.
   */
  base?: TrainConfigInput;
  /**
   * Dotted path of a TrainConfig field → values to try ("method.kd", "schedule.epochs", "seed"; the
   * whole "method" as names or configs); the grid is their cartesian product (the last factor varies
   * fastest).
   */
  factors: Record<string, unknown[]>;
  /** Folder of the grid: `ablation.json` plus one sub-folder per run. */
  dir: string;
  /**
   * Where the runs train: "local" (default: this machine, see `parallel`), "slurm" (one job array,
   * see `slurm`), or any {@link SweepLauncher}.
   */
  launcher?: "local" | "slurm" | SweepLauncher;
  /** Local launcher: runs at once, each in its own trainer process. Default 1: in this process. */
  parallel?: number;
  /** Slurm launcher: partition, time limit, GPUs and CPUs per run, setup lines, … */
  slurm?: SlurmOptions;
  /** Called when a run starts, ends or fails (never for runs skipped because they are finished). */
  onRun?: (event: AblationRunEvent) => void;
  /** Called after every epoch of an in-process run. */
  onEpoch?: (id: string, record: EpochRecord) => void | Promise<void>;
  /**
   * Stops waiting for the grid and `runAblation` rejects: local runs stop between steps (their
   * last checkpoint kept); a Slurm array runs on (detached; `slurm.cancelOnAbort` cancels it).
   */
  signal?: AbortSignal;
  /** Progress lines, prefixed by the run id. Default: stderr. */
  log?: (line: string) => void;
}

/** One run of a grid. */
export type AblationRun = SweepRun;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** FNV-1a 32-bit of a string, as 8 hex digits (stable across processes and versions). */
function hash8(s: string): string {
  let h = FNV_OFFSET;
  for (const byte of new TextEncoder().encode(s)) {
    h ^= byte;
    h = Math.imul(h, FNV_PRIME) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * A factor value as a short label: arrays joined with "+", a method config as its name with its
 * fields (`simkd(factor=4)`; a bare `{ name }` as the name), other objects as JSON.
 */
export function factorLabel(v: unknown): string {
  if (Array.isArray(v)) return v.map(factorLabel).join("+");
  if (v !== null && typeof v === "object") {
    const { name, ...fields } = v as Record<string, unknown>;
    if (typeof name !== "string") return JSON.stringify(v);
    const rest = Object.entries(fields).map(([k, x]) => `${k}=${factorLabel(x)}`);
    return rest.length > 0 ? `${name}(${rest.join(",")})` : name;
  }
  return String(v);
}

/** A table cell for a factor value: numbers, strings and booleans as they are, the rest labelled. */
function factorCell(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  return factorLabel(v);
}

/**
 * The id of a run from its factor values: `path=value_…` made file-name safe (at most 60
 * characters) plus "-" and a hash of the exact values, so equal values always give the same folder.
 *
 * @example
 * ```ts
 * runId({ "method.kd": 0.8, seed: 1 }); // "method.kd=0.8_seed=1-" + 8 hex digits
 * ```
 */
export function runId(factors: Record<string, unknown>): string {
  const names = Object.keys(factors);
  const slug = names.map((k) => `${k}=${factorLabel(factors[k])}`).join("_")
    .replace(/[^A-Za-z0-9=+._-]/g, "-").slice(0, 60);
  const canonical = JSON.stringify(names.map((k) => [k, factors[k]]));
  return `${slug || "run"}-${hash8(canonical)}`;
}

/** A factor path's field names, checked: dotted identifiers. */
function pathKeys(path: string): string[] {
  const keys = path.split(".");
  if (!keys.every((k) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) && k !== "__proto__")) {
    throw new Error(
      `runAblation: factor "${path}" is not a dotted path of TrainConfig fields (e.g. "method.kd")`,
    );
  }
  return keys;
}

/** The dotted paths of a resolved config whose last field is `name` (for "did you mean"). */
function pathsNamed(cfg: unknown, name: string, prefix = ""): string[] {
  if (typeof cfg !== "object" || cfg === null || Array.isArray(cfg)) return [];
  return Object.entries(cfg).flatMap(([k, v]) => [
    ...(k === name && prefix !== "" ? [prefix + k] : []),
    ...pathsNamed(v, name, `${prefix}${k}.`),
  ]);
}

/**
 * `base` with the factor values of one grid point set at their dotted paths. A "method" factor
 * replaces the base's method first (a name or a config); "method.<field>" factors then set fields of
 * the method (a method given by name becomes `{ name }` plus the field).
 *
 * @example
 * ```ts
 * withFactors({ method: "teskd" }, { "method.kd": 0 });        // { method: { name: "teskd", kd: 0 } }
 * withFactors({}, { method: { name: "kd" }, "schedule.epochs": 3 });
 * ```
 */
export function withFactors(
  base: TrainConfigInput,
  factors: Record<string, unknown>,
): TrainConfigInput {
  const out = structuredClone(base) as Record<string, unknown>;
  const paths = Object.keys(factors).map((p) => ({ p, keys: pathKeys(p) }));
  // whole groups first, so that "method.<field>" sets a field of the "method" factor's method
  paths.sort((a, b) => a.keys.length - b.keys.length);
  for (const { p, keys } of paths) {
    let node = out;
    for (const [i, k] of keys.slice(0, -1).entries()) {
      let next = node[k];
      if (next === undefined) {
        // the method a config gets when it names none
        next = k === "method" && i === 0 ? { name: resolveTrainConfig({}).method.name } : {};
      } else if (typeof next === "string" && k === "method" && i === 0) next = { name: next };
      if (typeof next !== "object" || next === null || Array.isArray(next)) {
        throw new Error(
          `runAblation: factor "${p}": "${
            keys.slice(0, i + 1).join(".")
          }" is not a group of fields`,
        );
      }
      node = node[k] = { ...(next as Record<string, unknown>) };
    }
    node[keys[keys.length - 1]] = structuredClone(factors[p]);
  }
  return out as TrainConfigInput;
}

/**
 * The runs of a grid, resolved and checked, without running anything.
 *
 * @throws Error naming the factor or field (dotted path) when a factor is unknown (with the paths it
 *   may mean: "kd" → "method.kd"), has no values, or a value is invalid for its field
 */
export function ablationGrid(
  opts: Pick<AblationOptions, "base" | "factors" | "dir">,
): AblationRun[] {
  const { factors, dir } = opts;
  if (typeof dir !== "string" || dir === "") throw new Error("runAblation: dir must be a folder");
  if (typeof factors !== "object" || factors === null || Array.isArray(factors)) {
    throw new Error("runAblation: factors must be an object of field path → list of values");
  }
  if ("outDir" in factors) throw new Error("runAblation: outDir cannot be a factor (set per run)");
  const base = opts.base ?? {};
  const resolvedBase = resolveTrainConfig(base, "runAblation (base)");
  let grid: Record<string, unknown>[] = [{}];
  for (const [name, values] of Object.entries(factors)) {
    const top = pathKeys(name)[0];
    if (!Object.hasOwn(resolvedBase, top)) {
      const meant = pathsNamed(resolvedBase, top);
      if (meant.length > 0) {
        throw new Error(
          `runAblation: unknown field "${name}": factors are dotted paths; did you mean ${
            meant.map((m) => `"${m}${name.slice(top.length)}"`).join(" or ")
          }?`,
        );
      }
    }
    if (!Array.isArray(values) || values.length === 0) {
      throw new Error(`runAblation: factor "${name}" needs a non-empty list of values`);
    }
    grid = grid.flatMap((g) => values.map((v) => ({ ...g, [name]: v })));
  }
  const runs = grid.map((f) => {
    const id = runId(f);
    const config = resolveTrainConfig(
      { ...withFactors(base, f), outDir: join(dir, id) },
      `runAblation (run ${id})`,
    );
    return { id, factors: f, config };
  });
  const seen = new Set<string>();
  for (const r of runs) {
    if (seen.has(r.id)) throw new Error(`runAblation: two runs share the id "${r.id}"`);
    seen.add(r.id);
  }
  return runs;
}

/** Manifest of a grid, written to `<dir>/ablation.json`. */
interface Manifest {
  base: TrainConfigInput;
  factors: Record<string, unknown[]>;
  runs: { id: string; factors: Record<string, unknown> }[];
}

const encoder = new TextEncoder();
const writeJson = (path: string, value: unknown) =>
  writeFileAtomic(path, [encoder.encode(JSON.stringify(value, null, 2) + "\n")]);

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`cannot read ${path}: ${(e as Error).message}`);
  }
}

/** A run's history.json (its epoch records so far), or [] when it has none yet. */
export async function readRunHistory(runDir: string): Promise<EpochRecord[]> {
  const history = await readJson<EpochRecord[]>(join(runDir, "history.json"));
  return Array.isArray(history) ? history : [];
}

/**
 * The state and progress of the run in `runDir`, from its files, joined with the scheduler's view
 * of it where there is one: finished (results.json), running (a live process holds its lock, here
 * or on another node), pending or running in the scheduler, failed (error.txt, or the scheduler's
 * verdict), cancelled, interrupted (a config or history, nobody training it), not run.
 */
export async function runStatus(runDir: string, scheduler?: SchedulerRunState): Promise<{
  state: RunState;
  epochsDone: number;
  epochs: number | null;
  results?: TrainResults;
  history: EpochRecord[];
  config?: TrainConfig;
}> {
  const config = await readJson<TrainConfig>(join(runDir, "config.json"));
  const results = await readJson<TrainResults>(join(runDir, "results.json"));
  const history = await readRunHistory(runDir);
  const lock = await readRunLock(runDir);
  const failed = await exists(join(runDir, ERROR_FILE));
  const epochs = config?.schedule?.epochs ?? null;
  let state: RunState;
  if (results) state = "finished";
  else if (lock && (await isLockLive(lock))) state = "running";
  else if (scheduler?.state === "pending" || scheduler?.state === "running") {
    state = scheduler.state;
  } else if (failed || scheduler?.state === "failed") state = "failed";
  else if (scheduler?.state === "cancelled") state = "cancelled";
  else if (config || history.length > 0) state = "interrupted";
  else state = "not run";
  return { state, epochsDone: results?.epochs ?? history.length, epochs, results, history, config };
}

/** The launcher a grid's options name ("local" by default, with its `parallel` of 1). */
export function launcherOf(
  opts: Pick<AblationOptions, "launcher" | "parallel" | "slurm">,
): SweepLauncher {
  const l = opts.launcher ?? "local";
  if (l === "local") return localLauncher({ parallel: opts.parallel ?? 1 });
  if (l === "slurm") return slurmLauncher(opts.slurm ?? {});
  if (typeof l?.launch !== "function") {
    throw new Error(`runAblation: launcher must be "local", "slurm" or a SweepLauncher`);
  }
  return l;
}

/**
 * Runs a grid of trainings (the cartesian product of `factors` over `base`) and returns one row per
 * run. Every run is an ordinary CLI run folder `<dir>/<run-id>/` (config.json, history.json,
 * results.json, last.safetensors, deployed.safetensors); runs that already have results.json are
 * skipped, interrupted ones resume from their last epoch checkpoint, and runs being trained by a
 * live process (a notebook or a parent that died, a node of the cluster) are waited for, never
 * started twice. Where they train is the launcher's choice: on this machine (in this process, or
 * `parallel: n > 1` trainer processes, logs in `<run>/train.log`) or as a Slurm job array
 * (`launcher: "slurm"`; re-running attaches to an array in flight).
 *
 * @returns the table of {@link ablationTable}
 * @throws the signal's reason when aborted (finished epochs are kept), or the failures (the other
 *   runs still complete; each failure is also in `<run>/error.txt`)
 *
 * @example
 * ```ts
 * const t = await runAblation({
 *   base: { data: { dataset: "synthetic" }, schedule: { epochs: 10 }, model: { widthMultiplier: 0.25 } },
 *   factors: { "method.temperature": [1, 4, 8], "method.levels": [["8x8"], ["8x8", "16x16", "32x32"]] },
 *   dir: "runs/t-levels",
 *   parallel: 2,
 * });
 * pivot(t, "method.temperature", "method.levels", "final_top1");
 *
 * // the method itself as a factor (a teacher→student method needs `model.teacher` in the base)
 * await runAblation({
 *   base: { model: { network: "resnet8x4", teacher: { network: "resnet32x4", checkpoint: "resnet32x4.pth" } } },
 *   factors: { method: ["baseline", "kd", { name: "simkd", factor: 4 }] },
 *   dir: "runs/methods",
 * });
 *
 * // the same grid as a Slurm job array on a cluster (dir on a file system the nodes share)
 * await runAblation({ ...grid, launcher: "slurm", slurm: { partition: "gpu", gpusPerRun: 1 } });
 * ```
 */
export async function runAblation(opts: AblationOptions): Promise<ArqueroTable> {
  const runs = ablationGrid(opts);
  const launcher = launcherOf(opts);
  await Deno.mkdir(opts.dir, { recursive: true });
  const manifestPath = join(opts.dir, "ablation.json");
  const old = await readJson<Manifest>(manifestPath);
  const known = new Map((old?.runs ?? []).map((r) => [r.id, r]));
  for (const r of runs) known.set(r.id, { id: r.id, factors: r.factors });
  await writeJson(
    manifestPath,
    {
      base: opts.base ?? {},
      factors: opts.factors,
      runs: [...known.values()],
    } satisfies Manifest,
  );

  const todo: AblationRun[] = [];
  for (const r of runs) {
    const dir = r.config.outDir;
    if (await exists(join(dir, "results.json"))) continue;
    todo.push(r);
    // A run some live process trains keeps its files; the others get their config now.
    if (await beingTrained(dir)) continue;
    await Deno.mkdir(dir, { recursive: true });
    await writeJson(join(dir, "config.json"), r.config);
  }
  const errors: Error[] = [];
  await launcher.launch(todo, {
    dir: opts.dir,
    signal: opts.signal,
    log: opts.log ?? ((l: string) => console.error(l)),
    onEpoch: opts.onEpoch,
    onRun: (e) => {
      if (e.phase === "error" && e.error) errors.push(e.error);
      opts.onRun?.(e);
    },
  });
  if (errors.length > 0) {
    throw new Error(
      `runAblation: ${errors.length} run(s) failed:\n${errors.map((e) => e.message).join("\n")}`,
    );
  }
  return await ablationTable(opts.dir, runs.map((r) => r.id));
}

/**
 * The summary of a run: its results.json when finished, else what the CLI would write now from the
 * history so far (undefined without a history or a config of this version).
 */
function summaryOf(
  results: TrainResults | undefined,
  history: EpochRecord[],
  config: TrainConfig | undefined,
): TrainResults | undefined {
  if (results) return results;
  if (history.length === 0 || typeof history[0].deployedHead !== "string") return undefined;
  if (typeof config?.schedule !== "object" || typeof config.method?.name !== "string") {
    return undefined;
  }
  return summarize(history, config);
}

/** A number cell: finite numbers, else null. */
const numberCell = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** Row values of one run folder. */
async function runRow(
  dir: string,
  id: string,
  factors: Record<string, unknown>,
  factorNames: string[],
  heads: Set<string>,
  scheduler?: SchedulerRunState,
): Promise<Record<string, unknown>> {
  const s = await runStatus(join(dir, id), scheduler);
  const sum = summaryOf(s.results, s.history, s.config);
  const cfg = s.config;
  const row: Record<string, unknown> = { id };
  for (const f of factorNames) row[f] = factorCell(factors[f]);
  row.state = s.state;
  // the protocol (a factor of the same name has its column already)
  const protocol: Record<(typeof PROTOCOL_COLUMNS)[number], unknown> = {
    method: cfg?.method?.name ?? null,
    recipe: cfg?.recipe ?? null,
    seed: cfg?.seed ?? null,
  };
  for (const [k, v] of Object.entries(protocol)) if (!factorNames.includes(k)) row[k] = v;
  row.epochs_done = s.epochsDone;
  row.epochs = s.epochs;
  row.deployed_head = sum?.deployedHead ?? s.history.at(-1)?.deployedHead ?? null;
  row.final_top1 = numberCell(sum?.finalTop1);
  row.best_top1 = numberCell(sum?.bestTop1);
  row.best_epoch = sum && numberCell(sum.bestTop1) !== null ? sum.bestEpoch + 1 : null;
  row.best_after_last_milestone_top1 = numberCell(sum?.bestAfterLastMilestoneTop1);
  const byHead = sum?.finalTop1ByHead ??
    Object.fromEntries(Object.entries(s.history.at(-1)?.eval ?? {}).map(([h, a]) => [h, a.top1]));
  for (const [h, top1] of Object.entries(byHead)) {
    heads.add(h);
    row[`final_top1_${h}`] = numberCell(top1);
  }
  row.train_s = s.history.reduce((t, r) => t + r.trainSeconds, 0);
  row.dir = join(dir, id);
  return row;
}

/**
 * The table of a grid folder, from its files (no training): one row per run with
 * - `id`, then one column per factor, named by its path ("method.kd", "seed", …; a "method" factor's
 *   configs as labels like `simkd(factor=4)`), then `state` ({@link RunState});
 * - the protocol: `method` (name), `recipe`, `seed` (each unless a factor has that column), then
 *   `epochs_done` and `epochs`;
 * - the result, always that of the network the run's method deploys (`deployed_head`): `final_top1`
 *   (after the last epoch done), `best_top1`, `best_epoch` (1-based), and
 *   `best_after_last_milestone_top1` (the best from the last learning-rate milestone on, as the
 *   official TESKD log reports it; null before that epoch);
 * - `final_top1_<head>` for every head of every run (null where a run has no such head), `train_s`
 *   and `dir`.
 *
 * Unfinished runs show their numbers so far. A folder without `ablation.json` is read as a set of
 * run folders (every sub-folder with a config.json) with no factor columns. The table displays
 * itself.
 *
 * @param dir the grid (or runs) folder
 * @param ids only these runs, in this order (default: all of the manifest)
 * @param scheduler a scheduler's view of the runs (see {@link sweepStatus}), joined into `state`
 *
 * @example
 * ```ts
 * const t = await ablationTable("runs/kd-ablation");
 * t.select("method.kd", "seed", "deployed_head", "final_top1");
 * ```
 */
export async function ablationTable(
  dir: string,
  ids?: string[],
  scheduler?: Map<string, SchedulerRunState>,
): Promise<ArqueroTable> {
  const manifest = await readJson<Manifest>(join(dir, "ablation.json"));
  let entries: { id: string; factors: Record<string, unknown> }[];
  let factorNames: string[];
  if (manifest) {
    entries = manifest.runs;
    factorNames = [];
    for (const r of entries) {
      for (const k of Object.keys(r.factors)) if (!factorNames.includes(k)) factorNames.push(k);
    }
  } else {
    if (!(await exists(dir))) throw new Error(`ablationTable: no folder ${dir}`);
    entries = [];
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory && (await exists(join(dir, e.name, "config.json")))) {
        entries.push({ id: e.name, factors: {} });
      }
    }
    entries.sort((a, b) => a.id.localeCompare(b.id));
    factorNames = [];
  }
  if (ids) {
    const byId = new Map(entries.map((e) => [e.id, e]));
    entries = ids.map((id) => byId.get(id) ?? { id, factors: {} });
  }
  const heads = new Set<string>();
  const rows = [];
  for (const e of entries) {
    rows.push(await runRow(dir, e.id, e.factors, factorNames, heads, scheduler?.get(e.id)));
  }
  const cols = [
    "id",
    ...factorNames,
    "state",
    ...PROTOCOL_COLUMNS.filter((c) => !factorNames.includes(c)),
    ...RESULT_COLUMNS,
    ...[...heads].sort().map((h) => `final_top1_${h}`),
    ...TRAILING_COLUMNS,
  ];
  const data: Record<string, unknown[]> = {};
  for (const c of cols) data[c] = rows.map((r) => r[c] ?? null);
  return displayable(aq.table(data), { caption: `runs in ${dir}`, maxColumns: 30 });
}

/**
 * Where a sweep stands: the {@link ablationTable} of `dir` with each run's state joined with the
 * launcher's scheduler (pending in the queue, running, finished, failed, cancelled), plus `job`
 * (the scheduler's job id, e.g. "812_3") and `detail`: for a running run its epoch and last
 * metrics, for a pending one the scheduler's reason, for a failed one the error and the last lines
 * of its log.
 *
 * @example
 * ```ts
 * await sweepStatus("runs/kd-grid", { launcher: "slurm" });
 * ```
 */
export async function sweepStatus(
  dir: string,
  opts: Pick<AblationOptions, "launcher" | "slurm"> = {},
): Promise<ArqueroTable> {
  const launcher = launcherOf(opts);
  const scheduler = await launcher.schedulerStates(dir);
  const table = await ablationTable(dir, undefined, scheduler);
  const ids = table.array("id") as string[];
  const states = table.array("state") as RunState[];
  const job: (string | null)[] = [];
  const detail: string[] = [];
  for (const [i, id] of ids.entries()) {
    const runDir = join(dir, id);
    const sched = scheduler.get(id);
    job.push(sched?.jobId ?? null);
    detail.push(await runDetail(runDir, states[i], sched));
  }
  return displayable(table.assign({ job, detail }), {
    caption: `sweep ${dir} (${launcher.name})`,
    maxColumns: 30,
  });
}

/** The `detail` of a run in {@link sweepStatus}. */
async function runDetail(
  runDir: string,
  state: RunState,
  sched: SchedulerRunState | undefined,
): Promise<string> {
  if (state === "pending") return `queued${sched?.reason ? ` (${sched.reason})` : ""}`;
  if (state === "running") {
    const lock = await readRunLock(runDir);
    const last = (await readRunHistory(runDir)).at(-1);
    const where = lock ? `pid ${lock.pid} on ${lock.host}` : (sched?.jobId ?? "");
    if (!last) return `${where}: first epoch`;
    const top1 = last.eval[last.deployedHead]?.top1;
    return `${where}: epoch ${last.epoch + 1} done, loss ${last.loss.toFixed(4)}` +
      (top1 === undefined ? "" : `, top-1 ${top1.toFixed(2)}%`);
  }
  if (state === "failed" || state === "cancelled") {
    const error = (await Deno.readTextFile(join(runDir, ERROR_FILE)).catch(() =>
      ""
    )).split("\n")[0];
    const how = sched && sched.state !== "completed"
      ? `${sched.raw}${sched.reason ? ` (${sched.reason})` : ""}`
      : "";
    const tail = await logTail(runDir, 5);
    return [how, error, tail].filter((x) => x).join("\n");
  }
  return "";
}

/**
 * Statistics as a table shows them: "79.15 ± 0.20" (two decimals), the mean alone without a std,
 * "" without a mean.
 */
export function meanStdText(s: { mean: number | null; std: number | null }): string {
  if (s.mean === null) return "";
  return s.std === null ? s.mean.toFixed(2) : `${s.mean.toFixed(2)} ± ${s.std.toFixed(2)}`;
}

/** Mean and sample standard deviation (n − 1; null for one value) of the finite numbers. */
export function sampleStats(
  values: unknown[],
): { mean: number | null; std: number | null; n: number } {
  const xs = values.filter(finite);
  const n = xs.length;
  if (n === 0) return { mean: null, std: null, n };
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const std = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, n };
}

/**
 * Mean ± standard deviation of a metric per group (typically over seeds): one row per distinct
 * value of `by` with columns `by…`, `n` (finite values), `mean`, `std` (sample, n − 1; null when
 * n = 1) and `mean_std` ("79.15 ± 0.20"). Missing (null/NaN) values are left out.
 *
 * @example
 * ```ts
 * meanStd(table, ["method.kd", "method.temperature"], "final_top1");
 * ```
 */
export function meanStd(
  table: ArqueroTable,
  by: string | string[],
  metric: string,
): ArqueroTable {
  const keys = Array.isArray(by) ? by : [by];
  const values = column(table, metric, "meanStd");
  const gs = groups(table, keys, "meanStd");
  const data: Record<string, unknown[]> = {};
  keys.forEach((k, j) => data[k] = gs.map((g) => g.key[j]));
  const st = gs.map((g) => sampleStats(g.rows.map((i) => values[i])));
  data.n = st.map((s) => s.n);
  data.mean = st.map((s) => s.mean);
  data.std = st.map((s) => s.std);
  data.mean_std = st.map(meanStdText);
  return displayable(aq.table(data), { caption: `${metric}: mean ± std by ${keys.join(", ")}` });
}

/**
 * A pivot: one row per distinct value of `rows`, one column per distinct value of `cols` (named by
 * the value), each cell the mean of `metric` over the matching runs (null when none).
 *
 * @example
 * ```ts
 * pivot(table, "method.temperature", "method.levels", "final_top1");
 * ```
 */
export function pivot(
  table: ArqueroTable,
  rows: string | string[],
  cols: string,
  metric: string,
): ArqueroTable {
  const rowKeys = Array.isArray(rows) ? rows : [rows];
  const values = column(table, metric, "pivot");
  const colValues = column(table, cols, "pivot");
  const names: string[] = [];
  for (const v of colValues) if (!names.includes(factorLabel(v))) names.push(factorLabel(v));
  const clash = names.find((n) => rowKeys.includes(n));
  if (clash !== undefined) {
    throw new Error(`pivot: column value "${clash}" has the name of a row column`);
  }
  const gs = groups(table, rowKeys, "pivot");
  const data: Record<string, unknown[]> = {};
  rowKeys.forEach((k, j) => data[k] = gs.map((g) => g.key[j]));
  for (const name of names) {
    data[name] = gs.map((g) =>
      sampleStats(g.rows.filter((i) => factorLabel(colValues[i]) === name).map((i) => values[i]))
        .mean
    );
  }
  return displayable(aq.table(data), {
    caption: `${metric} (mean): ${rowKeys.join(", ")} × ${cols}`,
  });
}

/**
 * Bars of a metric by the values of one factor (mean over the other factors and seeds, with ±std
 * error bars); with `series`, one group of bars per value of that second factor.
 *
 * @example
 * ```ts
 * barByFactor(table, "method.kd", { metric: "best_top1", series: "method.levels" });
 * ```
 */
export function barByFactor(
  table: ArqueroTable,
  factor: string,
  opts: { metric?: string; series?: string; title?: string } = {},
): Figure {
  const metric = opts.metric ?? "final_top1";
  column(table, factor, "barByFactor");
  const xs: string[] = [];
  for (const v of table.array(factor) as unknown[]) {
    if (!xs.includes(factorLabel(v))) xs.push(factorLabel(v));
  }
  const seriesOf = opts.series ? column(table, opts.series, "barByFactor") : undefined;
  const seriesNames: string[] = [];
  for (const v of seriesOf ?? [metric]) {
    if (!seriesNames.includes(factorLabel(v))) seriesNames.push(factorLabel(v));
  }
  const values = column(table, metric, "barByFactor");
  const fv = table.array(factor) as unknown[];
  const data: Trace[] = seriesNames.map((name, si) => {
    const st = xs.map((x) =>
      sampleStats(
        values.filter((_, i) =>
          factorLabel(fv[i]) === x && (!seriesOf || factorLabel(seriesOf[i]) === name)
        ),
      )
    );
    return {
      type: "bar",
      name: opts.series ? `${opts.series}=${name}` : metric,
      x: xs,
      y: st.map((s) => s.mean),
      error_y: { type: "data", array: st.map((s) => s.std ?? 0), visible: true },
      marker: { color: PALETTE[si % PALETTE.length] },
    };
  });
  return new Figure(data, {
    title: { text: opts.title ?? `${metric} by ${factor}` },
    barmode: "group",
    xaxis: { title: { text: factor }, type: "category" },
    yaxis: { title: { text: metric } },
    height: 420,
    margin: { t: 50, r: 20, b: 60, l: 60 },
  });
}

/**
 * Evaluation curves of the runs of a table (from each run's history.json) compared with
 * {@link compareRuns}: each run's deployed head by default, or the head `head` of every run; runs
 * are named by their factor values (`label` picks the columns).
 *
 * @example
 * ```ts
 * await ablationCurves(table, { label: ["method.kd"] });
 * await ablationCurves(table, { head: "8x8" }); // a head every run has
 * ```
 */
export async function ablationCurves(
  table: ArqueroTable,
  opts: { head?: string; metric?: Metric; title?: string; label?: string[] } = {},
): Promise<Figure> {
  const dirs = column(table, "dir", "ablationCurves") as string[];
  const ids = column(table, "id", "ablationCurves") as string[];
  const label = opts.label ?? factorColumns(table);
  const runs: Record<string, EpochRecord[]> = {};
  for (let i = 0; i < dirs.length; i++) {
    const history = await readRunHistory(dirs[i]);
    if (history.length === 0) continue;
    const name = label.length
      ? label.map((c) => `${c}=${factorLabel(table.get(c, i))}`).join(", ")
      : ids[i];
    runs[name] = history;
  }
  if (Object.keys(runs).length === 0) {
    throw new RangeError("ablationCurves: no run of the table has a history yet");
  }
  return compareRuns(runs, { head: opts.head, metric: opts.metric, title: opts.title });
}
