// Scratch: forward-convolution error of oneDNN and the WebAssembly kernels against float64, at the
// SE-ResNet-18 geometries (batch 2, CIFAR sizes), with the implementation oneDNN picked.
import { OneDnnEngine } from "../../lib/backend/cpu/onednn.ts";
import { fastCpuRuntime, registerFastCpuBackend } from "../../lib/backend/cpu/backend.ts";
import {
  conv2d,
  conv2dBackpropFilter,
  conv2dBackpropInput,
  convGeometry,
} from "../../lib/backend/cpu/ops.ts";
import { fill } from "../../lib/parity/generate.ts";

await registerFastCpuBackend({ threads: 2, engine: "wasm" });
const wasm = fastCpuRuntime()!;
const e = OneDnnEngine.open();
type Case = [number, number, number, number, number, number, number]; // n,hw,cin,cout,k,s,p
const cases: Case[] = [
  [2, 32, 3, 64, 3, 1, 1],
  [2, 32, 64, 64, 3, 1, 1],
  [2, 32, 64, 128, 3, 2, 1],
  [2, 16, 128, 128, 3, 1, 1],
  [2, 16, 128, 256, 3, 2, 1],
  [2, 8, 256, 256, 3, 1, 1],
  [2, 8, 256, 512, 3, 2, 1],
  [2, 4, 512, 512, 3, 1, 1],
  [2, 32, 64, 128, 1, 2, 0],
  [2, 16, 256, 128, 1, 1, 0],
  // TESKD student heads (kernel = stride: one matrix product on patches on oneDNN).
  [2, 8, 512, 512, 2, 2, 0],
  [2, 16, 512, 512, 4, 4, 0],
  [2, 32, 512, 512, 8, 8, 0],
];
const only = Deno.args.length ? new Set(Deno.args.map(Number)) : null;
function ref64(x: Float32Array, f: Float32Array, c: Case): Float64Array {
  const [n, hw, cin, cout, k, s, p] = c;
  const oh = Math.floor((hw + 2 * p - k) / s) + 1;
  const out = new Float64Array(n * oh * oh * cout);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < oh; ox++) {
        const o = ((b * oh + oy) * oh + ox) * cout;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s - p + ky;
          if (iy < 0 || iy >= hw) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s - p + kx;
            if (ix < 0 || ix >= hw) continue;
            const xi = ((b * hw + iy) * hw + ix) * cin;
            const fi = (ky * k + kx) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const xv = x[xi + ci];
              const fo = fi + ci * cout;
              for (let co = 0; co < cout; co++) out[o + co] += xv * f[fo + co];
            }
          }
        }
      }
    }
  }
  return out;
}
/** Input and filter gradients in float64 from dy (NHWC [n, oh, oh, cout]). */
function refBack(x: Float32Array, f: Float32Array, dy: Float32Array, c: Case) {
  const [n, hw, cin, cout, k, s, p] = c;
  const oh = Math.floor((hw + 2 * p - k) / s) + 1;
  const dx = new Float64Array(n * hw * hw * cin);
  const dw = new Float64Array(k * k * cin * cout);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < oh; ox++) {
        const o = ((b * oh + oy) * oh + ox) * cout;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * s - p + ky;
          if (iy < 0 || iy >= hw) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * s - p + kx;
            if (ix < 0 || ix >= hw) continue;
            const xi = ((b * hw + iy) * hw + ix) * cin;
            const fi = (ky * k + kx) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const fo = fi + ci * cout;
              let acc = 0;
              const xv = x[xi + ci];
              for (let co = 0; co < cout; co++) {
                acc += dy[o + co] * f[fo + co];
                dw[fo + co] += xv * dy[o + co];
              }
              dx[xi + ci] += acc;
            }
          }
        }
      }
    }
  }
  return { dx, dw };
}
/** rms(a − ref) / rms(ref) and max|a − ref| / max|ref|. */
function err(a: Float32Array, r: Float64Array): string {
  let d2 = 0, r2 = 0, dm = 0, rm = 0;
  for (let i = 0; i < r.length; i++) {
    const d = a[i] - r[i];
    d2 += d * d;
    r2 += r[i] * r[i];
    dm = Math.max(dm, Math.abs(d));
    rm = Math.max(rm, Math.abs(r[i]));
  }
  return `rms ${Math.sqrt(d2 / r2).toExponential(2)} max ${(dm / rm).toExponential(2)}`;
}
for (const [ci, c] of cases.entries()) {
  if (only && !only.has(ci)) continue;
  const [n, hw, cin, cout, k, s, p] = c;
  const pad = [[0, 0], [p, p], [p, p], [0, 0]] as [
    [number, number],
    [number, number],
    [number, number],
    [number, number],
  ];
  const g = convGeometry([n, hw, hw, cin], [k, k, cin, cout], [s, s], pad);
  const x = fill(`x${c}`, n * hw * hw * cin, (u) => Math.max(0, 2 * u - 1)); // ReLU-like input
  const f = fill(`f${c}`, k * k * cin * cout, (u) => (2 * u - 1) * Math.sqrt(6 / (k * k * cin)));
  const r = ref64(x, f, c);
  const yd = e.conv2d(x, f, g);
  const yw = conv2d(wasm, x, f, g);
  const impl = [...e.implementations()].at(-1)?.[1];
  console.log(`${c.join(",").padEnd(22)} fwd   onednn ${err(yd, r)} [${impl}]  wasm ${err(yw, r)}`);
  const dy = fill(`dy${c}`, yd.length, (u) => 2 * u - 1);
  const { dx, dw } = refBack(x, f, dy, c);
  const dxd = e.conv2dBackpropInput(dy, f, g);
  const implD = [...e.implementations()].at(-1)?.[1];
  console.log(
    `${"".padEnd(22)} bwd-d onednn ${err(dxd, dx)} [${implD}]  wasm ${
      err(conv2dBackpropInput(wasm, dy, f, g), dx)
    }`,
  );
  const dwd = e.conv2dBackpropFilter(x, dy, g);
  const implW = [...e.implementations()].at(-1)?.[1];
  console.log(
    `${"".padEnd(22)} bwd-w onednn ${err(dwd, dw)} [${implW}]  wasm ${
      err(conv2dBackpropFilter(wasm, x, dy, g), dw)
    }`,
  );
}
Deno.exit(0);
