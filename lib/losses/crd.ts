/**
 * CRD's NCE loss (Tian et al., eq. 18 of the paper; the official `ContrastLoss`): with P the
 * normalised scores `[N, K + 1]` (column 0 the positive), K negatives, data-set size n and
 * c = K/n + 1e-7,
 *
 * ```
 * ℓ(P) = −( Σ_b log(P_b0 / (P_b0 + c)) + Σ_b Σ_{k≥1} log((K/n) / (P_bk + c)) ) / N
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The official epsilon of the NCE loss. */
export const NCE_EPS = 1e-7;

/**
 * The NCE loss of normalised scores.
 *
 * @param scores `[N, K + 1]` (or `[N, K + 1, 1]`), column 0 the positive
 * @param dataSize n, the number of samples the memory bank holds
 */
export function nceLoss(scores: tf.Tensor, dataSize: number): tf.Scalar {
  const [n, cols] = scores.shape;
  const k = (cols as number) - 1;
  if (k < 1) {
    throw new Error(`nceLoss: need a positive and at least one negative, got ${cols} columns`);
  }
  return tf.tidy(() => {
    const p = tf.reshape(scores, [n, cols as number]);
    const mPn = k / dataSize;
    const pos = tf.slice(p, [0, 0], [n, 1]);
    const neg = tf.slice(p, [0, 1], [n, k]);
    const logD1 = tf.log(tf.div(pos, tf.add(pos, mPn + NCE_EPS)));
    const logD0 = tf.log(tf.div(mPn, tf.add(neg, mPn + NCE_EPS)));
    return tf.div(tf.neg(tf.add(tf.sum(logD1), tf.sum(logD0))), n) as tf.Scalar;
  });
}
