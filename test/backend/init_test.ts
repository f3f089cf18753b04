import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { backendInfo, BackendUnavailableError, initBackend } from "../../lib/backend/mod.ts";
import { probeEngines } from "../../lib/backend/probe.ts";

const noEnv = () => undefined;

Deno.test("initBackend('cpu') activates the fast CPU kernels and reports which run", async () => {
  const info = await initBackend("cpu", { env: noEnv });
  assert.equal(info.name, "cpu");
  assert.equal(tf.getBackend(), "teskd-cpu");
  // oneDNN is a test prerequisite (libdnnl2), and auto picks it over the WebAssembly kernels.
  assert.match(info.cpuEngine ?? "", /^onednn 2\.\d+\.\d+ x\d+ threads? \(wasm-simd/);
  assert.equal(info.requestSource, "argument");
  assert.equal(info.tfjsVersion, "4.22.0");
  assert.equal(backendInfo(), info);
});

Deno.test("TESKD_BACKEND overrides auto, and a bad value is a clear error", async () => {
  const info = await initBackend(undefined, {
    env: (n) => (n === "TESKD_BACKEND" ? "cpu" : undefined),
  });
  assert.equal(info.requested, "cpu");
  assert.equal(info.requestSource, "environment (TESKD_BACKEND)");
  await assert.rejects(
    initBackend(undefined, { env: (n) => (n === "TESKD_BACKEND" ? "tpu" : undefined) }),
    /TESKD_BACKEND: unknown backend "tpu"/,
  );
});

Deno.test("requesting the native TensorFlow backend without the package fails clearly", async () => {
  const probe = await probeEngines();
  assert.equal(probe.tensorflowPackage, undefined, "tfjs-node is not a dependency of this project");
  await assert.rejects(
    initBackend("tensorflow", { env: noEnv }),
    (e: unknown) =>
      e instanceof BackendUnavailableError && /@tensorflow\/tfjs-node-gpu/.test(e.message),
  );
});

Deno.test("WebGPU: the adapter is reported, software adapters need consent, results match cpu", async () => {
  // CI installs Mesa's Vulkan driver, so an adapter (llvmpipe, or real hardware) is always present.
  const probe = await probeEngines();
  const adapter = probe.gpuAdapter;
  assert.ok(adapter, `expected a WebGPU adapter: ${probe.gpuError}`);
  assert.ok(adapter.limits.maxStorageBufferBindingSize > 0);
  if (adapter.software) {
    await assert.rejects(initBackend("webgpu", { env: noEnv }), /software rasterizer/);
    assert.equal((await initBackend("auto", { env: noEnv })).name, "cpu");
  }
  const x = tf.tensor4d(Array.from({ length: 2 * 6 * 6 * 3 }, (_, i) => Math.sin(i)), [2, 6, 6, 3]);
  const w = tf.tensor4d(Array.from({ length: 3 * 3 * 3 * 4 }, (_, i) => Math.cos(i)), [3, 3, 3, 4]);
  const gradOf = () =>
    tf.grad((v) =>
      tf.conv2d(x, v as tf.Tensor4D, 2, [[0, 0], [1, 1], [1, 1], [0, 0]]).square().sum()
    )(
      w,
    ).data();
  await initBackend("cpu", { env: noEnv });
  const onCpu = await gradOf();
  const info = await initBackend("webgpu", { env: noEnv, allowSoftwareGpu: true });
  assert.equal(info.name, "webgpu");
  assert.equal(tf.getBackend(), "webgpu");
  assert.equal(info.adapter?.description, adapter.description);
  const onGpu = await gradOf();
  const scale = Math.max(...onCpu.map(Math.abs));
  onCpu.forEach((v, i) => assert.ok(Math.abs(v - onGpu[i]) <= 1e-5 * scale, `grad[${i}]`));
  await initBackend("cpu", { env: noEnv });
  tf.dispose([x, w]);
});
