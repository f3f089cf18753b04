/**
 * The one-shot GPU check (`deno task device-check`): everything a short window on a GPU machine
 * should turn into numbers, in one command that ends well within 8 minutes, written to one JSON
 * report.
 *
 * 1. The WebGPU tests (`deno test` over the WebGPU training, AddN, SGD and Trainer tests).
 * 2. `Trainer` on WebGPU against the CPU engine: full TESKD (teacher + 3 students) at the batch,
 *    a few steps from the same seed, every step's loss, terms and gradient norm compared — and
 *    whether that batch fits the adapter (the student concatenation alone is 512 MiB at 128).
 * 3. `bench gpu`: baseline and full TESKD ms/step and images/s, a step profile (GPU programs,
 *    readbacks), and PyTorch on the same GPU in float32 and with AMP, as ratios.
 *
 * `--dry-run` does the same on any adapter (Mesa's llvmpipe included) at tiny sizes, with PyTorch on
 * the CPU: the test suite runs it, so the check cannot rot between GPU windows.
 *
 * `deno run -A bench/device_check.ts [--dry-run] [--out report.json] [--batch 128] [--steps 3]
 *   [--skip-tests]`
 *
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { initBackend } from "../lib/backend/mod.ts";
import { resolveTrainConfig } from "../lib/train/config.ts";
import { createExperiment } from "../lib/train/experiment.ts";
import { type StepInfo, Trainer } from "../lib/train/trainer.ts";
import { countJunit, type TestCounts } from "../tools/test.ts";
import { formatGpuReport, type GpuBenchResult, measureGpu } from "./gpu.ts";
import { median } from "./reference_tools.ts";

/** The WebGPU test files the check runs. */
export const WEBGPU_TESTS = [
  "test/backend/webgpu_training_test.ts",
  "test/backend/webgpu_addn_test.ts",
  "test/backend/webgpu_sgd_test.ts",
  "test/train/webgpu_trainer_test.ts",
];

/** Sizes of one check. */
export interface DeviceCheckOptions {
  /** Tiny sizes on any adapter, PyTorch on the CPU. */
  dryRun: boolean;
  /** Batch of the Trainer comparison and of bench gpu. Default 128 (dry: 16 and 2). */
  batch: number;
  /** Batch of the Trainer comparison when it differs (the dry run: BatchNorm over 2 images is chaotic). */
  trainerBatch?: number;
  /** Trainer steps compared. Default 3. */
  steps: number;
  /** Skip the `deno test` part (it costs a minute on a software adapter). */
  skipTests: boolean;
}

/** The Trainer comparison: per step, WebGPU against the CPU engine. */
export interface TrainerComparison {
  ok: boolean;
  /** Why not, when it did not run (out of memory, say). */
  error?: string;
  steps: { loss: [number, number]; gradNorm: [number, number]; maxTermRelDiff: number }[];
  /** Largest relative difference of loss, terms and gradient norm over the steps. */
  maxRelDiff: number;
  /** WebGPU ms per step (median), the readbacks included. */
  gpuMsPerStep: number;
}

/** The report written as JSON. */
export interface DeviceCheckReport {
  started: string;
  seconds: number;
  options: DeviceCheckOptions;
  deno: string;
  adapter?: unknown;
  tests?: TestCounts & { output: string };
  trainer?: TrainerComparison;
  bench?: { lines: string[]; result: GpuBenchResult } | { error: string };
}

/** Runs the WebGPU tests in a child `deno test`; counts from its JUnit report. */
async function runTests(): Promise<TestCounts & { output: string }> {
  const dir = await Deno.makeTempDir({ prefix: "teskd-device-check-" });
  const junit = join(dir, "junit.xml");
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "--allow-all", "--no-check", `--junit-path=${junit}`, ...WEBGPU_TESTS],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const counts = await Deno.readTextFile(junit).then(countJunit).catch(() => ({
    passed: 0,
    failed: 1,
    skipped: 0,
  }));
  await Deno.remove(dir, { recursive: true });
  return {
    ...counts,
    output: text.split("\n").filter((l) => !/XDG_RUNTIME_DIR/.test(l)).slice(-40).join("\n"),
  };
}

