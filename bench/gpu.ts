/**
 * GPU benchmark of the webgpu backend (`deno task bench gpu`): ms per training step and images/s of
 * the CIFAR ResNet-18 baseline and of the full TESKD model (teacher + 3 students, TESKD loss, SGD
 * step; the product path of bench/train_step.ts), warm-up steps excluded, median of the timed steps;
 * a profile of one step (kernel time vs dispatch and other time, readbacks); and, in the same run,
 * PyTorch on the same GPU in float32 and with AMP (bench/torch_reference.py), as ratios.
 *
 * `deno run -A bench/gpu.ts [--batch 128] [--width 1] [--steps 10] [--warmup 3] [--allow-software]
 *   [--torch-device cuda|cpu] [--no-torch] [--threads 2] [--no-profile] [--models baseline,teskd]`
 *
 * A hardware adapter is required; `--allow-software` admits llvmpipe and the like for smoke runs
 * (`--batch 2 --width 0.0625 --steps 1`). `--torch-device cpu` runs the reference on the CPU instead
 * (with `--threads`), for machines without CUDA; AMP is CUDA-only and is then not run.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type BackendInfo,
  BackendUnavailableError,
  type GpuAdapterSummary,
  initBackend,
} from "../lib/backend/mod.ts";
import { formatStepProfile, profileStep, type StepProfile } from "../lib/backend/profile.ts";
import { makeTrainStep } from "./train_step.ts";
import { median, referencePython } from "./reference_tools.ts";

/** Which model a measurement is of: the teacher alone, or teacher + 3 students. */
export type GpuBenchModel = "baseline" | "teskd";

/** Options of {@link measureGpu}; every field has the default shown. */
export interface GpuBenchOptions {
  /** Batch size. Default 128 (the paper's). */
  batch: number;
  /** Channel-count multiplier; 1 is the paper's model. Default 1. */
  width: number;
  /** Timed steps (the median is reported). Default 10. */
  steps: number;
  /** Untimed steps first (shader compilation, buffer pools). Default 3. */
  warmup: number;
  /** Admit a software WebGPU adapter (llvmpipe): smoke runs only. Default false. */
  allowSoftware: boolean;
  /** Where PyTorch runs: "cuda" (the comparison that matters), "cpu", or "none". Default "cuda". */
  torch: "cuda" | "cpu" | "none";
  /** PyTorch CPU threads (only with torch "cpu"). Default 2. */
  threads: number;
  /** Profile one step per model (after the timed ones). Default true. */
  profile: boolean;
  /** Models to measure. Default both. */
  models: GpuBenchModel[];
}

/** PyTorch's figure for one configuration, or why there is none. */
export type TorchFigure =
  | {
    ok: true;
    msPerStep: number;
    device: string;
    amp: boolean;
    torch: string;
    gpu?: string;
    /** Kernels of one step (with the profile): CUDA kernels, or on the CPU the innermost operators doing work. */
    kernels?: { how: string; count: number };
  }
  | { ok: false; reason: string };

/** One model's measurements. */
export interface GpuModelResult {
  model: GpuBenchModel;
  /** Median ms per timed step. */
  msPerStep: number;
  /** batch / median step time. */
  imagesPerSec: number;
  /** Every timed step, ms. */
  stepMs: number[];
  /** Loss of the last timed step (a sanity check that the step computed something). */
  loss: number;
  /** The profile of one step, when profiling was on. */
  profile?: StepProfile;
  /** PyTorch in float32 and with AMP (float16 autocast + GradScaler). */
  torch: { fp32: TorchFigure; amp: TorchFigure };
}

/** What {@link measureGpu} measured. */
export interface GpuBenchResult {
  backend: BackendInfo;
  adapter: GpuAdapterSummary;
  options: GpuBenchOptions;
  models: GpuModelResult[];
}

/** The defaults of {@link GpuBenchOptions}: the paper's batch and model, PyTorch on CUDA. */
export const GPU_BENCH_DEFAULTS: Readonly<GpuBenchOptions> = {
  batch: 128,
  width: 1,
  steps: 10,
  warmup: 3,
  allowSoftware: false,
  torch: "cuda",
  threads: 2,
  profile: true,
  models: ["baseline", "teskd"],
};

/**
 * Measures both training steps on the webgpu backend and the PyTorch reference; prints nothing.
 *
 * @example
 * ```ts
 * const r = await measureGpu({ batch: 2, width: 0.0625, steps: 1, allowSoftware: true, torch: "none" });
 * console.log(r.models[0].msPerStep);
 * ```
 * @throws BackendUnavailableError when no (allowed) WebGPU adapter exists.
 */
