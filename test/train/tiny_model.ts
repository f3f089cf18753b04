/** Tiny models for the training tests: a few channels on 8×8 inputs, built from lib/nn pieces. */
import * as tf from "@tensorflow/tfjs";
import { BatchNorm2d } from "../../lib/nn/batchnorm.ts";
import { Conv2d } from "../../lib/nn/conv.ts";
import { Generator } from "../../lib/nn/init.ts";
import { ReLU, Sequential } from "../../lib/nn/layer.ts";
import { Linear } from "../../lib/nn/linear.ts";
import { Module } from "../../lib/nn/module.ts";
import type { Batch } from "../../lib/data/types.ts";
import type { LossResult } from "../../lib/distill/custom.ts";

/** Outputs shaped like the TESKD model's. */
export interface TinyOutput {
  teacher: { logits: tf.Tensor2D; feature: tf.Tensor2D };
  students: { "8x8"?: { logits: tf.Tensor2D; feature: tf.Tensor2D } };
}

/**
 * conv1 (3→c, 3x3) – bn1 – ReLU – pool → fc (the "teacher"); optionally a student named like the
 * official ones (laterals.0 conv–BN–ReLU, fc_b3) on the same stage, so checkpoints hold student names.
 */
export class TinyNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly fc: Linear;
  readonly laterals?: Sequential;
  readonly fcB3?: Linear;

  constructor(opts: { seed?: number; width?: number; classes?: number; student?: boolean } = {}) {
    super();
    const rng = new Generator(opts.seed ?? 1);
    const c = opts.width ?? 4;
    const k = opts.classes ?? 5;
    this.conv1 = this.registerModule(
      "conv1",
      new Conv2d(3, c, 3, { padding: 1, bias: false, rng }),
    );
    this.bn1 = this.registerModule("bn1", new BatchNorm2d(c));
    this.fc = this.registerModule("fc", new Linear(c, k, { rng }));
    if (opts.student ?? false) {
      this.laterals = this.registerModule(
        "laterals",
        new Sequential([new Conv2d(c, c, 1, { bias: false, rng }), new BatchNorm2d(c), new ReLU()]),
      );
      this.fcB3 = this.registerModule("fc_b3", new Linear(c, k, { rng }));
    }
  }

  forward(x: tf.Tensor): TinyOutput {
    const s1 = tf.relu(this.bn1.forward(this.conv1.forward(x)));
    const g = tf.mean(s1, [1, 2]) as tf.Tensor2D;
    const out: TinyOutput = {
      teacher: { logits: this.fc.forward(g) as tf.Tensor2D, feature: g },
      students: {},
    };
    if (this.laterals !== undefined && this.fcB3 !== undefined) {
      const f = tf.mean(this.laterals.forward(s1), [1, 2]) as tf.Tensor2D;
      out.students["8x8"] = { logits: this.fcB3.forward(f) as tf.Tensor2D, feature: f };
    }
    return out;
  }
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function pseudoRandom(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A small in-memory data set (class-dependent patterns plus noise), shuffled per epoch by seed. */
export class ToyData {
  readonly batchesPerEpoch: number;
  readonly #x: Float32Array;
  readonly #y: Int32Array;
  readonly #pixels: number;

  constructor(
    readonly n: number,
    readonly batchSize: number,
    readonly classes: number,
    readonly seed: number,
    readonly size = 8,
  ) {
    this.#pixels = size * size * 3;
    this.batchesPerEpoch = Math.ceil(n / batchSize);
    const patterns = pseudoRandom(classes * this.#pixels, 1000);
    const noise = pseudoRandom(n * this.#pixels, seed);
    this.#x = new Float32Array(n * this.#pixels);
    this.#y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const c = i % classes;
      this.#y[i] = c;
      for (let j = 0; j < this.#pixels; j++) {
        this.#x[i * this.#pixels + j] = patterns[c * this.#pixels + j] +
          0.5 * noise[i * this.#pixels + j];
      }
    }
  }

  async *epoch(e: number): AsyncGenerator<Batch> {
    const order = Array.from({ length: this.n }, (_, i) => i);
    const r = pseudoRandom(this.n, this.seed * 7919 + e);
    for (let i = this.n - 1; i > 0; i--) {
      const j = Math.floor(((r[i] + 1) / 2) * (i + 1)) % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let b = 0; b < this.n; b += this.batchSize) {
      const idx = order.slice(b, b + this.batchSize);
      const x = new Float32Array(idx.length * this.#pixels);
      idx.forEach((k, i) =>
        x.set(this.#x.subarray(k * this.#pixels, (k + 1) * this.#pixels), i * this.#pixels)
      );
      await Promise.resolve();
      yield {
        x,
        y: Int32Array.from(idx, (k) => this.#y[k]),
        n: idx.length,
        height: this.size,
        width: this.size,
        channels: 3,
      };
    }
  }
}

/** Classes of the toy problems the trainer tests use. */
export const TOY_CLASSES = 6;

/** Cross-entropy of the teacher plus the 8x8 student (terms named as a method's would be). */
export function toyCeLoss(out: TinyOutput, y: tf.Tensor1D): LossResult {
  const oh = tf.oneHot(y, TOY_CLASSES);
  const teacher = tf.losses.softmaxCrossEntropy(oh, out.teacher.logits) as tf.Scalar;
  const student = tf.losses.softmaxCrossEntropy(oh, out.students["8x8"]!.logits) as tf.Scalar;
  return { total: tf.add(teacher, student), terms: { ce_teacher: teacher, ce_8x8: student } };
}
