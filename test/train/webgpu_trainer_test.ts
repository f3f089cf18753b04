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
async function trainOn(engine: Engine): Promise<{ steps: StepInfo[]; epochs: EpochRecord[] }> {
  const backend = engine === "webgpu" ? "webgpu" : "cpu";
  await initBackend(backend, { allowSoftwareGpu: true, env: () => undefined });
  if (engine === "tfjs-cpu") await tf.setBackend("cpu");
  assert.equal(tf.getBackend(), engine === "tfjs-cpu" ? "cpu" : engine);
  const config = resolveTrainConfig({
    ...tinyRun({
      data: { synthetic: { size: 16, train: 32, test: 16, classes: 4 }, batchSize: 16 },
      model: { network: "cifarresnet18", widthMultiplier: 1 / 16 },
      method: { name: "teskd", levels: ["8x8", "16x16"] },
      schedule: { epochs: 2, milestones: [1] },
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
    const trainer = new Trainer({ ...exp.trainerOptions(), onStep: (s) => void steps.push(s) });
    await trainer.fit();
    return { steps, epochs: trainer.history };
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
