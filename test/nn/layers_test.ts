import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import {
  BatchNorm2d,
  Conv2d,
  conv2dValid,
  Generator,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
  UpsampleBilinear2x,
} from "../../lib/nn/mod.ts";

await tf.setBackend("cpu");

/** Deterministic test values. */
function values(n: number, seed: number): Float32Array {
  const g = new Generator(seed);
  return Float32Array.from({ length: n }, () => 2 * g.uniform() - 1);
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("Conv2d pads symmetrically at stride 2 (PyTorch), weights exported OIHW", () => {
  const [N, H, W, I, O, K, S, P] = [1, 4, 4, 2, 3, 3, 2, 1];
  const conv = new Conv2d(I, O, K, { stride: S, padding: P, rng: new Generator(3) });
  const sd = conv.stateDict();
  assert.deepEqual(sd.get("weight")!.shape, [O, I, K, K]);
  const w = sd.get("weight")!.dataSync(); // OIHW
  const b = sd.get("bias")!.dataSync();
  const xv = values(N * H * W * I, 5); // NHWC
  const y = tf.tidy(() => conv.forward(tf.tensor4d(xv, [N, H, W, I])));
  assert.deepEqual(y.shape, [1, 2, 2, O]);
  // Direct PyTorch definition: out[o, oy, ox] = b[o] + Σ w[o,i,ky,kx] · x[i, oy·S + ky − P, ox·S + kx − P].
  const ref: number[] = [];
  for (let oy = 0; oy < 2; oy++) {
    for (let ox = 0; ox < 2; ox++) {
      for (let o = 0; o < O; o++) {
        let s = b[o];
        for (let i = 0; i < I; i++) {
          for (let ky = 0; ky < K; ky++) {
            for (let kx = 0; kx < K; kx++) {
              const iy = oy * S + ky - P;
              const ix = ox * S + kx - P;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              s += w[((o * I + i) * K + ky) * K + kx] * xv[(iy * W + ix) * I + i];
            }
          }
        }
        ref.push(s);
      }
    }
  }
  close(y.dataSync(), ref, 1e-5, "conv");
  tf.dispose([y, ...sd.values()]);
  conv.dispose();
});

Deno.test("Linear exports [out, in] and computes x·Wᵀ + b", () => {
  const lin = new Linear(3, 2, { rng: new Generator(1) });
  const w = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
  const b = tf.tensor1d([0.5, -1]);
  lin.loadStateDict(new Map<string, tf.Tensor>([["weight", w], ["bias", b]]));
  const y = tf.tidy(() => lin.forward(tf.tensor2d([[1, 0, -1]])));
  close(y.dataSync(), [1 - 3 + 0.5, 4 - 6 - 1], 1e-6, "linear");
  tf.dispose([w, b, y]);
  lin.dispose();
});

Deno.test("BatchNorm2d: batch statistics, unbiased running variance, counter, eval mode", () => {
  const C = 2;
  const bn = new BatchNorm2d(C);
  const xv = values(2 * 2 * 3 * C, 9); // N=2, H=2, W=3
  const x = tf.tensor4d(xv, [2, 2, 3, C]);
  const y = tf.tidy(() => bn.forward(x));
  const n = 12;
  const out = y.dataSync();
  for (let c = 0; c < C; c++) {
    const xs = Array.from({ length: n }, (_, k) => xv[k * C + c]);
    const mean = xs.reduce((a, v) => a + v, 0) / n;
    const ss = xs.reduce((a, v) => a + (v - mean) ** 2, 0);
    const ref = xs.map((v) => (v - mean) / Math.sqrt(ss / n + 1e-5));
    close(Array.from({ length: n }, (_, k) => out[k * C + c]), ref, 1e-5, `bn out c${c}`);
    close([bn.runningMean.dataSync()[c]], [0.1 * mean], 1e-6, "running_mean");
    close([bn.runningVar.dataSync()[c]], [0.9 + 0.1 * ss / (n - 1)], 1e-6, "running_var");
  }
  assert.equal(bn.numBatchesTracked.dataSync()[0], 1);
  bn.eval();
  const rm = bn.runningMean.dataSync();
  const rv = bn.runningVar.dataSync();
  const ye = tf.tidy(() => bn.forward(x)).dataSync();
  for (let k = 0; k < n * C; k++) {
    const c = k % C;
    close([ye[k]], [(xv[k] - rm[c]) / Math.sqrt(rv[c] + 1e-5)], 1e-5, "bn eval");
  }
  assert.equal(bn.numBatchesTracked.dataSync()[0], 1, "eval mode does not count batches");
  tf.dispose([x, y]);
  bn.dispose();
});

/** align_corners=True weights of output index o for input size n → 2n. */
function taps(o: number, n: number): [number, number, number, number] {
  const src = n === 1 ? 0 : (o * (n - 1)) / (2 * n - 1);
  const i0 = Math.floor(src);
  const i1 = Math.min(i0 + 1, n - 1);
  const f = src - i0;
  return [i0, i1, 1 - f, f];
}

Deno.test("bilinear ×2 with align_corners matches the definition, value and gradient", () => {
  const [h, w] = [3, 2];
  const xv = values(h * w, 4);
  const up = new UpsampleBilinear2x();
  const x = tf.tensor4d(xv, [1, h, w, 1]);
  const y = tf.tidy(() => up.forward(x)).dataSync();
  const gw = values(4 * h * w, 8); // upstream gradient
  const refY: number[] = [];
  const refG = new Array(h * w).fill(0);
  for (let oy = 0; oy < 2 * h; oy++) {
    const [y0, y1, wy0, wy1] = taps(oy, h);
    for (let ox = 0; ox < 2 * w; ox++) {
      const [x0, x1, wx0, wx1] = taps(ox, w);
      const terms: [number, number][] = [
        [y0 * w + x0, wy0 * wx0],
        [y0 * w + x1, wy0 * wx1],
        [y1 * w + x0, wy1 * wx0],
        [y1 * w + x1, wy1 * wx1],
      ];
      refY.push(terms.reduce((s, [i, c]) => s + c * xv[i], 0));
      for (const [i, c] of terms) refG[i] += c * gw[oy * 2 * w + ox];
    }
  }
  close(y, refY, 1e-6, "upsample");
  const g = tf.grad((t: tf.Tensor) =>
    tf.sum(tf.mul(up.forward(t), tf.tensor4d(gw, [1, 2 * h, 2 * w, 1])))
  )(x);
  close(g.dataSync(), refG, 1e-5, "upsample grad");
  tf.dispose([x, g]);
});

Deno.test("MaxPool2d pads with −∞ like PyTorch", () => {
  const x = tf.tensor4d([-5, -4, -3, -2], [1, 2, 2, 1]);
  const y = tf.tidy(() => new MaxPool2d(3, 2, 1).forward(x));
  assert.deepEqual(Array.from(y.dataSync()), [-2]);
  tf.dispose([x, y]);
});

Deno.test("Sequential names, default init bounds, seeding, loadStateDict errors", () => {
  const mk = (seed: number) =>
    new Sequential([
      new Conv2d(4, 8, 3, { padding: 1, bias: false, rng: new Generator(seed) }),
      new BatchNorm2d(8),
      new ReLU(),
    ]);
  const a = mk(7);
  assert.deepEqual(a.namedTensors().map((t) => t.name), [
    "0.weight",
    "1.weight",
    "1.bias",
    "1.running_mean",
    "1.running_var",
    "1.num_batches_tracked",
  ]);
  assert.deepEqual(a.namedParameters().map((t) => t.name), ["0.weight", "1.weight", "1.bias"]);
  const w = a.namedParameters()[0].variable.dataSync();
  const bound = 1 / Math.sqrt(4 * 9); // kaiming_uniform(a=√5) = U(±1/√fan_in)
  assert.ok(w.every((v) => Math.abs(v) <= bound));
  assert.ok(Math.max(...w.map(Math.abs)) > 0.9 * bound);
  const b = mk(7);
  const c = mk(8);
  assert.deepEqual(b.namedParameters()[0].variable.dataSync(), w, "same seed, same weights");
  assert.notDeepEqual(c.namedParameters()[0].variable.dataSync(), w, "other seed, other weights");
  const sd = a.stateDict();
  b.loadStateDict(sd);
  const extra = new Map(sd);
  extra.set("2.weight", tf.zeros([1]));
  assert.throws(() => b.loadStateDict(extra), /unexpected 1: 2\.weight/);
  const missing = new Map(sd);
  missing.delete("1.bias");
  assert.throws(() => b.loadStateDict(missing), /missing 1: 1\.bias/);
  b.loadStateDict(missing, { strict: false });
  const wrong = new Map(sd);
  wrong.set("0.weight", tf.zeros([8, 4, 1, 1]));
  assert.throws(
    () => b.loadStateDict(wrong),
    /"0\.weight" has shape \[8,4,1,1\] but the module expects \[8,4,3,3\]/,
  );
  assert.equal(a.train(false).training, false);
  assert.equal(a.layers[1].training, false);
  tf.dispose([...sd.values(), extra.get("2.weight")!, wrong.get("0.weight")!]);
  for (const m of [a, b, c]) m.dispose();
});

Deno.test("conv2dValid: value and both gradients equal tfjs's reference kernels", () => {
  for (
    const [h, k, s, i, o] of [[7, 3, 2, 3, 4], [8, 3, 1, 2, 3], [8, 4, 4, 3, 2], [5, 1, 2, 2, 2]]
  ) {
    const x = tf.tensor4d(values(2 * h * h * i, h + k), [2, h, h, i]);
    const w = tf.tensor4d(values(k * k * i * o, 3 * k + s), [k, k, i, o]);
    const ho = Math.floor((h - k) / s) + 1;
    const dy = tf.tensor4d(values(2 * ho * ho * o, 17), [2, ho, ho, o]);
    const loss =
      (conv: (a: tf.Tensor4D, b: tf.Tensor4D) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), dy));
    const [gx, gw] = tf.grads(loss((a, b) => conv2dValid(a, b, s)))([x, w]);
    const [rx, rw] = tf.grads(loss((a, b) => tf.conv2d(a, b, s, "valid")))([x, w]);
    const what = `h${h} k${k} s${s}`;
    close(gx.dataSync(), rx.dataSync(), 1e-5, `${what} dx`);
    close(gw.dataSync(), rw.dataSync(), 1e-5, `${what} dw`);
    close(
      conv2dValid(x, w, s).dataSync(),
      tf.conv2d(x, w, s, "valid").dataSync(),
      1e-6,
      `${what} y`,
    );
    tf.dispose([x, w, dy, gx, gw, rx, rw]);
  }
});
