// Parity of every teskd-cpu replacement kernel with tfjs's reference cpu kernel on random inputs.
import assert from "node:assert/strict";
import { maxRelErr as relErr } from "./numerics.ts";
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import { parseCpuEngineRequest } from "../../lib/backend/cpu/engine.ts";

/**
 * The engine under test: the WebAssembly kernels by default; cpu_onednn_test.ts runs this whole file
 * again with TESKD_CPU_ENGINE=onednn.
 */
const ENGINE = parseCpuEngineRequest(Deno.env.get("TESKD_CPU_ENGINE") ?? "wasm");
const ENGINE_LABEL = ENGINE === "onednn"
  ? /^onednn 2\.\d+\.\d+ x2 threads \(wasm-simd-relaxed x2 threads fallback\)$/
  : /^wasm-simd-relaxed x2 threads$/;

const TOL = 1e-5;

/** Runs `f` on the reference cpu backend and on teskd-cpu; returns both outputs' values. */
async function onBoth(f: () => tf.Tensor): Promise<[Float32Array, Float32Array, number[]]> {
  await tf.setBackend("cpu");
  const refT = f();
  const ref = refT.dataSync() as Float32Array;
  await tf.setBackend("teskd-cpu");
  const outT = f();
  const out = outT.dataSync() as Float32Array;
  assert.deepEqual(outT.shape, refT.shape);
  tf.dispose([refT, outT]);
  return [out, ref, refT.shape];
}

function counting(kernel: string): { count: number; restore(): void } {
  const k = tf.getKernel(kernel, "teskd-cpu");
  assert.ok(k, `teskd-cpu has kernel ${kernel}`);
  const orig = k.kernelFunc;
  const state = {
    count: 0,
    restore() {
      (k as { kernelFunc: tf.KernelFunc }).kernelFunc = orig;
    },
  };
  (k as { kernelFunc: tf.KernelFunc }).kernelFunc = ((args: Parameters<tf.KernelFunc>[0]) => {
    state.count++;
    return orig(args);
  }) as tf.KernelFunc;
  return state;
}

type Case = [
  n: number,
  h: number,
  w: number,
  cin: number,
  cout: number,
  k: number,
  s: number,
  pad:
    | "same"
    | "valid"
    | number,
];

// ResNet-18 / TESKD shapes, shrunk: 3x3 s1/s2 with padding, 1x1 s1/s2 shortcuts, k×k stride-k heads,
// odd sizes so that tiles are partial, and enough channels for several K blocks.
const CASES: Case[] = [
  [2, 9, 9, 5, 7, 3, 1, "same"],
  [2, 8, 8, 16, 24, 3, 2, "same"],
  [2, 8, 8, 16, 24, 3, 2, 1],
  [1, 7, 7, 3, 10, 3, 2, "valid"],
  [2, 8, 8, 6, 9, 1, 1, "valid"],
  [2, 8, 8, 6, 9, 1, 2, "valid"],
  [2, 8, 8, 5, 6, 2, 2, "valid"],
  [2, 16, 16, 4, 6, 4, 4, "valid"],
  [1, 16, 16, 3, 5, 8, 8, "valid"],
  [2, 6, 6, 300, 20, 3, 1, "same"],
];

Deno.test("teskd-cpu: registration is idempotent and reports its engine", async () => {
  const a = await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const b = await registerFastCpuBackend({ threads: 2 });
  assert.equal(a, b);
  assert.equal(a.name, "teskd-cpu");
  assert.equal(a.threads, 2);
  assert.match(a.engine, ENGINE_LABEL);
  assert.equal(a.computeEngine, ENGINE);
  assert.ok(tf.getKernelsForBackend("teskd-cpu").length >= tf.getKernelsForBackend("cpu").length);
  await assert.rejects(registerFastCpuBackend({ threads: 0 }), /threads must be an integer/);
  await assert.rejects(registerFastCpuBackend({ threads: 1.5 }), /got 1.5/);
});

