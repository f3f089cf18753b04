// The committed kernel binaries must be exactly what build.ts makes from the committed source, and
// the plain-SIMD variant (for runtimes without relaxed SIMD) must compute the same products.
import assert from "node:assert/strict";
import { compileKernels, SOURCE_URL, WASM_URLS } from "../../lib/backend/cpu/build.ts";
import { KernelRuntime } from "../../lib/backend/cpu/runtime.ts";
import { matmul } from "../../lib/backend/cpu/ops.ts";

Deno.test("teskd-cpu: kernels*.wasm rebuild byte-for-byte from asm/kernels.as", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = await Deno.readTextFile(SOURCE_URL);
    for (const variant of ["relaxed", "simd"] as const) {
      const path = `${dir}/${variant}.wasm`;
      await Deno.writeFile(path, await compileKernels(source, variant));
      const fresh = await Deno.readFile(path);
      const committed = await Deno.readFile(WASM_URLS[variant]);
      assert.ok(WebAssembly.validate(fresh as Uint8Array<ArrayBuffer>), `${variant} validates`);
      assert.deepEqual(
        fresh,
        committed,
        `${WASM_URLS[variant].pathname} is stale: run deno run -A lib/backend/cpu/build.ts`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("teskd-cpu: the kernel build reports AssemblyScript errors", async () => {
  await assert.rejects(
    compileKernels("export function broken(): i32 { return undefinedName; }", "relaxed"),
    /AssemblyScript build of the teskd-cpu kernels failed/,
  );
});

Deno.test("teskd-cpu: plain-SIMD kernels on one thread match a float64 reference GEMM", async () => {
  const rt = await KernelRuntime.create(await Deno.readFile(WASM_URLS.simd), 1, "wasm-simd");
  assert.equal(rt.engine, "wasm-simd x1 thread");
  // Deterministic pseudo-random operands; sizes cross the 6x8 tile and 256-deep K block edges.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  for (const [m, n, k] of [[13, 11, 300], [1, 17, 5], [64, 40, 1]]) {
    const a = Float32Array.from({ length: m * k }, rnd);
    const b = Float32Array.from({ length: k * n }, rnd);
    for (const [ta, tb] of [[false, false], [true, true]]) {
      const c = matmul(rt, a, b, { batch: 1, m, n, k, transA: ta, transB: tb });
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) {
            s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          }
          assert.ok(
            Math.abs(c[i * n + j] - s) <= 1e-5 * (1 + Math.abs(s)),
            `(${i},${j}) of ${m}x${n}x${k}`,
          );
        }
      }
    }
  }
});
