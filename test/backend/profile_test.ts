/**
 * profileStep on the teskd-cpu backend and on WebGPU (Mesa's llvmpipe on CPU-only machines): kernel
 * names and counts, readbacks, memory, kernel-time bookkeeping, and the backend left as it was found.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { formatStepProfile, profileStep } from "../../lib/backend/profile.ts";

/**
 * A tiny graph with a known shape: one BatchMatMul, three Adds (scalars and `ones` are made without
 * kernels), two readbacks of a 4x4 float32 tensor (64 bytes each), and one tensor kept per run.
 */
function tinyGraph(read: (t: tf.Tensor) => Promise<unknown> | unknown, kept: tf.Tensor[]) {
  return async () => {
    const a = tf.ones([4, 4]);
    const b = tf.matMul(a, a);
    const c = tf.tidy(() => tf.add(tf.add(tf.add(b, 1), 2), 3));
    await read(b);
    await read(c);
    kept.push(c);
    tf.dispose([a, b]);
  };
}

const WRAPPED = ["read", "readSync", "runWebGPUProgram"] as const;

/** The backend's wrapped methods as they are now: whether own, and the function. */
function readMethods(backend: tf.KernelBackend): [boolean, unknown][] {
  const b = backend as unknown as Record<string, unknown>;
  return WRAPPED.map((key) => [Object.hasOwn(backend, key), b[key]]);
}

/**
 * The wrapped methods are as they were before profiling: the prototype's, or (WebGPU, whose reads
 * the memory guard wraps, webgpu_memory.ts) the same own functions; no profiling wrapper is left.
 */
function assertReadsRestored(
  backend: tf.KernelBackend,
  before: [boolean, unknown][] = WRAPPED.map(() => [false, undefined]),
): void {
  const proto = Object.getPrototypeOf(backend) as Record<string, unknown>;
  const now = readMethods(backend);
  WRAPPED.forEach((key, i) => {
    const [wasOwn, was] = before[i];
    assert.equal(now[i][0], wasOwn, `${key} ${wasOwn ? "lost" : "left as"} an own property`);
    assert.equal(now[i][1], wasOwn ? was : proto[key], `${key} not restored`);
  });
}

async function checkBackend(name: "cpu" | "webgpu", read: (t: tf.Tensor) => unknown) {
  await initBackend(name, { allowSoftwareGpu: true, env: () => undefined });
  const backend = tf.backend();
  const kept: tf.Tensor[] = [];
  const before = tf.memory().numTensors;
  const methods = readMethods(backend);
  const p = await profileStep(tinyGraph(read, kept), { top: 5 });
  try {
    assert.equal(p.backend, tf.getBackend());
    assert.equal(p.readbacks, 2);
    assert.equal(p.readbackBytes, 2 * 16 * 4);
    assert.equal(p.kernelCalls, 4);
    assert.equal(p.distinctKernels, 2);
    const calls = Object.fromEntries(p.topKernels.map((k) => [k.name, k.calls]));
    assert.deepEqual(calls, { Add: 3, BatchMatMul: 1 });
    // Each run keeps exactly one 4x4 float32 tensor; everything else is disposed.
    assert.equal(p.newTensors, 1);
    assert.equal(p.newBytes, 64);
    assert.equal(tf.memory().numTensors, before + 2);
    assert.ok(p.peakBytes >= 64);
    assert.ok(Number.isFinite(p.wallMs) && p.wallMs > 0);
    assert.ok(Number.isFinite(p.profiledWallMs) && p.profiledWallMs > 0);
    assertReadsRestored(backend, methods);
    assert.match(formatStepProfile(p), /readbacks/);
    return p;
  } finally {
    tf.dispose(kept);
  }
}

Deno.test("profileStep counts kernels, readbacks and memory on teskd-cpu", async () => {
  const p = await checkBackend("cpu", (t) => t.dataSync());
  assert.equal(p.kernelTiming, "host-clock");
  assert.equal(p.gpuPrograms, undefined);
  assert.ok(p.kernelMs !== undefined && p.kernelMs >= 0 && p.kernelMs <= p.profiledWallMs);
  assert.equal(p.otherMs, p.wallMs - p.kernelMs);
  const sum = p.topKernels.reduce((s, k) => s + (k.ms ?? NaN), 0);
  assert.ok(Math.abs(sum - p.kernelMs) < 1e-9);
});

Deno.test("profileStep on WebGPU counts async readbacks and reports timestamp kernel time", async () => {
  const info = await initBackend("webgpu", { allowSoftwareGpu: true, env: () => undefined });
  const p = await checkBackend("webgpu", (t) => t.data());
  // One program for the matmul, one per Add: b lives on the GPU, so no Add is handed to the CPU.
  assert.equal(p.gpuPrograms, 4);
  const timestamps = info.adapter?.features.includes("timestamp-query") === true;
  // tfjs requests 'timestamp-query' whenever the adapter has it; without it time is not guessed.
  assert.equal(p.kernelTiming, timestamps ? "gpu-timestamps" : "unavailable");
  if (timestamps) {
    assert.ok(p.kernelMs !== undefined && Number.isFinite(p.kernelMs) && p.kernelMs >= 0);
    assert.equal(p.otherMs, p.wallMs - p.kernelMs);
  } else {
    assert.equal(p.kernelMs, undefined);
    assert.equal(p.otherMs, undefined);
    assert.ok(p.topKernels.every((k) => k.ms === undefined));
  }
  await initBackend("cpu", { env: () => undefined });
});

Deno.test("profileStep restores the read methods when the work throws, and refuses nesting", async () => {
  await initBackend("cpu", { env: () => undefined });
  const backend = tf.backend();
  await assert.rejects(
    profileStep(() => {
      tf.tidy(() => tf.tensor([1, 2]).dataSync());
      throw new Error("boom");
    }),
    /boom/,
  );
  assertReadsRestored(backend);
  let inner: unknown;
  await profileStep(async () => {
    inner ??= await profileStep(() => 0).catch((e: Error) => e);
  });
  assert.ok(inner instanceof Error && /nested/.test(inner.message));
  await assert.rejects(profileStep(() => 0, { top: -1 }), /top must be/);
  assertReadsRestored(backend);
});
