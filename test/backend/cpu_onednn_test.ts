// teskd-cpu's oneDNN engine: it loads (CI installs Debian's libdnnl2), its kernels match tfjs's
// reference at the channel counts of ResNet-18 and TESKD, the whole kernel parity suite passes on
// it, and without FFI permission or the library the backend falls back to WebAssembly and says why.
import assert from "node:assert/strict";
import { maxRelErr as relErr } from "./numerics.ts";
import * as tf from "@tensorflow/tfjs";
import { OneDnnEngine } from "../../lib/backend/cpu/onednn.ts";
import { fastCpuRuntime, registerFastCpuBackend } from "../../lib/backend/cpu/backend.ts";
import {
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  convGeometry,
  matmul,
} from "../../lib/backend/cpu/ops.ts";
import { MAX_CHAIN, reductionParts } from "../../lib/backend/cpu/onednn.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

Deno.test("oneDNN 2.x loads through FFI (install libdnnl2 if this fails)", () => {
  const e = OneDnnEngine.open();
  assert.match(e.label, /^onednn 2\.\d+\.\d+$/);
});

Deno.test("oneDNN convolutions and matmul match tfjs's cpu kernels at ResNet-18/TESKD widths", async () => {
  // tfjs's reference filter gradient is a naive loop (minutes at these widths): filter gradients are
  // compared with the WebAssembly kernels, which cpu_kernels_test.ts holds to that reference.
  await registerFastCpuBackend({ threads: 2, engine: "wasm" });
  const wasm = fastCpuRuntime()!;
  await tf.setBackend("cpu");
  const e = OneDnnEngine.open();
  // [x shape, filter size, in, out, stride, padding]: stem, 3x3 stages, strided 3x3, 1x1 shortcut
  // and student 1x1/3x3 layers, at the real channel counts and small spatial sizes.
  const cases: [[number, number, number, number], number, number, number, number, number][] = [
    [[2, 8, 8, 3], 3, 3, 64, 1, 1],
    [[2, 6, 6, 64], 3, 64, 64, 1, 1],
    [[2, 8, 8, 64], 3, 64, 128, 2, 1],
    [[2, 8, 8, 64], 1, 64, 128, 2, 0],
    [[2, 4, 4, 256], 3, 256, 512, 2, 1],
    [[2, 3, 3, 512], 3, 512, 512, 1, 1],
    [[2, 4, 4, 512], 1, 512, 128, 1, 0],
    [[2, 8, 8, 192], 3, 192, 64, 1, 1],
    // Student heads whose kernel equals their stride: run as one matrix product on patches.
    [[2, 8, 8, 64], 4, 64, 32, 4, 0],
    [[2, 16, 16, 32], 8, 32, 16, 8, 0],
    [[3, 6, 4, 5], 2, 5, 7, 2, 0],
  ];
  for (const [xs, k, cin, cout, s, p] of cases) {
    const label = `x[${xs}] ${k}x${k} ${cin}→${cout} s${s} p${p}`;
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0],
      [p, p],
      [p, p],
      [0, 0],
    ];
    const x = tf.randomNormal(xs) as tf.Tensor4D;
    const f = tf.randomNormal([k, k, cin, cout]) as tf.Tensor4D;
    const y = tf.conv2d(x, f, s, pad);
    const dy = tf.randomNormal(y.shape) as tf.Tensor4D;
    const g = convGeometry(xs, [k, k, cin, cout], [s, s], pad);
    const [xv, fv, dyv] = [x, f, dy].map((t) => t.dataSync() as Float32Array);
    const bias = tf.randomNormal([cout]);
    const withBias = e.conv2d(xv, fv, g, bias.dataSync() as Float32Array);
    const refs = [y, tf.add(y, bias), tf.conv2dTranspose(dy, f, x.shape, s, pad)];
    const checks: [string, Float32Array, Float32Array][] = [
      ["forward", e.conv2d(xv, fv, g), refs[0].dataSync() as Float32Array],
      ["forward + bias", withBias, refs[1].dataSync() as Float32Array],
      ["input grad", e.conv2dBackpropInput(dyv, fv, g), refs[2].dataSync() as Float32Array],
    ];
    if (!(k === 1 && s > 1)) {
      // (the engine sends strided 1x1 filter gradients to the WebAssembly kernels: see engine.ts)
      const dw = e.conv2dBackpropFilter(xv, dyv, g);
      checks.push(["filter grad", dw, conv2dBackpropFilter(wasm, xv, dyv, g)]);
    }
    for (const [what, out, ref] of checks) {
      const err = relErr(out, ref);
      assert.ok(err <= 1e-5, `${label} ${what}: ${err}`);
    }
    tf.dispose([x, f, y, dy, bias, ...refs]);
  }
  const a = tf.randomNormal([32, 512]);
  const w = tf.randomNormal([512, 100]);
  const mm = e.matmul(a.dataSync() as Float32Array, w.dataSync() as Float32Array, {
    batch: 1,
    m: 32,
    n: 100,
    k: 512,
    transA: false,
    transB: false,
  });
  assert.ok(relErr(mm, tf.matMul(a, w).dataSync() as Float32Array) <= 1e-5, "classifier matmul");
  // No primitive fell back to oneDNN's slow reference implementations.
  for (const [key, impl] of e.implementations()) assert.doesNotMatch(impl, /^ref/, key);
  tf.dispose([a, w]);
});

