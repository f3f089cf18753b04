// The fused SGD update with its device-side guard, on WebGPU (two programs per parameter) and on
// teskd-cpu: the same numbers as the reference arithmetic, and nothing changed when the guard is 0,
// even for a NaN gradient.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { fusedSgdMomentum, type SgdMomentumAttrs } from "../../lib/backend/fused_sgd.ts";

/**
 * One step of torch.optim.SGD as its documentation states the algorithm, written out here (not the
 * library's arrays function, which the CPU kernel itself calls): float64 arithmetic.
 */
function torchSgdStep(
  param: Float32Array,
  grad: Float32Array,
  buf: Float32Array | null,
  a: SgdMomentumAttrs,
): [Float64Array, Float64Array] {
  const p = new Float64Array(param.length);
  const b = new Float64Array(param.length);
  for (let i = 0; i < param.length; i++) {
    let d = grad[i] + a.weightDecay * param[i];
    b[i] = buf === null ? d : a.momentum * buf[i] + (1 - a.dampening) * d;
    d = a.nesterov ? d + a.momentum * b[i] : b[i];
    p[i] = param[i] - a.lr * d;
  }
  return [p, b];
}

const ATTRS: SgdMomentumAttrs[] = [
  { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true },
  { lr: 0.05, momentum: 0.8, dampening: 0.1, weightDecay: 0, nesterov: false },
];

for (const engine of ["webgpu", "cpu"] as const) {
  Deno.test({
    name: `fused SGD with a guard on ${engine}: the reference update, or nothing at all`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      await initBackend(engine, { allowSoftwareGpu: true, env: () => undefined });
      try {
        const shape = [3, 5, 7];
        const n = 105;
        const param = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 2);
        const grad = Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7));
        const buf = Float32Array.from({ length: n }, (_, i) => 0.01 * i - 0.5);
        const p = tf.tensor(param, shape);
        const g = tf.tensor(grad, shape);
        const b = tf.tensor(buf, shape);
        const nan = tf.fill(shape, NaN);
        for (const a of ATTRS) {
          for (const first of [false, true]) {
            const [wantP, wantB] = torchSgdStep(param, grad, first ? null : buf, a);
            for (const guard of [undefined, 1]) {
              const ok = guard === undefined ? undefined : tf.scalar(guard);
              const [pOut, bOut] = fusedSgdMomentum(p, g, first ? undefined : b, a, ok)!;
              assert.deepEqual(pOut.shape, shape);
              const [gotP, gotB] = [await pOut.data(), await bOut.data()];
              for (let i = 0; i < n; i++) {
                // float32 results against float64 arithmetic
                assert.ok(
                  Math.abs(gotP[i] - wantP[i]) <= 1e-6 * (1 + Math.abs(wantP[i])),
                  `p ${i}`,
                );
                assert.ok(
                  Math.abs(gotB[i] - wantB[i]) <= 1e-6 * (1 + Math.abs(wantB[i])),
                  `b ${i}`,
                );
              }
              tf.dispose([pOut, bOut, ...(ok ? [ok] : [])]);
            }
            // guard 0: the parameter and buffer stay exactly, a NaN gradient notwithstanding
            const zero = tf.scalar(0);
            const [pOut, bOut] = fusedSgdMomentum(p, nan, first ? undefined : b, a, zero)!;
            assert.deepEqual(await pOut.data(), param);
            assert.deepEqual(await bOut.data(), first ? new Float32Array(n) : buf);
            tf.dispose([pOut, bOut, zero]);
          }
        }
        tf.dispose([p, g, b, nan]);
      } finally {
        await initBackend("cpu", { env: () => undefined });
      }
    },
  });
}
