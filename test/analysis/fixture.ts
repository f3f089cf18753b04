/** Synthetic trainer histories, steps and run folders for the analysis tests (made here, not by the library). */
import { join } from "node:path";
import type { TrainResults } from "../../lib/train/cli.ts";
import type { TrainConfig } from "../../lib/train/config.ts";
import type { EpochRecord, StepInfo } from "../../lib/train/trainer.ts";

/** A history of `epochs` records with heads teacher, 8x8, 16x16 and terms ce, kd, fea. */
export function makeHistory(epochs: number, offset = 0): EpochRecord[] {
  return Array.from({ length: epochs }, (_, e) => ({
    epoch: e,
    lr: 0.1 * 0.5 ** Math.floor(e / 3),
    loss: 3 - e * 0.2 + offset,
    terms: { ce: 2 - e * 0.1, kd: 0.7 - e * 0.05, fea: 0.3 - e * 0.01 },
    trainTop1: { teacher: 20 + e * 5, "8x8": 18 + e * 5 },
    eval: {
      teacher: { top1: 30 + e * 4 + offset, top5: 60 + e * 2 },
      "8x8": { top1: 28 + e * 4 - (e === epochs - 1 ? 6 : 0), top5: 58 + e * 2 },
      "16x16": { top1: 25 + e * 3, top5: 55 + e * 2 },
    },
    deployedHead: "teacher",
    evalLoss: 2.5 - e * 0.1,
    images: 5000,
    steps: 40,
    globalStep: (e + 1) * 40,
    trainSeconds: 10 + e,
    evalSeconds: 2,
    imagesPerSecond: 500 + e,
  }));
}

/**
 * A history of a one-head method (the baseline's head "model", or a KD method's "student"): heads
 * `head` and "aux" (an extra head scoring far higher, so a reader that takes anything but the
 * deployed head is caught).
 */
export function makeOneHeadHistory(epochs: number, head = "model"): EpochRecord[] {
  return makeHistory(epochs).map((r) => ({
    ...r,
    terms: { cls: r.terms.ce },
    trainTop1: { [head]: r.trainTop1.teacher },
    eval: {
      aux: { top1: 95, top5: 99 },
      [head]: { top1: 20 + r.epoch * 3, top5: 50 + r.epoch },
    },
    deployedHead: head,
  }));
}

/** Step `step` of epoch `epoch` with `bpe` batches per epoch. */
export function makeStep(epoch: number, step: number, bpe: number): StepInfo {
  return {
    epoch,
    step,
    batchesPerEpoch: bpe,
    globalStep: epoch * bpe + step + 1,
    loss: 2.5 - 0.01 * (epoch * bpe + step),
    terms: { ce: 1.5, kd: 0.75, fea: 0.25 },
    lr: 0.1,
    gradNorm: 1,
    images: 128,
    imagesPerSecond: 640,
  };
}

/**
 * Writes a run folder by hand in the CLI's format (training on CIFAR-100 is not possible in a test):
 * `config.json`, `history.json` with the deployed head's test top-1 per epoch (and a head "other"
 * scoring 99 that a reader must not take), and `results.json` when the run finished.
 *
 * @param afterLastMilestone the `bestAfterLastMilestoneTop1` to record, when the run has one
 */
export async function writeRunFolder(
  dir: string,
  config: TrainConfig,
  head: string,
  top1: number[],
  opts: { done?: boolean; afterLastMilestone?: number } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
  const history = top1.map((v, epoch) => ({
    epoch,
    lr: config.optim.lr,
    loss: 1,
    terms: {},
    trainTop1: {},
    eval: { other: { top1: 99, top5: 99 }, [head]: { top1: v, top5: 90 } },
    deployedHead: head,
    images: 1,
    steps: 1,
    globalStep: epoch + 1,
    trainSeconds: 1,
    evalSeconds: 1,
    imagesPerSecond: 1,
  }));
  await Deno.writeTextFile(join(dir, "history.json"), JSON.stringify(history));
  if (opts.done === false) return;
  const best = Math.max(...top1);
  const results: TrainResults = {
    method: config.method.name,
    deployedHead: head,
    finalTop1: top1.at(-1)!,
    bestTop1: best,
    bestEpoch: top1.indexOf(best),
    ...(opts.afterLastMilestone === undefined
      ? {}
      : { bestAfterLastMilestoneTop1: opts.afterLastMilestone }),
    finalTop1ByHead: { other: 99, [head]: top1.at(-1)! },
    epochs: top1.length,
    trainSeconds: top1.length,
  };
  await Deno.writeTextFile(join(dir, "results.json"), JSON.stringify(results));
}

/**
 * Writes `<dir>/ablation.json` as `runAblation` does (the base, the factors and every run's id with
 * its factor values), so `ablationTable(dir)` reads the grid; the run folders are written
 * separately (e.g. {@link writeRunFolder}), and a run without one reads as "not run".
 */
export async function writeGridManifest(
  dir: string,
  base: unknown,
  factors: Record<string, unknown[]>,
  runs: { id: string; factors: Record<string, unknown> }[],
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    join(dir, "ablation.json"),
    JSON.stringify({ base, factors, runs: runs.map((r) => ({ id: r.id, factors: r.factors })) }),
  );
}
