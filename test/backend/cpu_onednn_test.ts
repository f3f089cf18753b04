// teskd-cpu's oneDNN engine: it loads (CI installs Debian's libdnnl2), its kernels match tfjs's
// reference at the channel counts of ResNet-18 and TESKD, the whole kernel parity suite passes on
// it, and without FFI permission or the library the backend falls back to WebAssembly and says why.
import assert from "node:assert/strict";
import { maxRelErr as relErr } from "./numerics.ts";
import * as tf from "@tensorflow/tfjs";
import { OneDnnEngine } from "../../lib/backend/cpu/onednn.ts";
import { fastCpuRuntime, registerFastCpuBackend } from "../../lib/backend/cpu/backend.ts";
import { conv2dBackpropFilter, convGeometry } from "../../lib/backend/cpu/ops.ts";

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
  assert.match(r.text, /ok \| 8 passed \| 0 failed/);
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
