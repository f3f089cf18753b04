/**
 * CPU benchmark of the teskd-cpu backend, each figure next to PyTorch's for the same model, batch and
 * thread count measured in the same run: ms per training step of the CIFAR ResNet-18 baseline and of
 * the full TESKD model (teacher + 3 students, TESKD loss, SGD step; the product path of
 * bench/train_step.ts, each model in its own process: bench/cpu_step.ts), teacher inference
 * images/s at batch 256, and GFLOP/s per convolution shape.
 *
 * `deno run -A bench/cpu.ts [--batch 32] [--batch128] [--threads 2] [--steps 3] [--infer-batch 256]
 *   [--stock-batch B] [--plain] [--no-resident] [--no-torch | --convs-only]`
 *
 * `--batch128` also measures both training steps at batch 128. `--plain` also times the ResNet-18 in
 * plain tfjs ops (tfjs's own conv gradients). `--stock-batch B` also times one step of tfjs's stock
 * `cpu` backend, and of teskd-cpu, at batch B (stock cpu is slow: use a small B). Each step line
 * says how many MiB were copied into and out of the WebAssembly kernels' memory per step;
 * `--no-resident` also times the WebAssembly engine with every tensor kept outside that memory.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../lib/backend/cpu/mod.ts";
import { fastCpuRuntime } from "../lib/backend/cpu/backend.ts";
import { convGeometry } from "../lib/backend/cpu/ops.ts";
import {
  chooseComputeKernels,
  type ComputeKernels,
  type CpuEngineRequest,
} from "../lib/backend/cpu/engine.ts";
import { ResNet } from "../lib/models/resnet.ts";
import { createTeacher } from "../lib/models/mod.ts";
import { median, referencePython } from "./reference_tools.ts";

interface Options {
  batch: number;
  threads: number;
  steps: number;
  torch: boolean;
  step: boolean;
  stockBatch: number;
  inferBatch: number;
  batch128: boolean;
  plain: boolean;
  /** Also time the WebAssembly engine with every tensor outside its memory (copied per call). */
  noResident: boolean;
}

const NUMERIC = { batch: "batch", threads: "threads", steps: "steps" } as const;

function parseArgs(args: string[]): Options {
  const o: Options = {
    batch: 32,
    threads: 2,
    steps: 3,
    torch: true,
    step: true,
    stockBatch: 0,
    inferBatch: 256,
    batch128: false,
    plain: false,
    noResident: false,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--no-torch" || a === "--convs-only") {
      o.torch = false;
      if (a === "--convs-only") o.step = false;
      continue;
    }
    if (a === "--batch128" || a === "--plain" || a === "--no-resident") {
      o[a === "--plain" ? "plain" : a === "--batch128" ? "batch128" : "noResident"] = true;
      continue;
    }
    const name = a.replace(/^--/, "");
    const key = name === "stock-batch"
      ? "stockBatch"
      : name === "infer-batch"
      ? "inferBatch"
      : NUMERIC[name as keyof typeof NUMERIC];
    if (key === undefined) {
      throw new Error(
        `bench cpu: unknown argument ${a} (use --batch, --batch128, --threads, --steps, --infer-batch, ` +
          `--stock-batch, --plain, --no-resident, --no-torch, --convs-only)`,
      );
    }
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v < 1) {
      throw new Error(`bench cpu: ${a} needs a positive integer, got ${args[i]}`);
    }
    o[key] = v;
  }
  return o;
}

/** A trainable network: its variables, a forward pass to logits, and a release. */
interface Net {
  params: tf.Variable[];
  logits(x: tf.Tensor): tf.Tensor;
  dispose(): void;
}

/** lib/models' CIFAR ResNet-18 (PyTorch semantics, its own filter-gradient formulation). */
function libNet(): Net {
  const model = new ResNet("cifar", { depth: 18, numClasses: 100, seed: 1 });
  model.train();
  return {
    params: model.parameters(),
    logits: (x) => model.forward(x).logits,
    dispose: () => model.dispose(),
  };
}

/**
 * The same CIFAR ResNet-18 in plain tfjs ops (batch-statistics BN as in lib/nn), whose gradients
 * are tfjs's own Conv2DBackpropFilter / Conv2DBackpropInput kernels.
 */
