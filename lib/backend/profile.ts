/**
 * Where the time of one training step goes, on whichever backend is active: wall time, time spent in
 * kernels (where the backend can measure it), the rest (dispatch, JavaScript, waiting on readbacks),
 * which kernels ran how often and for how long, memory allocated, and GPU→CPU readbacks.
 *
 * @example
 * ```ts
 * import { formatStepProfile, profileStep } from "teskd";
 * const p = await profileStep(() => step.runAsync()); // after a few warm-up steps
 * console.log(formatStepProfile(p));
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Options of {@link profileStep}. */
export interface ProfileStepOptions {
  /** How many kernels {@link StepProfile.topKernels} lists. Default 10. */
  top?: number;
}

/** One kernel name's share of the profiled run. */
export interface KernelSummary {
  /** tfjs kernel name, e.g. "Conv2D", "FusedBatchNorm". */
  name: string;
  /** How many times it ran. */
  calls: number;
  /** Its summed time in ms; undefined where kernel time is not measurable. */
  ms?: number;
}

/** How {@link StepProfile.kernelMs} was measured. */
export type KernelTiming = "gpu-timestamps" | "host-clock" | "unavailable";

/** What {@link profileStep} found. */
export interface StepProfile {
  /** The tfjs backend that ran the work. */
  backend: string;
  /** Wall time of the plain (unprofiled) run, until `fn`'s promise settled. */
  wallMs: number;
  /** Wall time of the profiled run; larger, since per-kernel timing serialises the work. */
  profiledWallMs: number;
  /** Summed kernel time of the profiled run; undefined when the backend cannot measure it. */
  kernelMs?: number;
  /** How kernel time was measured, or "unavailable". */
  kernelTiming: KernelTiming;
  /** One sentence on what the kernel time means here, or why there is none. */
  kernelTimingNote: string;
  /** `wallMs − kernelMs`: dispatch, JavaScript, readback waits and idle time; undefined with kernelMs. */
  otherMs?: number;
  /** Kernels run (tfjs kernel invocations; one may launch several GPU programs). */
  kernelCalls: number;
  /** Number of distinct kernel names. */
  distinctKernels: number;
  /** The kernels taking the most time (or, without kernel time, run most often), largest first. */
  topKernels: KernelSummary[];
  /**
   * GPU compute programs dispatched during the plain run (WebGPU); fewer than kernel calls where
   * tfjs runs small kernels on the CPU or a kernel is a reshape, more where one kernel needs several.
   * Undefined on backends without compute programs.
   */
  gpuPrograms?: number;
  /** Calls to the backend's `read` / `readSync` during the plain run (a GPU→CPU copy unless cached). */
  readbacks: number;
  /** Bytes those calls returned. */
  readbackBytes: number;
  /** Tensors still alive after the profiled run that were not before it. */
  newTensors: number;
  /** Bytes of those tensors. */
  newBytes: number;
  /** Largest total tensor bytes seen after any kernel of the profiled run. */
  peakBytes: number;
}

type Method = (...args: unknown[]) => unknown;

let active = false;

/**
 * Runs `fn` twice and reports where its time goes. The first run is plain: its wall time and its
 * readbacks (calls to the active backend's `read`/`readSync`) and, on WebGPU, its compute dispatches,
 * counted by wrapping those methods for the duration and restoring them afterwards. The second runs under `tf.profile`: kernel names, counts,
 * per-kernel time, memory. Kernel time comes from WebGPU timestamp queries where the adapter offers
 * 'timestamp-query', from the host clock on synchronous backends (cpu); otherwise it is reported as
 * unavailable, never guessed. Call it after warm-up steps, so that shader compilation is excluded,
 * and let `fn` end with a readback (a training step reads its loss): on a GPU, wall time otherwise
 * stops while work is still queued.
 *
 * @param fn the work to profile, e.g. one training step; it runs twice.
 * @throws Error when called while another profileStep is running.
 */
