/**
 * CPU benchmark of the teskd-cpu backend: ms per CIFAR ResNet-18 training step, GFLOP/s per
 * convolution shape, and PyTorch's ms/step for the same model, batch and thread count.
 *
 * `deno run -A bench/cpu.ts [--batch 32] [--threads 2] [--steps 3] [--stock-batch B] [--no-torch | --convs-only]`
 *
 * `--stock-batch B` also times one step of tfjs's stock `cpu` backend, and of teskd-cpu, at batch B
 * (stock cpu is slow: use a small B).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../lib/backend/cpu/mod.ts";
import { ResNet } from "../lib/models/resnet.ts";

interface Options {
  batch: number;
  threads: number;
  steps: number;
  torch: boolean;
  step: boolean;
  stockBatch: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { batch: 32, threads: 2, steps: 3, torch: true, step: true, stockBatch: 0 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--no-torch" || a === "--convs-only") {
      o.torch = false;
      if (a === "--convs-only") o.step = false;
      continue;
    }
    const key = a.replace(/^--/, "").replace("stock-batch", "stockBatch");
    if (key !== "batch" && key !== "threads" && key !== "steps" && key !== "stockBatch") {
      throw new Error(
        `bench cpu: unknown argument ${a} (use --batch, --threads, --steps, --stock-batch, --no-torch, --convs-only)`,
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

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
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

/** The distinct convolutions of a CIFAR ResNet-18: [H (input), Cin, Cout, k, stride]. */
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

function convTable(batch: number): string[] {
  const rows = ["conv (N,H,Cin→Cout,k,s)          fwd GF/s  dW GF/s  dX GF/s"];
  for (const [h, cin, cout, k, s] of CONVS) {
    const pad = (k - 1) >> 1;
    const oh = Math.floor((h + 2 * pad - k) / s) + 1;
    const flops = 2 * batch * oh * oh * cout * k * k * cin;
    const x = tf.randomNormal([batch, h, h, cin]) as tf.Tensor4D;
    const f = tf.randomNormal([k, k, cin, cout]) as tf.Tensor4D;
    const dy = tf.randomNormal([batch, oh, oh, cout]) as tf.Tensor4D;
    const p = pad === 0 ? "valid" : [[0, 0], [pad, pad], [pad, pad], [0, 0]] as [
      [number, number],
      [number, number],
      [number, number],
      [number, number],
    ];
    const fwd = timeIt(() => tf.conv2d(x, f, s, p), 3);
    const attrs = { strides: s, pad: p, dataFormat: "NHWC", dimRoundingMode: undefined };
    const run = (name: string, inputs: tf.NamedTensorMap, extra: tf.NamedAttrMap) => () =>
      tf.engine().runKernel(
        name,
        inputs,
        { ...attrs, ...extra } as unknown as tf.NamedAttrMap,
      ) as tf.Tensor;
    const dw = timeIt(run(tf.Conv2DBackpropFilter, { x, dy }, { filterShape: f.shape }), 3);
    const dx = timeIt(run(tf.Conv2DBackpropInput, { dy, filter: f }, { inputShape: x.shape }), 3);
    const gf = (ms: number) => (flops / ms / 1e6).toFixed(1).padStart(8);
    rows.push(
      `${`${batch},${h},${cin}→${cout},${k}x${k},s${s}`.padEnd(32)} ${gf(fwd)} ${gf(dw)} ${gf(dx)}`,
    );
    tf.dispose([x, f, dy]);
  }
  return rows;
}

async function torchMs(o: Options): Promise<number | string> {
  const script = new URL("./torch_reference.py", import.meta.url).pathname;
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, String(o.batch), String(o.threads), String(o.steps)],
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
  console.log(`engine: ${info.engine} (tfjs backend "${info.name}")`);
  for (const r of convTable(o.batch)) console.log(r);
  if (!o.step) return;
  const ms = trainStepMs(o.batch, o.steps);
  console.log(
    `CIFAR ResNet-18 (lib/models) training step, batch ${o.batch}: ${ms.toFixed(0)} ms/step`,
  );
  const plain = trainStepMs(o.batch, o.steps, plainNet);
  console.log(
    `CIFAR ResNet-18 (plain tfjs ops, native conv gradients), batch ${o.batch}: ${
      plain.toFixed(0)
    } ms/step`,
  );
  if (o.torch) {
    const t = await torchMs(o);
    if (typeof t === "number") {
      console.log(
        `PyTorch, ${o.threads} threads: ${t.toFixed(0)} ms/step; teskd-cpu / PyTorch = ${
          (ms / t).toFixed(2)
        }x`,
      );
    } else console.log(`PyTorch: ${t}`);
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
