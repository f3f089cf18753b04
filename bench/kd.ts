/**
 * `deno task bench kd [--batch 64] [--threads 2] [--steps 3] [--methods kd,fitnet,…] [--no-torch]
 * [--no-ts] [--profile]`: one training step of each teacher→student method of the registry (all of
 * them but `teskd` and `baseline` by default) for the official pair ResNet-32x4 → ResNet-8x4, built
 * by the registry and run through the real `Trainer` (a frozen teacher outside the gradient tape,
 * SGD over the student and the method's modules; ATSC's teacher trains), next to PyTorch running
 * the method's official step on the same cores in the same run (bench/torch_kd_reference.py, kept
 * running beside this process). Its steps alternate with ours, one each, so that other work on a
 * shared machine slows both sides alike. Also the teacher's forward pass alone (inference; again
 * alternating with PyTorch's), and its share of a step: a frozen teacher should cost what inference
 * costs. A method that fails on either side is reported in its row; the rest still run.
 * `--profile` adds one more step of ours per method under `tf.profile` and prints its kernels by
 * time.
 *
 * CRD runs at CIFAR-100 scale: a memory bank of 50,000 rows (labels `i % 100`) and K = 16,384
 * negatives per sample. PyTorch gets its contrast indices from the "data loader" (drawn before the
 * timed step); ours are drawn inside the step by the method, and that draw is timed on its own.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import type { Batch } from "../lib/data/types.ts";
import { ContrastSampler } from "../lib/distill/crd_sampler.ts";
import type { Distiller } from "../lib/distill/distiller.ts";
import { buildDistiller, METHOD_NAMES, resolveMethodConfig } from "../lib/distill/registry.ts";
import { createNetwork } from "../lib/models/registry.ts";
import type { Network } from "../lib/models/network.ts";
import { Trainer } from "../lib/train/trainer.ts";
import { median, referencePython } from "./reference_tools.ts";

/** The methods measured by default: every teacher→student method of the registry. */
const DEFAULT_METHODS = METHOD_NAMES.filter((m) => m !== "teskd" && m !== "baseline");
/** CIFAR-100's training-set size and classes: CRD's memory bank has one row per sample. */
const TRAIN_SIZE = 50_000;
const CLASSES = 100;

