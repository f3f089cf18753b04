/**
 * TESKD: a teacher backbone plus up to three students on an FPN-like top-down pathway, built step by
 * step (create the teacher, then attach one student level after the other), read top to bottom like
 * the paper's figure:
 *
 * ```
 * t4 = laterals[3](s4)
 * u3 = upsample[2](t4);  t3 = fuse_3(concat[u3 + laterals[2](s3), u3])   → student "8x8"
 * u2 = upsample[1](t3);  t2 = fuse_2(concat[u2 + laterals[1](s2), u2])   → student "16x16"
 * u1 = upsample[0](t2);  t1 = fuse_1(concat[u1 + laterals[0](s1), u1])   → student "32x32"
 * student i: f_i = avgpool(downsample<i>(t_i)),  logits = fc_b<i>(f_i)
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../nn/batchnorm.ts";
import { ModuleList } from "../nn/container.ts";
import { Conv2d, conv2dValid } from "../nn/conv.ts";
import { Generator } from "../nn/init.ts";
import { ReLU, Sequential } from "../nn/layer.ts";
import { Linear } from "../nn/linear.ts";
import { Module } from "../nn/module.ts";
import { UpsampleBilinear2x } from "../nn/pooling.ts";
import { type Backbone, type HeadOutput, type Level, levelIndex, LEVELS } from "./backbone.ts";

/**
 * How the upsampled top-down map u and the lateral map l are fused before the 1x1 `fuse` conv:
 * "add-concat" (official) = concat[u + l, u] (2W channels); "add" = u + l (W); "concat" = concat[u, l] (2W).
 */
export type Fusion = "add-concat" | "add" | "concat";

/** Options of {@link Teskd}. */
export interface TeskdOptions {
  /** Student width W. Default: the teacher's last-stage channels (512 × block expansion). */
  width?: number;
  /** Fusion variant. Default "add-concat". */
  fusion?: Fusion;
  /** Head kernel (= stride) per level; default the backbone's (2/4/8 for ResNets, 1/2/4 for VGG). */
  headKernels?: Partial<Record<Level, number>>;
  /** Seed or generator for the student weights. Default 1. */
  seed?: number | Generator;
}

/** Named outputs of a forward pass. */
export interface TeskdOutput {
  /** The deployed network's logits and pooled feature g. */
  teacher: HeadOutput;
  /** One entry per attached student level. */
  students: Partial<Record<Level, HeadOutput>>;
}

/** The official order of the student attributes (after the teacher's own). */
const STUDENT_ORDER = [
  "laterals",
  "upsample",
  "fuse_1",
  "fuse_2",
  "fuse_3",
  "downsample3",
  "downsample2",
  "downsample1",
  "fc_b1",
  "fc_b2",
  "fc_b3",
];

/** conv1x1 (no bias) – BN – ReLU. */
function convBnRelu(inC: number, outC: number, rng: Generator): Sequential {
  return new Sequential([
    new Conv2d(inC, outC, 1, { bias: false, rng }),
    new BatchNorm2d(outC),
    new ReLU(),
  ]);
}

/**
 * `fuse(concat(parts, channels))` for a fuse block conv1x1 (no bias) – BN – ReLU, computed as
 * Σ_k conv1x1(part_k, W_k) with W split along its input channels. Same value; but the backward pass
 * of a channel concat (a split on the innermost axis) is very slow in tfjs's CPU kernels, while
 * slicing the small weight is cheap.
 */
function fuseConcat(fuse: Sequential, parts: tf.Tensor[]): tf.Tensor {
  const conv = fuse.layers[0] as Conv2d;
  let offset = 0;
  const sums = parts.map((p) => {
    const c = p.shape[3] as number;
    const w = tf.slice(conv.weight, [0, 0, offset, 0], [1, 1, c, conv.outChannels]);
    offset += c;
    return conv2dValid(p as tf.Tensor4D, w as tf.Tensor4D, 1);
  });
  let y: tf.Tensor = tf.addN(sums);
  for (const layer of fuse.layers.slice(1)) y = layer.forward(y);
  return y;
}

/**
 * The teacher with its students. The teacher's modules are registered under their own names, so
 * the state dict reads exactly like the official one (`conv1.weight`, …, `laterals.1.0.weight`, …).
 *
 * @example
 * ```ts
 * const net = new Teskd(new ResNet("cifar", { depth: 18, numClasses: 100, seed: 27 }));
 * net.attachStudent("8x8"); net.attachStudent("16x16"); net.attachStudent("32x32");
 * net.parameterCount(); // 37050832
 * const out = net.forward(x); // { teacher: { logits, feature }, students: { "8x8": … } }
 * ```
 */
export class Teskd extends Module {
  /** The deployed network. */
  readonly teacher: Backbone;
  /** Student width W. */
  readonly width: number;
  /** Fusion variant. */
  readonly fusion: Fusion;
  /** Head kernel per level. */
  readonly headKernels: Readonly<Record<Level, number>>;
  readonly #rng: Generator;
  readonly #teacherNames: string[];
  #laterals: ModuleList<Sequential> | undefined;
  #upsample: ModuleList<Sequential> | undefined;
  readonly #fuse = new Map<number, Sequential>();
  readonly #heads = new Map<Level, { down: Sequential; fc: Linear }>();