Deno.test("teskd-cpu: Conv2D and its gradients match the cpu backend", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const calls = ["Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput"].map(counting);
  try {
    for (const [n, h, w, cin, cout, k, s, pad] of CASES) {
      const label = `x[${n},${h},${w},${cin}] f${k}x${k}x${cout} s${s} pad ${pad}`;
      const x = tf.randomNormal([n, h, w, cin]) as tf.Tensor4D;
      const f = tf.randomNormal([k, k, cin, cout]) as tf.Tensor4D;
      const y = tf.conv2d(x, f, s, pad);
      const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
      const [fwd, fwdRef] = await onBoth(() => tf.conv2d(x, f, s, pad));
      assert.ok(relErr(fwd, fwdRef) <= TOL, `${label} forward: ${relErr(fwd, fwdRef)}`);
      const [df, dfRef] = await onBoth(() =>
        tf.grad((ff: tf.Tensor) => tf.conv2d(x, ff as tf.Tensor4D, s, pad).mul(dy).sum())(f)
      );
      assert.ok(relErr(df, dfRef) <= TOL, `${label} filter grad: ${relErr(df, dfRef)}`);
      const [dx, dxRef] = await onBoth(() =>
        tf.grad((xx: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, f, s, pad).mul(dy).sum())(x)
      );
      assert.ok(relErr(dx, dxRef) <= TOL, `${label} input grad: ${relErr(dx, dxRef)}`);
      tf.dispose([x, f, y, dy]);
    }
    for (const c of calls) assert.ok(c.count >= CASES.length, "fast kernels were dispatched");
  } finally {
    for (const c of calls) c.restore();
  }
});

Deno.test("teskd-cpu: dilated Conv2D (filter gradient as a forward conv) matches cpu", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  // The shape lib/nn/conv.ts uses for its filter gradient: x^T [I,H,W,N] ⊛ dy^T [Ho,Wo,N,O], dilation s.
  const x = tf.randomNormal([6, 9, 9, 4]) as tf.Tensor4D;
  const f = tf.randomNormal([4, 4, 4, 5]) as tf.Tensor4D;
  for (const d of [1, 2]) {
    const [out, ref] = await onBoth(() => tf.conv2d(x, f, 1, "valid", "NHWC", d));
    assert.ok(relErr(out, ref) <= TOL, `dilation ${d}: ${relErr(out, ref)}`);
  }
  const [same, sameRef] = await onBoth(() =>
    tf.conv2d(x, f.slice([0, 0, 0, 0], [3, 3, 4, 5]), 1, "same", "NHWC", 2)
  );
  assert.ok(relErr(same, sameRef) <= TOL, `dilation 2 same: ${relErr(same, sameRef)}`);
  tf.dispose([x, f]);
});

Deno.test("teskd-cpu: FusedConv2D (bias, relu) matches the cpu backend", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const x = tf.randomNormal([2, 7, 7, 6]) as tf.Tensor4D;
  const f = tf.randomNormal([3, 3, 6, 10]) as tf.Tensor4D;
  const bias = tf.randomNormal([10]) as tf.Tensor1D;
  for (const activation of ["linear", "relu"] as const) {
    const [out, ref] = await onBoth(() =>
      tf.fused.conv2d({ x, filter: f, strides: 2, pad: "same", bias, activation })
    );
    assert.ok(relErr(out, ref) <= TOL, `fused ${activation}: ${relErr(out, ref)}`);
  }
  const [noBias, noBiasRef] = await onBoth(() =>
    tf.fused.conv2d({ x, filter: f, strides: 1, pad: "valid" })
  );
  assert.ok(relErr(noBias, noBiasRef) <= TOL);
  tf.dispose([x, f, bias]);
});

Deno.test("teskd-cpu: MatMul / BatchMatMul with transposes and batch broadcast match cpu", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const a = tf.randomNormal([37, 53]);
  const b = tf.randomNormal([53, 29]);
  const cases: [string, () => tf.Tensor][] = [
    ["a·b", () => tf.matMul(a, b)],
    ["a·bᵀ", () => tf.matMul(a, b.transpose(), false, true)],
    ["aᵀ·b", () => tf.matMul(a.transpose(), b, true, false)],
    ["aᵀ·bᵀ", () => tf.matMul(a.transpose(), b.transpose(), true, true)],
    ["batched", () => tf.matMul(tf.stack([a, a.mul(2)]), tf.stack([b, b.mul(-1)]))],
    ["broadcast b", () => tf.matMul(tf.stack([a, a.mul(2), a]), b)],
    ["dense grad", () => tf.grad((w: tf.Tensor) => tf.matMul(a, w).square().sum())(b)],
  ];
  for (const [label, f] of cases) {
    const [out, ref] = await onBoth(f);
    assert.ok(relErr(out, ref) <= TOL, `${label}: ${relErr(out, ref)}`);
  }
  tf.dispose([a, b]);
});