export async function measureGpu(opts: Partial<GpuBenchOptions> = {}): Promise<GpuBenchResult> {
  const o: GpuBenchOptions = { ...GPU_BENCH_DEFAULTS, ...opts };
  checkOptions(o);
  const backend = await initBackend("webgpu", { allowSoftwareGpu: o.allowSoftware || undefined });
  if (!backend.adapter) throw new Error("bench gpu: the webgpu backend reported no adapter");
  const models: GpuModelResult[] = [];
  for (const model of o.models) {
    const ours = await measureModel(model, o);
    const torch = {
      fp32: await torchReference(model, o, false),
      amp: o.torch === "cuda"
        ? await torchReference(model, o, true)
        : { ok: false as const, reason: `not run (AMP needs CUDA; torch device ${o.torch})` },
    };
    models.push({ ...ours, torch });
  }
  return { backend, adapter: backend.adapter, options: o, models };
}

async function measureModel(
  model: GpuBenchModel,
  o: GpuBenchOptions,
): Promise<Omit<GpuModelResult, "torch">> {
  const step = makeTrainStep(o.batch, model === "teskd", { widthMultiplier: o.width });
  try {
    for (let i = 0; i < o.warmup; i++) await step.runAsync();
    const stepMs: number[] = [];
    let loss = NaN;
    for (let i = 0; i < o.steps; i++) {
      const t0 = performance.now();
      loss = await step.runAsync();
      stepMs.push(performance.now() - t0);
    }
    const ms = median(stepMs);
    const profile = o.profile ? await profileStep(() => step.runAsync()) : undefined;
    return { model, msPerStep: ms, imagesPerSec: o.batch / ms * 1000, stepMs, loss, profile };
  } finally {
    step.dispose();
  }
}

/**
 * PyTorch's median step time in a child process (bench/torch_reference.py; `TESKD_PYTHON`, else /usr/bin/python3) for
 * the model, batch, width and steps of `o`, on `o.torch`; or, plainly, why there is none.
 *
 * @example
 * ```ts
 * const t = await torchReference("teskd", { ...options, torch: "cuda" }, true);
 * console.log(t.ok ? t.msPerStep : t.reason);
 * ```
 */
