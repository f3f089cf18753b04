// AssemblyScript source of the teskd-cpu WebAssembly kernels (compiled by ../build.ts, not by Deno).
// All kernels read a job descriptor of i32 fields from linear memory so that the JS side and the
// worker threads share one calling convention: `run(desc, part, parts)` computes slice `part`.

const MR: i32 = 6;
const NR: i32 = 8;
const KC: i32 = 256;
const MC: i32 = 120;
const NC: i32 = 1024;

// Descriptor field offsets (i32 index).
const D_KIND: i32 = 0; // 1 = gemm, 2 = col2im
const D_M: i32 = 1;
const D_N: i32 = 2;
const D_K: i32 = 3;
const D_AMODE: i32 = 4; // 0 dense, 1 im2col (rows = pixels), 2 im2col^T (rows = taps)
const D_A: i32 = 5;
const D_LDA: i32 = 6;
const D_ATRANS: i32 = 7;
const D_B: i32 = 8;
const D_LDB: i32 = 9;
const D_BTRANS: i32 = 10;
const D_C: i32 = 11;
const D_LDC: i32 = 12;
const D_BETA: i32 = 13; // 0 overwrite C, 1 accumulate into C
const D_H: i32 = 14;
const D_W: i32 = 15;
const D_CIN: i32 = 16;
const D_OH: i32 = 17;
const D_OW: i32 = 18;
const D_KH: i32 = 19;
const D_KW: i32 = 20;
const D_SH: i32 = 21;
const D_SW: i32 = 22;
const D_DH: i32 = 23;
const D_DW: i32 = 24;
const D_PT: i32 = 25;
const D_PL: i32 = 26;
const D_SPLIT: i32 = 27; // 0 split rows across parts, 1 split columns
const D_WS: i32 = 28; // workspace base; each part uses WS_BYTES from base + part * WS_BYTES
const D_ROW0: i32 = 29; // first pixel row (im2col modes) of this chunk

export const WS_BYTES: i32 = (KC * NC + MC * KC) * 4 + 4096;

@inline function geti(desc: usize, f: i32): i32 {
  return load<i32>(desc + (<usize>f << 2));
}

// Packs rows [i0, i0+mc) x cols [p0, p0+kc) of A into MR-row panels (p-major inside a panel).
function packA(desc: usize, dst: usize, i0: i32, mc: i32, p0: i32, kc: i32): void {
  const M = geti(desc, D_M);
  const mode = geti(desc, D_AMODE);
  const a = <usize>geti(desc, D_A);
  const lda = geti(desc, D_LDA);
  const trans = geti(desc, D_ATRANS);
  const row0 = geti(desc, D_ROW0);
  let out = dst;
  const cin = geti(desc, D_CIN);
  for (let ir = 0; ir < mc; ir += MR) {
    // im2col^T panel of MR taps that share one filter position: per pixel the MR values are
    // contiguous channels of x, so the panel is filled with whole-row copies.
    const tap0 = i0 + ir;
    if (mode == 2 && tap0 + MR <= M && (tap0 % cin) + MR <= cin) {
      packIm2colPanelT(desc, a, out, tap0, row0 + p0, kc);
      out += <usize>(MR * kc) << 2;
      continue;
    }
    for (let r = 0; r < MR; r++) {
      const i = i0 + ir + r;
      let o = out + (<usize>r << 2);
      if (i >= M) {
        for (let p = 0; p < kc; p++) {
          store<f32>(o, 0);
          o += MR << 2;
        }
      } else if (mode == 0) {
        if (trans == 0) {
          let s = a + (<usize>(i * lda + p0) << 2);
          for (let p = 0; p < kc; p++) {
            store<f32>(o, load<f32>(s));
            s += 4;
            o += MR << 2;
          }
        } else {
          let s = a + (<usize>(p0 * lda + i) << 2);
          const step = <usize>lda << 2;
          for (let p = 0; p < kc; p++) {
            store<f32>(o, load<f32>(s));
            s += step;
            o += MR << 2;
          }
        }
      } else if (mode == 1) {
        packIm2colRow(desc, a, o, row0 + i, p0, kc);
      } else {
        packIm2colCol(desc, a, o, i, row0 + p0, kc);
      }
    }
    out += <usize>(MR * kc) << 2;
  }
}

