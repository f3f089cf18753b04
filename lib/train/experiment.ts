/**
 * Builds everything a run needs from a {@link TrainConfig}: the model (TESKD with its students, or the
 * teacher alone for the baseline), the loss, the heads to score, and the training and test data.
 * Notebooks and the CLI build runs the same way.
 *
 * @example
 * ```ts
 * const exp = await createExperiment(resolveTrainConfig({ dataset: "synthetic", epochs: 2 }));
 * const trainer = new Trainer({ ...exp.trainerOptions(), onEpoch: console.log });
 * await trainer.fit();
 * exp.close();
 * ```
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { loadCifar } from "../data/cifar.ts";
import type { DataLoader } from "../data/loader.ts";
import { cifarLoader } from "../data/presets.ts";
import { generateSynthetic } from "../data/synthetic.ts";
import type { ImageSet } from "../data/types.ts";
import { teskdLoss } from "../losses/teskd.ts";
import type { Teskd, TeskdOutput } from "../models/teskd.ts";
import { createTeskd } from "../models/zoo.ts";
import type { TrainConfig } from "./config.ts";
import type { LossResult, TrainerOptions } from "./trainer.ts";

/** A run's parts, ready for a {@link Trainer}. */
export interface Experiment {
  /** The resolved configuration. */
  config: TrainConfig;
  /** The model (for the baseline: the teacher with no student attached). */
  model: Teskd;
  /** The loss of the method. */
  loss: (out: TeskdOutput, labels: tf.Tensor1D) => LossResult;
  /** The teacher and each attached student, by name ("teacher", "8x8", "16x16", "32x32"). */
  heads: (out: TeskdOutput) => Record<string, tf.Tensor2D>;
  /** Training batches (shuffled and augmented per epoch from the seed). */
  data: DataLoader;
  /** Test batches (in order, not augmented). */
  evalData: DataLoader;
  /** Number of classes. */
  numClasses: number;
  /** The options of a {@link Trainer} for this run (add callbacks as needed). */
  trainerOptions(): TrainerOptions<TeskdOutput>;
  /** Stops the data workers and frees the model. */
  close(): void;
}

/** Logits of the teacher and of every student present in the output. */
export function teskdHeads(out: TeskdOutput): Record<string, tf.Tensor2D> {
  const heads: Record<string, tf.Tensor2D> = { teacher: out.teacher.logits as tf.Tensor2D };
  for (const [level, s] of Object.entries(out.students)) {
    if (s !== undefined) heads[level] = s.logits as tf.Tensor2D;
  }
  return heads;
}

/**
 * Loads the data and builds the model of a run.
 *
 * @throws Error when the data cannot be found (CIFAR without `download`) or a setting is impossible
 */
export async function createExperiment(config: TrainConfig): Promise<Experiment> {
  const [train, test] = await loadSets(config);
  const numClasses = train.numClasses;
  const model = createTeskd(config.network, {
    numClasses,
    seed: config.seed,
    widthMultiplier: config.widthMultiplier,
    fusion: config.fusion,
    levels: config.method === "baseline" ? [] : config.levels,
  });
  const lossOpts = config.method === "baseline"
    ? { ceWeight: 1 } // the paper's baseline: plain cross-entropy
    : {
      ceWeight: config.ce,
      kdWeight: config.kd,
      feaWeight: config.fea,
      temperature: config.temperature,
      detachTeacher: config.detachTeacher,
    };
  const loss = (out: TeskdOutput, labels: tf.Tensor1D): LossResult =>
    teskdLoss(out, labels, lossOpts);
  const loader = (set: ImageSet, trainSplit: boolean) =>
    cifarLoader(set, {
      train: trainSplit,
      seed: config.seed,
      batchSize: trainSplit ? config.batchSize : config.evalBatchSize,
      workers: config.workers,
    });
  const data = loader(train, true);
  const evalData = loader(test, false);
  return {
    config,
    model,
    loss,
    heads: teskdHeads,
    data,
    evalData,
    numClasses,
    trainerOptions: () => ({
      model,
      loss,
      heads: teskdHeads,
      data,
      evalData,
      optimizer: {
        momentum: config.momentum,
        nesterov: config.nesterov,
        weightDecay: config.weightDecay,
      },
      schedule: {
        kind: config.schedule,
        baseLr: config.lr,
        epochs: config.epochs,
        milestones: config.milestones,
        gamma: config.gamma,
        warmupEpochs: config.warmupEpochs,
        perStep: config.perStepSchedule,
      },
      seed: config.seed,
      config,
    }),
    close: () => {
      data.close();
      evalData.close();
      model.dispose();
    },
  };
}

async function loadSets(config: TrainConfig): Promise<[ImageSet, ImageSet]> {
  if (config.dataset === "synthetic") {
    const common = {
      numClasses: config.syntheticClasses,
      difficulty: config.syntheticDifficulty,
      size: config.syntheticSize,
      classSeed: config.seed,
    };
    return [
      subset(
        generateSynthetic({ ...common, samples: config.syntheticTrain, seed: config.seed }),
        config.trainSubset,
      ),
      subset(
        generateSynthetic({ ...common, samples: config.syntheticTest, seed: config.seed + 1 }),
        config.evalSubset,
      ),
    ];
  }
  const opts = { kind: config.dataset, dataDir: config.dataDir, download: config.download };
  const train = await loadCifar({ ...opts, split: "train" });
  const test = await loadCifar({ ...opts, split: "test" });
  return [subset(train, config.trainSubset), subset(test, config.evalSubset)];
}

/** The first `n` images of a set (all when n is 0 or larger than the set). */
function subset(set: ImageSet, n: number): ImageSet {
  if (n === 0 || n >= set.n) return set;
  const per = set.channels * set.height * set.width;
  return { ...set, n, images: set.images.subarray(0, n * per), labels: set.labels.subarray(0, n) };
}
