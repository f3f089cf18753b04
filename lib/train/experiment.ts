/**
 * Builds everything a run needs from a {@link TrainConfig}: the networks (the student; the frozen
 * teacher of a teacher→student method, loaded from its checkpoint or handed over in memory), the
 * method's distiller, and the training and test data. Notebooks, the CLI and ablations build runs the
 * same way; nothing here names a method.
 *
 * @example
 * ```ts
 * const teacher = await loadTeacher("resnet32x4", "resnet32x4_best.pth");
 * const run = await createExperiment({ method: { name: "simkd", factor: 2 }, student: "resnet8x4", teacher });
 * await new Trainer(run.trainerOptions()).fit();
 * run.close();
 * ```
 *
 * @module
 */
import { loadCifar } from "../data/cifar.ts";
import type { DataLoader } from "../data/loader.ts";
import { cifarLoader } from "../data/presets.ts";
import { generateSynthetic } from "../data/synthetic.ts";
import type { ImageSet } from "../data/types.ts";
import type { Distiller } from "../distill/distiller.ts";
import { buildDistiller, getMethod } from "../distill/registry.ts";
import { loadTeacher } from "../distill/teacher.ts";
import type { Network } from "../models/network.ts";
import { createNetwork } from "../models/registry.ts";
import {
  resolveTrainConfig,
  type TeacherConfig,
  type TrainConfig,
  type TrainConfigInput,
} from "./config.ts";
import type { TrainerOptions } from "./trainer.ts";

/** A run's parts, ready for a {@link Trainer}. */
export interface Experiment {
  /** The resolved configuration. */
  config: TrainConfig;
  /** The method built for the run's networks. */
  distiller: Distiller;
  /** Training batches (shuffled and augmented per epoch from the seed). */
  data: DataLoader;
  /** Test batches (in order, not augmented). */
  evalData: DataLoader;
  /** Number of classes. */
  numClasses: number;
  /** The options of a {@link Trainer} for this run (add callbacks as needed). */
  trainerOptions(): TrainerOptions;
  /** Stops the data workers and frees the networks (an in-memory teacher stays with its owner). */
  close(): void;
}

/** A config, plus two notebook shorthands. */
export interface ExperimentInput extends TrainConfigInput {
  /** Shorthand for `model.network`: the network being trained. */
  student?: string;
  /** A teacher already in memory (e.g. from {@link loadTeacher}); it is frozen and used as it is. */
  teacher?: Network;
}

/**
 * Loads the data and builds the networks and the method of a run.
 *
 * @param input a resolved config, or any part of one (resolved here, see {@link resolveTrainConfig})
 * @throws Error when the data or the teacher's checkpoint cannot be found, or a setting is impossible
 */