  /** Wraps a teacher; attach students with {@link attachStudent}. */
  constructor(teacher: Backbone, opts: TeskdOptions = {}) {
    super();
    this.teacher = teacher;
    this.width = opts.width ?? teacher.stageChannels[3];
    if (!Number.isInteger(this.width) || this.width < 1) {
      throw new Error(`Teskd: width must be a positive integer, got ${opts.width}`);
    }
    this.fusion = opts.fusion ?? "add-concat";
    if (!["add-concat", "add", "concat"].includes(this.fusion)) {
      throw new Error(
        `Teskd: fusion must be "add-concat", "add" or "concat", got "${this.fusion}"`,
      );
    }
    this.headKernels = { ...teacher.headKernels, ...opts.headKernels };
    this.#rng = opts.seed instanceof Generator ? opts.seed : new Generator(opts.seed ?? 1);
    this.#teacherNames = teacher.namedChildren().map(([n]) => n);
    for (const [n, c] of teacher.namedChildren()) this.registerModule(n, c);
    this.training = teacher.training;
  }

  /** Sets the mode of every module, the teacher object's own flag included. */
  override train(mode = true): this {
    super.train(mode);
    this.teacher.training = mode;
    return this;
  }

  /** The attached student levels, deepest first. */
  get levels(): Level[] {
    return LEVELS.filter((l) => this.#heads.has(l));
  }

  /**
   * Attaches the student at `level`, with the part of the top-down pathway it needs (shared with the
   * other students). Attach in any order; the state dict keeps the official order.
   */
  attachStudent(level: Level): this {
    if (!LEVELS.includes(level)) {
      throw new Error(
        `attachStudent: unknown level "${level}"; expected one of ${LEVELS.join(", ")}`,
      );
    }
    if (this.#heads.has(level)) {
      throw new Error(`attachStudent: level ${level} is already attached`);
    }
    const W = this.width;
    const rng = this.#rng;
    const C = this.teacher.stageChannels;
    const i = levelIndex(level);
    this.#laterals ??= this.registerModule("laterals", new ModuleList<Sequential>());
    this.#upsample ??= this.registerModule("upsample", new ModuleList<Sequential>());
    // Top-down pathway from stage 4 down to stage i: laterals[3..i-1], upsample[2..i-1], fuse_3..fuse_i.
    if (!this.#laterals.has(3)) this.#laterals.set(3, convBnRelu(C[3], W, rng.fork()));
    for (let j = 3; j >= i; j--) {
      if (this.#fuse.has(j)) continue;
      this.#laterals.set(j - 1, convBnRelu(C[j - 1], W, rng.fork()));
      const r = rng.fork();
      this.#upsample.set(
        j - 1,
        new Sequential([
          new UpsampleBilinear2x(),
          new Conv2d(W, W, 1, { bias: false, rng: r }),
          new BatchNorm2d(W),
          new ReLU(),
        ]),
      );
      const fuseIn = this.fusion === "add" ? W : 2 * W;
      this.#fuse.set(j, this.registerModule(`fuse_${j}`, convBnRelu(fuseIn, W, rng.fork())));
    }
    const k = this.headKernels[level];
    if (!Number.isInteger(k) || k < 1) {
      throw new Error(`attachStudent: head kernel of ${level} must be ≥ 1`);
    }
    const r = rng.fork();
    const down = this.registerModule(
      `downsample${i}`,
      new Sequential([
        new Conv2d(W, W, k, { stride: k, rng: r }),
        new BatchNorm2d(W),
        new ReLU(),
        new Conv2d(W, W, 1, { rng: r }),
        new BatchNorm2d(W),
        new ReLU(),
      ]),
    );
    const fc = this.registerModule(`fc_b${i}`, new Linear(W, this.teacher.numClasses, { rng: r }));
    this.#heads.set(level, { down, fc });
    this.reorderChildren([...this.#teacherNames, ...STUDENT_ORDER]);
    this.train(this.training);
    return this;
  }

  /** Fuses the upsampled map u with the lateral map l, then applies `fuse_<j>`. */
  #fuseMaps(j: number, u: tf.Tensor, l: tf.Tensor): tf.Tensor {
    const f = this.#fuse.get(j) as Sequential;
    switch (this.fusion) {
      case "add-concat":
        return fuseConcat(f, [tf.add(u, l), u]);
      case "add":
        return f.forward(tf.add(u, l));
      case "concat":
        return fuseConcat(f, [u, l]);
    }
  }

  /** Teacher and every attached student on NHWC input. Wrap in `tf.tidy`. */
  forward(x: tf.Tensor): TeskdOutput {
    const s = this.teacher.forwardStages(x);
    const teacher = this.teacher.head(s[3]);
    const students: Partial<Record<Level, HeadOutput>> = {};
    if (this.#heads.size === 0 || !this.#laterals || !this.#upsample) return { teacher, students };
    // Top-down: t[j] is the fused map at stage j (t[4] the lateral of stage 4).
    let t = this.#laterals.at(3).forward(s[3]);
    const fused = new Map<number, tf.Tensor>();
    for (let j = 3; j >= 1 && this.#fuse.has(j); j--) {
      const u = this.#upsample.at(j - 1).forward(t);
      t = this.#fuseMaps(j, u, this.#laterals.at(j - 1).forward(s[j - 1]));
      fused.set(j, t);
    }
    for (const level of this.levels) {
      const { down, fc } = this.#heads.get(level) as { down: Sequential; fc: Linear };
      const feature = tf.mean(down.forward(fused.get(levelIndex(level)) as tf.Tensor), [1, 2]);
      students[level] = { logits: fc.forward(feature), feature };
    }
    return { teacher, students };
  }
}
