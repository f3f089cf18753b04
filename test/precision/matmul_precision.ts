// Scratch: matrix-product error of oneDNN and the WebAssembly kernels against float64 at the shapes
// of the SE blocks' excitation and the classifiers (batch 2), forward and both gradients.
import { OneDnnEngine } from "../../lib/backend/cpu/onednn.ts";
import { fastCpuRuntime, registerFastCpuBackend } from "../../lib/backend/cpu/backend.ts";
import { matmul } from "../../lib/backend/cpu/ops.ts";
import { fill } from "../../lib/parity/generate.ts";

await registerFastCpuBackend({ threads: 2, engine: "wasm" });
const wasm = fastCpuRuntime()!;
const e = OneDnnEngine.open();
function ref(
  a: Float32Array,
  b: Float32Array,
  m: number,
  n: number,
  k: number,
  ta: boolean,
  tb: boolean,
) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) {
        s += a[ta ? p * m + i : i * k + p] * b[tb ? j * k + p : p * n + j];
      }
      out[i * n + j] = s;
    }
  }
  return out;
}
function err(a: Float32Array, r: Float64Array): string {
  let d2 = 0, r2 = 0;
  for (let i = 0; i < r.length; i++) {
    d2 += (a[i] - r[i]) ** 2;
    r2 += r[i] ** 2;
  }
  return Math.sqrt(d2 / r2).toExponential(2);
}
const shapes: [number, number, number, boolean, boolean][] = [];
for (
  const [b, c, h] of [[2, 64, 4], [2, 128, 8], [2, 256, 16], [2, 512, 32], [2, 512, 100], [
    8,
    512,
    512,
  ]]
) {
  shapes.push([b, h, c, false, false]); // forward x·W
  shapes.push([b, c, h, false, true]); // dx = dy·Wᵀ
  shapes.push([c, h, b, true, false]); // dW = xᵀ·dy
  shapes.push([b, c, h, false, false]); // second linear forward
}
shapes.push([32, 512, 32768, false, false]); // 8x8 stride-8 head as a patch product
for (const [m, n, k, ta, tb] of shapes) {
  const a = fill(`a${m},${n},${k}`, m * k, (u) => 2 * u - 1);
  const b = fill(`b${m},${n},${k}`, k * n, (u) => (2 * u - 1) / Math.sqrt(k));
  const s = { batch: 1, m, n, k, transA: ta, transB: tb };
  const r = ref(a, b, m, n, k, ta, tb);
  const d = e.matmul(a, b, s);
  const impl = [...e.implementations()].at(-1)?.[1];
  console.log(
    `m${m} n${n} k${k} ${ta ? "T" : "N"}${tb ? "T" : "N"}`.padEnd(26),
    `onednn ${err(d, r)} [${impl}]`,
    `wasm ${err(matmul(wasm, a, b, s), r)}`,
  );
}
Deno.exit(0);