/** A few TESKD steps through `Trainer` on one engine, from the same seed. */
async function trainSteps(
  engine: "cpu" | "webgpu",
  o: DeviceCheckOptions,
): Promise<{ steps: StepInfo[]; ms: number[] }> {
  await initBackend(engine, { allowSoftwareGpu: o.dryRun || undefined });
  const size = o.dryRun ? 16 : 32;
  const batch = o.trainerBatch ?? o.batch;
  const config = resolveTrainConfig({
    data: {
      dataset: "synthetic",
      synthetic: { size, train: batch * o.steps, test: batch, classes: o.dryRun ? 4 : 100 },
      batchSize: batch,
      evalBatchSize: batch,
      workers: 0,
    },
    model: { network: "cifarresnet18", widthMultiplier: o.dryRun ? 1 / 16 : 1 },
    method: { name: "teskd" },
    optim: { lr: 0.01 }, // see test/train/webgpu_trainer_test.ts: no chaotic drift at this rate
    schedule: { epochs: 1, milestones: [] },
    backend: engine,
    outDir: "unused",
  });
  const exp = await createExperiment(config);
  const steps: StepInfo[] = [];
  const ms: number[] = [];
  let last = performance.now();
  try {
    const trainer = new Trainer({
      ...exp.trainerOptions(),
      evalData: undefined,
      syncEvery: 1, // each step's time, and every figure compared
      onStep: (s) => {
        steps.push(s);
        ms.push(performance.now() - last);
        last = performance.now();
      },
    });
    await trainer.fit();
  } finally {
    exp.close();
  }
  return { steps, ms };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** `Trainer` on WebGPU against the CPU engine (see the module doc). */
async function compareTrainer(o: DeviceCheckOptions): Promise<TrainerComparison> {
  try {
    const gpu = await trainSteps("webgpu", o);
    const cpu = await trainSteps("cpu", o);
    const steps = cpu.steps.map((c, i) => {
      const g = gpu.steps[i];
      return {
        loss: [g.loss, c.loss] as [number, number],
        gradNorm: [g.gradNorm, c.gradNorm] as [number, number],
        maxTermRelDiff: Math.max(...Object.keys(c.terms).map((k) => rel(g.terms[k], c.terms[k]))),
      };
    });
    const maxRelDiff = Math.max(
      ...steps.flatMap((s) => [rel(...s.loss), rel(...s.gradNorm), s.maxTermRelDiff]),
    );
    // The first step starts from the same weights: everything agrees to float32 rounding there.
    // Later steps inherit the differences, which a kink (ReLU, a near-tie) can amplify in the
    // gradient norm of one step (measured up to 2e-3 on llvmpipe); the loss stays within 1e-4.
    const first = steps[0];
    const ok = steps.length === o.steps &&
      Math.max(rel(...first.loss), rel(...first.gradNorm), first.maxTermRelDiff) < 1e-4 &&
      steps.every((s) => rel(...s.loss) < 1e-4);
    return {
      ok,
      steps,
      maxRelDiff,
      gpuMsPerStep: median(gpu.ms),
    };
  } catch (e) {
    return { ok: false, error: String(e), steps: [], maxRelDiff: NaN, gpuMsPerStep: NaN };
  }
}

/** Runs the whole check and returns its report. */
export async function deviceCheck(o: DeviceCheckOptions): Promise<DeviceCheckReport> {
  const started = new Date();
  const t0 = performance.now();
  const report: DeviceCheckReport = {
    started: started.toISOString(),
    seconds: 0,
    options: o,
    deno: Deno.version.deno,
  };
  const backend = await initBackend("webgpu", { allowSoftwareGpu: o.dryRun || undefined });
  report.adapter = backend.adapter;
  if (!o.skipTests) report.tests = await runTests();
  report.trainer = await compareTrainer(o);
  try {
    const result = await measureGpu({
      batch: o.batch,
      width: o.dryRun ? 0.0625 : 1,
      steps: o.dryRun ? 1 : 10,
      warmup: o.dryRun ? 1 : 3,
      allowSoftware: o.dryRun,
      torch: o.dryRun ? "cpu" : "cuda",
    });
    report.bench = { lines: formatGpuReport(result), result };
  } catch (e) {
    report.bench = { error: String(e) };
  }
  await initBackend("cpu");
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

/** A few lines that say how the check went. */
export function summarize(r: DeviceCheckReport): string[] {
  const lines = [
    `device check (${r.options.dryRun ? "dry run" : "GPU"}), ${r.seconds.toFixed(0)} s`,
  ];
  if (r.tests) lines.push(`WebGPU tests: ${r.tests.passed} passed, ${r.tests.failed} failed`);
  const t = r.trainer!;
  lines.push(
    t.error
      ? `Trainer on WebGPU: did not run: ${t.error}`
      : `Trainer on WebGPU vs CPU, ${t.steps.length} TESKD steps at batch ${
        r.options.trainerBatch ?? r.options.batch
      }: ` +
        `max relative difference ${t.maxRelDiff.toExponential(2)} (${
          t.ok ? "ok" : "TOO LARGE"
        }), ` +
        `${t.gpuMsPerStep.toFixed(1)} ms/step`,
  );
  if (r.bench && "lines" in r.bench) lines.push(...r.bench.lines);
  else if (r.bench) lines.push(`bench gpu: ${r.bench.error}`);
  return lines;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      "dry-run": { type: "boolean", default: false },
      "skip-tests": { type: "boolean", default: false },
      out: { type: "string" },
      batch: { type: "string" },
      steps: { type: "string" },
    },
  });
  const dryRun = values["dry-run"];
  const o: DeviceCheckOptions = {
    dryRun,
    batch: values.batch ? Number(values.batch) : dryRun ? 2 : 128,
    ...(dryRun && !values.batch ? { trainerBatch: 16 } : {}),
    steps: values.steps ? Number(values.steps) : 3,
    skipTests: values["skip-tests"],
  };
  const report = await deviceCheck(o);
  const out = values.out ?? join(Deno.env.get("OUT") ?? ".", "device_check.json");
  await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
  for (const l of summarize(report)) console.log(l);
  console.log(`report: ${out}`);
  const failed = (report.tests?.failed ?? 0) > 0 || !report.trainer?.ok ||
    !(report.bench && "lines" in report.bench);
  Deno.exit(failed ? 1 : 0);
}
