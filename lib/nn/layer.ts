/**
 * Layers with a single-tensor forward, the containers that chain them, and the activations.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Module } from "./module.ts";

/** A module mapping one tensor to one tensor (activations are NHWC, features [N, C]). */
export abstract class Layer extends Module {
  /** Applies the layer. Not wrapped in `tf.tidy`: callers tidy whole forward passes. */
  abstract forward(x: tf.Tensor): tf.Tensor;
  /** Short description for summaries, e.g. "Conv2d(64→128, 3x3, stride 2)". */
  abstract describe(): string;
}

/** Chains layers; children are named "0", "1", ... like PyTorch's `nn.Sequential`. */
export class Sequential extends Layer {
  /** The layers in order. */
  readonly layers: Layer[];

  /** Creates the chain. */
  constructor(layers: Layer[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.registerModule(String(i), l));
  }

  /** Applies every layer in order. */
  forward(x: tf.Tensor): tf.Tensor {
    let y = x;
    for (const l of this.layers) y = l.forward(y);
    return y;
  }

  /** Lists the layers. */
  describe(): string {
    return `Sequential(${this.layers.map((l) => l.describe()).join(", ")})`;
  }
}

/** max(x, 0). */
export class ReLU extends Layer {
  /** Applies ReLU. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.relu(x);
  }
  /** "ReLU". */
  describe(): string {
    return "ReLU";
  }
}

/** The logistic function. */
export class Sigmoid extends Layer {
  /** Applies the sigmoid. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.sigmoid(x);
  }
  /** "Sigmoid". */
  describe(): string {
    return "Sigmoid";
  }
}