// One pixel row of im2col: taps p0..p0+kc, written with stride MR.
function packIm2colRow(desc: usize, x: usize, o: usize, pix: i32, p0: i32, kc: i32): void {
  const oh = geti(desc, D_OH);
  const ow = geti(desc, D_OW);
  const cin = geti(desc, D_CIN);
  const kw = geti(desc, D_KW);
  const h = geti(desc, D_H);
  const w = geti(desc, D_W);
  const hw = oh * ow;
  const n = pix / hw;
  const r = pix - n * hw;
  const oy = r / ow;
  const ox = r - oy * ow;
  const by = oy * geti(desc, D_SH) - geti(desc, D_PT);
  const bx = ox * geti(desc, D_SW) - geti(desc, D_PL);
  const dh = geti(desc, D_DH);
  const dw = geti(desc, D_DW);
  let ci = p0 % cin;
  let t = p0 / cin;
  let ky = t / kw;
  let kx = t - ky * kw;
  let p = 0;
  while (p < kc) {
    const iy = by + ky * dh;
    const ix = bx + kx * dw;
    let run = cin - ci;
    if (run > kc - p) run = kc - p;
    if (<u32>iy >= <u32>h || <u32>ix >= <u32>w) {
      for (let q = 0; q < run; q++) {
        store<f32>(o, 0);
        o += MR << 2;
      }
    } else {
      let s = x + (<usize>(((n * h + iy) * w + ix) * cin + ci) << 2);
      for (let q = 0; q < run; q++) {
        store<f32>(o, load<f32>(s));
        s += 4;
        o += MR << 2;
      }
    }
    p += run;
    ci = 0;
    kx++;
    if (kx == kw) {
      kx = 0;
      ky++;
    }
  }
}

// One tap row of im2col^T: pixels pix0..pix0+kc, written with stride MR (pixels walked in order).
function packIm2colCol(desc: usize, x: usize, o: usize, tap: i32, pix0: i32, kc: i32): void {
  const oh = geti(desc, D_OH);
  const ow = geti(desc, D_OW);
  const cin = geti(desc, D_CIN);
  const kw = geti(desc, D_KW);
  const h = geti(desc, D_H);
  const w = geti(desc, D_W);
  const sh = geti(desc, D_SH);
  const sw = geti(desc, D_SW);
  const ci = tap % cin;
  const t = tap / cin;
  const ky = t / kw;
  const kx = t - ky * kw;
  const offY = ky * geti(desc, D_DH) - geti(desc, D_PT);
  const offX = kx * geti(desc, D_DW) - geti(desc, D_PL);
  const hw = oh * ow;
  let n = pix0 / hw;
  const r = pix0 - n * hw;
  let oy = r / ow;
  let ox = r - oy * ow;
  for (let p = 0; p < kc; p++) {
    const iy = oy * sh + offY;
    const ix = ox * sw + offX;
    let v: f32 = 0;
    if (<u32>iy < <u32>h && <u32>ix < <u32>w) {
      v = load<f32>(x + (<usize>(((n * h + iy) * w + ix) * cin + ci) << 2));
    }
    store<f32>(o, v);
    o += MR << 2;
    ox++;
    if (ox == ow) {
      ox = 0;
      oy++;
      if (oy == oh) {
        oy = 0;
        n++;
      }
    }
  }
}

// MR consecutive taps (same filter position, channels ci0..ci0+MR) over pixels pix0..pix0+kc.
function packIm2colPanelT(desc: usize, x: usize, o: usize, tap0: i32, pix0: i32, kc: i32): void {
  const oh = geti(desc, D_OH);
  const ow = geti(desc, D_OW);
  const cin = geti(desc, D_CIN);
  const kw = geti(desc, D_KW);
  const h = geti(desc, D_H);
  const w = geti(desc, D_W);
  const sh = geti(desc, D_SH);
  const sw = geti(desc, D_SW);
  const ci0 = tap0 % cin;
  const t = tap0 / cin;
  const ky = t / kw;
  const kx = t - ky * kw;
  const offY = ky * geti(desc, D_DH) - geti(desc, D_PT);
  const offX = kx * geti(desc, D_DW) - geti(desc, D_PL);
  const hw = oh * ow;
  let n = pix0 / hw;
  const r = pix0 - n * hw;
  let oy = r / ow;
  let ox = r - oy * ow;
  const zero = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const iy = oy * sh + offY;
    const ix = ox * sw + offX;
    if (<u32>iy < <u32>h && <u32>ix < <u32>w) {
      const s = x + (<usize>(((n * h + iy) * w + ix) * cin + ci0) << 2);
      v128.store(o, v128.load(s));
      store<u64>(o, load<u64>(s, 16), 16);
    } else {
      v128.store(o, zero);
      store<u64>(o, 0, 16);
    }
    o += MR << 2;
    ox++;
    if (ox == ow) {
      ox = 0;
      oy++;
      if (oy == oh) {
        oy = 0;
        n++;
      }
    }
  }
}

