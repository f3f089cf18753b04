/**
 * The feature-based loss terms of the SimKD toolbox's AT, SP and VID, as pure functions of NHWC
 * tensors. Every one is a mean or a Gram matrix over the same flattening of student and teacher, so
 * the NHWC order gives the official (NCHW) values.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { poolToSize } from "../distill/align.ts";

/** `F.normalize(x, dim=1)`: each row divided by its L2 norm, at least `1e-12`. */
export function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.maximum(tf.norm(x, 2, 1, true), 1e-12)));
}

/** Both maps of a pair at the smaller one's side (the larger is average-pooled). */
export function alignPair(s: tf.Tensor, t: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const side = Math.min(s.shape[1] as number, t.shape[1] as number);
  return [poolToSize(s, side), poolToSize(t, side)];
}

/**
 * The attention map of AT (Zagoruyko & Komodakis): the channel mean of the squared features,
 * flattened per sample and L2-normalised (p = 2).
 */
export function attentionMap(f: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const n = f.shape[0] as number;
    return normalizeRows(tf.reshape(tf.mean(tf.square(f), 3), [n, -1]) as tf.Tensor2D);
  });
}

/** AT's term of one map pair: the mean squared difference of the attention maps (sizes aligned). */
export function attentionLoss(s: tf.Tensor, t: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [a, b] = alignPair(s, t);
    return tf.mean(tf.square(tf.sub(attentionMap(a), attentionMap(b))));
  });
}

/**
 * SP (Tung & Mori): the row-normalised B×B Gram matrices of the flattened maps, their squared
 * difference summed and divided by B².
 */
export function similarityLoss(s: tf.Tensor, t: tf.Tensor): tf.Scalar {
  const n = s.shape[0] as number;
  if (t.shape[0] !== n) {
    throw new Error(`similarityLoss: batch sizes differ: ${n} vs ${t.shape[0]}`);
  }
  return tf.tidy(() => {
    const gram = (f: tf.Tensor) => {
      const flat = tf.reshape(f, [n, -1]) as tf.Tensor2D;
      return normalizeRows(tf.matMul(flat, flat, false, true));
    };
    return tf.div(tf.sum(tf.square(tf.sub(gram(t), gram(s)))), n * n);
  });
}

/** VID's variance floor (the official `eps`). */
export const VID_EPS = 1e-5;

/**
 * VID's negative log-likelihood of `target` under a Gaussian with mean `mean` and per-channel
 * variance `softplus(logScale) + 1e-5`: the mean over every element of
 * `0.5 · ((mean − target)² / σ² + log σ²)`. May be negative.
 *
 * @param logScale `[C]`, one per channel (NHWC's last axis)
 */
export function vidNll(mean: tf.Tensor, target: tf.Tensor, logScale: tf.Tensor1D): tf.Scalar {
  if (mean.shape.join() !== target.shape.join()) {
    throw new Error(`vidNll: shapes differ: [${mean.shape}] vs [${target.shape}]`);
  }
  return tf.tidy(() => {
    const variance = tf.add(tf.softplus(logScale), VID_EPS);
    const nll = tf.mul(
      tf.add(tf.div(tf.square(tf.sub(mean, target)), variance), tf.log(variance)),
      0.5,
    );
    return tf.mean(nll);
  });
}
