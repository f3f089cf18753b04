/**
 * The Slurm launcher: the unfinished runs of a sweep as one job array (`sbatch --array=0-(n-1)%m`),
 * each task training one run with the headless trainer (`lib/train/cli.ts --resume`) into its run
 * folder under a sweep folder the cluster's nodes share. A requeued or preempted task continues from
 * its run's last checkpoint; the trainer stops between steps on the SIGTERM Slurm sends first.
 *
 * Everything the launcher submits stays next to the results, readable and resubmittable by hand:
 * `<sweep>/slurm/array-<k>.sbatch` (the batch script), `array-<k>.runs` (line i + 1 = the run of
 * task i) and `jobs.json` (job ids, runs, times). Running the sweep again reads them and attaches to
 * the tasks still pending or running instead of submitting them twice; only runs neither finished,
 * queued nor being trained are submitted (as a new array).
 *
 * The scheduler's view comes from `squeue` (pending and running tasks), then `sacct` where the
 * cluster keeps accounting, else `scontrol show job` (jobs the controller still remembers).
 *
 * @module
 */
import { basename, join, resolve } from "node:path";
import { writeFileAtomic } from "../train/atomic.ts";
import { ERROR_FILE } from "../train/cli.ts";
import { trainerPaths } from "./local.ts";
import {
  beingTrained,
  type LaunchContext,
  logTail,
  type SchedulerRunState,
  sleep,
  type SweepLauncher,
  type SweepRun,
} from "./launcher.ts";

/** What a Slurm sweep asks of the cluster (typed `#SBATCH` fields; every one optional). */
export interface SlurmOptions {
  /** `--partition`. Default: the cluster's default partition. */
  partition?: string;
  /** `--account`. */
  account?: string;
  /** `--qos`. */
  qos?: string;
  /** `--time` of one run (a task), Slurm's format. Default "1-00:00:00". */
  timeLimit?: string;
  /** `--cpus-per-task`. Default 4. */
  cpusPerRun?: number;
  /** GPUs per run (`--gres=gpu:<n>`). Default 0. */
  gpusPerRun?: number;
  /** `--mem` of one run. Default "16G". */
  memory?: string;
  /** Runs of the array at once (`%<m>`). Default 16. */
  maxConcurrent?: number;
  /** `--job-name`. Default "teskd-<sweep folder name>". */
  jobName?: string;
  /** More `#SBATCH` options, one per entry, without the prefix (e.g. "--constraint=a100"). */
  extraSbatch?: string[];
  /** Shell lines run before training (e.g. "module load cuda/12.4"). */
  setup?: string[];
  /** The Deno binary on the nodes. Default: the one running this process. */
  deno?: string;
  /** Seconds between looks at the queue while waiting. Default 15. */
  pollSeconds?: number;
  /** Cancel the array (`scancel`) when the wait is interrupted; default false: detach, it runs on. */
  cancelOnAbort?: boolean;
  /** Submit (or attach) and return at once, without waiting for the runs. Default false. */
  detach?: boolean;
  /** Folder of `sbatch`, `squeue`, `sacct`, `scontrol`, `scancel`. Default: found on PATH. */
  slurmBin?: string;
}

/** One submission of a sweep, as kept in `<sweep>/slurm/jobs.json`. */
export interface SlurmSubmission {
  /** The array job id. */
  jobId: string;
  /** The batch script (absolute path). */
  script: string;
  /** Run ids; task i trains runs[i]. */
  runs: string[];
  /** ISO time of submission. */
  submitted: string;
}

const ACTIVE = new Set(["pending", "running"]);