function plainNet(): Net {
  const params: tf.Variable[] = [];
  const v = (shape: number[], init: "he" | "one" | "zero") => {
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const t = init === "he"
      ? tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn))
      : init === "one"
      ? tf.ones(shape)
      : tf.zeros(shape);
    const p = tf.variable(t, true, `p${params.length}`);
    params.push(p);
    return p;
  };
  const conv = (cin: number, cout: number, k: number, s: number) => {
    const w = v([k, k, cin, cout], "he");
    const p = (k - 1) >> 1;
    const pad = [[0, 0], [p, p], [p, p], [0, 0]] as [
      [number, number],
      [number, number],
      [number, number],
      [number, number],
    ];
    return (x: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad);
  };
  const bn = (c: number) => {
    const g = v([c], "one");
    const b = v([c], "zero");
    return (x: tf.Tensor) => {
      const mean = tf.mean(x, [0, 1, 2]);
      const centered = tf.sub(x, mean);
      const inv = tf.rsqrt(tf.add(tf.mean(tf.square(centered), [0, 1, 2]), 1e-5));
      return tf.add(tf.mul(tf.mul(centered, inv), g), b);
    };
  };
  const layers: ((x: tf.Tensor) => tf.Tensor)[] = [];
  const stem = [conv(3, 64, 3, 1), bn(64)];
  layers.push((x) => tf.relu(stem[1](stem[0](x))));
  let inC = 64;
  for (const [i, w] of [64, 128, 256, 512].entries()) {
    for (let b = 0; b < 2; b++) {
      const s = b === 0 && i > 0 ? 2 : 1;
      const [c1, b1, c2, b2] = [conv(inC, w, 3, s), bn(w), conv(w, w, 3, 1), bn(w)];
      const down = s !== 1 || inC !== w ? [conv(inC, w, 1, s), bn(w)] : null;
      layers.push((x) => {
        const h = b2(c2(tf.relu(b1(c1(x)))));
        return tf.relu(tf.add(h, down ? down[1](down[0](x)) : x));
      });
      inC = w;
    }
  }
  const fcW = v([512, 100], "he");
  const fcB = v([100], "zero");
  return {
    params,
    logits: (x) => {
      let h = x;
      for (const l of layers) h = l(h);
      return tf.add(tf.matMul(tf.mean(h, [1, 2]), fcW), fcB);
    },
    dispose: () => tf.dispose(params),
  };
}

/** ms per training step (forward, backward, SGD update) of a CIFAR ResNet-18, median of `steps`. */
function trainStepMs(batch: number, steps: number, net: () => Net = libNet): number {
  const model = net();
  const params = model.params;
  const x = tf.randomNormal([batch, 32, 32, 3]);
  const y = tf.oneHot(tf.randomUniform([batch], 0, 100, "int32") as tf.Tensor1D, 100);
  const step = () =>
    tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.logits(x)) as tf.Scalar,
        params,
      );
      for (const p of params) p.assign(tf.sub(p, tf.mul(grads[p.name], 0.1)));
    });
  step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step();
    times.push(performance.now() - t0);
  }
  tf.dispose([x, y]);
  model.dispose();
  return median(times);
}

/** The distinct convolutions of a CIFAR ResNet-18 and its TESKD students: [H, Cin, Cout, k, stride]. */
const CONVS: [number, number, number, number, number][] = [
  [32, 3, 64, 3, 1],
  [32, 64, 64, 3, 1],
  [32, 64, 128, 3, 2],
  [16, 128, 128, 3, 1],
  [32, 64, 128, 1, 2],
  [16, 128, 256, 3, 2],
  [8, 256, 256, 3, 1],
  [8, 256, 512, 3, 2],
  [4, 512, 512, 3, 1],
  // TESKD students: laterals / upsample / fuse 1x1 convs and the stride-k heads.
  [32, 64, 512, 1, 1],
  [32, 512, 512, 1, 1],
  [16, 512, 512, 1, 1],
  [32, 512, 512, 8, 8],
];

function timeIt(f: () => tf.Tensor, reps: number): number {
  f().dispose();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = f();
    r.dataSync();
    t.push(performance.now() - t0);
    r.dispose();
  }
  return median(t);
}

