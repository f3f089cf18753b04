/**
 * One product-path training step measured in its own process, so that a model too large for the
 * machine (TESKD at batch 128 on a small one) fails alone and every model starts from a clean heap:
 * `deno run -A bench/cpu_step.ts BATCH baseline|teskd STEPS THREADS [no-resident]`. Prints one JSON
 * line `{"ms_per_step": median, "copied_in_mib": …, "copied_out_mib": …}` (after one warm-up step;
 * the copies between ordinary arrays and WebAssembly kernel memory are per timed step).
 * `no-resident` keeps every tensor in ordinary arrays, to measure what residency saves.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fastCpuRuntime, registerFastCpuBackend } from "../lib/backend/cpu/backend.ts";
import { useResidentStore } from "../lib/backend/cpu/pool.ts";
import { makeTrainStep } from "./train_step.ts";

/** Median ms of `steps` timed steps after one warm-up (`afterWarmUp` runs between them). */
export function stepMs(
  batch: number,
  students: boolean,
  steps: number,
  afterWarmUp: () => void = () => {},
): number {
  const s = makeTrainStep(batch, students);
  try {
    s.run();
    afterWarmUp();
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
  const [batch, model, steps, threads, mode] = Deno.args;
  const nums = [batch, steps, threads].map(Number);
  if (
    nums.some((v) => !Number.isInteger(v) || v < 1) || !["baseline", "teskd"].includes(model) ||
    ![undefined, "no-resident"].includes(mode)
  ) {
    throw new Error(
      `cpu_step.ts: usage BATCH baseline|teskd STEPS THREADS [no-resident] (got ${
        Deno.args.join(" ")
      })`,
    );
  }
  await tf.setBackend((await registerFastCpuBackend({ threads: nums[2] })).name);
  if (mode === "no-resident") useResidentStore(null);
  const copies = fastCpuRuntime()!.copies;
  let start = { ...copies };
  const ms = stepMs(nums[0], model === "teskd", nums[1], () => start = { ...copies });
  const mib = (bytes: number) => +(bytes / nums[1] / 2 ** 20).toFixed(1);
  console.log(JSON.stringify({
    ms_per_step: ms,
    copied_in_mib: mib(copies.bytesIn - start.bytesIn),
    copied_out_mib: mib(copies.bytesOut - start.bytesOut),
    scratch_peak_mib: +(fastCpuRuntime()!.scratchPeakBytes / 2 ** 20).toFixed(1),
  }));
}