/** Slurm's state words, normalised. */
function normalise(raw: string): SchedulerRunState["state"] {
  const s = raw.toUpperCase().split(" ")[0];
  if (
    ["PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "SUSPENDED"].includes(s)
  ) {
    return "pending";
  }
  if (["RUNNING", "COMPLETING", "STAGE_OUT", "RESIZING", "SIGNALING"].includes(s)) return "running";
  if (s === "COMPLETED") return "completed";
  if (s.startsWith("CANCELLED")) return "cancelled";
  if (
    [
      "FAILED",
      "TIMEOUT",
      "OUT_OF_MEMORY",
      "NODE_FAIL",
      "BOOT_FAIL",
      "DEADLINE",
      "PREEMPTED",
    ].includes(s)
  ) return "failed";
  return "unknown";
}

/** A shell word, single-quoted. */
function sh(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Checks the options: clear errors before anything is submitted. */
function checkOptions(o: SlurmOptions): void {
  const positive = (v: number | undefined, name: string, min: number) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
      throw new Error(`slurm: ${name} must be an integer ≥ ${min}, got ${v}`);
    }
  };
  positive(o.cpusPerRun, "cpusPerRun", 1);
  positive(o.gpusPerRun, "gpusPerRun", 0);
  positive(o.maxConcurrent, "maxConcurrent", 1);
  if (o.pollSeconds !== undefined && !(o.pollSeconds > 0)) {
    throw new Error(`slurm: pollSeconds must be > 0, got ${o.pollSeconds}`);
  }
  for (
    const [name, v] of Object.entries({
      partition: o.partition,
      account: o.account,
      qos: o.qos,
      timeLimit: o.timeLimit,
      memory: o.memory,
      jobName: o.jobName,
    })
  ) {
    if (v !== undefined && (typeof v !== "string" || v === "" || /[\s'"\\]/.test(v))) {
      throw new Error(
        `slurm: ${name} must be a word without spaces or quotes, got ${JSON.stringify(v)}`,
      );
    }
  }
  for (const line of [...(o.extraSbatch ?? []), ...(o.setup ?? [])]) {
    if (typeof line !== "string" || line.includes("\n")) {
      throw new Error(
        `slurm: extraSbatch and setup take one line per entry, got ${JSON.stringify(line)}`,
      );
    }
  }
}

/**
 * The batch script of a job array over the runs listed in `runsFile` (task i trains line i + 1):
 * `#SBATCH` lines from the options, the setup lines, then the trainer, `exec`'d so that Slurm's
 * signals reach it, its output appended to the run's `train.log`.
 */
export function slurmBatchScript(
  o: SlurmOptions,
  where: { sweepDir: string; runsFile: string; jobName: string },
): string {
  checkOptions(o);
  const { denoJson, cli } = trainerPaths();
  const sweep = resolve(where.sweepDir);
  const lines = [
    "#!/bin/bash",
    `# A teskd sweep: one task per run of ${sweep}; task i trains the run on line i + 1 of`,
    `# ${where.runsFile}. Resubmit by hand with: sbatch --array=0-<n-1>%<m> <this file>`,
    `#SBATCH --job-name=${where.jobName}`,
    `#SBATCH --output=${join(sweep, "slurm", "%A_%a.out")}`,
    `#SBATCH --cpus-per-task=${o.cpusPerRun ?? 4}`,
    `#SBATCH --mem=${o.memory ?? "16G"}`,
    `#SBATCH --time=${o.timeLimit ?? "1-00:00:00"}`,
    "#SBATCH --requeue",
    "#SBATCH --open-mode=append",
    ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.account ? [`#SBATCH --account=${o.account}`] : []),
    ...(o.qos ? [`#SBATCH --qos=${o.qos}`] : []),
    ...((o.gpusPerRun ?? 0) > 0 ? [`#SBATCH --gres=gpu:${o.gpusPerRun}`] : []),
    ...(o.extraSbatch ?? []).map((l) => `#SBATCH ${l}`),
    "set -euo pipefail",
    ...(o.setup ?? []),
    `run=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${sh(where.runsFile)})`,
    `if [ -z "$run" ]; then echo "no run for task $SLURM_ARRAY_TASK_ID" >&2; exit 2; fi`,
    `dir=${sh(sweep)}/"$run"`,
    `echo "[$(date -Is)] slurm job \${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID} on $(hostname)` +
    ` (restart \${SLURM_RESTART_COUNT:-0})" >>"$dir/train.log"`,
    `exec ${sh(o.deno ?? Deno.execPath())} run --allow-all --config ${sh(denoJson)} ${sh(cli)} ` +
    `--config "$dir/config.json" --resume >>"$dir/train.log" 2>&1`,
  ];
  return lines.join("\n") + "\n";
}

/** Runs a Slurm command; its stdout, or an error with its stderr. */
async function slurm(o: SlurmOptions, cmd: string, args: string[]): Promise<string> {
  const bin = o.slurmBin ? join(o.slurmBin, cmd) : cmd;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(bin, { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    throw new Error(`slurm: cannot run ${bin} (is Slurm installed here?): ${(e as Error).message}`);
  }
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`slurm: ${cmd} ${args.join(" ")} failed (exit ${out.code}): ${err}`);
  }
  return text;
}