/** GFLOP/s of each convolution shape (forward, filter gradient, input gradient) on each engine. */
function convTable(batch: number, engines: [string, ComputeKernels][]): string[] {
  const rows = [
    `conv (N,H,Cin→Cout,k,s)          ${
      engines.map(([name]) => `${name.padStart(6)}: fwd/dW/dX GF/s`).join("   ")
    }`,
  ];
  for (const [h, cin, cout, k, s] of CONVS) {
    const pad = k === s ? 0 : (k - 1) >> 1;
    const g = convGeometry([batch, h, h, cin], [k, k, cin, cout], [s, s], pad);
    const flops = 2 * batch * g.outHeight * g.outWidth * cout * k * k * cin;
    const rand = (n: number) => Float32Array.from({ length: n }, () => Math.random() - 0.5);
    const x = rand(batch * h * h * cin);
    const f = rand(k * k * cin * cout);
    const dy = rand(batch * g.outHeight * g.outWidth * cout);
    const gf = (ms: number) => (flops / ms / 1e6).toFixed(1).padStart(6);
    const cells = engines.map(([, e]) => {
      const fwd = timeMs(() => e.conv2d(x, f, g), 3);
      const dw = timeMs(() => e.conv2dBackpropFilter(x, dy, g), 3);
      const dx = timeMs(() => e.conv2dBackpropInput(dy, f, g), 3);
      return `${gf(fwd)} ${gf(dw)} ${gf(dx)}`.padStart(30);
    });
    rows.push(`${`${batch},${h},${cin}→${cout},${k}x${k},s${s}`.padEnd(32)} ${cells.join("   ")}`);
  }
  return rows;
}

