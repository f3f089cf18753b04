/**
 * Squeeze-and-excitation: global average pool → Linear(C, C/r) – ReLU – Linear(C/r, C) – Sigmoid,
 * multiplied into the input channel-wise. Children are "0".."3" as in the official
 * `excitation = nn.Sequential(...)`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer, ReLU, Sigmoid } from "./layer.ts";
import { Linear } from "./linear.ts";
import type { Generator } from "./init.ts";

/** The squeeze-excitation gate applied to NHWC input. */
export class SqueezeExcitation extends Layer {
  /** Creates the gate for `channels` channels with reduction `reduction` (16 in the official code). */
  constructor(readonly channels: number, rng: Generator, readonly reduction = 16) {
    super();
    const hidden = Math.floor(channels / reduction);
    if (hidden < 1) throw new Error(`SqueezeExcitation: ${channels} channels / ${reduction} < 1`);
    this.registerModule("0", new Linear(channels, hidden, { rng }));
    this.registerModule("1", new ReLU());
    this.registerModule("2", new Linear(hidden, channels, { rng }));
    this.registerModule("3", new Sigmoid());
  }

  /** x · sigmoid(W2·relu(W1·mean_hw(x))). */
  forward(x: tf.Tensor): tf.Tensor {
    let s: tf.Tensor = tf.mean(x, [1, 2]);
    for (const [, l] of this.namedChildren()) s = (l as Layer).forward(s);
    const [n, , , c] = x.shape;
    return tf.mul(x, tf.reshape(s, [n, 1, 1, c]));
  }

  /** "SqueezeExcitation(C, r)". */
  describe(): string {
    return `SqueezeExcitation(${this.channels}, r=${this.reduction})`;
  }
}
