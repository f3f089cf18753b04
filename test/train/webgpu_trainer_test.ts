/**
 * The Trainer on WebGPU records what it does on the CPU engine: every step's loss, loss terms and
 * gradient norm, and every epoch's training and test accuracy, from the same seeded run. On CPU-only
 * machines WebGPU is Mesa's llvmpipe (CI installs mesa-vulkan-drivers); on a GPU the same test runs
 * on hardware.
 *
 * How close is close enough is measured in the same test, not guessed: tfjs's own cpu backend runs
 * the same training too, and WebGPU may differ from teskd-cpu by a little more than those two
 * correct float32 engines differ from each other (measured: ~1e-6 relative through the four steps).
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { resolveTrainConfig } from "../../lib/train/config.ts";
import { createExperiment } from "../../lib/train/experiment.ts";
import { type EpochRecord, type StepInfo, Trainer } from "../../lib/train/trainer.ts";
import { tinyRun } from "./tiny_run.ts";

type Engine = "teskd-cpu" | "tfjs-cpu" | "webgpu";

/** Two epochs of a two-student TESKD run (two steps each, 16 test images), on one engine. */
async function trainOn(
  engine: Engine,
  opts: { train?: number; epochs?: number; syncEvery?: number } = {},
): Promise<{ steps: StepInfo[]; epochs: EpochRecord[]; reads: number }> {
  const backend = engine === "webgpu" ? "webgpu" : "cpu";
  await initBackend(backend, { allowSoftwareGpu: true, env: () => undefined });
  if (engine === "tfjs-cpu") await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), engine === "tfjs-cpu" ? "cpu" : engine);
  const config = resolveTrainConfig({
    ...tinyRun({
      data: {
        synthetic: { size: 16, train: opts.train ?? 32, test: 16, classes: 4 },
        batchSize: 16,
      },
      model: { network: "cifarresnet18", widthMultiplier: 1 / 16 },
      method: { name: "teskd", levels: ["8x8", "16x16"] },
      schedule: { epochs: opts.epochs ?? 2, milestones: [1] },
      // At lr 0.1 this tiny net is chaotic (every pair of engines, the two CPU ones included, drifts
      // apart by ~2% by the third step); at 0.01 all three agree to ~1e-6 through four steps.
      optim: { lr: 0.01 },
    }),
    backend,
    outDir: "unused",
  });
  const exp = await createExperiment(config);
  try {
    const steps: StepInfo[] = [];
    const trainer = new Trainer({
      ...exp.trainerOptions(),
      onStep: (s) => void steps.push(s),
      ...(opts.syncEvery ? { syncEvery: opts.syncEvery } : {}),
    });
    // Count the reads from the device (each one waits for the GPU's queue to drain).
    const backendOf = tf.backend() as unknown as { read(id: unknown): Promise<unknown> };
    const read = backendOf.read;
    let reads = 0;
    backendOf.read = function (this: unknown, id: unknown) {
      reads++;
      return read.call(this, id);
    };
    try {
      await trainer.fit();
    } finally {
      backendOf.read = read;
    }
    return { steps, epochs: trainer.history, reads };
  } finally {
    exp.close();
  }
}

/**
 * `gpu` is within float32 reach of `ref` (teskd-cpu): 1e-4 relative, or four times the distance
 * between the two CPU engines (`other` is tfjs's cpu backend), plus `grain` (one image, for
 * accuracies).
 */
function close(gpu: number, ref: number, other: number, what: string, grain = 0) {
  assert.ok([gpu, ref, other].every(Number.isFinite), `${what}: ${gpu}, ${ref}, ${other}`);
  const tol = 1e-4 * Math.abs(ref) + 1e-6 + 4 * Math.abs(other - ref) + grain;
  assert.ok(
    Math.abs(gpu - ref) <= tol,
    `${what}: webgpu ${gpu}, teskd-cpu ${ref} (tfjs cpu ${other}; tolerance ${tol})`,
  );
}

Deno.test({
  name:
    "Trainer on WebGPU: loss terms, gradient norm and accuracies match the CPU engines, step by step",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const ref = await trainOn("teskd-cpu");
    const other = await trainOn("tfjs-cpu");
    const gpu = await trainOn("webgpu");
    await initBackend("cpu", { env: () => undefined });
    for (const run of [ref, other, gpu]) assert.equal(run.steps.length, 4);
    for (const [i, r] of ref.steps.entries()) {
      const [g, o] = [gpu.steps[i], other.steps[i]];
      assert.ok(r.loss > 0.1 && r.gradNorm > 0.1, "a real step, not a zero");
      close(g.loss, r.loss, o.loss, `step ${i} loss`);
      close(g.gradNorm, r.gradNorm, o.gradNorm, `step ${i} gradient norm`);
      assert.deepEqual(Object.keys(g.terms), Object.keys(r.terms));
      for (const k of Object.keys(r.terms)) {
        close(g.terms[k], r.terms[k], o.terms[k], `step ${i} ${k}`);
      }
    }
    for (const [e, r] of ref.epochs.entries()) {
      const [g, o] = [gpu.epochs[e], other.epochs[e]];
      close(g.loss, r.loss, o.loss, `epoch ${e} loss`);
      for (const h of Object.keys(r.trainTop1)) {
        close(
          g.trainTop1[h],
          r.trainTop1[h],
          o.trainTop1[h],
          `epoch ${e} ${h} train top-1`,
          100 / 32,
        );
      }
      for (const h of Object.keys(r.eval)) {
        close(g.eval[h].top1, r.eval[h].top1, o.eval[h].top1, `epoch ${e} ${h} top-1`, 100 / 16);
        close(g.eval[h].top5, r.eval[h].top5, o.eval[h].top5, `epoch ${e} ${h} top-5`, 100 / 16);
      }
    }
  },
});

Deno.test({
  name:
    "Trainer on WebGPU reads the device every syncEvery steps, not every step, to the same history",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // One epoch of 8 steps; 16 test images in 2 evaluation batches (one read each).
    const every = await trainOn("webgpu", { train: 128, epochs: 1, syncEvery: 1 });
    const grouped = await trainOn("webgpu", { train: 128, epochs: 1, syncEvery: 4 });
    const byDefault = await trainOn("webgpu", { train: 128, epochs: 1 });
    await initBackend("cpu", { env: () => undefined });
    assert.equal(every.steps.length, 8);
    assert.equal(every.reads, 8 + 2, "one read per step, plus evaluation");
    // the first step read at once, then steps 2–5 and 6–8 in one read each
    assert.equal(grouped.reads, 1 + 2 + 2);
    // the default on WebGPU: every 8 steps (the first, then steps 2–8 at the end of the epoch)
    assert.equal(byDefault.reads, 1 + 1 + 2);
    const strip = ({ imagesPerSecond: _i, ...rest }: StepInfo) => rest;
    for (const run of [grouped, byDefault]) {
      assert.deepEqual(run.steps.map(strip), every.steps.map(strip));
      assert.deepEqual(
        run.epochs.map((e) => [e.loss, e.terms, e.trainTop1, e.eval]),
        every.epochs
          .map((e) => [e.loss, e.terms, e.trainTop1, e.eval]),
      );
    }
  },
});
