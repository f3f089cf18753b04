/**
 * `nn.AvgPool2d(kernel, stride, padding)` with PyTorch's default `count_include_pad=True`: the zero
 * padding counts in every window's divisor (always k²). tfjs's padded average pool leaves padding out
 * of the divisor, so the input is zero-padded first and pooled "valid".
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";

/**
 * Average pooling on NHWC input, padding included in the average (ShuffleNetV1's stride-2 shortcut).
 *
 * @example
 * ```ts
 * new AvgPool2d(3, 2, 1).forward(tf.ones([1, 4, 4, 1])).dataSync(); // [4/9, 6/9, 6/9, 1]
 * ```
 */
export class AvgPool2d extends Layer {
  /** Creates the layer. */
  constructor(readonly kernel: number, readonly stride = kernel, readonly padding = 0) {
    super();
    for (
      const [k, v, min] of [["kernel", kernel, 1], ["stride", stride, 1], [
        "padding",
        padding,
        0,
      ]] as const
    ) {
      if (!Number.isInteger(v) || v < min) {
        throw new Error(`AvgPool2d: ${k} must be an integer ≥ ${min}, got ${v}`);
      }
    }
  }

  /** Zero-pads, then averages every k×k window ("valid"). */
  forward(x: tf.Tensor): tf.Tensor {
    const p = this.padding;
    const padded = p > 0 ? tf.pad(x as tf.Tensor4D, [[0, 0], [p, p], [p, p], [0, 0]]) : x;
    return tf.avgPool(padded as tf.Tensor4D, this.kernel, this.stride, "valid");
  }

  /** "AvgPool2d(k, stride s, pad p)". */
  describe(): string {
    return `AvgPool2d(${this.kernel}, stride ${this.stride}${
      this.padding ? `, pad ${this.padding}` : ""
    })`;
  }
}
