/**
 * One product-path training step measured in its own process, so that a model too large for the
 * machine (TESKD at batch 128 on a small one) fails alone and every model starts from a clean heap:
 * `deno run -A bench/cpu_step.ts BATCH baseline|teskd STEPS THREADS`. Prints one JSON line
 * `{"ms_per_step": median}` (after one warm-up step).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { registerFastCpuBackend } from "../lib/backend/cpu/mod.ts";
import { makeTrainStep } from "./train_step.ts";

/** Median ms of `steps` timed steps after one warm-up. */
export function stepMs(batch: number, students: boolean, steps: number): number {
  const s = makeTrainStep(batch, students);
  try {
    s.run();
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      s.run();
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const h = times.length >> 1;
    return times.length % 2 ? times[h] : (times[h - 1] + times[h]) / 2;
  } finally {
    s.dispose();
  }
}

if (import.meta.main) {
  const [batch, model, steps, threads] = Deno.args;
  const nums = [batch, steps, threads].map(Number);
  if (nums.some((v) => !Number.isInteger(v) || v < 1) || !["baseline", "teskd"].includes(model)) {
    throw new Error(
      `cpu_step.ts: usage BATCH baseline|teskd STEPS THREADS (got ${Deno.args.join(" ")})`,
    );
  }
  await tf.setBackend((await registerFastCpuBackend({ threads: nums[2] })).name);
  console.log(JSON.stringify({ ms_per_step: stepMs(nums[0], model === "teskd", nums[1]) }));
}