/** rms(a − ref) / rms(ref): the rounding error of a float32 result against float64. */
function rmsRel(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0, r = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (a[i] - ref[i]) ** 2;
    r += ref[i] ** 2;
  }
  return Math.sqrt(d / r);
}

/** Deterministic values in [lo, hi). */
function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  });
}

Deno.test("reductions longer than MAX_CHAIN are split into channel slices", () => {
  assert.equal(reductionParts(9, 3), 1); // the stem: 27 products
  assert.equal(reductionParts(1, 256), 1);
  assert.equal(reductionParts(1, 512), 2);
  assert.equal(reductionParts(9, 64), 2); // 2 x 288
  assert.equal(reductionParts(9, 512), 16); // 32 channels per slice
  assert.equal(reductionParts(1, 32768), 128);
  assert.equal(reductionParts(9, 100), 4); // no slice of a multiple of 16: any divisor (25)
  for (const [taps, c] of [[9, 64], [9, 512], [1, 1024], [1, 32768], [9, 100], [4, 512]]) {
    const p = reductionParts(taps, c);
    assert.equal(c % p, 0);
    assert.ok((taps * c) / p <= MAX_CHAIN, `${taps}x${c}: ${p} parts`);
  }
});

Deno.test("oneDNN's long reductions are as accurate as the WebAssembly kernels'", async () => {
  // Before the split, oneDNN's 3x3 512→512 convolution (4,608 products per output) and its input
  // gradient were 3.5x the WebAssembly kernels' rounding error against float64.
  await registerFastCpuBackend({ threads: 2, engine: "wasm" });
  const wasm = fastCpuRuntime()!;
  const e = OneDnnEngine.open();
  const [n, hw, cin, cout] = [2, 4, 512, 512];
  const pad: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [1, 1],
    [1, 1],
    [0, 0],
  ];
  const g = convGeometry([n, hw, hw, cin], [3, 3, cin, cout], [1, 1], pad);
  const x = values(n * hw * hw * cin, 1, 0, 1); // post-ReLU activations
  const f = values(9 * cin * cout, 2, -1 / 48, 1 / 48);
  const dy = values(n * hw * hw * cout, 3);
  const y64 = new Float64Array(n * hw * hw * cout);
  const dx64 = new Float64Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < hw; oy++) {
      for (let ox = 0; ox < hw; ox++) {
        const o = ((b * hw + oy) * hw + ox) * cout;
        for (let ky = 0; ky < 3; ky++) {
          for (let kx = 0; kx < 3; kx++) {
            const iy = oy + ky - 1, ix = ox + kx - 1;
            if (iy < 0 || ix < 0 || iy >= hw || ix >= hw) continue;
            const xi = ((b * hw + iy) * hw + ix) * cin;
            for (let ci = 0; ci < cin; ci++) {
              const fi = ((ky * 3 + kx) * cin + ci) * cout;
              let acc = 0;
              for (let co = 0; co < cout; co++) {
                y64[o + co] += x[xi + ci] * f[fi + co];
                acc += dy[o + co] * f[fi + co];
              }
              dx64[xi + ci] += acc;
            }
          }
        }
      }
    }
  }
  const [m, nn, k] = [8, 64, 32768]; // the 8x8 stride-8 student head's patch product
  const a = values(m * k, 4, 0, 1);
  const w = values(k * nn, 5, -1 / 181, 1 / 181);
  const mm64 = new Float64Array(m * nn);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const v = a[i * k + p];
      for (let j = 0; j < nn; j++) mm64[i * nn + j] += v * w[p * nn + j];
    }
  }
  const shape = { batch: 1, m, n: nn, k, transA: false, transB: false };
  const cases: [string, Float32Array, Float32Array, Float64Array][] = [
    ["forward", e.conv2d(x, f, g), conv2d(wasm, x, f, g), y64],
    ["input gradient", e.conv2dBackpropInput(dy, f, g), conv2dBackpropInput(wasm, dy, f, g), dx64],
    ["matmul k=32768", e.matmul(a, w, shape), matmul(wasm, a, w, shape), mm64],
  ];
  for (const [what, dnnl, ref32, ref64] of cases) {
    const ed = rmsRel(dnnl, ref64);
    const ew = rmsRel(ref32, ref64);
    assert.ok(
      ed <= 1.25 * ew,
      `${what}: oneDNN ${ed.toExponential(2)}, wasm ${ew.toExponential(2)}`,
    );
    assert.ok(ed < 4e-7, `${what}: oneDNN ${ed.toExponential(2)}`);
  }
  for (const [key, impl] of e.implementations()) assert.doesNotMatch(impl, /^ref/, key);
});

