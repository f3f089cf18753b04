// The fused training kernels teskd-cpu registers — SGD with momentum and training-mode batch norm —
// against the composite tfjs formulas they replace, which run on the stock cpu backend (where the
// fused kernels do not exist, so lib/ takes its composite path).
import assert from "node:assert/strict";
import { maxRelErr } from "./numerics.ts";
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import { BN_TRAIN_KERNEL, fusedBatchNormTrain } from "../../lib/backend/fused_batchnorm.ts";
import { SGD_MOMENTUM_KERNEL } from "../../lib/backend/fused_sgd.ts";
import { SGD, type SGDOptions } from "../../lib/train/sgd.ts";
import { BatchNorm2d } from "../../lib/nn/batchnorm.ts";

await registerFastCpuBackend({ threads: 2, engine: "wasm" });

/** maxRelErr of two tensors' values. */
function relErr(a: tf.Tensor, b: tf.Tensor): number {
  return maxRelErr(a.dataSync(), b.dataSync());
}

/** Runs `f` counting the calls of teskd-cpu's kernel `kernel`; returns f's result and the count. */
async function countCalls<T>(kernel: string, f: () => T | Promise<T>): Promise<[T, number]> {
  const k = tf.getKernel(kernel, "teskd-cpu");
  assert.ok(k, `teskd-cpu registers ${kernel}`);
  const orig = k.kernelFunc;
  let n = 0;
  (k as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    n++;
    return orig(args);
  }) as tf.KernelFunc;
  try {
    return [await f(), n];
  } finally {
    (k as { kernelFunc: tf.KernelFunc }).kernelFunc = orig;
  }
}

/** Three SGD steps from the same start and gradients on `backend`; the parameters and buffers. */
async function sgdRun(backend: string, opts: SGDOptions): Promise<tf.Tensor[]> {
  await tf.setBackend(backend);
  const shapes = [[3, 3, 4, 5], [5], [7, 2]];
  const params = shapes.map((s, i) => ({
    name: `p${i}`,
    variable: tf.variable(tf.randomNormal(s, 0, 1, "float32", 10 + i)),
  }));
  const sgd = new SGD(params, opts);
  for (let step = 0; step < 3; step++) {
    const grads = new Map(
      params.map((
        p,
        i,
      ) => [p.name, tf.randomNormal(shapes[i], 0, 1, "float32", 1 + 100 * step + i)]),
    );
    // The second parameter skips step 1: its buffer must neither decay nor move.
    if (step === 1) grads.get("p1")!.dispose(), grads.delete("p1");
    sgd.step(grads);
    tf.dispose([...grads.values()]);
  }
  const out = [...params.map((p) => p.variable.clone()), ...sgd.state().momentumBuffers.values()];
  sgd.dispose();
  tf.dispose(params.map((p) => p.variable));
  return out;
}

Deno.test("fused SGD momentum matches the composite update (Nesterov, plain, dampening)", async () => {
  const settings: SGDOptions[] = [
    { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    { lr: 0.05, momentum: 0.8, weightDecay: 1e-3 },
    { lr: 0.2, momentum: 0.5, dampening: 0.3 },
  ];
  for (const opts of settings) {
    const ref = await sgdRun("cpu", opts);
    const [out, n] = await countCalls(SGD_MOMENTUM_KERNEL, () => sgdRun("teskd-cpu", opts));
    assert.equal(n, 8, "3 parameters × 3 steps, less the skipped one, ran fused");
    assert.equal(out.length, ref.length);
    out.forEach((t, i) => {
      assert.ok(
        relErr(t, ref[i]) <= 1e-6,
        `${JSON.stringify(opts)} tensor ${i}: ${relErr(t, ref[i])}`,
      );
    });
    tf.dispose([...out, ...ref]);
  }
});

/** The composite formula of lib/nn/batchnorm.ts. */
function compositeBatchNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number) {
  const axes = x.rank === 4 ? [0, 1, 2] : [0];
  const mean = tf.mean(x, axes);
  const centered = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centered), axes);
  const y = tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  return { y, mean, variance };
}

Deno.test("fused batch norm: output, statistics and all three gradients match the composite", async () => {
  for (const shape of [[4, 5, 6, 8], [16, 3], [2, 7, 7, 33]]) {
    const c = shape[shape.length - 1];
    await tf.setBackend("teskd-cpu");
    const x = tf.randomNormal(shape, 2, 3, "float32", 1);
    const gamma = tf.randomNormal([c], 1, 0.5, "float32", 2);
    const beta = tf.randomNormal([c], 0, 1, "float32", 3);
    const dy = tf.randomNormal(shape, 0, 1, "float32", 4);
    const loss = (bn: typeof compositeBatchNorm) => (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(bn(a, g, b, 1e-5).y, dy));
    const fused = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number) =>
      fusedBatchNormTrain(a, g, b, eps)!;
    const [got, calls] = await countCalls(BN_TRAIN_KERNEL, () => {
      const f = fused(x, gamma, beta, 1e-5);
      return [f.y, f.mean, f.variance, ...tf.grads(loss(fused))([x, gamma, beta])];
    });
    assert.equal(calls, 2, "the forward pass and the gradient's forward pass ran fused");
    await tf.setBackend("cpu");
    assert.equal(fusedBatchNormTrain(x, gamma, beta, 1e-5), null, "stock cpu has no fused kernel");
    const r = compositeBatchNorm(x, gamma, beta, 1e-5);
    const want = [r.y, r.mean, r.variance, ...tf.grads(loss(compositeBatchNorm))([x, gamma, beta])];
    const names = ["y", "mean", "variance", "dx", "dgamma", "dbeta"];
    got.forEach((t, i) => {
      assert.ok(relErr(t, want[i]) <= 1e-5, `[${shape}] ${names[i]}: ${relErr(t, want[i])}`);
    });
    tf.dispose([x, gamma, beta, dy, ...got, ...want]);
  }
  await tf.setBackend("teskd-cpu");
  const x = tf.zeros([2, 3, 3, 4]);
  assert.throws(
    () => fusedBatchNormTrain(x, tf.ones([5]), tf.zeros([5]), 1e-5),
    /TeskdBatchNormTrain: x has shape \[2,3,3,4\]; every per-channel input must have shape \[4\]/,
  );
  x.dispose();
});

Deno.test("BatchNorm2d trains the same on the fused kernels: output and running statistics", async () => {
  const results: tf.Tensor[][] = [];
  for (const backend of ["cpu", "teskd-cpu"]) {
    await tf.setBackend(backend);
    const bn = new BatchNorm2d(6);
    const outs: tf.Tensor[] = [];
    for (let step = 0; step < 3; step++) {
      const x = tf.randomNormal([4, 5, 5, 6], step, 2, "float32", 20 + step);
      outs.push(bn.forward(x));
      x.dispose();
    }
    const named = new Map(bn.namedTensors().map((t) => [t.name, t.variable]));
    outs.push(named.get("running_mean")!.clone(), named.get("running_var")!.clone());
    assert.equal(named.get("num_batches_tracked")!.dataSync()[0], 3);
    results.push(outs);
    bn.dispose();
  }
  results[1].forEach((t, i) => assert.ok(relErr(t, results[0][i]) <= 1e-5, `tensor ${i}`));
  tf.dispose(results.flat());
});