export async function profileStep(
  fn: () => Promise<unknown> | unknown,
  opts: ProfileStepOptions = {},
): Promise<StepProfile> {
  const top = opts.top ?? 10;
  if (!Number.isInteger(top) || top < 0) {
    throw new Error(`profileStep: top must be a non-negative integer, got ${opts.top}`);
  }
  if (active) throw new Error("profileStep: already profiling; calls cannot be nested");
  active = true;
  try {
    const backendName = tf.getBackend();
    const backend = tf.backend();
    const timing = kernelTimingOf(backend, backendName);

    const t0 = performance.now();
    const counts = await withCounters(backend, fn);
    const wallMs = performance.now() - t0;

    const quiet = silenceTimestampWarning(backend);
    const t1 = performance.now();
    let info: Awaited<ReturnType<typeof tf.profile>>;
    try {
      info = await tf.profile(async () => {
        await fn();
        return [];
      });
    } finally {
      quiet();
    }
    const profiledWallMs = performance.now() - t1;

    const byName = new Map<string, KernelSummary>();
    let kernelMs: number | undefined = timing.kind === "unavailable" ? undefined : 0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : undefined;
      // A backend may answer {error} for one kernel: then the total is unknown, not an undercount.
      if (ms === undefined) kernelMs = undefined;
      else if (kernelMs !== undefined) kernelMs += ms;
      const e = byName.get(k.name) ?? { name: k.name, calls: 0, ms: 0 };
      e.calls++;
      e.ms = ms === undefined || e.ms === undefined ? undefined : e.ms + ms;
      byName.set(k.name, e);
    }
    const measured = kernelMs !== undefined;
    const kernels = [...byName.values()].map((k) =>
      measured ? k : { name: k.name, calls: k.calls }
    );
    kernels.sort((a, b) => measured ? (b.ms ?? 0) - (a.ms ?? 0) : b.calls - a.calls);
    return {
      backend: backendName,
      wallMs,
      profiledWallMs,
      kernelMs,
      kernelTiming: measured ? timing.kind : "unavailable",
      kernelTimingNote: measured || timing.kind === "unavailable"
        ? timing.note
        : "the backend reported an error instead of a time for some kernels",
      otherMs: kernelMs === undefined ? undefined : wallMs - kernelMs,
      kernelCalls: info.kernels.length,
      distinctKernels: byName.size,
      topKernels: kernels.slice(0, top),
      gpuPrograms: counts.programs,
      readbacks: counts.reads,
      readbackBytes: counts.readBytes,
      newTensors: info.newTensors,
      newBytes: info.newBytes,
      peakBytes: info.kernels.length ? info.peakBytes : 0,
    };
  } finally {
    active = false;
  }
}

/**
 * A few lines for a terminal: wall, kernel and other time, readbacks, memory, top kernels.
 *
 * @example
 * ```ts
 * console.log(formatStepProfile(await profileStep(() => step.runAsync())));
 * ```
 */
export function formatStepProfile(p: StepProfile): string {
  const ms = (v: number | undefined) => v === undefined ? "not measurable" : `${v.toFixed(2)} ms`;
  const lines = [
    `backend ${p.backend}: wall ${ms(p.wallMs)} (profiled run ${ms(p.profiledWallMs)})`,
    `  kernels ${ms(p.kernelMs)} [${p.kernelTiming}: ${p.kernelTimingNote}]`,
    `  dispatch + other (wall − kernels) ${ms(p.otherMs)}` +
    (p.otherMs === undefined || !p.gpuPrograms
      ? ""
      : ` = ${(p.otherMs / p.gpuPrograms * 1000).toFixed(1)} µs per GPU program`),
    `  ${p.kernelCalls} kernel calls (${p.distinctKernels} distinct)` +
    (p.gpuPrograms === undefined ? "" : `, ${p.gpuPrograms} GPU programs dispatched`) +
    `, ${p.readbacks} readbacks ` +
    `(${p.readbackBytes} bytes), ${p.newTensors} new tensors (${p.newBytes} bytes), ` +
    `peak ${(p.peakBytes / 2 ** 20).toFixed(1)} MiB`,
  ];
  for (const k of p.topKernels) {
    lines.push(
      `    ${k.name.padEnd(28)} ${String(k.calls).padStart(5)} calls` +
        (k.ms === undefined ? "" : `  ${k.ms.toFixed(2).padStart(10)} ms`),
    );
  }
  return lines.join("\n");
}

