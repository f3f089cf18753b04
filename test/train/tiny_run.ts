/**
 * The smallest real training run the tests use: ResNet-18 at 1/64 width on 8×8 synthetic images,
 * one student, one epoch — well under a second on the CPU kernels.
 */
import type { TrainConfigInput } from "../../lib/train/config.ts";

/** A whole-run config; spread it and override what a test varies. */
export const TINY_RUN: Readonly<TrainConfigInput> = Object.freeze<TrainConfigInput>({
  data: {
    dataset: "synthetic",
    synthetic: { size: 8, train: 16, test: 8, classes: 4 },
    batchSize: 8,
    evalBatchSize: 8,
    workers: 0,
  },
  model: { network: "cifarresnet18", widthMultiplier: 1 / 64 },
  method: { name: "teskd", levels: ["8x8"] },
  backend: "cpu",
  schedule: { epochs: 1, milestones: [1] },
});

/** {@link TINY_RUN} with parts replaced (one level deep: `{ schedule: { epochs: 2 } }` keeps the milestones). */
export function tinyRun(over: TrainConfigInput = {}): TrainConfigInput {
  const out: Record<string, unknown> = structuredClone(TINY_RUN) as Record<string, unknown>;
  for (const [k, v] of Object.entries(over)) {
    const base = out[k];
    out[k] = typeof v === "object" && v !== null && !Array.isArray(v) && typeof base === "object" &&
        base !== null && !(k === "method" && (v as { name?: string }).name !== undefined &&
          (v as { name?: string }).name !== (base as { name?: string }).name)
      ? { ...base, ...v }
      : v;
  }
  return out as TrainConfigInput;
}
