// Scratch harness: runs a TESKD fixture's training steps on one engine and dumps every gradient
// (PyTorch layout) plus its errors against the fixture (when the salt is the fixture's).
// deno run -A test/precision/grad_dump.ts ENGINE FIXTURE SALT STEPS OUT.json
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import {
  buildFixtureModel,
  fixtureInput,
  fixtureLabels,
  loadFixture,
  summaryErrors,
  trainForwardBackward,
} from "../../lib/parity/mod.ts";
import { SGD } from "../../lib/train/sgd.ts";
import type { NamedTensor } from "../../lib/nn/module.ts";

const [engine, file, salt, stepsArg, out] = Deno.args;
await registerFastCpuBackend({ engine: engine as "wasm" | "onednn" });
await initBackend("cpu");
const fx = await loadFixture(file);
const same = salt === fx.salt;
if (!same) {
  fx.salt = salt;
  fx.labels = fixtureLabels(fx.batch, fx.num_classes, salt);
}
const distiller = buildFixtureModel(fx);
const params = distiller.module.trainableParameters();
const byName = new Map<string, NamedTensor>(params.map((p) => [p.name, p]));
let x = fixtureInput(fx.batch, fx.salt);
const perturb = Deno.env.get("PERTURB");
if (perturb) {
  // One-ulp perturbation of the input at random places (seeded): the conditioning probe.
  const v = x.dataSync().slice() as Float32Array;
  const bits = new Uint32Array(v.buffer);
  let s = Number(perturb) >>> 0 || 1;
  for (let i = 0; i < bits.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    if (s >>> 31) bits[i] += (s & 1) ? 1 : -1;
  }
  const shape = x.shape;
  x.dispose();
  x = tf.tensor4d(v, shape);
}
const labels = tf.tensor1d(fx.labels, "int32");
const sgd = new SGD(params, {
  lr: fx.hyper.lr,
  momentum: fx.hyper.momentum,
  weightDecay: fx.hyper.weight_decay,
  nesterov: true,
});
const result: Record<string, unknown>[] = [];
const chunks: Float32Array[] = [];
for (let k = 0; k < Number(stepsArg); k++) {
  const r = trainForwardBackward(distiller, x, labels);
  const grads: Record<string, [number, number]> = {};
  const errs: Record<string, unknown> = {};
  for (const [n, g] of r.grads) {
    const t = tf.tidy(() => byName.get(n)!.toTorch(g));
    const v = await t.data() as Float32Array;
    t.dispose();
    grads[n] = [chunks.reduce((a, c) => a + c.length, 0), v.length];
    chunks.push(v.slice());
    const ref = fx.train_steps[k]?.grad[n];
    if (same && ref && !ref.expected_zero) errs[n] = summaryErrors(v, ref);
  }
  const loss: Record<string, number> = { total: (await r.total.data())[0] };
  for (const [key, t] of Object.entries(r.terms)) loss[key] = (await t.data())[0];
  result.push({ grads, errs, loss });
  sgd.step(r.grads);
  tf.dispose([...r.outputs.values(), ...Object.values(r.terms), r.total, ...r.grads.values()]);
}
await Deno.writeTextFile(out, JSON.stringify({ engine, file, salt, steps: result }));
const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
let at = 0;
for (const c of chunks) {
  all.set(c, at);
  at += c.length;
}
await Deno.writeFile(out + ".f32", new Uint8Array(all.buffer));
