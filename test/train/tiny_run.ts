/**
 * The smallest real training run the tests use: ResNet-18 at 1/64 width on 8×8 synthetic images,
 * one student, one epoch — well under a second on the CPU kernels.
 */
import type { TrainConfig } from "../../lib/train/config.ts";

/** A whole-run config fragment; spread it and override what a test varies. */
export const TINY_RUN: Readonly<Partial<TrainConfig>> = Object.freeze<Partial<TrainConfig>>({
  dataset: "synthetic",
  levels: ["8x8"],
  widthMultiplier: 1 / 64,
  syntheticSize: 8,
  syntheticTrain: 16,
  syntheticTest: 8,
  syntheticClasses: 4,
  batchSize: 8,
  evalBatchSize: 8,
  workers: 0,
  backend: "cpu",
  epochs: 1,
  milestones: [1],
});
