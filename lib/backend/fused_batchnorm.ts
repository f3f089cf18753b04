/**
 * Training-mode batch normalisation as two fused tfjs kernels, for the backends that register them
 * (teskd-cpu does): "TeskdBatchNormTrain" computes the batch statistics and normalises in one
 * kernel, "TeskdBatchNormGrad" computes all three gradients in one — instead of the dozen
 * elementwise ops and reductions (and their autodiff) of the composite formula, each a full pass
 * over the activations. Callers use {@link fusedBatchNormTrain} and fall back to tfjs ops when it
 * returns null.
 *
 * Arithmetic (channels last, statistics over every other axis, as PyTorch's BatchNorm2d in
 * training): mean = Σx/n; var = Σ(x − mean)²/n (biased); y = (x − mean)·rsqrt(var + eps)·γ + β.
 * Gradients: with x̂ = (x − mean)·rsqrt(var + eps), dβ = Σdy, dγ = Σdy·x̂,
 * dx = γ·rsqrt(var + eps)·(dy − dβ/n − x̂·dγ/n). Sums accumulate in float64.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Forward kernel: inputs {x, gamma, beta}, attrs {eps}; outputs [y, mean, variance]. */
export const BN_TRAIN_KERNEL = "TeskdBatchNormTrain";
/** Gradient kernel: inputs {dy, x, mean, variance, gamma}, attrs {eps}; outputs [dx, dγ, dβ]. */
export const BN_GRAD_KERNEL = "TeskdBatchNormGrad";

/**
 * Forward pass on channels-last values: `x` holds rows of `gamma.length` channels. `y` receives the
 * output (it may be a recycled array: every element is written).
 */
export function batchNormTrainArrays(
  x: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
  y: Float32Array,
): { mean: Float32Array; variance: Float32Array } {
  const c = gamma.length;
  const rows = x.length / c;
  const sum = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) sum[j] += x[i + j];
  }
  const mean = new Float64Array(c);
  for (let j = 0; j < c; j++) mean[j] = sum[j] / rows;
  // Two passes (centred squares), as the composite formula: no cancellation for large means.
  const sq = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) {
      const d = x[i + j] - mean[j];
      sq[j] += d * d;
    }
  }
  const scale = new Float64Array(c);
  const shift = new Float64Array(c);
  const meanOut = new Float32Array(c);
  const varOut = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const v = sq[j] / rows;
    meanOut[j] = mean[j];
    varOut[j] = v;
    scale[j] = gamma[j] / Math.sqrt(v + eps);
    shift[j] = beta[j] - mean[j] * scale[j];
  }
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) y[i + j] = x[i + j] * scale[j] + shift[j];
  }
  return { mean: meanOut, variance: varOut };
}

/** Gradients of {@link batchNormTrainArrays}; `dx` receives the input gradient. */
export function batchNormGradArrays(
  dy: Float32Array,
  x: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  gamma: Float32Array,
  eps: number,
  dx: Float32Array,
): { dGamma: Float32Array; dBeta: Float32Array } {
  const c = gamma.length;
  const rows = x.length / c;
  const inv = new Float64Array(c);
  for (let j = 0; j < c; j++) inv[j] = 1 / Math.sqrt(variance[j] + eps);
  const sumDy = new Float64Array(c);
  const sumDyXhat = new Float64Array(c);
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) {
      const g = dy[i + j];
      sumDy[j] += g;
      sumDyXhat[j] += g * (x[i + j] - mean[j]) * inv[j];
    }
  }
  const dGamma = new Float32Array(c);
  const dBeta = new Float32Array(c);
  const k = new Float64Array(c);
  const meanDy = new Float64Array(c);
  const meanDyXhat = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    dGamma[j] = sumDyXhat[j];
    dBeta[j] = sumDy[j];
    k[j] = gamma[j] * inv[j];
    meanDy[j] = sumDy[j] / rows;
    meanDyXhat[j] = sumDyXhat[j] / rows;
  }
  for (let i = 0; i < x.length; i += c) {
    for (let j = 0; j < c; j++) {
      const xhat = (x[i + j] - mean[j]) * inv[j];
      dx[i + j] = k[j] * (dy[i + j] - meanDy[j] - xhat * meanDyXhat[j]);
    }
  }
  return { dGamma, dBeta };
}

tf.registerGradient({
  kernelName: BN_TRAIN_KERNEL,
  inputsToSave: ["x", "gamma"],
  outputsToSave: [false, true, true],
  // Only y's gradient flows: the batch statistics feed the running averages, never the loss.
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x, gamma, mean, variance] = saved;
    const dyY = Array.isArray(dy) ? dy[0] : dy;
    // Computed here, not inside the closures: tfjs runs each closure in its own tidy, which would
    // dispose the two gradients that closure does not return. The backward pass's own scope
    // frees any that no input asks for.
    const [dx, dGamma, dBeta] = tf.engine().runKernel(
      BN_GRAD_KERNEL,
      { dy: dyY, x, mean, variance, gamma },
      attrs,
    ) as tf.Tensor[];
    return { x: () => dx, gamma: () => dGamma, beta: () => dBeta };
  },
});

/**
 * Training-mode batch norm of channels-last `x` with per-channel `gamma` and `beta` on the active
 * backend's fused kernels: the output and the batch mean and (biased) variance; null when the
 * backend has no such kernels (the caller then uses tfjs ops). Differentiable in x, γ and β.
 */
export function fusedBatchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
): { y: tf.Tensor; mean: tf.Tensor; variance: tf.Tensor } | null {
  const backend = tf.getBackend();
  if (tf.getKernel(BN_TRAIN_KERNEL, backend) === undefined) return null;
  if (tf.getKernel(BN_GRAD_KERNEL, backend) === undefined) return null;
  if ([x, gamma, beta].some((t) => t.dtype !== "float32")) return null;
  const [y, mean, variance] = tf.engine().runKernel(
    BN_TRAIN_KERNEL,
    { x, gamma, beta },
    { eps },
  ) as tf.Tensor[];
  return { y, mean, variance };
}