/** What kernel time means on this backend, judged from what the backend itself exposes. */
function kernelTimingOf(
  backend: tf.KernelBackend,
  name: string,
): { kind: KernelTiming; note: string } {
  const gpu = backend as unknown as { supportTimestampQuery?: unknown };
  if (typeof gpu.supportTimestampQuery === "boolean") {
    // tfjs-backend-webgpu times each program with timestamp queries, and reports 0 without them.
    return gpu.supportTimestampQuery
      ? { kind: "gpu-timestamps", note: "GPU execution time from 'timestamp-query'" }
      : {
        kind: "unavailable",
        note: "the WebGPU device lacks 'timestamp-query'; tfjs would report 0 for every kernel",
      };
  }
  if (name === "cpu" || backend instanceof tf.MathBackendCPU) {
    return { kind: "host-clock", note: "host clock around each (synchronous) CPU kernel" };
  }
  return {
    kind: "host-clock",
    note: `host clock around each ${name} kernel call; on an asynchronous device this is ` +
      "launch time, not execution time",
  };
}

/** Calls counted while `fn` ran, and bytes returned by the reads. */
interface Counts {
  reads: number;
  readBytes: number;
  /** Undefined when the backend has no `runWebGPUProgram`. */
  programs?: number;
}

/**
 * Runs `fn` with the backend's `read`/`readSync` (and, on WebGPU, `runWebGPUProgram`, through which
 * every compute dispatch goes) wrapped by counters; restores the methods afterwards, even on error.
 */
async function withCounters(
  backend: tf.KernelBackend,
  fn: () => Promise<unknown> | unknown,
): Promise<Counts> {
  const b = backend as unknown as Record<string, unknown>;
  const counts: Counts = { reads: 0, readBytes: 0 };
  const read = (v: unknown) => {
    counts.reads++;
    if (ArrayBuffer.isView(v)) counts.readBytes += v.byteLength;
  };
  const wrappers: Record<string, (original: Method) => Method> = {
    readSync: (original) => (...args) => {
      const v = original.apply(backend, args);
      read(v);
      return v;
    },
    read: (original) => async (...args) => {
      const v = await original.apply(backend, args);
      read(v);
      return v;
    },
  };
  if (typeof b.runWebGPUProgram === "function") {
    counts.programs = 0;
    wrappers.runWebGPUProgram = (original) => (...args) => {
      counts.programs!++;
      return original.apply(backend, args);
    };
  }
  const saved = new Map<string, { own: boolean; value: unknown }>();
  for (const [key, wrap] of Object.entries(wrappers)) {
    saved.set(key, { own: Object.hasOwn(b, key), value: b[key] });
    b[key] = wrap(b[key] as Method);
  }
  try {
    await fn();
  } finally {
    for (const [key, { own, value }] of saved) {
      // The methods normally live on the prototype: remove the wrappers rather than shadow it.
      if (own) b[key] = value;
      else delete b[key];
    }
  }
  return counts;
}

/**
 * tfjs-backend-webgpu warns once, about a Chrome flag, when profiling without 'timestamp-query';
 * this profile says so itself, so the warning is marked as given while profiling.
 */
function silenceTimestampWarning(backend: tf.KernelBackend): () => void {
  const b = backend as unknown as { hasTimestampQueryWarned?: unknown };
  if (typeof b.hasTimestampQueryWarned !== "boolean") return () => {};
  const before = b.hasTimestampQueryWarned;
  b.hasTimestampQueryWarned = true;
  return () => {
    b.hasTimestampQueryWarned = before;
  };
}