export async function torchReference(
  model: GpuBenchModel,
  o: GpuBenchOptions,
  amp: boolean,
): Promise<TorchFigure> {
  if (o.torch === "none") return { ok: false, reason: "not run (--no-torch)" };
  const python = referencePython();
  const script = new URL("./torch_reference.py", import.meta.url).pathname;
  const args = [script, String(o.batch), String(o.threads), String(o.steps), model];
  args.push("--device", o.torch, "--width", String(o.width), "--warmup", String(o.warmup));
  if (amp) args.push("--amp");
  else if (o.profile) args.push("--count-ops"); // the reference count of kernels per step
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(python, { args, stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    return { ok: false, reason: `${python} did not start: ${String(e)}` };
  }
  const text = (b: Uint8Array) => new TextDecoder().decode(b).trim();
  if (!out.success) {
    const last = text(out.stderr).split("\n").pop() ?? "";
    return {
      ok: false,
      reason: /No module named 'torch'/.test(last)
        ? `PyTorch is not installed for ${python}`
        : last.replace(/^torch_reference\.py: /, "") || `exit status ${out.code}`,
    };
  }
  const r = JSON.parse(text(out.stdout).split("\n").pop()!) as {
    ms_per_step: number;
    device: string;
    amp: boolean;
    torch: string;
    gpu: string | null;
    kernels?: { how: string; count: number };
  };
  return {
    ok: true,
    msPerStep: r.ms_per_step,
    device: r.device,
    amp: r.amp,
    torch: r.torch,
    gpu: r.gpu ?? undefined,
    ...(r.kernels ? { kernels: r.kernels } : {}),
  };
}

/**
 * The report as lines: adapter, then per model ms/step, images/s, PyTorch and the ratios, profile.
 *
 * @example
 * ```ts
 * for (const line of formatGpuReport(await measureGpu())) console.log(line);
 * ```
 */
export function formatGpuReport(r: GpuBenchResult): string[] {
  const a = r.adapter;
  const o = r.options;
  const has = (f: string) => a.features.includes(f) ? "yes" : "no";
  const lines = [
    `adapter: ${a.description || "(no description)"}; vendor ${a.vendor || "?"}, architecture ${
      a.architecture || "?"
    }, device ${a.device || "?"}${a.software ? " [SOFTWARE: timings are not GPU figures]" : ""}`,
    `  limits: ${Object.entries(a.limits).map(([k, v]) => `${k} ${v}`).join(", ")}`,
    `  shader-f16: ${has("shader-f16")} (tfjs-backend-webgpu ${tf.version.tfjs} computes in ` +
    `float32 either way); timestamp-query: ${has("timestamp-query")}`,
    `engine: ${r.backend.tfjsBackend} (${r.backend.reason}); batch ${o.batch}, width ×${o.width}, ` +
    `${o.warmup} warm-up + ${o.steps} timed steps (median)`,
  ];
  for (const m of r.models) {
    const what = m.model === "baseline"
      ? "ResNet-18 baseline train step"
      : "full TESKD train step (teacher + 3 students)";
    lines.push(
      `${what}: teskd-webgpu ${m.msPerStep.toFixed(1)} ms/step, ${
        m.imagesPerSec.toFixed(1)
      } img/s (loss ${m.loss.toFixed(4)})`,
    );
    for (const [label, t] of [["float32", m.torch.fp32], ["AMP", m.torch.amp]] as const) {
      lines.push(
        t.ok
          ? `  PyTorch ${t.torch} ${t.device}${t.gpu ? ` (${t.gpu})` : ""} ${label}: ${
            t.msPerStep.toFixed(1)
          } ms/step; teskd-webgpu / PyTorch-${t.device}-${label} time = ${
            (m.msPerStep / t.msPerStep).toFixed(2)
          }x`
          : `  PyTorch ${label}: ${t.reason}; no ratio`,
      );
    }
    if (m.profile) {
      lines.push("  profile of one step:");
      for (const l of formatStepProfile(m.profile).split("\n")) lines.push(`    ${l}`);
      const ref = m.torch.fp32.ok ? m.torch.fp32.kernels : undefined;
      if (ref && m.profile.gpuPrograms !== undefined) {
        lines.push(
          `  GPU programs per step: teskd-webgpu ${m.profile.gpuPrograms}, PyTorch ${ref.count} ` +
            `(${ref.how}) = ${(m.profile.gpuPrograms / ref.count).toFixed(2)}x (goal ≤ 2x)`,
        );
      }
    }
  }
  return lines;
}

/**
 * Parses the command line, measures and prints the report.
 *
 * @example
 * ```ts
 * await benchGpu(["--batch", "128"]);
 * ```
 */
export async function benchGpu(args: string[]): Promise<void> {
  let r: GpuBenchResult;
  try {
    r = await measureGpu(parseArgs(args));
  } catch (e) {
    if (!(e instanceof BackendUnavailableError)) throw e;
    // No usable adapter is a statement about the machine, not a crash: say it in one line.
    console.error(`bench gpu: ${e.message} (--allow-software admits it for smoke runs)`);
    Deno.exit(1);
  }
  for (const line of formatGpuReport(r)) console.log(line);
}

/** Reads the command line into options (unknown or malformed arguments throw). */
export function parseArgs(args: string[]): Partial<GpuBenchOptions> {
  const o: Partial<GpuBenchOptions> = {};
  const value = (i: number) => {
    if (i >= args.length) throw new Error(`bench gpu: ${args[i - 1]} needs a value`);
    return args[i];
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    switch (a) {
      case "--allow-software":
        o.allowSoftware = true;
        break;
      case "--no-torch":
        o.torch = "none";
        break;
      case "--no-profile":
        o.profile = false;
        break;
      case "--torch-device": {
        const d = value(++i);
        if (d !== "cuda" && d !== "cpu") {
          throw new Error(`bench gpu: --torch-device must be cuda or cpu, got ${d}`);
        }
        o.torch = d;
        break;
      }
      case "--models":
        o.models = value(++i).split(",") as GpuBenchModel[];
        break;
      case "--batch":
      case "--steps":
      case "--warmup":
      case "--threads":
      case "--width": {
        const key = a.slice(2) as "batch" | "steps" | "warmup" | "threads" | "width";
        o[key] = Number(value(++i));
        break;
      }
      default:
        throw new Error(
          `bench gpu: unknown argument ${a} (use --batch, --width, --steps, --warmup, ` +
            "--allow-software, --torch-device cuda|cpu, --no-torch, --threads, --no-profile, --models)",
        );
    }
  }
  return o;
}

function checkOptions(o: GpuBenchOptions): void {
  for (const k of ["batch", "steps", "threads"] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 1) {
      throw new Error(`bench gpu: ${k} must be a positive integer, got ${o[k]}`);
    }
  }
  if (!Number.isInteger(o.warmup) || o.warmup < 0) {
    throw new Error(`bench gpu: warmup must be a non-negative integer, got ${o.warmup}`);
  }
  if (!(o.width > 0 && o.width <= 1)) {
    throw new Error(`bench gpu: width must be in (0, 1], got ${o.width}`);
  }
  if (!o.models.length || o.models.some((m) => m !== "baseline" && m !== "teskd")) {
    throw new Error(`bench gpu: models must be baseline and/or teskd, got ${o.models.join(",")}`);
  }
}

if (import.meta.main) await benchGpu(Deno.args);
