import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { SGD, type SGDParam } from "../../lib/train/sgd.ts";

await initBackend("cpu");

function param(name: string, values: number[]): SGDParam {
  return {
    name,
    variable: tf.variable(tf.tensor1d(values), true, `sgd_test/${name}/${crypto.randomUUID()}`),
  };
}

function close(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * Math.max(1, Math.abs(expected[i])),
      `index ${i}: got ${actual[i]}, expected ${expected[i]}`,
    );
  }
}

function grads(entries: [string, number[]][]): Map<string, tf.Tensor> {
  return new Map(entries.map(([n, v]) => [n, tf.tensor1d(v)]));
}

function disposeAll(m: Map<string, tf.Tensor>): void {
  for (const t of m.values()) t.dispose();
}

// Hand computation, lr 0.1, m 0.9, wd 0.01, p0 = [1, -2]:
// step 1, g = [0.5, 0.25]: g' = g + wd·p = [0.51, 0.23]; buf = g' (first step)
//   Nesterov: p -= lr·(g' + m·buf) = 0.1·[0.969, 0.437] → [0.9031, -2.0437]
//   momentum: p -= lr·buf = 0.1·[0.51, 0.23]            → [0.949, -2.023]
// step 2, g = [-1, 0.5]:
//   Nesterov: g' = [-0.990969, 0.479563]; buf = 0.9·[0.51, 0.23] + g' = [-0.531969, 0.686563]
//             p -= 0.1·(g' + 0.9·buf) = 0.1·[-1.4697411, 1.0974697] → [1.05007411, -2.15344697]
//   momentum: g' = [-0.99051, 0.47977]; buf = [-0.53151, 0.68677]; p → [1.002151, -2.091677]
Deno.test("SGD Nesterov matches hand-computed steps (first-step buf = g, second step)", () => {
  const p = param("w", [1, -2]);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true });
  const g1 = grads([["w", [0.5, 0.25]]]);
  opt.step(g1);
  close(p.variable.dataSync(), [0.9031, -2.0437]);
  let st = opt.state();
  close(st.momentumBuffers.get("w")!.dataSync(), [0.51, 0.23]);
  disposeAll(st.momentumBuffers);
  const g2 = grads([["w", [-1, 0.5]]]);
  opt.step(g2);
  close(p.variable.dataSync(), [1.05007411, -2.15344697]);
  st = opt.state();
  assert.equal(st.step, 2);
  close(st.momentumBuffers.get("w")!.dataSync(), [-0.531969, 0.686563]);
  disposeAll(st.momentumBuffers);
  disposeAll(g1);
  disposeAll(g2);
  opt.dispose();
  p.variable.dispose();
});

Deno.test("SGD plain momentum matches hand-computed steps", () => {
  const p = param("w", [1, -2]);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
  const g1 = grads([["w", [0.5, 0.25]]]);
  opt.step(g1);
  close(p.variable.dataSync(), [0.949, -2.023]);
  const g2 = grads([["w", [-1, 0.5]]]);
  opt.step(g2);
  close(p.variable.dataSync(), [1.002151, -2.091677]);
  disposeAll(g1);
  disposeAll(g2);
  opt.dispose();
  p.variable.dispose();
});

Deno.test("SGD without momentum: p -= lr·(g + wd·p); parameters without a gradient are untouched", () => {
  const a = param("a", [2]);
  const b = param("b", [3]);
  const opt = new SGD([a, b], { lr: 0.5, weightDecay: 0.1 });
  const g = grads([["a", [1]]]);
  opt.step(g);
  close(a.variable.dataSync(), [2 - 0.5 * (1 + 0.2)]);
  close(b.variable.dataSync(), [3]);
  assert.equal(opt.state().momentumBuffers.size, 0);
  disposeAll(g);
  a.variable.dispose();
  b.variable.dispose();
});

Deno.test("SGD param groups: weight decay excluded and lr scaled for matching parameters", () => {
  const w = param("conv.weight", [1]);
  const bias = param("conv.bias", [1]);
  const opt = new SGD([w, bias], {
    lr: 0.1,
    weightDecay: 0.5,
    groups: [{ match: (p) => p.name.endsWith(".bias"), weightDecay: 0, lrScale: 2 }],
  });
  const g = grads([["conv.weight", [1]], ["conv.bias", [1]]]);
  opt.step(g);
  close(w.variable.dataSync(), [1 - 0.1 * 1.5]);
  close(bias.variable.dataSync(), [1 - 0.2 * 1]);
  disposeAll(g);
  w.variable.dispose();
  bias.variable.dispose();
});