/** Median ms of `reps` calls of `f` after one warm-up call. */
function timeMs(f: () => unknown, reps: number): number {
  f();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

type TorchMode = "baseline" | "teskd" | "infer";

/** PyTorch's median ms per step (or per inference batch), or why it is unavailable. */
async function torchMs(
  mode: TorchMode,
  batch: number,
  threads: number,
  steps: number,
): Promise<number | string> {
  const script = new URL("./torch_reference.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command(referencePython(), {
      args: [script, String(batch), String(threads), String(steps), mode],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      return `unavailable (${new TextDecoder().decode(out.stderr).trim().split("\n").pop()})`;
    }
    const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    return Number(r.ms_per_step);
  } catch (e) {
    return `unavailable (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** One product-path step measurement: ms, and MiB copied in and out of WebAssembly memory per step. */
interface StepResult {
  ms: number;
  copiedInMib: number;
  copiedOutMib: number;
}

/**
 * A product-path training step (baseline or full TESKD) measured in a child process
 * (bench/cpu_step.ts), or why it failed (e.g. killed for memory). `noResident` keeps every tensor
 * out of WebAssembly memory.
 */
async function productStep(
  batch: number,
  model: "baseline" | "teskd",
  steps: number,
  threads: number,
  engine: CpuEngineRequest,
  noResident = false,
): Promise<StepResult | string> {
  const script = new URL("./cpu_step.ts", import.meta.url).pathname;
  const args = ["run", "-A", script, String(batch), model, String(steps), String(threads)];
  const out = await new Deno.Command(Deno.execPath(), {
    args: noResident ? [...args, "no-resident"] : args,
    env: { TESKD_CPU_ENGINE: engine },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const why = out.signal === "SIGKILL"
      ? "killed (SIGKILL: out of memory?)"
      : new TextDecoder().decode(out.stderr).trim().split("\n").pop();
    return `failed: ${why}`;
  }
  const r = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
  return {
    ms: Number(r.ms_per_step),
    copiedInMib: Number(r.copied_in_mib),
    copiedOutMib: Number(r.copied_out_mib),
  };
}

/** ms per eval-mode forward pass of the deployed teacher (CIFAR ResNet-18) at `batch`. */
function inferMs(batch: number, steps: number): number {
  const model = createTeacher("cifarresnet18", { numClasses: 100, seed: 27 });
  model.eval();
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 3);
  try {
    return timeIt(() => tf.tidy(() => model.forward(x).logits), steps);
  } finally {
    x.dispose();
    model.dispose();
  }
}

/** One report line: ours, PyTorch's, and the ratio. */
function compare(
  what: string,
  ours: number,
  torch: number | string | null,
  unit: "ms/step" | "img/s",
  batch: number,
): string {
  const show = (ms: number) =>
    unit === "ms/step" ? `${ms.toFixed(0)} ms/step` : `${(batch / ms * 1000).toFixed(1)} img/s`;
  if (torch === null) return `${what}: ${show(ours)}`;
  if (typeof torch === "string") return `${what}: ${show(ours)}; PyTorch ${torch}`;
  return `${what}: ${show(ours)}, PyTorch ${show(torch)}; time / PyTorch's = ${
    (ours / torch).toFixed(2)
  }x`;
}

/**
 * Runs the CPU benchmark and prints its report.
 *
 * @example
 * ```ts
 * await benchCpu(["--batch", "32", "--threads", "2"]);
 * ```
 */
export async function benchCpu(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const info = await registerFastCpuBackend({ threads: o.threads });
  await tf.setBackend(info.name);
  console.log(`engine: ${info.engine} (tfjs backend "${info.name}"), ${o.threads} threads`);
  if (info.oneDnnUnavailable) console.log(`oneDNN not used: ${info.oneDnnUnavailable}`);
  // Both engines where oneDNN runs: its ratio and the WebAssembly-only ratio are separate targets.
  const engines: CpuEngineRequest[] = info.computeEngine === "onednn"
    ? ["onednn", "wasm"]
    : ["wasm"];
  const kernels = engines.map((e) =>
    [e, chooseComputeKernels(e, fastCpuRuntime()!, o.threads).kernels] as [string, ComputeKernels]
  );
  for (const r of convTable(o.batch, kernels)) console.log(r);
  if (!o.step) return;
  const torch = (mode: TorchMode, batch: number, steps = o.steps) =>
    o.torch ? torchMs(mode, batch, o.threads, steps) : Promise.resolve(null);
  const batches = o.batch128 && o.batch !== 128 ? [o.batch, 128] : [o.batch];
  for (const b of batches) {
    // Fewer timed steps at large batches: one TESKD step there takes over a minute.
    const steps = b >= 128 ? 1 : o.steps;
    for (
      const [model, what] of [
        ["baseline", `ResNet-18 baseline train step, batch ${b}`],
        ["teskd", `full TESKD train step (teacher + 3 students), batch ${b}`],
      ] as const
    ) {
      const ref = await torch(model, b, steps);
      const runs: [string, CpuEngineRequest, boolean][] = engines.map((e) => [e, e, false]);
      if (o.noResident) runs.push(["wasm without resident tensors", "wasm", true]);
      for (const [name, engine, noResident] of runs) {
        const ours = await productStep(b, model, steps, o.threads, engine, noResident);
        const label = `${what}, teskd-cpu ${name}`;
        console.log(
          typeof ours !== "string"
            ? compare(label, ours.ms, ref, "ms/step", b) +
              `; copied into / out of wasm memory per step: ${ours.copiedInMib} / ${ours.copiedOutMib} MiB`
            : `${label}: ${ours}; ` +
              `PyTorch ${typeof ref === "number" ? `${ref.toFixed(0)} ms/step` : ref ?? "not run"}`,
        );
      }
    }
  }
  const inf = inferMs(o.inferBatch, o.steps);
  console.log(
    compare(
      `teacher inference, batch ${o.inferBatch}, teskd-cpu ${info.computeEngine}`,
      inf,
      await torch("infer", o.inferBatch),
      "img/s",
      o.inferBatch,
    ),
  );
  if (o.plain) {
    const ms = trainStepMs(o.batch, o.steps);
    const plain = trainStepMs(o.batch, o.steps, plainNet);
    console.log(
      `CIFAR ResNet-18 (lib/models, SGD without momentum), batch ${o.batch}: ${
        ms.toFixed(0)
      } ms/step; ` +
        `same net in plain tfjs ops (tfjs conv gradients): ${plain.toFixed(0)} ms/step`,
    );
  }
  if (o.stockBatch > 0) {
    const fast = trainStepMs(o.stockBatch, 1);
    await tf.setBackend("cpu");
    const stock = trainStepMs(o.stockBatch, 1);
    await tf.setBackend(info.name);
    console.log(
      `batch ${o.stockBatch}: stock tfjs cpu ${stock.toFixed(0)} ms/step, teskd-cpu ${
        fast.toFixed(0)
      } ms/step (${(stock / fast).toFixed(1)}x faster)`,
    );
  }
}

if (import.meta.main) await benchCpu(Deno.args);
