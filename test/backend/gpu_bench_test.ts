/**
 * Smoke test of `deno task bench gpu` (bench/gpu.ts) on whatever WebGPU adapter the machine offers
 * (Mesa's llvmpipe on CPU-only machines) at a tiny shape: the measuring function returns finite,
 * positive figures for both models, a step profile, and PyTorch figures or a plain reason.
 */
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import {
  formatGpuReport,
  GPU_BENCH_DEFAULTS,
  measureGpu,
  parseArgs,
  type TorchFigure,
  torchReference,
} from "../../bench/gpu.ts";

/** What /usr/bin/python3 offers: no torch, torch without CUDA, or torch with CUDA. */
async function torchHere(): Promise<"none" | "cpu" | "cuda"> {
  try {
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import torch; print(torch.cuda.is_available())"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return "none";
    return new TextDecoder().decode(out.stdout).trim() === "True" ? "cuda" : "cpu";
  } catch {
    return "none";
  }
}

const positive = (v: number | undefined, what: string) =>
  assert.ok(v !== undefined && Number.isFinite(v) && v > 0, `${what}: ${v}`);

function assertTorchFigure(t: TorchFigure, available: boolean, device: string): void {
  if (available) {
    assert.ok(t.ok, `PyTorch should have run on ${device}: ${t.ok ? "" : t.reason}`);
    positive(t.msPerStep, "PyTorch ms/step");
    assert.equal(t.device, device);
  } else {
    assert.ok(!t.ok);
    assert.match(t.reason, /PyTorch is not installed|CUDA unavailable/);
  }
}

Deno.test("bench gpu measures both training steps at a tiny shape", async () => {
  const torch = await torchHere();
  const r = await measureGpu({
    batch: 2,
    width: 0.0625,
    steps: 1,
    warmup: 1,
    allowSoftware: true,
    torch: "cpu",
    threads: 1,
  });
  try {
    assert.equal(r.backend.name, "webgpu");
    assert.ok(r.adapter.description.length > 0 || r.adapter.vendor.length > 0);
    assert.deepEqual(r.models.map((m) => m.model), ["baseline", "teskd"]);
    for (const m of r.models) {
      assert.equal(m.stepMs.length, 1);
      positive(m.msPerStep, `${m.model} ms/step`);
      positive(m.imagesPerSec, `${m.model} img/s`);
      assert.ok(Math.abs(m.imagesPerSec - 2000 / m.msPerStep) < 1e-9);
      positive(m.loss, `${m.model} loss`);
      const p = m.profile!;
      positive(p.wallMs, "profiled step wall");
      assert.ok(p.kernelCalls > 100, `${m.model}: only ${p.kernelCalls} kernels`);
      assert.ok(p.topKernels.some((k) => k.name === "Conv2D"));
      // The product step reads its loss once, asynchronously.
      assert.equal(p.readbacks, 1);
      if (p.kernelMs !== undefined) {
        positive(p.kernelMs, "kernel ms");
        assert.ok(Math.abs(p.otherMs! + p.kernelMs - p.wallMs) < 1e-6);
      }
      assertTorchFigure(m.torch.fp32, torch !== "none", "cpu");
      assert.ok(!m.torch.amp.ok && /AMP needs CUDA/.test(m.torch.amp.reason));
    }
    // The student-carrying model does strictly more work than the teacher alone.
    assert.ok(r.models[1].profile!.kernelCalls > r.models[0].profile!.kernelCalls);
    const report = formatGpuReport(r).join("\n");
    assert.match(report, /^adapter: /);
    assert.match(report, /shader-f16: (yes|no).*timestamp-query: (yes|no)/);
    assert.match(report, /PyTorch AMP: not run \(AMP needs CUDA; torch device cpu\); no ratio/);
    if (torch !== "none") assert.match(report, /teskd-webgpu \/ PyTorch-cpu-float32 time = /);
  } finally {
    await initBackend("cpu", { env: () => undefined });
  }
});

Deno.test("bench gpu says plainly when PyTorch has no CUDA, and parses its arguments", async () => {
  const torch = await torchHere();
  const t = await torchReference(
    "baseline",
    { ...GPU_BENCH_DEFAULTS, batch: 2, width: 0.0625, steps: 1, warmup: 0, torch: "cuda" },
    false,
  );
  assertTorchFigure(t, torch === "cuda", "cuda");
  assert.deepEqual(
    parseArgs(["--batch", "2", "--allow-software", "--torch-device", "cpu", "--models", "teskd"]),
    { batch: 2, allowSoftware: true, torch: "cpu", models: ["teskd"] },
  );
  assert.throws(() => parseArgs(["--torch-device", "rocm"]), /cuda or cpu/);
  assert.throws(() => parseArgs(["--fast"]), /unknown argument --fast/);
  await assert.rejects(measureGpu({ batch: 0 }), /batch must be a positive integer/);
});