Deno.test("teskd-cpu: one training step of a small conv net matches cpu and keeps memory steady", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const x = tf.randomNormal([4, 12, 12, 3]);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 1], "int32"), 3);
  const w1 = tf.randomNormal([3, 3, 3, 8], 0, 0.3);
  const w2 = tf.randomNormal([1, 1, 8, 8], 0, 0.3);
  const w3 = tf.randomNormal([8, 3], 0, 0.3);
  const loss = (p1: tf.Tensor, p2: tf.Tensor, p3: tf.Tensor) => {
    const h = tf.relu(tf.conv2d(x as tf.Tensor4D, p1 as tf.Tensor4D, 2, "same"));
    const h2 = tf.relu(tf.conv2d(h, p2 as tf.Tensor4D, 1, "valid")).add(h);
    const logits = tf.matMul(tf.mean(h2, [1, 2]), p3);
    return tf.losses.softmaxCrossEntropy(labels, logits);
  };
  const grads = () => tf.concat(tf.grads(loss)([w1, w2, w3]).map((g) => g.flatten()));
  const [g, gRef] = await onBoth(grads);
  assert.ok(relErr(g, gRef) <= TOL, `gradients: ${relErr(g, gRef)}`);
  await tf.setBackend("teskd-cpu");
  const { fastCpuRuntime } = await import("../../lib/backend/cpu/backend.ts");
  const rt = fastCpuRuntime();
  assert.ok(rt);
  tf.tidy(grads);
  const bytes = rt.memory.buffer.byteLength;
  for (let i = 0; i < 3; i++) tf.tidy(grads);
  assert.equal(rt.memory.buffer.byteLength, bytes, "kernel memory does not grow across steps");
  tf.dispose([x, labels, w1, w2, w3]);
});

Deno.test("teskd-cpu: broadcasting Add/Sub/Mul/Div, Relu, Step, Square, BatchNorm match cpu", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const ops: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor][] = [
    ["add", tf.add],
    ["sub", tf.sub],
    ["mul", tf.mul],
    ["div", tf.div],
  ];
  // Small operands take the TypeScript kernels; large ones (≥ 32768 outputs) the engine's own
  // binary kernels where it has them (oneDNN).
  for (const [n, h, w, ch] of [[2, 5, 3, 7], [4, 16, 16, 33]]) {
    const x = tf.randomNormal([n, h, w, ch]);
    const y = tf.randomNormal([n, h, w, ch]);
    const c = tf.randomNormal([ch]).add(3);
    const c4 = tf.randomNormal([1, 1, 1, ch]).add(3);
    const s = tf.scalar(1.7);
    const col = tf.randomNormal([n, h, w, 1]);
    const pooled = tf.randomNormal([n, 1, 1, ch]);
    const mixed = tf.randomNormal([h, 1, ch]);
    for (const [name, op] of ops) {
      for (
        const [label, a, b] of [
          ["same", x, y],
          ["[C]", x, c],
          ["[C] first", c, x],
          ["[1,1,1,C]", c4, x],
          ["scalar", x, s],
          ["scalar first", s, x],
          ["trailing 1 (strided)", x, col],
          ["[N,1,1,C] first (strided)", pooled, x],
          ["[N,1,1,C] second (strided)", x, pooled],
          ["[H,1,C] (strided)", x, mixed],
          ["both broadcast (strided)", pooled, mixed],
        ] as [string, tf.Tensor, tf.Tensor][]
      ) {
        const [out, ref] = await onBoth(() => op(a, b));
        const where = `${name} ${label} of [${x.shape}]`;
        assert.ok(relErr(out, ref) <= TOL, `${where}: ${relErr(out, ref)}`);
      }
    }
    tf.dispose([x, y, c, c4, s, col, pooled, mixed]);
  }
  // Small tensors take the TypeScript kernels, large ones (≥ 32768 values, with NaNs planted) the
  // engine's own where it has them (oneDNN's one-pass scale-shift batch norm). NaN must survive
  // ReLU: oneDNN's ReLU turns it into 0, which is why ReLU stays a TypeScript kernel.
  for (const [n, h, w, ch] of [[2, 5, 3, 7], [4, 16, 16, 33]]) {
    const size = n * h * w * ch;
    const raw = tf.randomNormal([size]).dataSync() as Float32Array;
    if (size > 1000) { for (const at of [0, 17, size - 1]) raw[at] = NaN; }
    const x = tf.tensor4d(raw, [n, h, w, ch]);
    const y = tf.randomNormal([n, h, w, ch]);
    const c = tf.randomNormal([ch]).add(3);
    const withNaN = tf.tensor1d([-2, -0.5, 0, 0.5, NaN, 3]);
    for (
      const [label, f] of [
        ["relu", () => tf.relu(x)],
        ["relu NaN", () => tf.relu(withNaN)],
        ["step", () => tf.step(x, 0.1)],
        ["step NaN", () => tf.step(withNaN)],
        ["square", () => tf.square(x)],
        ["batchNorm", () => tf.batchNorm(x, c, c.square(), c.mul(0.5), c.neg(), 1e-3)],
        ["batchNorm no affine", () => tf.batchNorm(x, c, c.square())],
        [
          "batchNorm 2-D input",
          () => tf.batchNorm(x.reshape([size / ch, ch]), c, c.square(), c, c, 1e-5),
        ],
        ["relu grad", () => tf.grad((t: tf.Tensor) => tf.relu(t).mul(y).sum())(x)],
      ] as [string, () => tf.Tensor][]
    ) {
      const [out, ref] = await onBoth(f);
      assert.equal(out.length, ref.length);
      for (let i = 0; i < out.length; i++) {
        const ok = Object.is(out[i], ref[i]) || Math.abs(out[i] - ref[i]) <= TOL;
        assert.ok(ok, `${label} of [${x.shape}] [${i}]: ${out[i]} vs ${ref[i]}`);
      }
    }
    tf.dispose([x, y, c, withNaN]);
  }
});