Deno.test("SGD state export/import continues exactly like an uninterrupted run", () => {
  const run = (split: boolean): Float32Array => {
    const p = param("w", [0.3, -0.7, 1.1]);
    let opt = new SGD([p], { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
    const gs = [[0.1, 0.2, -0.3], [0.4, -0.1, 0.05], [-0.2, 0.3, 0.1]];
    gs.forEach((v, i) => {
      if (split && i === 2) {
        const st = opt.state();
        opt.dispose();
        opt = new SGD([p], { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
        opt.loadState(st);
        disposeAll(st.momentumBuffers);
      }
      const g = grads([["w", v]]);
      opt.step(g);
      disposeAll(g);
    });
    const out = p.variable.dataSync().slice() as Float32Array;
    opt.dispose();
    p.variable.dispose();
    return out;
  };
  assert.deepEqual(run(true), run(false));
});

Deno.test("SGD leaks no tensors and rejects bad input clearly", () => {
  const p = param("w", [1, 2]);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
  const g = grads([["w", [1, 1]]]);
  opt.step(g);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) opt.step(g);
  assert.equal(tf.memory().numTensors, before);
  const bad = grads([["w", [1, 1, 1]]]);
  assert.throws(() => opt.step(bad), /gradient of "w" has shape \[3\], parameter has \[2\]/);
  const unknown = grads([["v", [1, 1]]]);
  assert.throws(() => opt.step(unknown), /unknown parameter "v"/);
  assert.throws(
    () => new SGD([p], { lr: 0.1, nesterov: true }),
    /Nesterov momentum requires momentum > 0/,
  );
  assert.throws(() => new SGD([p, p], { lr: 0.1 }), /"w" appears twice/);
  disposeAll(g);
  disposeAll(bad);
  disposeAll(unknown);
  opt.dispose();
  p.variable.dispose();
});

interface TorchFixture {
  lrs: number[];
  init: Record<string, number[]>;
  shapes: Record<string, number[]>;
  grads: Record<string, number[]>[];
  cases: Record<string, {
    hyper: { momentum: number; nesterov: boolean; weight_decay: number; dampening: number };
    after: Record<string, number[]>[];
  }>;
}

// Trajectories of torch.optim.SGD (PyTorch 1.13), made by fixtures/sgd_torch.py: three steps, a
// learning-rate change before the third, and a parameter without gradient at the second.
Deno.test("SGD follows torch.optim.SGD's trajectories (Nesterov, dampening, plain)", async () => {
  const fx = JSON.parse(
    await Deno.readTextFile(new URL("./fixtures/sgd_torch.json", import.meta.url)),
  ) as TorchFixture;
  for (const [name, c] of Object.entries(fx.cases)) {
    const params = Object.entries(fx.init).map(([k, v]) => ({
      name: k,
      variable: tf.variable(tf.tensor(v, fx.shapes[k]), true, `sgd_torch/${name}/${k}`),
    }));
    const opt = new SGD(params, {
      lr: fx.lrs[0],
      momentum: c.hyper.momentum,
      nesterov: c.hyper.nesterov,
      weightDecay: c.hyper.weight_decay,
      dampening: c.hyper.dampening,
    });
    fx.grads.forEach((step, i) => {
      opt.lr = fx.lrs[i];
      const g = new Map(Object.entries(step).map(([k, v]) => [k, tf.tensor(v, fx.shapes[k])]));
      opt.step(g);
      disposeAll(g);
      for (const p of params) {
        const want = c.after[i][p.name];
        const got = p.variable.dataSync();
        for (let j = 0; j < want.length; j++) {
          // float32 rounding: PyTorch fuses multiply-adds where tfjs rounds twice
          assert.ok(
            Math.abs(got[j] - want[j]) <= 2e-7 * Math.max(1, Math.abs(want[j])),
            `${name} step ${i + 1} ${p.name}[${j}]: ${got[j]} vs torch ${want[j]}`,
          );
        }
      }
    });
    opt.dispose();
    for (const p of params) p.variable.dispose();
  }
});
