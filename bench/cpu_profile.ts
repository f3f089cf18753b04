/**
 * Per-kernel time of one CIFAR ResNet-18 training step on the teskd-cpu backend:
 * `deno run -A bench/cpu_profile.ts [batch=8] [threads=2]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../lib/backend/cpu/mod.ts";
import { ResNet } from "../lib/models/resnet.ts";

const batch = Number(Deno.args[0] ?? 8);
const threads = Number(Deno.args[1] ?? 2);
const info = await registerFastCpuBackend({ threads });
await tf.setBackend(info.name);
const model = new ResNet("cifar", { depth: 18, numClasses: 100, seed: 1 });
model.train();
const x = tf.randomNormal([batch, 32, 32, 3]);
const y = tf.oneHot(tf.randomUniform([batch], 0, 100, "int32") as tf.Tensor1D, 100);
const step = () =>
  tf.tidy(() => {
    const { grads, value } = tf.variableGrads(
      () => tf.losses.softmaxCrossEntropy(y, model.forward(x).logits) as tf.Scalar,
      model.parameters(),
    );
    for (const [name, g] of Object.entries(grads)) {
      const v = model.parameters().find((p) => p.name === name);
      v?.assign(tf.sub(v, tf.mul(g, 0.01)));
    }
    return value;
  });
step().dispose();
const t0 = performance.now();
const prof = await tf.profile(() => step());
const total = performance.now() - t0;
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.n++;
  byKernel.set(k.name, e);
}
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
console.log(`${info.engine}, batch ${batch}: step ${total.toFixed(0)} ms (profiled)`);
for (const [name, e] of rows.slice(0, 25)) {
  console.log(
    `${name.padEnd(24)} ${e.ms.toFixed(1).padStart(9)} ms  ${String(e.n).padStart(4)} calls`,
  );
}