Deno.test("teskd-cpu: Sum/Mean over axes, Transpose, Slice and Pad match cpu", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const x = tf.randomNormal([3, 6, 5, 8]);
  const wide = tf.randomNormal([2, 3, 4, 80]);
  const cases: [string, () => tf.Tensor][] = [
    ["transpose keeping C (row copies)", () => tf.transpose(wide, [1, 2, 0, 3])],
    ["slice of wide rows", () => tf.slice(wide, [1, 1, 0, 3], [1, 2, 3, 70])],
    ["pad wide rows", () => tf.pad(wide, [[0, 1], [1, 0], [2, 1], [0, 0]])],
    ["sum NHW", () => tf.sum(x, [0, 1, 2])],
    ["sum NHW keepDims", () => tf.sum(x, [0, 1, 2], true)],
    ["mean NHW", () => tf.mean(x, [0, 1, 2])],
    ["mean HW", () => tf.mean(x, [1, 2])],
    ["mean HW keepDims", () => tf.mean(x, [2, 1], true)],
    ["sum last", () => tf.sum(x, -1)],
    ["sum all", () => tf.sum(x)],
    ["mean axis 0", () => tf.mean(x, 0)],
    ["sum C", () => tf.sum(x, [3, 2])],
    ["transpose NHWC→HWIO-like", () => tf.transpose(x, [2, 3, 1, 0])],
    ["transpose 2-D", () => tf.transpose(x.reshape([18, 40]))],
    ["transpose identity", () => tf.transpose(x, [0, 1, 2, 3])],
    ["transpose swap inner", () => tf.transpose(x, [0, 1, 3, 2])],
    ["slice", () => tf.slice(x, [1, 1, 0, 2], [2, 4, 5, 3])],
    ["slice -1", () => tf.slice(x, [0, 2, 1, 0], [-1, 3, -1, -1])],
    ["slice 1-D", () => tf.slice(x.flatten(), [5], [17])],
    ["pad", () => tf.pad(x, [[0, 0], [1, 1], [2, 0], [0, 0]])],
    ["pad value", () => tf.pad(x, [[1, 0], [0, 2], [1, 1], [0, 3]], 0.5)],
    [
      "pad grad",
      () => tf.grad((t: tf.Tensor) => tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]]).sum())(x),
    ],
  ];
  for (const [label, f] of cases) {
    const [out, ref] = await onBoth(f);
    assert.ok(relErr(out, ref) <= TOL, `${label}: ${relErr(out, ref)}`);
  }
  x.dispose();
});

Deno.test("teskd-cpu: GatherV2 on every axis, repeated and 2-D indices, matches cpu exactly", async () => {
  await registerFastCpuBackend({ threads: 2, engine: ENGINE });
  const x = tf.randomNormal([7, 5, 80]);
  const narrow = tf.randomNormal([6, 4, 3]);
  const rows = tf.tensor1d([6, 0, 0, 3, 6, 2], "int32");
  const grid = tf.tensor2d([[4, 1, 1], [0, 2, 3]], [2, 3], "int32");
  const cases: [string, () => tf.Tensor][] = [
    ["rows of 80 (axis 0)", () => tf.gather(x, rows)],
    ["2-D indices (CRD's contrast index)", () => tf.gather(x, grid)],
    ["middle axis", () => tf.gather(x, tf.tensor1d([4, 4, 0], "int32"), 1)],
    ["last axis", () => tf.gather(narrow, tf.tensor1d([2, 0], "int32"), -1)],
    ["short rows (axis 0)", () => tf.gather(narrow, tf.tensor1d([5, 0, 0, 3], "int32"))],
  ];
  const count = counting(tf.GatherV2);
  try {
    for (const [label, f] of cases) {
      const [out, ref] = await onBoth(f);
      assert.deepEqual(out, ref, label); // a copy: bit-identical
    }
  } finally {
    count.restore();
  }
  assert.equal(count.count, cases.length, "each case ran teskd-cpu's GatherV2 once");
  // An index out of range reaches the reference kernel, which names it.
  assert.throws(() => tf.gather(x, tf.tensor1d([7], "int32")), /GatherV2: the index value 7/);
  tf.dispose([x, narrow, rows, grid]);
});