interface Options {
  batch: number;
  threads: number;
  steps: number;
  methods: string[];
  torch: boolean;
  ours: boolean;
  profile: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = {
    batch: 64,
    threads: 2,
    steps: 3,
    methods: [...DEFAULT_METHODS],
    torch: true,
    ours: true,
    profile: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const num = () => {
      const v = Number(args[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === "--batch") o.batch = num();
    else if (a === "--threads") o.threads = num();
    else if (a === "--steps") o.steps = num();
    else if (a === "--methods") o.methods = (args[++i] ?? "").split(",").filter((m) => m);
    else if (a === "--no-torch") o.torch = false;
    else if (a === "--no-ts") o.ours = false;
    else if (a === "--profile") o.profile = true;
    else throw new Error(`bench kd: unknown argument ${a}`);
  }
  return o;
}

/**
 * The labels of the stand-in training set, by sample index, and a batch of samples whose labels are
 * the batch's (CRD takes each sample's label from this list to choose its negatives).
 */
const trainLabels = () => Int32Array.from({ length: TRAIN_SIZE }, (_, i) => i % CLASSES);
const batchLabels = (batch: number) => Int32Array.from({ length: batch }, (_, i) => (i * 37) % 100);
const batchIndex = (y: Int32Array) => y.map((c, i) => c + CLASSES * i);

/**
 * The same random batch every step (the data pipeline is measured by `bench data`): `steps` batches
 * in epoch 0 (the timed run), each after `beforeStep` (PyTorch's step, outside our step's timing),
 * and one in any later epoch (the profiled step).
 */
function fixedData(batch: number, steps: number, beforeStep: () => Promise<unknown>) {
  const x = new Float32Array(batch * 32 * 32 * 3).map(() => Math.random() * 2 - 1);
  const y = batchLabels(batch);
  const b: Batch = { x, y, index: batchIndex(y), n: batch, height: 32, width: 32, channels: 3 };
  return {
    batchesPerEpoch: steps,
    async *epoch(e: number) {
      for (let i = 0; i < (e === 0 ? steps : 1); i++) {
        if (e === 0) await beforeStep();
        yield b;
      }
    },
  };
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0];

/** What PyTorch measured for one method (bench/torch_kd_reference.py's JSON line). */
interface TorchResult {
  torch?: string;
  ms_per_step?: number;
  teacher_forward_ms?: number;
  error?: string;
}

/** Our measurement of one method. */
interface OurResult {
  /** Median ms per training step. */
  ms: number;
  /** Median ms of the frozen teacher forward inside the step (none when the teacher is trained). */
  teacherMs?: number;
  /** A note for the table (what the step includes that PyTorch's does not). */
  note?: string;
}

/** One row of the summary table. */
interface Row {
  method: string;
  /** Median ms of our teacher's forward alone (inference), measured alongside PyTorch's. */
  inferMs?: number;
  ours?: OurResult;
  oursError?: string;
  torch?: TorchResult;
}

/**
 * A PyTorch reference process for one method (`torch_kd_reference.py --serve`) that runs a step
 * when asked: its steps alternate with ours, so a machine that other work slows down slows both
 * alike, and the ratio holds where the absolute times do not.
 */
class TorchSession {
  #child: Deno.ChildProcess;
  #lines: AsyncIterator<string>;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stderr: Promise<string>;
  /** The first failure; once set, no more requests are sent. */
  error?: string;
  /** Steps run so far (the first is PyTorch's warm-up). */
  steps = 0;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#lines = readLines(child.stdout);
    this.#stdin = child.stdin.getWriter();
    this.#stderr = new Response(child.stderr).text();
  }

  /** Starts the process and waits until the method is built (or has failed to build). */
  static async start(method: string, o: Options): Promise<TorchSession> {
    const script = new URL("./torch_kd_reference.py", import.meta.url).pathname;
    const args = [script, method, String(o.batch), String(o.threads), String(o.steps), "--serve"];
    const s = new TorchSession(
      new Deno.Command(referencePython(), {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    );
    await s.#request(null);
    return s;
  }

  /** One training step; its milliseconds (undefined once the process has failed). */
  step(): Promise<number | undefined> {
    return this.#request("step").then((ms) => (ms === undefined ? ms : (this.steps++, ms)));
  }

  /** The teacher's forward pass alone (no grad, eval mode); its milliseconds. */
  teacher(): Promise<number | undefined> {
    return this.#request("teacher");
  }

  /** Ends the process; its summary (medians over the steps after its warm-up), or the error. */
  async finish(): Promise<TorchResult> {
    if (this.error === undefined) {
      await this.#stdin.write(new TextEncoder().encode("quit\n")).catch(() => {});
    }
    await this.#stdin.close().catch(() => {});
    const summary = this.error === undefined ? await this.#next() : undefined;
    await this.#child.status;
    return this.error !== undefined ? { error: this.error } : summary ?? { error: "no summary" };
  }

  /** Sends one command (none: just reads the greeting) and reads its answer's `ms`. */
  async #request(command: string | null): Promise<number | undefined> {
    if (this.error !== undefined) return undefined;
    try {
      if (command !== null) await this.#stdin.write(new TextEncoder().encode(command + "\n"));
      const answer = await this.#next();
      if (answer?.error !== undefined) throw new Error(answer.error);
      if (answer === undefined) {
        const err = (await this.#stderr).trim().split("\n").at(-1);
        throw new Error(err || "the process ended");
      }
      return answer.ms;
    } catch (e) {
      this.error = message(e);
      this.#child.kill();
      return undefined;
    }
  }

  async #next(): Promise<(TorchResult & { ms?: number }) | undefined> {
    const r = await this.#lines.next();
    return r.done ? undefined : JSON.parse(r.value);
  }
}

/** The lines of a byte stream. */
async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = parts.pop()!;
    yield* parts.filter((l) => l.trim());
  }
  if (rest.trim()) yield rest;
}

/**
 * The rest of one method's figures: PyTorch's `steps + 1` steps (those not yet run alongside ours),
 * then the teacher's forward alone, `steps` times on each side, alternating.
 */
async function finishMethod(
  row: Row,
  torch: TorchSession | undefined,
  inference: TeacherInference | undefined,
  o: Options,
): Promise<void> {
  while (torch && torch.error === undefined && torch.steps < o.steps + 1) await torch.step();
  const oursMs: number[] = [];
  for (let i = 0; i < o.steps; i++) {
    await torch?.teacher();
    if (inference) oursMs.push(await inference.forward());
  }
  if (torch) row.torch = await torch.finish();
  if (inference) row.inferMs = median(oursMs);
}

/** Our teacher's forward pass alone (frozen: inference mode, no tape), one batch at a time. */
class TeacherInference {
  readonly #teacher: Network;
  readonly #x: tf.Tensor4D;

  constructor(batch: number) {
    this.#teacher = createNetwork("resnet32x4", { numClasses: CLASSES, seed: 1 }).freeze();
    this.#x = tf.randomNormal([batch, 32, 32, 3]);
  }

