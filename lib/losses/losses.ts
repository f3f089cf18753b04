/**
 * The three loss ingredients of TESKD, exactly as the official code computes them.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Integer labels as a 1-D int32 tensor, checked against the logits. */
function checkLabels(logits: tf.Tensor, labels: tf.Tensor1D): void {
  if (logits.rank !== 2) {
    throw new Error(`crossEntropy: logits must be [N, classes], got [${logits.shape}]`);
  }
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(`crossEntropy: labels must be [${logits.shape[0]}], got [${labels.shape}]`);
  }
}

/** Cross-entropy averaged over the batch (no label smoothing). `labels`: int32 class indices. */
export function crossEntropy(logits: tf.Tensor, labels: tf.Tensor1D): tf.Scalar {
  checkLabels(logits, labels);
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, "int32"), logits.shape[1] as number);
    const logp = tf.logSoftmax(logits);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), 1)));
  });
}

/** The identity with a zero gradient (PyTorch's `.detach()`). */
export function detach<T extends tf.Tensor>(x: T): T {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: (args[0] as tf.Tensor).clone(),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
  }));
  return f(x) as T;
}

/** Options of {@link kdLoss}. */
export interface KdOptions {
  /** Temperature T. Default 4. */
  temperature?: number;
  /** Stop gradients into the teacher's logits. Default false (official: KD also trains the teacher). */
  detachTeacher?: boolean;
}

/**
 * KL_T(student ‖ teacher) = T² · (1/B) · Σ_b Σ_c q·(log q − log_softmax(z_s/T)), with
 * q = softmax(z_t/T) + 1e-7 (the official epsilon, added after the softmax).
 */
export function kdLoss(student: tf.Tensor, teacher: tf.Tensor, opts: KdOptions = {}): tf.Scalar {
  const T = opts.temperature ?? 4;
  if (!(T > 0)) throw new Error(`kdLoss: temperature must be > 0, got ${T}`);
  if (student.shape.join() !== teacher.shape.join() || student.rank !== 2) {
    throw new Error(
      `kdLoss: logits must both be [N, classes], got [${student.shape}] and [${teacher.shape}]`,
    );
  }
  return tf.tidy(() => {
    const zt = opts.detachTeacher ? detach(teacher) : teacher;
    const q = tf.add(tf.softmax(tf.div(zt, T)), 1e-7);
    const logPs = tf.logSoftmax(tf.div(student, T));
    const kl = tf.sum(tf.mul(q, tf.sub(tf.log(q), logPs)));
    return tf.mul(kl, (T * T) / (student.shape[0] as number)) as tf.Scalar;
  });
}

/** FEA(f, g) = Σ over batch and channels of (f − g)², with g detached (a sum, not a mean). */
export function featureLoss(f: tf.Tensor, g: tf.Tensor): tf.Scalar {
  if (f.shape.join() !== g.shape.join()) {
    throw new Error(`featureLoss: features differ in shape: [${f.shape}] vs [${g.shape}]`);
  }
  return tf.tidy(() => tf.sum(tf.square(tf.sub(f, detach(g)))));
}
