import assert from "node:assert/strict";
import {
  BackendUnavailableError,
  chooseBackend,
  parseBackendRequest,
} from "../../lib/backend/choose.ts";
import type { EngineProbe, GpuAdapterSummary } from "../../lib/backend/probe.ts";

function adapter(description: string, software: boolean): GpuAdapterSummary {
  return {
    vendor: "0x10de",
    architecture: "",
    device: "",
    description,
    software,
    features: [],
    limits: {},
  };
}

const nothing: EngineProbe = { tensorflowError: "not installed", gpuError: "no adapter" };
const hardware: EngineProbe = { gpuAdapter: adapter("NVIDIA H100", false) };
const software: EngineProbe = { gpuAdapter: adapter("llvmpipe (LLVM 15)", true) };
const native: EngineProbe = { tensorflowPackage: "@tensorflow/tfjs-node-gpu", ...hardware };

Deno.test("auto prefers the native binding, then a hardware GPU, then the CPU", () => {
  assert.equal(chooseBackend("auto", native).name, "tensorflow");
  assert.equal(chooseBackend("auto", hardware).name, "webgpu");
  assert.equal(chooseBackend("auto", nothing).name, "cpu");
});

Deno.test("auto passes over a software adapter unless allowed, and says so", () => {
  const choice = chooseBackend("auto", software);
  assert.equal(choice.name, "cpu");
  assert.match(choice.reason, /software.*llvmpipe/);
  assert.equal(chooseBackend("auto", software, { allowSoftwareGpu: true }).name, "webgpu");
});

Deno.test("an explicit request that cannot be met throws instead of falling back", () => {
  assert.throws(() => chooseBackend("tensorflow", hardware), BackendUnavailableError);
  assert.throws(
    () => chooseBackend("webgpu", nothing),
    /no WebGPU adapter is available: no adapter/,
  );
  assert.throws(() => chooseBackend("webgpu", software), /software rasterizer \(llvmpipe/);
  assert.equal(chooseBackend("webgpu", software, { allowSoftwareGpu: true }).name, "webgpu");
  assert.equal(chooseBackend("cpu", native).name, "cpu");
  assert.equal(
    chooseBackend("tensorflow", native).reason,
    "requested; @tensorflow/tfjs-node-gpu loaded",
  );
});

Deno.test("backend names parse case-insensitively and unknown names are rejected clearly", () => {
  assert.equal(parseBackendRequest(" WebGPU "), "webgpu");
  assert.equal(parseBackendRequest("auto"), "auto");
  assert.throws(
    () => parseBackendRequest("cuda", "TESKD_BACKEND"),
    /TESKD_BACKEND: unknown backend "cuda"; expected one of auto, tensorflow, webgpu, cpu/,
  );
});
