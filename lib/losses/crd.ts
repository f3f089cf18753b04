/**
 * CRD's NCE loss (Tian et al., eq. 18 of the paper; the official `ContrastLoss`): with P the
 * normalised scores `[B, K + 1]` (column 0 the positive), K negatives, data-set size n and
 * c = K/n + 1e-7,
 *
 * ```
 * ℓ(P) = −( Σ_b log(P_b0 / (P_b0 + c)) + Σ_b Σ_{k≥1} log((K/n) / (P_bk + c)) ) / B
 * ```
 *
 * The constants are float32 in the arithmetic, as in the official float32 run (K/n + 1e-7 rounds the
 * same way in each of the B·K terms, which is most of a float32 run's distance from float64).
 *
 * Also the memory bank's arithmetic (the official `ContrastMemory`), as pure functions: the scores
 * of embeddings against gathered memory rows, and the momentum update of the rows of a batch. The
 * stateful module that holds the banks is `CrdDistiller`'s (`lib/distill/crd.ts`).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The official epsilon of the NCE loss. */
export const NCE_EPS = 1e-7;

/**
 * The NCE loss of normalised scores.
 *
 * @example
 * ```ts
 * const scores = tf.tensor2d([[2e-4, 1e-5, 3e-5]]); // one positive, two negatives
 * nceLoss(scores, 1000).dataSync()[0];
 * ```
 *
 * @param scores `[B, K + 1]` (or `[B, K + 1, 1]`, as the memory gives them), column 0 the positive
 * @param dataSize n, the number of samples the memory bank holds (the noise distribution is 1/n)
 */
export function nceLoss(scores: tf.Tensor, dataSize: number): tf.Scalar {
  const shape = scores.shape;
  if (!(shape.length === 2 || (shape.length === 3 && shape[2] === 1))) {
    throw new Error(`nceLoss: scores must be [B, K + 1] or [B, K + 1, 1], got [${shape}]`);
  }
  const [b, cols] = shape as [number, number];
  const k = cols - 1;
  if (k < 1) {
    throw new Error(`nceLoss: need a positive and at least one negative, got ${cols} columns`);
  }
  if (!(dataSize > 0)) throw new Error(`nceLoss: dataSize must be > 0, got ${dataSize}`);
  return tf.tidy(() => {
    const p = tf.reshape(scores, [b, cols]);
    const mPn = k / dataSize;
    const pos = tf.slice(p, [0, 0], [b, 1]);
    const neg = tf.slice(p, [0, 1], [b, k]);
    const logD1 = tf.log(tf.div(pos, tf.add(pos, mPn + NCE_EPS)));
    const logD0 = tf.log(tf.div(mPn, tf.add(neg, mPn + NCE_EPS)));
    return tf.div(tf.neg(tf.add(tf.sum(logD1), tf.sum(logD0))), b) as tf.Scalar;
  });
}

/**
 * The unnormalised scores `exp(⟨memory[contrastIndex[b][k]], v[b]⟩ / τ)`, `[B, K + 1, 1]`. The
 * gathered rows are constants (the memory is no parameter): only `v` gets a gradient, and the tape
 * keeps the B·(K + 1) rows until the backward pass is done (that is CRD's memory cost).
 *
 * @param memory `[n, d]` one row per training sample
 * @param v `[B, d]` unit embeddings
 * @param contrastIndex `[B, K + 1]` int32 rows of `memory`, column 0 the positive
 * @param tau the temperature τ (the official code reads it back from its float32 buffer)
 */
export function contrastScores(
  memory: tf.Tensor2D,
  v: tf.Tensor2D,
  contrastIndex: tf.Tensor2D,
  tau: number,
): tf.Tensor3D {
  const [b, cols] = contrastIndex.shape;
  if (v.shape[0] !== b || v.shape[1] !== memory.shape[1]) {
    throw new Error(
      `contrastScores: embeddings [${v.shape}] do not match contrast indices [${contrastIndex.shape}] ` +
        `and memory [${memory.shape}]`,
    );
  }
  return tf.tidy(() => {
    const rows = tf.reshape(tf.gather(memory, tf.reshape(contrastIndex, [-1])), [b, cols, -1]);
    return tf.exp(tf.div(tf.matMul(rows, tf.expandDims(v, 2)), tau)) as tf.Tensor3D;
  });
}

/**
 * The memory after the update of a batch's rows: `memory[index[b]] ← normalise(m·memory[index[b]] +
 * (1 − m)·v[b])` (L2 norm, no epsilon), every other row copied unchanged. A new tensor: the caller
 * assigns it, and the old one stays intact for whoever kept it (the trainer's rollback of a failed
 * step). The rows are written into a fresh copy (`memory + 0`, exact): the CPU kernel of
 * `tensorScatterUpdate` (tfjs 4.22) writes into its input's buffer, which must not be the memory's.
 * (At 50,000 × 128 this takes ~6 ms on the CPU engines, where a `where` over a mask takes ~200.)
 *
 * @param index `[B]` int32 sample indices, distinct (a data loader's batch)
 * @param v `[B, d]` the batch's new embeddings
 * @param momentum m
 */
export function updatedMemory(
  memory: tf.Tensor2D,
  index: tf.Tensor1D,
  v: tf.Tensor2D,
  momentum: number,
): tf.Tensor2D {
  return tf.tidy(() => {
    const moved = tf.add(tf.mul(tf.gather(memory, index), momentum), tf.mul(v, 1 - momentum));
    const rows = tf.div(moved, tf.sqrt(tf.sum(tf.square(moved), 1, true)));
    const copy = tf.add(memory, 0);
    return tf.tensorScatterUpdate(copy, tf.expandDims(index, 1), rows) as tf.Tensor2D;
  });
}
