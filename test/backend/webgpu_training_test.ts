/**
 * The WebGPU path trains the same as the CPU path: one TESKD step and one baseline step, from the same
 * seeded weights and data, on both engines. On CPU-only machines WebGPU runs on Mesa's llvmpipe (CI
 * installs mesa-vulkan-drivers), so the network is tiny; on a GPU machine the same test runs on hardware.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { type BackendName, initBackend } from "../../lib/backend/mod.ts";
import { createTeskd } from "../../lib/models/mod.ts";
import { Generator } from "../../lib/nn/mod.ts";
import { trainForwardBackward } from "../../lib/parity/mod.ts";
import { SGD } from "../../lib/train/sgd.ts";

interface StepNumbers {
  terms: Record<string, number>;
  gradSumsq: Map<string, number>;
  before: Map<string, Float32Array>;
  after: Map<string, Float32Array>;
}

/** One SGD step of a freshly built, seeded net; every number read back asynchronously (WebGPU-safe). */
async function stepOn(
  backend: BackendName,
  levels: ("8x8" | "16x16" | "32x32")[],
): Promise<StepNumbers> {
  await initBackend(backend, { allowSoftwareGpu: true, env: () => undefined });
  const g = new Generator(3);
  const n = 4, size = 16;
  const x = tf.tensor4d(
    Float32Array.from({ length: n * size * size * 3 }, () => 2 * g.uniform() - 1),
    [
      n,
      size,
      size,
      3,
    ],
  );
  const y = tf.tensor1d([0, 1, 2, 3], "int32");
  const net = createTeskd("cifarresnet18", {
    numClasses: 4,
    widthMultiplier: 1 / 16,
    seed: 9,
    levels,
  });
  const sgd = new SGD(net.namedParameters(), {
    lr: 0.05,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
  });
  const before = new Map<string, Float32Array>();
  for (const p of net.namedParameters()) {
    before.set(p.name, (await p.variable.data()) as Float32Array);
  }
  const r = trainForwardBackward(net, x, y, {});
  const terms: Record<string, number> = {};
  for (const [k, t] of Object.entries(r.terms)) terms[k] = (await t.data())[0];
  const gradSumsq = new Map<string, number>();
  for (const [name, grad] of r.grads) {
    const s = tf.sum(tf.square(grad));
    gradSumsq.set(name, (await s.data())[0]);
    s.dispose();
  }
  sgd.step(r.grads);
  const after = new Map<string, Float32Array>();
  for (const p of net.namedParameters()) {
    after.set(p.name, (await p.variable.data()) as Float32Array);
  }
  tf.dispose([
    x,
    y,
    r.total,
    ...Object.values(r.terms),
    ...r.outputs.values(),
    ...r.grads.values(),
  ]);
  sgd.dispose();
  net.dispose();
  return { terms, gradSumsq, before, after };
}

/**
 * Tolerances: both engines compute in float32 with different summation orders; at batch 4 BatchNorm
 * divides by small batch variances, which amplifies those rounding differences in the gradients
 * (the parity fixtures see float32-vs-float64 gradient drift of up to ~1e-3 relative for the same reason).
 */
function assertSameStep(cpu: StepNumbers, gpu: StepNumbers): void {
  for (const [k, v] of Object.entries(cpu.terms)) {
    assert.ok(
      Math.abs(gpu.terms[k] - v) <= 1e-4 * Math.abs(v) + 1e-6,
      `${k}: ${gpu.terms[k]} vs ${v}`,
    );
  }
  const largest = Math.max(...cpu.gradSumsq.values());
  for (const [name, v] of cpu.gradSumsq) {
    const w = gpu.gradSumsq.get(name)!;
    // Mathematically-zero gradients (conv biases before BatchNorm) are compared against the largest.
    assert.ok(Math.abs(w - v) <= 1e-3 * v + 1e-9 * largest, `grad sumsq ${name}: ${w} vs ${v}`);
  }
  // The update itself agrees as well as the gradients it comes from (about 1e-3 relative): a
  // parameter that starts at zero (a BatchNorm bias) is all update, so its bound is the step's size.
  for (const [name, p] of cpu.after) {
    const q = gpu.after.get(name)!;
    const p0 = cpu.before.get(name)!;
    const scale = Math.max(...p.map(Math.abs));
    const step = Math.max(...p.map((v, i) => Math.abs(v - p0[i])));
    const worst = Math.max(...p.map((v, i) => Math.abs(v - q[i])));
    assert.ok(
      worst <= 1e-5 * scale + 2e-3 * step + 1e-9,
      `${name} after step: worst difference ${worst} (values up to ${scale}, step up to ${step})`,
    );
  }
}

Deno.test("WebGPU trains the full TESKD model like the CPU path", async () => {
  const cpu = await stepOn("cpu", ["8x8", "16x16", "32x32"]);
  const gpu = await stepOn("webgpu", ["8x8", "16x16", "32x32"]);
  assert.ok(["ce_sum", "kd_sum", "fea_sum"].every((k) => k in gpu.terms));
  assertSameStep(cpu, gpu);
  await initBackend("cpu", { env: () => undefined });
});

Deno.test("WebGPU trains the baseline teacher like the CPU path", async () => {
  const cpu = await stepOn("cpu", []);
  const gpu = await stepOn("webgpu", []);
  assert.deepEqual(Object.keys(gpu.terms).sort(), Object.keys(cpu.terms).sort());
  assertSameStep(cpu, gpu);
  await initBackend("cpu", { env: () => undefined });
});
