/**
 * Builds any network of the official zoo by name, alone (baseline) or with students.
 *
 * @module
 */
import { Generator } from "../nn/init.ts";
import { type Backbone, type Level, LEVELS } from "./backbone.ts";
import { ResNet } from "./resnet.ts";
import { SEResNet } from "./seresnet.ts";
import { Teskd, type TeskdOptions } from "./teskd.ts";
import { Vgg } from "./vgg.ts";

/** Network names of the zoo (as in the fixtures' `network` field). */
export const NETWORKS = [
  "cifarresnet18",
  "cifarresnet34",
  "cifarresnet50",
  "seresnet18",
  "seresnet34",
  "seresnet50",
  "vgg16",
  "vgg19",
  "resnet18",
  "resnet34",
  "resnet50",
] as const;

/** One of {@link NETWORKS}. */
export type NetworkName = typeof NETWORKS[number];

/** Options of {@link createTeacher}. */
export interface TeacherOptions {
  /** Number of classes. */
  numClasses: number;
  /** Seed or generator. Default 0. */
  seed?: number | Generator;
  /** Scales every width (small test networks). Default 1. */
  widthMultiplier?: number;
}

/**
 * The teacher alone.
 *
 * @example
 * ```ts
 * createTeacher("cifarresnet18", { numClasses: 100 }).parameterCount(); // 11220132
 * ```
 */
export function createTeacher(name: string, opts: TeacherOptions): Backbone {
  const m = /^(cifarresnet|seresnet|resnet|vgg)(\d+)$/.exec(name);
  if (m === null || !(NETWORKS as readonly string[]).includes(name)) {
    throw new Error(
      `createTeacher: unknown network "${name}"; expected one of ${NETWORKS.join(", ")}`,
    );
  }
  const depth = Number(m[2]);
  const common = {
    numClasses: opts.numClasses,
    seed: opts.seed,
    widthMultiplier: opts.widthMultiplier,
  };
  switch (m[1]) {
    case "cifarresnet":
      return new ResNet("cifar", { depth: depth as 18 | 34 | 50, ...common });
    case "resnet":
      return new ResNet("imagenet", { depth: depth as 18 | 34 | 50, ...common });
    case "seresnet":
      return new SEResNet({ depth: depth as 18 | 34 | 50, ...common });
    default:
      return new Vgg({ depth: depth as 16 | 19, ...common });
  }
}

/**
 * The teacher with students at `levels` (default all three; `[]` gives the baseline).
 *
 * @example
 * ```ts
 * createTeskd("cifarresnet18", { numClasses: 100 }).parameterCount(); // 37050832
 * ```
 */
export function createTeskd(
  name: string,
  opts: TeacherOptions & TeskdOptions & { levels?: readonly Level[] },
): Teskd {
  const teacher = createTeacher(name, opts);
  // Students draw from their own stream, so adding or removing them never changes the teacher.
  const seed = opts.seed instanceof Generator ? opts.seed.fork() : (opts.seed ?? 0) + 1;
  const net = new Teskd(teacher, { ...opts, seed });
  for (const l of opts.levels ?? LEVELS) net.attachStudent(l);
  return net;
}
