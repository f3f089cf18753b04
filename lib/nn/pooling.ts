/**
 * Parameter-free spatial layers: max pooling (PyTorch padding with −∞), global average pooling
 * and bilinear ×2 upsampling with `align_corners = true`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";

/** `nn.MaxPool2d(kernel, stride, padding)` on NHWC input; padding counts as −∞ as in PyTorch. */
export class MaxPool2d extends Layer {
  /** Creates the layer. */
  constructor(readonly kernel: number, readonly stride = kernel, readonly padding = 0) {
    super();
  }
  /** Pads with −∞, then pools ("valid"). */
  forward(x: tf.Tensor): tf.Tensor {
    const p = this.padding;
    const padded = p > 0
      ? tf.pad(x as tf.Tensor4D, [[0, 0], [p, p], [p, p], [0, 0]], -Infinity)
      : x;
    return tf.maxPool(padded as tf.Tensor4D, this.kernel, this.stride, "valid");
  }
  /** "MaxPool2d(k, stride s)". */
  describe(): string {
    return `MaxPool2d(${this.kernel}, stride ${this.stride}${
      this.padding ? `, pad ${this.padding}` : ""
    })`;
  }
}

/** `AdaptiveAvgPool2d(1)` followed by flattening: NHWC → [N, C]. */
export class GlobalAvgPool extends Layer {
  /** Mean over H and W. */
  forward(x: tf.Tensor): tf.Tensor {
    return tf.mean(x, [1, 2]);
  }
  /** "GlobalAvgPool". */
  describe(): string {
    return "GlobalAvgPool";
  }
}

/**
 * The [2n, n] matrix of bilinear ×2 interpolation with align_corners: output o samples the input at
 * o·(n−1)/(2n−1) (all taps at 0 when n = 1).
 */
export function alignCornersMatrix(n: number): tf.Tensor2D {
  const m = new Float32Array(2 * n * n);
  for (let o = 0; o < 2 * n; o++) {
    const src = n === 1 ? 0 : (o * (n - 1)) / (2 * n - 1);
    const i0 = Math.min(Math.floor(src), n - 1);
    const i1 = Math.min(i0 + 1, n - 1);
    const f = src - i0;
    m[o * n + i0] += 1 - f;
    m[o * n + i1] += f;
  }
  return tf.tensor2d(m, [2 * n, n]);
}

/**
 * `nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)`: output pixel (i, j) samples
 * the input at (i·(h−1)/(2h−1), j·(w−1)/(2w−1)), so corners map to corners.
 *
 * Computed as two small matrix products (rows, then columns) rather than `tf.image.resizeBilinear`:
 * tfjs 4.22's CPU gradient of resizeBilinear returns a wrongly shaped gradient for non-square inputs,
 * and matrix products have exact, backend-independent gradients.
 */
export class UpsampleBilinear2x extends Layer {
  /** Resizes to twice the height and width. */
  forward(x: tf.Tensor): tf.Tensor {
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const ah = alignCornersMatrix(h);
    const aw = alignCornersMatrix(w);
    // Rows: [h, N·w·C] → [2h, N·w·C].
    const rows = tf.matMul(ah, tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]));
    // Columns: [w, N·2h·C] → [2w, N·2h·C].
    const r4 = tf.transpose(tf.reshape(rows, [2 * h, n, w, c]), [2, 1, 0, 3]);
    const cols = tf.matMul(aw, tf.reshape(r4, [w, n * 2 * h * c]));
    return tf.transpose(tf.reshape(cols, [2 * w, n, 2 * h, c]), [1, 2, 0, 3]);
  }
  /** "Upsample(×2, bilinear, align_corners)". */
  describe(): string {
    return "Upsample(×2, bilinear, align_corners)";
  }
}
