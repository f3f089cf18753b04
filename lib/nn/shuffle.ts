/**
 * The channel shuffle of ShuffleNet: `[N, C, H, W] → [N, g, C/g, H, W] → [N, C/g, g, H, W] → [N, C, H, W]`
 * in PyTorch; here on NHWC, with the same channel permutation (old channel j·C/g + i becomes i·g + j).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { Layer } from "./layer.ts";

/**
 * Shuffles the channels of an NHWC tensor in `groups` groups. Reshape and transpose only, so the
 * gradient is the inverse permutation on every backend.
 */
export function channelShuffle(x: tf.Tensor, groups: number): tf.Tensor {
  if (groups === 1) return x;
  const [n, h, w, c] = x.shape as [number, number, number, number];
  if (c % groups !== 0) {
    throw new Error(`channelShuffle: ${c} channels do not split into ${groups} groups`);
  }
  const t = tf.transpose(tf.reshape(x, [n, h, w, groups, c / groups]), [0, 1, 2, 4, 3]);
  return tf.reshape(t, [n, h, w, c]);
}

/**
 * The official `ShuffleBlock(groups)` as a parameter-free layer.
 *
 * @example
 * ```ts
 * const y = new ChannelShuffle(2).forward(tf.tensor4d([0, 1, 2, 3], [1, 1, 1, 4]));
 * y.dataSync(); // [0, 2, 1, 3]
 * ```
 */
export class ChannelShuffle extends Layer {
  /** Creates the layer. */
  constructor(readonly groups: number) {
    super();
    if (!Number.isInteger(groups) || groups < 1) {
      throw new Error(`ChannelShuffle: groups must be a positive integer, got ${groups}`);
    }
  }

  /** Shuffles the channels. */
  forward(x: tf.Tensor): tf.Tensor {
    return channelShuffle(x, this.groups);
  }

  /** "ChannelShuffle(g)". */
  describe(): string {
    return `ChannelShuffle(${this.groups})`;
  }
}
