/**
 * Per-kernel time of one training step on the teskd-cpu backend (the product path of
 * bench/train_step.ts): `deno run -A bench/cpu_profile.ts [batch=32] [threads=2] [--baseline] [--shapes]`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../lib/backend/cpu/mod.ts";
import { makeTrainStep } from "./train_step.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const baseline = Deno.args.includes("--baseline");
const batch = Number(args[0] ?? 32);
const threads = Number(args[1] ?? 2);
const info = await registerFastCpuBackend({ threads });
await tf.setBackend(info.name);
const step = makeTrainStep(batch, !baseline);
step.run();
const t0 = performance.now();
const prof = await tf.profile(() => {
  step.run();
});
const total = performance.now() - t0;
const byKernel = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const e = byKernel.get(k.name) ?? { ms: 0, n: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.n++;
  byKernel.set(k.name, e);
}
const byShape = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
  const e = byShape.get(key) ?? { ms: 0, n: 0 };
  e.ms += Number(k.kernelTimeMs);
  e.n++;
  byShape.set(key, e);
}
const rows = [...byKernel].sort((a, b) => b[1].ms - a[1].ms);
const sum = rows.reduce((s, [, e]) => s + e.ms, 0);
console.log(
  `${info.engine}, ${baseline ? "baseline" : "TESKD"} batch ${batch}: step ${
    total.toFixed(0)
  } ms (profiled), kernels ${sum.toFixed(0)} ms`,
);
for (const [name, e] of rows.slice(0, 30)) {
  console.log(
    `${name.padEnd(24)} ${e.ms.toFixed(1).padStart(9)} ms  ${String(e.n).padStart(4)} calls`,
  );
}
if (Deno.args.includes("--shapes")) {
  console.log("by kernel and input shapes:");
  for (const [key, e] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40)) {
    console.log(`${e.ms.toFixed(1).padStart(9)} ms ${String(e.n).padStart(4)}x  ${key}`);
  }
}
step.dispose();