/** The submissions of a sweep (empty when none). */
export async function readSubmissions(sweepDir: string): Promise<SlurmSubmission[]> {
  try {
    return JSON.parse(await Deno.readTextFile(join(sweepDir, "slurm", "jobs.json")));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw new Error(`cannot read ${join(sweepDir, "slurm", "jobs.json")}: ${(e as Error).message}`);
  }
}

/** States of array tasks by `<job>_<task>`: squeue first, then sacct, else scontrol. */
async function taskStates(
  o: SlurmOptions,
  jobIds: string[],
): Promise<Map<string, { raw: string; reason?: string }>> {
  const states = new Map<string, { raw: string; reason?: string }>();
  if (jobIds.length === 0) return states;
  const ours = new Set(jobIds);
  // Every task of ours in the queue, one per line (-r), without failing on jobs already purged.
  const queue = await slurm(o, "squeue", ["-h", "-r", "-o", "%i|%T|%r"]);
  for (const line of queue.split("\n")) {
    const [id, raw, reason] = line.trim().split("|");
    if (id && ours.has(id.split("_")[0])) states.set(id, { raw, reason });
  }
  const fill = (id: string, raw: string, reason?: string) => {
    if (!states.has(id) && /^\d+_\d+$/.test(id)) states.set(id, { raw, reason });
  };
  try {
    const acct = await slurm(o, "sacct", [
      "-n",
      "-P",
      "-X",
      "-j",
      jobIds.join(","),
      "-o",
      "JobID,State,ExitCode",
    ]);
    for (const line of acct.split("\n")) {
      const [id, raw, code] = line.trim().split("|");
      if (id) fill(id, raw, code ? `exit ${code}` : undefined);
    }
  } catch {
    // No accounting on this cluster: the controller remembers ended jobs for MinJobAge.
    for (const job of jobIds) {
      const text = await slurm(o, "scontrol", ["-o", "show", "job", job]).catch(() => "");
      for (const line of text.split("\n")) {
        const f = Object.fromEntries(
          line.trim().split(" ").map((
            kv,
          ) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
        );
        if (f.ArrayJobId && f.ArrayTaskId && /^\d+$/.test(f.ArrayTaskId)) {
          fill(
            `${f.ArrayJobId}_${f.ArrayTaskId}`,
            f.JobState ?? "UNKNOWN",
            f.ExitCode ? `exit ${f.ExitCode}` : f.Reason,
          );
        }
      }
    }
  }
  return states;
}

/** The launcher of sweeps as Slurm job arrays (see the module doc). */
export function slurmLauncher(o: SlurmOptions = {}): SweepLauncher {
  checkOptions(o);
  const launcher: SweepLauncher = {
    name: "slurm",
    async schedulerStates(dir: string): Promise<Map<string, SchedulerRunState>> {
      const subs = await readSubmissions(dir);
      const tasks = await taskStates(o, subs.map((s) => s.jobId));
      const byRun = new Map<string, SchedulerRunState>();
      for (const s of subs) { // later submissions override earlier ones
        s.runs.forEach((run, i) => {
          const jobId = `${s.jobId}_${i}`;
          const t = tasks.get(jobId);
          const seen = byRun.get(run);
          // an earlier submission still active keeps the run (a later one could only fail to lock)
          if (seen && ACTIVE.has(seen.state) && !(t && ACTIVE.has(normalise(t.raw)))) return;
          byRun.set(run, {
            jobId,
            state: t ? normalise(t.raw) : "unknown",
            raw: t?.raw ?? "UNKNOWN",
            ...(t?.reason ? { reason: t.reason } : {}),
          });
        });
      }
      return byRun;
    },
    async cancel(dir: string): Promise<string[]> {
      // Only arrays with tasks still queued or running: scancel fails on jobs that have ended.
      const active = new Set<string>();
      for (const s of (await launcher.schedulerStates(dir)).values()) {
        if (ACTIVE.has(s.state)) active.add(s.jobId.split("_")[0]);
      }
      if (active.size > 0) await slurm(o, "scancel", [...active]);
      return [...active];
    },
    async launch(runs: SweepRun[], ctx: LaunchContext): Promise<void> {
      const states = await launcher.schedulerStates(ctx.dir);
      const submit: SweepRun[] = [];
      for (const r of runs) {
        const s = states.get(r.id);
        if (s && ACTIVE.has(s.state)) {
          ctx.log(`[${r.id}] already ${s.state} as Slurm job ${s.jobId}`);
        } else if (await beingTrained(r.config.outDir)) ctx.log(`[${r.id}] already being trained`);
        else submit.push(r);
      }
      if (submit.length > 0) await submitArray(o, ctx, submit);
      if (!o.detach) await waitForRuns(launcher, o, runs, ctx);
    },
  };
  return launcher;
}

/** Writes the script and the run list of a new array and submits it. */
async function submitArray(o: SlurmOptions, ctx: LaunchContext, runs: SweepRun[]): Promise<void> {
  const dir = resolve(ctx.dir);
  const slurmDir = join(dir, "slurm");
  await Deno.mkdir(slurmDir, { recursive: true });
  const subs = await readSubmissions(dir);
  const k = subs.length;
  const runsFile = join(slurmDir, `array-${k}.runs`);
  const script = join(slurmDir, `array-${k}.sbatch`);
  const jobName = o.jobName ?? `teskd-${basename(dir)}`.replace(/[^A-Za-z0-9._-]/g, "-");
  const enc = new TextEncoder();
  await writeFileAtomic(runsFile, [enc.encode(runs.map((r) => r.id).join("\n") + "\n")]);
  await writeFileAtomic(script, [
    enc.encode(slurmBatchScript(o, { sweepDir: dir, runsFile, jobName })),
  ]);
  await Deno.chmod(script, 0o755);
  const limit = o.maxConcurrent ?? 16;
  const out = await slurm(o, "sbatch", [
    "--parsable",
    `--array=0-${runs.length - 1}%${limit}`,
    script,
  ]);
  const jobId = out.trim().split(";")[0];
  if (!/^\d+$/.test(jobId)) throw new Error(`slurm: sbatch answered "${out.trim()}", not a job id`);
  subs.push({ jobId, script, runs: runs.map((r) => r.id), submitted: new Date().toISOString() });
  await writeFileAtomic(join(slurmDir, "jobs.json"), [
    enc.encode(JSON.stringify(subs, null, 2) + "\n"),
  ]);
  ctx.log(
    `submitted Slurm job array ${jobId}: ${runs.length} run(s), at most ${limit} at once (${script})`,
  );
}

/** Waits until every run has ended, reporting starts, ends and failures. */
async function waitForRuns(
  launcher: SweepLauncher,
  o: SlurmOptions,
  runs: SweepRun[],
  ctx: LaunchContext,
): Promise<void> {
  const open = new Map(runs.map((r) => [r.id, r]));
  const started = new Set<string>();
  const onAbort = () => {
    if (o.cancelOnAbort) launcher.cancel(ctx.dir).catch((e) => ctx.log(`scancel: ${e.message}`));
  };
  ctx.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    while (open.size > 0) {
      const states = await launcher.schedulerStates(ctx.dir);
      for (const [id, run] of [...open]) {
        const dir = run.config.outDir;
        const s = states.get(id);
        const trained = await beingTrained(dir);
        if ((s?.state === "running" || trained) && !started.has(id)) {
          started.add(id);
          ctx.onRun?.({ phase: "start", id, factors: run.factors, config: run.config });
        }
        if ((s && ACTIVE.has(s.state)) || trained) continue;
        open.delete(id);
        const results = await Deno.readTextFile(join(dir, "results.json")).catch(() => null);
        if (results !== null) {
          ctx.onRun?.({ phase: "end", ...run, results: JSON.parse(results) });
          continue;
        }
        const why = (await Deno.readTextFile(join(dir, ERROR_FILE)).catch(() => "")).trim();
        const error = new Error(
          `run ${id}: Slurm job ${s?.jobId ?? "?"} ended ${
            s?.raw ?? "without a trace in the scheduler"
          }` +
            `${s?.reason ? ` (${s.reason})` : ""}${
              why ? `: ${why.split("\n")[0]}` : ""
            }\n${await logTail(dir, 10)}`,
        );
        ctx.onRun?.({ phase: "error", ...run, error });
      }
      if (open.size > 0) await sleep((o.pollSeconds ?? 15) * 1000, ctx.signal);
    }
  } finally {
    ctx.signal?.removeEventListener("abort", onAbort);
  }
}
