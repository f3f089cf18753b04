/**
 * Spatial alignment of a student map and a teacher map, as the toolbox methods do it: the larger map
 * is average-pooled down to the smaller (`F.adaptive_avg_pool2d` with an integer ratio).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Average-pools an NHWC map to `size`×`size`; the ratio must be an integer. */
export function poolToSize(x: tf.Tensor, size: number): tf.Tensor {
  const h = x.shape[1] as number;
  const w = x.shape[2] as number;
  if (h === size && w === size) return x;
  if (h % size !== 0 || w % size !== 0 || h / size !== w / size) {
    throw new Error(
      `poolToSize: cannot pool a ${h}×${w} map to ${size}×${size} by an integer ratio`,
    );
  }
  const k = h / size;
  return tf.avgPool(x as tf.Tensor4D, k, k, "valid");
}
