/**
 * Accuracy of one network on a data set, in inference mode: for a trained student, a deployed
 * network loaded back from its export, or a pretrained teacher.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { DeployedNetwork } from "../distill/distiller.ts";
import { Network } from "../models/network.ts";
import type { HeadAccuracy, TrainData } from "./trainer.ts";

/** Top-1 and top-5 (percent) and the number of images scored. */
export interface Accuracy extends HeadAccuracy {
  /** Images scored. */
  n: number;
}

/**
 * Scores `model` on every batch of `data` (epoch 0), in inference mode (restored afterwards).
 *
 * @example
 * ```ts
 * const back = createNetwork("resnet8x4", { numClasses: 100 });
 * back.loadStateDict(await loadStateDictFile("runs/kd/deployed.safetensors"));
 * (await accuracy(back, run.evalData)).top1;
 * ```
 */
export async function accuracy(
  model: Network | DeployedNetwork,
  data: TrainData,
  signal?: AbortSignal,
): Promise<Accuracy> {
  const module = model instanceof Network ? model : model.module;
  const predict = model instanceof Network
    ? (x: tf.Tensor) => model.forward(x).logits as tf.Tensor2D
    : model.predict;
  const wasTraining = module.training;
  module.eval();
  let n = 0;
  let c1 = 0;
  let c5 = 0;
  try {
    for await (const b of data.epoch(0)) {
      signal?.throwIfAborted();
      const counts = tf.tidy(() => {
        const logits = predict(tf.tensor4d(b.x, [b.n, b.height, b.width, b.channels]));
        const y = tf.tensor1d(b.y, "int32");
        return tf.stack([correct(logits, y, 1), correct(logits, y, 5)]);
      });
      const [h1, h5] = await counts.data();
      counts.dispose();
      c1 += h1;
      c5 += h5;
      n += b.n;
    }
  } finally {
    module.train(wasTraining);
  }
  if (n === 0) throw new Error("accuracy: the data yielded no images");
  return { top1: (100 * c1) / n, top5: (100 * c5) / n, n };
}

/** Number of samples whose label is among the top-k logits (k capped at the number of classes). */
export function correct(logits: tf.Tensor2D, labels: tf.Tensor1D, k: number): tf.Scalar {
  const kk = Math.min(k, logits.shape[1]);
  const top = tf.topk(logits, kk).indices;
  return tf.cast(tf.sum(tf.any(tf.equal(top, labels.reshape([-1, 1])), 1)), "float32") as tf.Scalar;
}
