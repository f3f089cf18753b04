/**
 * Data-loading benchmark (`deno task bench data`): CIFAR-shaped augmentation throughput on all cores,
 * and the fraction of step time a simulated training loop spends waiting for batches.
 *
 * Options: `--images N` (generated images, default 10000), `--batch N` (128), `--workers N`
 * (throughput workers, default all cores), `--train-workers N` (workers during the simulated run,
 * default cores − 1, the loader's default), `--step-ms N` (simulated step, 20), `--steps N` (150),
 * `--data-dir DIR` (use CIFAR-10 train from DIR instead of generated data).
 *
 * @module
 */
import { cifarTrain } from "../lib/data/augment.ts";
import { loadCifar } from "../lib/data/cifar.ts";
import { DataLoader } from "../lib/data/loader.ts";
import { generateSynthetic } from "../lib/data/synthetic.ts";
import type { ImageSet } from "../lib/data/types.ts";

function option(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v < 0) {
    throw new Error(`bench data: --${name} needs a number, got ${args[i + 1]}`);
  }
  return v;
}

/** Spins the calling thread for `ms`, standing in for a training step that keeps it busy. */
function busyWait(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* spin */ }
}

/**
 * Runs the data benchmark and prints its results.
 *
 * @example
 * ```ts
 * await benchData(["--images", "20000", "--step-ms", "20"]);
 * ```
 */
export async function benchData(args: string[]): Promise<void> {
  const cores = navigator.hardwareConcurrency ?? 2;
  // Other processes competing for the cores skew both numbers; say how busy the machine was.
  console.log(
    `cores: ${cores}, load average: ${Deno.loadavg().map((v) => v.toFixed(2)).join(" ")}`,
  );
  const batchSize = option(args, "batch", 128);
  const stepMs = option(args, "step-ms", 20);
  const steps = option(args, "steps", 150);
  const dirAt = args.indexOf("--data-dir");
  let set: ImageSet;
  if (dirAt >= 0) {
    set = await loadCifar({ kind: "cifar10", split: "train", dataDir: args[dirAt + 1] });
  } else {
    const t = performance.now();
    set = generateSynthetic({ numClasses: 10, samples: option(args, "images", 10000), seed: 1 });
    console.log(`generated ${set.n} images in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  const spec = { type: "images" as const, ...set, augment: cifarTrain(), seed: 0 };

  // 1. Throughput: every core builds batches, the consumer only takes them.
  const workers = option(args, "workers", cores);
  const fast = new DataLoader(spec, { batchSize, numClasses: set.numClasses, workers });
  try {
    for await (const _ of fast.epoch(0)) { /* warm-up: worker start and JIT */ }
    const t0 = performance.now();
    let images = 0;
    for (let e = 1; e <= 2; e++) for await (const b of fast.epoch(e)) images += b.n;
    const s = (performance.now() - t0) / 1000;
    console.log(
      `augmentation throughput: ${Math.round(images / s)} images/s ` +
        `(${workers} workers on ${cores} cores, batch ${batchSize}, ${images} images in ${
          s.toFixed(2)
        } s)`,
    );
  } finally {
    fast.close();
  }

  // 2. Simulated training: the main thread is busy `stepMs` per step; how long does it wait?
  const trainWorkers = option(args, "train-workers", Math.max(1, cores - 1));
  const loader = new DataLoader(spec, {
    batchSize,
    numClasses: set.numClasses,
    dropLast: true,
    workers: trainWorkers,
  });
  try {
    let waited = 0, waitedAfterFirst = 0, done = 0;
    const t0 = performance.now();
    for (let e = 0; done < steps; e++) {
      const it = loader.epoch(e)[Symbol.asyncIterator]();
      while (done < steps) {
        const w0 = performance.now();
        const r = await it.next();
        const w = performance.now() - w0;
        if (r.done) break;
        waited += w;
        if (done > 0) waitedAfterFirst += w;
        busyWait(stepMs);
        done++;
      }
      await it.return?.(undefined);
    }
    const total = performance.now() - t0;
    console.log(
      `simulated training: ${done} steps of ${stepMs} ms, batch ${batchSize}, ${trainWorkers} ` +
        `workers: waiting for data ` +
        `${((100 * waited) / total).toFixed(2)} % of the time ` +
        `(${((100 * waitedAfterFirst) / total).toFixed(2)} % after the first batch; ` +
        `${waited.toFixed(0)} ms of ${total.toFixed(0)} ms)`,
    );
  } finally {
    loader.close();
  }
}

if (import.meta.main) await benchData(Deno.args);