  /** One forward pass; its milliseconds. */
  async forward(): Promise<number> {
    const t0 = performance.now();
    const logits = tf.tidy(() => this.#teacher.features(this.#x).logits);
    await logits.data();
    logits.dispose();
    return performance.now() - t0;
  }

  dispose(): void {
    this.#x.dispose();
    this.#teacher.dispose();
  }
}

/**
 * Builds the method from the registry for a fresh teacher and student, trains `steps + 1` steps
 * through the Trainer (the first is warm-up) and returns the medians; with `--profile`, then one
 * more step under `tf.profile`, printing where its time goes.
 */
async function measureOurs(
  method: string,
  o: Options,
  labels: Int32Array,
  beforeStep: () => Promise<unknown>,
): Promise<OurResult> {
  const teacher = createNetwork("resnet32x4", { numClasses: CLASSES, seed: 1 }).freeze();
  const student = createNetwork("resnet8x4", { numClasses: CLASSES, seed: 2 });
  let distiller: Distiller;
  try {
    distiller = buildDistiller(resolveMethodConfig(method), {
      student,
      teacher,
      inputSize: 32,
      seed: 3,
      trainLabels: labels,
      batchSize: o.batch,
    });
  } catch (e) {
    student.dispose();
    teacher.dispose();
    throw e;
  }
  // Time the frozen forward inside the step by wrapping it (ATSC's teacher runs under the tape).
  const frozenMs: number[] = [];
  const frozen = distiller.frozenForward?.bind(distiller);
  if (frozen) {
    distiller.frozenForward = (input) => {
      const t0 = performance.now();
      const out = frozen(input);
      (out.teacher.logits as tf.Tensor).dataSync();
      frozenMs.push(performance.now() - t0);
      return out;
    };
  }
  const stepMs: number[] = [];
  const trainer = new Trainer({
    distiller,
    data: fixedData(o.batch, o.steps + 1, beforeStep),
    optimizer: { momentum: 0.9, weightDecay: 5e-4 },
    schedule: { kind: "constant", baseLr: 0.05, epochs: 2 },
    onStep: (s) => stepMs.push((1000 * s.images) / s.imagesPerSecond),
  });
  try {
    await trainer.fit({ epochs: 1 });
    if (o.profile) await profileStep(method, trainer);
  } finally {
    trainer.optimizer.dispose();
    distiller.dispose(); // the student, the method's modules and the teacher
  }
  const timed = stepMs.slice(1, o.steps + 1);
  const result: OurResult = { ms: median(timed) };
  if (frozenMs.length > 1) result.teacherMs = median(frozenMs.slice(1, o.steps + 1));
  if (method === "crd") {
    // The step draws its contrast indices itself; PyTorch's loader draws them outside the step.
    const cfg = resolveMethodConfig("crd") as { nceK: number };
    const sampler = new ContrastSampler(labels, cfg.nceK, 3);
    const index = batchIndex(batchLabels(o.batch));
    const t0 = performance.now();
    sampler.draw(index, 0);
    result.note = `incl. ${(performance.now() - t0).toFixed(0)} ms drawing contrast indices`;
  }
  return result;
}

/** One more step (the trainer's second epoch) under `tf.profile`: time by kernel, and by shapes. */
async function profileStep(method: string, trainer: Trainer): Promise<void> {
  const t0 = performance.now();
  const prof = await tf.profile(async () => {
    await trainer.fit({ epochs: 2 });
  });
  const wall = performance.now() - t0;
  const tally = (key: (k: (typeof prof.kernels)[number]) => string) => {
    const m = new Map<string, { ms: number; n: number }>();
    for (const k of prof.kernels) {
      const e = m.get(key(k)) ?? { ms: 0, n: 0 };
      e.ms += Number(k.kernelTimeMs);
      e.n++;
      m.set(key(k), e);
    }
    return [...m].sort((a, b) => b[1].ms - a[1].ms);
  };
  const byKernel = tally((k) => k.name);
  const kernelMs = byKernel.reduce((s, [, e]) => s + e.ms, 0);
  console.log(
    `${method} profile (1 step, ${wall.toFixed(0)} ms wall with profiling, ${
      kernelMs.toFixed(0)
    } ms in ${prof.kernels.length} kernels):`,
  );
  for (const [name, e] of byKernel.slice(0, 12)) {
    console.log(
      `  ${name.padEnd(28)} ${e.ms.toFixed(0).padStart(7)} ms ${String(e.n).padStart(5)}×`,
    );
  }
  console.log("  by kernel and input shapes:");
  for (const [key, e] of tally((k) => `${k.name} ${JSON.stringify(k.inputShapes)}`).slice(0, 10)) {
    console.log(`  ${e.ms.toFixed(0).padStart(7)} ms ${String(e.n).padStart(4)}×  ${key}`);
  }
}

const fmt = (v: number | undefined, digits = 0) => (v === undefined ? "–" : v.toFixed(digits));

function printTable(rows: Row[], batch: number): void {
  const head = [
    "method",
    "ours ms/step",
    "img/s",
    "teacher in step",
    "teacher fwd",
    "PyTorch ms/step",
    "PyTorch teacher fwd",
    "ours/PyTorch",
  ];
  const lines = rows.map((r) => {
    const ms = r.ours?.ms;
    const tms = r.ours?.teacherMs;
    const inferMs = r.inferMs;
    const ref = r.torch?.ms_per_step;
    const notes = [
      r.oursError && `ours failed: ${r.oursError}`,
      r.torch?.error && `PyTorch failed: ${r.torch.error}`,
      r.ours?.note,
      r.ours && tms === undefined && "teacher trained under the tape",
    ].filter((n) => n);
    return [
      r.method,
      fmt(ms),
      ms === undefined ? "–" : fmt((batch / ms) * 1000, 1),
      tms === undefined || ms === undefined
        ? "–"
        : `${fmt(tms)} (${fmt((100 * tms) / ms)}%${
          inferMs ? `, ${(tms / inferMs).toFixed(2)}× inf` : ""
        })`,
      fmt(inferMs),
      fmt(ref),
      fmt(r.torch?.teacher_forward_ms),
      ms === undefined || ref === undefined ? "–" : `${(ms / ref).toFixed(2)}×`,
      notes.join("; "),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i] ?? 0))).join("  ")
      .trimEnd();
  console.log("");
  console.log(line([...head, ""]));
  for (const l of lines) console.log(line(l.slice(0, -1)) + (l.at(-1) ? `  ${l.at(-1)}` : ""));
}

