/**
 * A fused SGD-with-momentum update as one tfjs kernel ("TeskdSgdMomentum"), for the backends that
 * register it (teskd-cpu does): one pass over parameter, gradient and momentum buffer instead of
 * the six elementwise ops of the composite update — the optimizer step is memory-bound, so passes
 * are what it costs. Callers use {@link fusedSgdMomentum} and fall back to tfjs ops when it
 * returns null.
 *
 * The arithmetic is PyTorch's `torch.optim.SGD` with momentum (the same as lib/train/sgd.ts):
 * g' = g + wd·p; buf = m·buf + (1 − dampening)·g' (buf = g' on the first step);
 * update = nesterov ? g' + m·buf : buf; p = p − lr·update.
 *
 * An optional scalar input `ok` guards the update on the device: 0 leaves parameter and buffer as
 * they were (a missing first-step buffer comes back as zeros), 1 applies it. The trainer uses it to
 * skip a non-finite step without reading its loss back first.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Kernel name the backends register. */
export const SGD_MOMENTUM_KERNEL = "TeskdSgdMomentum";

/** Hyper-parameters of one fused update (the kernel's attributes). */
export interface SgdMomentumAttrs {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/**
 * The update on plain arrays: writes the new parameter into `paramOut` and the new momentum buffer
 * into `bufOut` (`buf` null on the first step). Arithmetic in float64, stored as float32.
 */
export function sgdMomentumArrays(
  param: Float32Array,
  grad: Float32Array,
  buf: Float32Array | null,
  a: SgdMomentumAttrs,
  paramOut: Float32Array,
  bufOut: Float32Array,
  ok = true,
): void {
  if (!ok) {
    paramOut.set(param);
    if (buf === null) bufOut.fill(0);
    else bufOut.set(buf);
    return;
  }
  const { lr, momentum: m, weightDecay: wd, nesterov } = a;
  const keep = 1 - a.dampening;
  for (let i = 0; i < param.length; i++) {
    const p = param[i];
    const g = grad[i] + wd * p;
    const b = buf === null ? g : m * buf[i] + keep * g;
    bufOut[i] = b;
    paramOut[i] = p - lr * (nesterov ? g + m * b : b);
  }
}

/**
 * Runs the fused update on the active backend: returns the new parameter and momentum buffer, or
 * null when the backend has no such kernel (the caller then uses tfjs ops).
 *
 * @param ok the device-side guard (a float32 scalar, 1 or 0; see the module doc), if any
 */
export function fusedSgdMomentum(
  param: tf.Tensor,
  grad: tf.Tensor,
  buf: tf.Tensor | undefined,
  attrs: SgdMomentumAttrs,
  ok?: tf.Scalar,
): [tf.Tensor, tf.Tensor] | null {
  if (tf.getKernel(SGD_MOMENTUM_KERNEL, tf.getBackend()) === undefined) return null;
  if (param.dtype !== "float32" || grad.dtype !== "float32") return null;
  const inputs: tf.NamedTensorMap = { param, grad };
  if (buf !== undefined) inputs.buf = buf;
  if (ok !== undefined) inputs.ok = ok;
  const out = tf.engine().runKernel(
    SGD_MOMENTUM_KERNEL,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return [out[0], out[1]];
}