// Packs rows [p0, p0+kc) x cols [j0, j0+nc) of B into NR-column panels.
function packB(desc: usize, dst: usize, p0: i32, kc: i32, j0: i32, nc: i32): void {
  const N = geti(desc, D_N);
  const b = <usize>geti(desc, D_B);
  const ldb = geti(desc, D_LDB);
  const trans = geti(desc, D_BTRANS);
  let out = dst;
  for (let jr = 0; jr < nc; jr += NR) {
    const j = j0 + jr;
    if (trans == 0 && j + NR <= N) {
      let s = b + (<usize>(p0 * ldb + j) << 2);
      const step = <usize>ldb << 2;
      for (let p = 0; p < kc; p++) {
        v128.store(out, v128.load(s));
        v128.store(out, v128.load(s, 16), 16);
        s += step;
        out += NR << 2;
      }
    } else {
      for (let p = 0; p < kc; p++) {
        for (let c = 0; c < NR; c++) {
          const jj = j + c;
          let v: f32 = 0;
          if (jj < N) {
            v = trans == 0
              ? load<f32>(b + (<usize>((p0 + p) * ldb + jj) << 2))
              : load<f32>(b + (<usize>(jj * ldb + p0 + p) << 2));
          }
          store<f32>(out + (<usize>c << 2), v);
        }
        out += NR << 2;
      }
    }
  }
}

// a * b + c. The plain-SIMD build (build.ts) rewrites the marked line to a multiply and an add.
@inline function madd(a: v128, b: v128, c: v128): v128 {
  return f32x4.relaxed_madd(a, b, c); // MADD
}

// C[MR x NR] (+)= Apanel * Bpanel over kc; partial tiles go through `tmp`.
function micro(
  ap: usize,
  bp: usize,
  kc: i32,
  c: usize,
  ldc: i32,
  mr: i32,
  nr: i32,
  acc: bool,
  tmp: usize,
): void {
  let c00 = f32x4.splat(0);
  let c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0);
  let c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0);
  let c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0);
  let c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0);
  let c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0);
  let c51 = f32x4.splat(0);
  for (let p = 0; p < kc; p++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a: v128;
    a = v128.load32_splat(ap, 0);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = madd(a, b0, c40);
    c41 = madd(a, b1, c41);
    a = v128.load32_splat(ap, 20);
    c50 = madd(a, b0, c50);
    c51 = madd(a, b1, c51);
    ap += MR << 2;
    bp += NR << 2;
  }
  const rs = <usize>ldc << 2;
  if (mr == MR && nr == NR) {
    let q = c;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c00));
      v128.store(q, f32x4.add(v128.load(q, 16), c01), 16);
    } else {
      v128.store(q, c00);
      v128.store(q, c01, 16);
    }
    q += rs;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c10));
      v128.store(q, f32x4.add(v128.load(q, 16), c11), 16);
    } else {
      v128.store(q, c10);
      v128.store(q, c11, 16);
    }
    q += rs;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c20));
      v128.store(q, f32x4.add(v128.load(q, 16), c21), 16);
    } else {
      v128.store(q, c20);
      v128.store(q, c21, 16);
    }
    q += rs;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c30));
      v128.store(q, f32x4.add(v128.load(q, 16), c31), 16);
    } else {
      v128.store(q, c30);
      v128.store(q, c31, 16);
    }
    q += rs;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c40));
      v128.store(q, f32x4.add(v128.load(q, 16), c41), 16);
    } else {
      v128.store(q, c40);
      v128.store(q, c41, 16);
    }
    q += rs;
    if (acc) {
      v128.store(q, f32x4.add(v128.load(q), c50));
      v128.store(q, f32x4.add(v128.load(q, 16), c51), 16);
    } else {
      v128.store(q, c50);
      v128.store(q, c51, 16);
    }
    q += rs;
    return;
  }
  v128.store(tmp, c00, 0);
  v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32);
  v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64);
  v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96);
  v128.store(tmp, c31, 112);
  v128.store(tmp, c40, 128);
  v128.store(tmp, c41, 144);
  v128.store(tmp, c50, 160);
  v128.store(tmp, c51, 176);
  for (let r = 0; r < mr; r++) {
    for (let j = 0; j < nr; j++) {
      const q = c + <usize>r * rs + (<usize>j << 2);
      const v = load<f32>(tmp + (<usize>(r * NR + j) << 2));
      store<f32>(q, acc ? load<f32>(q) + v : v);
    }
  }
}

