/**
 * SemCKD's loss (Chen et al., "Cross-Layer Distillation with Semantic Calibration"; the official
 * `SemCKDLoss`): every student stage i is matched with every teacher stage j; the per-sample mean
 * squared error of each projected pair is weighted by the sample's attention over the teacher stages,
 * summed, and divided by B · (number of student stages).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/**
 * The per-sample MSE of every pair, `[B, S, T]`: `mse[b, i, j]` = mean over a sample's elements of
 * `(projected[i][j] − target[i][j])²`.
 */
export function pairMse(projected: tf.Tensor[][], target: tf.Tensor[][]): tf.Tensor3D {
  return tf.tidy(() =>
    tf.stack(
      projected.map((row, i) =>
        tf.stack(
          row.map((p, j) => {
            const d = tf.square(tf.sub(p, target[i][j]));
            return tf.mean(tf.reshape(d, [d.shape[0], -1]), 1);
          }),
          1,
        )
      ),
      1,
    ) as tf.Tensor3D
  );
}

/** `Σ_{b,i,j} attention · pairMse / (B · S)`, with `attention` and `pairMse` `[B, S, T]`. */
export function semckdLoss(attention: tf.Tensor3D, mse: tf.Tensor3D): tf.Scalar {
  if (attention.shape.join() !== mse.shape.join()) {
    throw new Error(`semckdLoss: shapes differ: [${attention.shape}] vs [${mse.shape}]`);
  }
  const [b, s] = attention.shape;
  return tf.tidy(() => tf.div(tf.sum(tf.mul(attention, mse)), b * s));
}