/** Runs the benchmark. */
export async function benchKd(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const info = await initBackend("cpu");
  console.log(
    `bench kd: resnet32x4 → resnet8x4, batch ${o.batch}, ${o.steps} timed steps, ` +
      `${o.threads} PyTorch threads, methods ${o.methods.join(", ")}`,
  );
  console.log(`engine: ${info.name} (${info.cpuEngine ?? info.reason})`);
  const inference = o.ours ? new TeacherInference(o.batch) : undefined;
  await inference?.forward(); // warm-up
  const labels = trainLabels();
  const rows: Row[] = [];
  try {
    for (const method of o.methods) {
      const row: Row = { method };
      rows.push(row);
      const torch = o.torch ? await TorchSession.start(method, o) : undefined;
      if (o.ours) {
        try {
          row.ours = await measureOurs(method, o, labels, async () => await torch?.step());
        } catch (e) {
          row.oursError = message(e);
        }
      }
      await finishMethod(row, torch, inference, o);
      printRow(row, o);
    }
  } finally {
    inference?.dispose();
  }
  printTable(rows, o.batch);
}

/** The per-method lines printed as each method finishes. */
function printRow(row: Row, o: Options): void {
  const inferMs = row.inferMs;
  const name = row.method.padEnd(6);
  if (row.oursError) console.log(`${name} ours failed: ${row.oursError}`);
  else if (row.ours) {
    const { ms, teacherMs } = row.ours;
    const share = teacherMs === undefined
      ? "teacher trained under the tape"
      : `teacher forward in the step ${teacherMs.toFixed(0)} ms = ${
        (100 * teacherMs / ms).toFixed(0)
      }% of the step${
        inferMs ? `, ${(teacherMs / inferMs).toFixed(2)}× inference (${inferMs.toFixed(0)} ms)` : ""
      }`;
    console.log(
      `${name} step ${ms.toFixed(0)} ms (${(o.batch / ms * 1000).toFixed(1)} img/s); ${share}` +
        (row.ours.note ? `; ${row.ours.note}` : ""),
    );
  }
  const ref = row.torch;
  const indent = row.ours || row.oursError ? " ".repeat(name.length) : name;
  if (ref?.error) console.log(`${indent} PyTorch: not measured (${ref.error})`);
  else if (ref?.ms_per_step !== undefined && ref.teacher_forward_ms !== undefined) {
    const ratio = row.ours
      ? ` → ratio ours/PyTorch ${(row.ours.ms / ref.ms_per_step).toFixed(2)}×`
      : "";
    console.log(
      `${indent} PyTorch ${ref.torch}: step ${ref.ms_per_step.toFixed(0)} ms, teacher forward ` +
        `${ref.teacher_forward_ms.toFixed(0)} ms = ${
          (100 * ref.teacher_forward_ms / ref.ms_per_step).toFixed(0)
        }%${ratio}${row.ours ? " (goal ≤ 1.0)" : ""}`,
    );
  }
}