// C[i0:i1, j0:j1] = beta*C + A*B for the descriptor's operands.
function gemmRange(desc: usize, ws: usize, i0: i32, i1: i32, j0: i32, j1: i32): void {
  const K = geti(desc, D_K);
  const c = <usize>geti(desc, D_C);
  const ldc = geti(desc, D_LDC);
  const beta = geti(desc, D_BETA);
  const pb = ws;
  const pa = ws + (<usize>(KC * NC) << 2);
  const tmp = pa + (<usize>(MC * KC) << 2);
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      const acc = pc > 0 || beta != 0;
      packB(desc, pb, pc, kc, jc, nc);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packA(desc, pa, ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = pb + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const cp = c + (<usize>((ic + ir) * ldc + jc + jr) << 2);
            micro(pa + (<usize>(ir * kc) << 2), bp, kc, cp, ldc, mr, nr, acc, tmp);
          }
        }
      }
    }
  }
  if (K == 0 && beta == 0) {
    for (let i = i0; i < i1; i++) {
      for (let j = j0; j < j1; j++) store<f32>(c + (<usize>(i * ldc + j) << 2), 0);
    }
  }
}

@inline function splitRange(total: i32, align: i32, part: i32, parts: i32): i64 {
  const blocks = (total + align - 1) / align;
  const b0 = <i32>((<i64>blocks * part) / parts);
  const b1 = <i32>((<i64>blocks * (part + 1)) / parts);
  const lo = min(total, b0 * align);
  const hi = min(total, b1 * align);
  return (<i64>lo << 32) | <i64>hi;
}

function gemmPart(desc: usize, part: i32, parts: i32): void {
  const M = geti(desc, D_M);
  const N = geti(desc, D_N);
  const ws = <usize>geti(desc, D_WS) + <usize>part * <usize>WS_BYTES;
  if (geti(desc, D_SPLIT) == 0) {
    const r = splitRange(M, MR, part, parts);
    const lo = <i32>(r >> 32);
    const hi = <i32>(r & 0xffffffff);
    if (lo < hi) gemmRange(desc, ws, lo, hi, 0, N);
  } else {
    const r = splitRange(N, NR, part, parts);
    const lo = <i32>(r >> 32);
    const hi = <i32>(r & 0xffffffff);
    if (lo < hi) gemmRange(desc, ws, 0, M, lo, hi);
  }
}

// col2im: scatter-adds the [rows x taps] matrix at A into the NHWC image at C (split by image).
function col2imPart(desc: usize, part: i32, parts: i32): void {
  const col = <usize>geti(desc, D_A);
  const dx = <usize>geti(desc, D_C);
  const rows = geti(desc, D_M);
  const row0 = geti(desc, D_ROW0);
  const oh = geti(desc, D_OH);
  const ow = geti(desc, D_OW);
  const cin = geti(desc, D_CIN);
  const kh = geti(desc, D_KH);
  const kw = geti(desc, D_KW);
  const h = geti(desc, D_H);
  const w = geti(desc, D_W);
  const sh = geti(desc, D_SH);
  const sw = geti(desc, D_SW);
  const dh = geti(desc, D_DH);
  const dw = geti(desc, D_DW);
  const pt = geti(desc, D_PT);
  const pl = geti(desc, D_PL);
  const taps = kh * kw * cin;
  const hw = oh * ow;
  // Parts own whole images so that no two parts write the same output pixel.
  const nFirst = row0 / hw;
  const nLast = (row0 + rows - 1) / hw;
  const nImg = nLast - nFirst + 1;
  const r = splitRange(nImg, 1, part, parts);
  const lo = <i32>(r >> 32);
  const hi = <i32>(r & 0xffffffff);
  for (let img = nFirst + lo; img < nFirst + hi; img++) {
    const pa = max(row0, img * hw);
    const pb = min(row0 + rows, (img + 1) * hw);
    for (let pix = pa; pix < pb; pix++) {
      const rr = pix - img * hw;
      const oy = rr / ow;
      const ox = rr - oy * ow;
      let src = col + (<usize>(pix - row0) * <usize>taps << 2);
      for (let ky = 0; ky < kh; ky++) {
        const iy = oy * sh + ky * dh - pt;
        for (let kx = 0; kx < kw; kx++) {
          const ix = ox * sw + kx * dw - pl;
          if (<u32>iy < <u32>h && <u32>ix < <u32>w) {
            let d = dx + (<usize>(((img * h + iy) * w + ix) * cin) << 2);
            let c = 0;
            for (; c + 4 <= cin; c += 4) {
              v128.store(d, f32x4.add(v128.load(d), v128.load(src)));
              d += 16;
              src += 16;
            }
            for (; c < cin; c++) {
              store<f32>(d, load<f32>(d) + load<f32>(src));
              d += 4;
              src += 4;
            }
          } else {
            src += <usize>cin << 2;
          }
        }
      }
    }
  }
}

/** Runs slice `part` of `parts` of the job described at `desc`. */
export function run(desc: usize, part: i32, parts: i32): void {
  const kind = geti(desc, D_KIND);
  if (kind == 1) gemmPart(desc, part, parts);
  else if (kind == 2) col2imPart(desc, part, parts);
}
