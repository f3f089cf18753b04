/**
 * Training a model and loss of your own with the same trainer: {@link customDistiller} wraps them as
 * a {@link Distiller} (nothing frozen, no teacher), so anything that is not a registered method still
 * gets the trainer's history, checkpoints, interrupts and progress views.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Module } from "../nn/module.ts";
import type { Distiller } from "./distiller.ts";

/** Loss of a batch: the total to minimise and named terms to log. */
export interface LossResult {
  /** What is minimised. */
  total: tf.Scalar;
  /** Named parts (e.g. ce, kd, fea), logged as epoch averages. */
  terms: Record<string, tf.Scalar>;
}

/** A model of your own with its loss, for {@link customDistiller}. */
export interface CustomModel<O> {
  /** The model: every parameter is trained (unless frozen), its buffers follow BatchNorm. */
  model: Module & { forward(x: tf.Tensor): O };
  /** The loss of a batch from the model's outputs and the int32 labels. */
  loss: (outputs: O, labels: tf.Tensor1D) => LossResult;
  /** The heads to score: logits `[batch, classes]` by name. */
  heads: (outputs: O) => Record<string, tf.Tensor2D>;
  /** The deployed head. Default: the first head `heads` returns. */
  deployedHead?: string;
}

/**
 * A distiller for a model and loss of your own (no teacher, nothing frozen): what the trainer needs to
 * train anything that is not a registered method.
 *
 * @example
 * ```ts
 * const trainer = new Trainer({ distiller: customDistiller({ model, loss, heads }), data, optimizer, schedule });
 * ```
 */
export function customDistiller<O>(c: CustomModel<O>, method = "custom"): Distiller {
  let deployedHead = c.deployedHead;
  const heads = (o: O) => {
    const hs = c.heads(o);
    deployedHead ??= Object.keys(hs)[0];
    return hs;
  };
  return {
    method,
    module: c.model,
    get deployedHead() {
      return deployedHead ?? "";
    },
    loss: (batch) => {
      const out = c.model.forward(batch.x);
      return { ...c.loss(out, batch.y), heads: heads(out) };
    },
    predict: (x) => heads(c.model.forward(x)),
    deployed: () => ({
      module: c.model,
      predict: (x) => {
        const hs = heads(c.model.forward(x));
        return hs[deployedHead as string];
      },
      description: c.model.constructor.name,
    }),
    train: (mode) => c.model.train(mode),
    dispose: () => c.model.dispose(),
  };
}