Deno.test("the primitive cache is bounded and results stay right when it starts over", () => {
  const e = OneDnnEngine.open(undefined, { maxPrimitives: 4 });
  for (let n = 1; n <= 12; n++) {
    const a = Float32Array.from({ length: n * 3 }, (_, i) => i - n);
    const b = Float32Array.from({ length: 3 }, (_, i) => i + 0.5);
    const out = e.binary("mul", a, [n, 3], b, [3])!;
    assert.deepEqual([...out], [...a].map((v, i) => v * b[i % 3]), `shape [${n},3]`);
    assert.ok(e.implementations().size <= 4, `${e.implementations().size} primitives kept`);
  }
});

Deno.test("the whole kernel parity suite passes on the oneDNN engine", async () => {
  const r = await run(
    ["test", "--allow-all", "--no-check", "test/backend/cpu_kernels_test.ts"],
    { TESKD_CPU_ENGINE: "onednn" },
  );
  assert.equal(r.code, 0, r.text.slice(-3000));
  // every test of the file ran (counted from the file, so a new kernel test is included)
  const tests = (await Deno.readTextFile(new URL("./cpu_kernels_test.ts", import.meta.url)))
    .match(/^Deno\.test\(/gm)?.length;
  assert.ok(tests !== undefined && tests >= 9);
  assert.match(r.text, new RegExp(`ok \\| ${tests} passed \\| 0 failed`));
});

const PROBE = `
import { registerFastCpuBackend } from "./lib/backend/cpu/mod.ts";
const engine = Deno.args[0] === "auto" ? undefined : Deno.args[0];
try {
  const info = await registerFastCpuBackend({ threads: 1, engine });
  console.log(JSON.stringify(info));
} catch (e) {
  console.log(JSON.stringify({ error: e.message }));
}
`;

async function probe(permissions: string[], engine: string, env: Record<string, string> = {}) {
  const file = await Deno.makeTempFile({ dir: ROOT, prefix: ".probe_", suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, PROBE);
    const r = await run(["run", "--no-check", ...permissions, file, engine], env);
    const line = r.text.trim().split("\n").findLast((l) => l.startsWith("{"));
    assert.ok(line, r.text);
    return JSON.parse(line) as Record<string, string>;
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("without FFI permission or the library, auto uses WebAssembly and says why", async () => {
  const noFfi = await probe(["--allow-read", "--allow-env"], "auto");
  assert.equal(noFfi.computeEngine, "wasm");
  assert.match(noFfi.engine, /^wasm-simd/);
  assert.match(noFfi.oneDnnUnavailable, /FFI is not permitted/);

  const missing = { TESKD_ONEDNN_LIB: "/nonexistent/libdnnl.so.2" };
  const noLib = await probe(["--allow-all"], "auto", missing);
  assert.equal(noLib.computeEngine, "wasm");
  assert.match(noLib.oneDnnUnavailable, /oneDNN 2\.x not found \(\/nonexistent\/libdnnl\.so\.2: /);

  const asked = await probe(["--allow-all"], "onednn", missing);
  assert.match(asked.error, /the oneDNN engine was requested but oneDNN 2\.x not found/);

  const forced = await probe(["--allow-all"], "wasm");
  assert.equal(forced.computeEngine, "wasm");
  assert.equal(forced.oneDnnUnavailable, undefined);

  const auto = await probe(["--allow-all"], "auto");
  assert.equal(auto.computeEngine, "onednn");
  assert.match(auto.engine, /^onednn 2\.\d+\.\d+ x1 thread \(wasm-simd/);
});
