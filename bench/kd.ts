/**
 * `deno task bench kd [--batch 64] [--threads 2] [--steps 3] [--methods kd,simkd] [--no-torch]`: one
 * training step of each teacher→student method for the official pair ResNet-32x4 → ResNet-8x4, through
 * the real `Trainer` (frozen teacher outside the gradient tape, SGD over the student and the method's
 * modules), next to PyTorch running the same step on the same cores in the same run
 * (bench/torch_kd_reference.py, the teacher under `no_grad`). Also the teacher's forward pass alone
 * (inference), and its share of a step: a frozen teacher should cost what inference costs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/backend/mod.ts";
import type { Batch } from "../lib/data/types.ts";
import { buildDistiller, resolveMethodConfig } from "../lib/distill/registry.ts";
import { createNetwork } from "../lib/models/registry.ts";
import { Trainer } from "../lib/train/trainer.ts";

interface Options {
  batch: number;
  threads: number;
  steps: number;
  methods: string[];
  torch: boolean;
}

function parseArgs(args: string[]): Options {
  const o: Options = { batch: 64, threads: 2, steps: 3, methods: ["kd", "simkd"], torch: true };
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
    else throw new Error(`bench kd: unknown argument ${a}`);
  }
  return o;
}

/** The same random batch every step (the data pipeline is measured by `bench data`). */
function fixedData(batch: number, steps: number) {
  const x = new Float32Array(batch * 32 * 32 * 3).map(() => Math.random() * 2 - 1);
  const y = Int32Array.from({ length: batch }, (_, i) => (i * 37) % 100);
  const b: Batch = { x, y, n: batch, height: 32, width: 32, channels: 3 };
  return {
    batchesPerEpoch: steps,
    async *epoch() {
      for (let i = 0; i < steps; i++) yield b;
    },
  };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

async function torchReference(method: string, o: Options): Promise<Record<string, number> | null> {
  const script = new URL("./torch_kd_reference.py", import.meta.url).pathname;
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [script, method, String(o.batch), String(o.threads), String(o.steps)],
    stdout: "piped",
    stderr: "piped",
  }).output().catch((e) => ({ success: false, stdout: new Uint8Array(), stderr: e.message }));
  if (!out.success) {
    console.log(
      `  PyTorch: not measured (${
        new TextDecoder().decode(out.stderr as Uint8Array).trim().split("\n").at(-1)
      })`,
    );
    return null;
  }
  return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
}

/** Runs the benchmark. */
export async function benchKd(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const info = await initBackend("cpu");
  console.log(`bench kd: resnet32x4 → resnet8x4, batch ${o.batch}, ${o.steps} timed steps`);
  console.log(`engine: ${info.name} (${info.cpuEngine ?? info.reason})`);
  const teacher = createNetwork("resnet32x4", { numClasses: 100, seed: 1 }).freeze();
  const x = tf.randomNormal([o.batch, 32, 32, 3]);
  const teacherMs: number[] = [];
  for (let i = 0; i <= o.steps; i++) {
    const t0 = performance.now();
    const logits = tf.tidy(() => teacher.features(x).logits);
    await logits.data();
    logits.dispose();
    if (i > 0) teacherMs.push(performance.now() - t0); // the first is warm-up
  }
  const inferMs = median(teacherMs);
  console.log(`teacher inference (forward, no tape): ${inferMs.toFixed(0)} ms`);
  for (const method of o.methods) {
    const student = createNetwork("resnet8x4", { numClasses: 100, seed: 2 });
    const distiller = buildDistiller(resolveMethodConfig(method), {
      student,
      teacher,
      inputSize: 32,
      seed: 3,
    });
    // Time the frozen forward inside the step by wrapping it.
    const frozenMs: number[] = [];
    const frozen = distiller.frozenForward!.bind(distiller);
    distiller.frozenForward = (input) => {
      const t0 = performance.now();
      const out = frozen(input);
      (out.teacher.logits as tf.Tensor).dataSync();
      frozenMs.push(performance.now() - t0);
      return out;
    };
    const stepMs: number[] = [];
    const trainer = new Trainer({
      distiller,
      data: fixedData(o.batch, o.steps + 1),
      optimizer: { momentum: 0.9, weightDecay: 5e-4 },
      schedule: { kind: "constant", baseLr: 0.05, epochs: 1 },
      onStep: (s) => stepMs.push((1000 * s.images) / s.imagesPerSecond),
    });
    await trainer.fit();
    const ms = median(stepMs.slice(1));
    const inStep = median(frozenMs.slice(1));
    trainer.optimizer.dispose();
    distiller.module.dispose();
    const ref = o.torch ? await torchReference(method, o) : null;
    console.log(
      `${method.padEnd(6)} step ${ms.toFixed(0)} ms (${(o.batch / ms * 1000).toFixed(1)} img/s); ` +
        `teacher forward in the step ${inStep.toFixed(0)} ms = ${
          (100 * inStep / ms).toFixed(0)
        }% ` +
        `of the step, ${(inStep / inferMs).toFixed(2)}× inference`,
    );
    if (ref) {
      console.log(
        `       PyTorch ${ref.torch}: step ${ref.ms_per_step.toFixed(0)} ms, teacher forward ` +
          `${ref.teacher_forward_ms.toFixed(0)} ms = ${
            (100 * ref.teacher_forward_ms / ref.ms_per_step).toFixed(0)
          }%` +
          ` → ratio ours/PyTorch ${(ms / ref.ms_per_step).toFixed(2)}× (goal ≤ 1.0)`,
      );
    }
  }
  x.dispose();
  teacher.dispose();
}
