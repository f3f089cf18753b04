// The block heap in the kernels' memory, and resident outputs at the runtime level (no backend).
import assert from "node:assert/strict";
import { BLOCK_ALIGN, BlockHeap } from "../../lib/backend/cpu/heap.ts";
import { KernelRuntime } from "../../lib/backend/cpu/runtime.ts";
import { WASM_URLS } from "../../lib/backend/cpu/artifacts.ts";
import { conv2d, type ConvGeometry, matmul } from "../../lib/backend/cpu/ops.ts";
import { useResidentStore } from "../../lib/backend/cpu/pool.ts";

function heap(limit = 1 << 20): { h: BlockHeap; grown: number[] } {
  const grown: number[] = [];
  return { h: new BlockHeap(1024, 1024 + limit, (end) => grown.push(end)), grown };
}

Deno.test("block heap: aligned blocks that never overlap; exact sizes are reused", () => {
  const { h, grown } = heap();
  const sizes = [1, 63, 64, 65, 1000, 4096, 7];
  const blocks = sizes.map((s) => ({ at: h.alloc(s)!, s }));
  for (const { at } of blocks) assert.equal(at % BLOCK_ALIGN, 0);
  const sorted = [...blocks].sort((a, b) => a.at - b.at);
  for (let i = 1; i < sorted.length; i++) {
    assert.ok(sorted[i - 1].at + sorted[i - 1].s <= sorted[i].at, "blocks overlap");
  }
  assert.equal(grown[grown.length - 1], h.top, "memory grown up to the top");
  const reused = blocks[4].at;
  h.free(reused);
  assert.equal(h.alloc(1000), reused, "a freed block serves the next request of its size");
  assert.equal(h.usedBytes, [64, 64, 64, 128, 1024, 4096, 64].reduce((a, b) => a + b));
  assert.throws(() => h.free(reused + 64), /not an allocated block/);
  assert.equal(h.blockContaining(reused + 999), reused);
  assert.equal(h.blockContaining(h.top + 10), null);
});

Deno.test("block heap: a full range merges free neighbours and splits them to fit", () => {
  const { h } = heap(4096);
  const quarter = [0, 1, 2, 3].map(() => h.alloc(1024)!);
  assert.equal(h.alloc(64), null, "the range is full");
  h.free(quarter[1]);
  h.free(quarter[2]);
  // Two free 1 KiB blocks, neighbours: only merged can they hold 1.5 KiB.
  const merged = h.alloc(1536);
  assert.equal(merged, quarter[1]);
  assert.equal(h.alloc(512), quarter[1] + 1536, "the rest of the merged range is still free");
  assert.equal(h.alloc(64), null);
  // Freeing the top block lowers the top, so any size fits there again.
  h.free(quarter[3]);
  assert.equal(h.alloc(1024), quarter[3]);
});

Deno.test("block heap: random alloc/free never hands out overlapping live blocks", () => {
  const { h } = heap(1 << 16);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const live = new Map<number, number>();
  for (let i = 0; i < 4000; i++) {
    if (live.size > 0 && rand() < 0.45) {
      const keys = [...live.keys()];
      const at = keys[Math.floor(rand() * keys.length)];
      h.free(at);
      live.delete(at);
      continue;
    }
    const size = 1 + Math.floor(rand() * 3000);
    const at = h.alloc(size);
    if (at === null) continue;
    for (const [b, s] of live) assert.ok(at + size <= b || b + s <= at, `overlap at step ${i}`);
    assert.ok(at >= h.base && at + size <= h.limit);
    live.set(at, size);
  }
  for (const at of live.keys()) h.free(at);
  assert.equal(h.usedBytes, 0);
});

const rt = await KernelRuntime.create(await Deno.readFile(WASM_URLS.simd), 2, "wasm-simd", {
  residentLimitBytes: 3 * 2 ** 20,
});

function seq(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + seed));
}

function naiveMatmul(a: Float32Array, b: Float32Array, m: number, n: number, k: number) {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

function close(got: Float32Array, want: Float32Array): void {
  // Sums of at most 256 products of magnitude ≤ 1 in float32: 1e-4 absolute is ample.
  assert.equal(got.length, want.length);
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= 1e-4, `element ${i}: ${got[i]} vs ${want[i]}`);
  }
}

Deno.test("runtime: resident outputs are computed in place and read as inputs without copies", () => {
  useResidentStore(rt);
  try {
    const [m, n, k] = [64, 96, 128];
    const a = seq(m * k, 1);
    const b = seq(k * n, 2);
    const before = { ...rt.copies };
    const c = matmul(rt, a, b, { batch: 1, m, n, k, transA: false, transB: false });
    assert.notEqual(rt.offsetOf(c), null, "the output lives in kernel memory");
    assert.equal(rt.copies.bytesIn - before.bytesIn, a.byteLength + b.byteLength);
    assert.equal(rt.copies.bytesOut, before.bytesOut, "nothing copied out");
    close(c, naiveMatmul(a, b, m, n, k));
    // c (64×96) as the left operand: read in place.
    const d = seq(n * 32, 3);
    const mid = rt.copies.bytesIn;
    const e = matmul(rt, c, d, { batch: 1, m, n: 32, k: n, transA: false, transB: false });
    assert.equal(rt.copies.bytesIn - mid, d.byteLength, "only the ordinary operand was copied");
    close(e, naiveMatmul(c, d, m, 32, n));
    rt.releaseResident(c);
    rt.releaseResident(e);
    assert.equal(rt.residentBytes, 0);
  } finally {
    useResidentStore(null);
  }
});

Deno.test("runtime: past the resident limit outputs fall back to ordinary arrays, same values", () => {
  useResidentStore(rt);
  const held: Float32Array[] = [];
  try {
    const g: ConvGeometry = {
      batchSize: 2,
      inHeight: 16,
      inWidth: 16,
      inChannels: 8,
      outHeight: 16,
      outWidth: 16,
      outChannels: 16,
      filterHeight: 3,
      filterWidth: 3,
      strideHeight: 1,
      strideWidth: 1,
      dilationHeight: 1,
      dilationWidth: 1,
      padInfo: { top: 1, left: 1 },
    };
    const x = seq(2 * 16 * 16 * 8, 4);
    const w = seq(3 * 3 * 8 * 16, 5);
    const first = conv2d(rt, x, w, g);
    const want = Float32Array.from(first);
    // 32 KiB per output against a 3 MiB limit: later outputs are ordinary arrays.
    let outside = 0;
    for (let i = 0; i < 120; i++) {
      const out = conv2d(rt, x, w, g);
      if (rt.offsetOf(out) === null) outside++;
      else held.push(out);
      assert.deepEqual(out, want);
    }
    assert.ok(outside > 0 && held.length > 0, `${held.length} resident, ${outside} not`);
    assert.ok(rt.residentBytes <= rt.residentLimitBytes);
    assert.ok(rt.copies.bytesOut > 0, "ordinary outputs are copied out of scratch");
    held.push(first);
  } finally {
    for (const h of held) if (rt.offsetOf(h) !== null) rt.releaseResident(h);
    useResidentStore(null);
  }
  assert.equal(rt.residentBytes, 0);
});