export async function createExperiment(
  input: TrainConfig | ExperimentInput,
  source = "experiment",
): Promise<Experiment> {
  const { student, teacher: given, ...rest } = input as ExperimentInput;
  const partial: TrainConfigInput = { ...rest };
  if (student !== undefined) partial.model = { ...partial.model, network: student };
  if (given !== undefined) {
    partial.model = {
      ...partial.model,
      teacher: { network: given.arch, ...partial.model?.teacher },
    };
  }
  const config = resolveTrainConfig(partial, source);
  const method = getMethod(config.method.name);
  const [train, test] = await loadSets(config);
  const numClasses = train.numClasses;
  let teachers: Network[] = [];
  if (method.needsTeacher) {
    teachers = given !== undefined
      ? [given]
      : config.model.teachers !== undefined
      ? await Promise.all(config.model.teachers.map((t) => loadConfiguredTeacher(t, numClasses)))
      : [await configuredTeacher(config, numClasses)];
    for (const t of teachers) {
      if (t.numClasses !== numClasses) {
        throw new Error(
          `${source}: the teacher ${t.arch} has ${t.numClasses} classes, the data set ${numClasses}`,
        );
      }
    }
  }
  const teacher = teachers[0];
  const studentNet = createNetwork(config.model.network, {
    numClasses,
    seed: config.seed,
    widthMultiplier: config.model.widthMultiplier,
  });
  // The method's own modules draw from their own stream, so they never change the student's weights.
  const distiller = buildDistiller(config.method, {
    student: studentNet,
    teacher,
    teachers: teachers.length > 1 ? teachers : undefined,
    inputSize: train.height,
    seed: config.seed + 1,
    trainLabels: train.labels,
    batchSize: config.data.batchSize,
  });
  const loader = (set: ImageSet, trainSplit: boolean) =>
    cifarLoader(set, {
      train: trainSplit,
      seed: config.seed,
      batchSize: trainSplit ? config.data.batchSize : config.data.evalBatchSize,
      workers: config.data.workers,
      dropLast: trainSplit && distiller.fixedBatch !== undefined,
    });
  const data = loader(train, true);
  const evalData = loader(test, false);
  return {
    config,
    distiller,
    data,
    evalData,
    numClasses,
    trainerOptions: () => ({
      distiller,
      data,
      evalData,
      optimizer: {
        momentum: config.optim.momentum,
        nesterov: config.optim.nesterov,
        weightDecay: config.optim.weightDecay,
      },
      schedule: {
        kind: config.schedule.kind,
        baseLr: config.optim.lr,
        epochs: config.schedule.epochs,
        milestones: config.schedule.milestones,
        gamma: config.schedule.gamma,
        warmupEpochs: config.schedule.warmupEpochs,
        perStep: config.schedule.perStep,
      },
      seed: config.seed,
      config,
    }),
    close: () => {
      data.close();
      evalData.close();
      distiller.module.dispose();
      for (const t of teachers) if (t !== given) t.dispose();
    },
  };
}

/** The teacher the config names, loaded from its checkpoint and frozen. */
async function configuredTeacher(config: TrainConfig, numClasses: number): Promise<Network> {
  const t = config.model.teacher;
  if (t === undefined || t.checkpoint === undefined) {
    throw new Error(
      `method "${config.method.name}" distills from a pretrained teacher: set model.teacher ` +
        `(network and checkpoint), or pass a teacher in memory (createExperiment({ teacher }))`,
    );
  }
  return await loadConfiguredTeacher(t, numClasses);
}

/** One configured teacher, loaded from its checkpoint and frozen. */
async function loadConfiguredTeacher(t: TeacherConfig, numClasses: number): Promise<Network> {
  if (t.checkpoint === undefined) {
    throw new Error(`the teacher ${t.network} needs a checkpoint (its pretrained weights)`);
  }
  return await loadTeacher(t.network, t.checkpoint, {
    numClasses,
    widthMultiplier: t.widthMultiplier,
  });
}

async function loadSets(config: TrainConfig): Promise<[ImageSet, ImageSet]> {
  const d = config.data;
  if (d.dataset === "synthetic") {
    const s = d.synthetic;
    const common = {
      numClasses: s.classes,
      difficulty: s.difficulty,
      size: s.size,
      classSeed: config.seed,
    };
    return [
      subset(generateSynthetic({ ...common, samples: s.train, seed: config.seed }), d.trainSubset),
      subset(
        generateSynthetic({ ...common, samples: s.test, seed: config.seed + 1 }),
        d.evalSubset,
      ),
    ];
  }
  const opts = { kind: d.dataset, dataDir: d.dataDir, download: d.download };
  const train = await loadCifar({ ...opts, split: "train" });
  const test = await loadCifar({ ...opts, split: "test" });
  return [subset(train, d.trainSubset), subset(test, d.evalSubset)];
}

/** The first `n` images of a set (all when n is 0 or larger than the set). */
function subset(set: ImageSet, n: number): ImageSet {
  if (n === 0 || n >= set.n) return set;
  const per = set.channels * set.height * set.width;
  return { ...set, n, images: set.images.subarray(0, n * per), labels: set.labels.subarray(0, n) };
}
