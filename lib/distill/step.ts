/**
 * One forward and backward pass of a distiller, the way every training step runs it: the frozen
 * forward passes (a pretrained teacher) before the gradient tape starts, so nothing of theirs is
 * recorded and no gradient is computed for them; then the method's training-mode loss under
 * `tf.variableGrads` over the trainable parameters only. A method with a second optimizer step (ATSC)
 * has its second pass run the same way, after the main step. The trainer and the parity checkers
 * share these functions.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { NamedTensor } from "../nn/module.ts";
import type { Distiller, StepOutput, TensorBatch } from "./distiller.ts";

/** What one forward and backward pass produced; every tensor stays alive until {@link dispose}. */
export interface ForwardBackward extends StepOutput {
  /**
   * Gradients by parameter name (tfjs layout). Parameters the loss does not reach get none and are
   * absent, as in PyTorch (their optimizer then skips them).
   */
  grads: Map<string, tf.Tensor>;
  /** Frees every tensor of the pass (not the batch). */
  dispose(): void;
}

/**
 * Runs the frozen forward passes outside the tape and the loss under it, in the distiller's current
 * mode (the caller sets training mode).
 *
 * @example
 * ```ts
 * distiller.train(true);
 * const r = forwardBackward(distiller, { x, y });
 * optimizer.step(r.grads);
 * r.dispose();
 * ```
 */
export function forwardBackward(distiller: Distiller, batch: TensorBatch): ForwardBackward {
  const frozen = distiller.frozenForward
    ? tf.tidy(() => distiller.frozenForward!(batch.x) as unknown as tf.TensorContainer)
    : undefined;
  try {
    return gradientsOf(
      distiller.module.trainableParameters(),
      () => distiller.loss(batch, frozen as never),
      frozen as tf.TensorContainer,
    );
  } catch (e) {
    tf.dispose(frozen as tf.TensorContainer);
    throw e;
  }
}

/**
 * The second pass of a method with a second optimizer step ({@link Distiller.secondStep}), to be run
 * after the main step was applied; `heads` is empty.
 *
 * @throws Error when the distiller has no second step
 */
export function secondForwardBackward(distiller: Distiller, batch: TensorBatch): ForwardBackward {
  const second = distiller.secondStep;
  if (second === undefined) throw new Error(`${distiller.method} has no second step`);
  return gradientsOf(second.parameters(), () => ({ heads: {}, ...second.loss(batch) }));
}

/** The loss under the tape, its gradients w.r.t. `params` by name, the rest kept for the caller. */
function gradientsOf(
  params: NamedTensor[],
  loss: () => StepOutput,
  alsoDispose?: tf.TensorContainer,
): ForwardBackward {
  let kept: Omit<StepOutput, "total"> | undefined;
  try {
    const { value, grads } = tf.variableGrads(() => {
      const out = loss();
      kept = {
        terms: keepAll(out.terms),
        heads: keepAll(out.heads),
        outputs: keepAll(out.outputs ?? {}),
      };
      return out.total;
    }, params.map((p) => p.variable));
    const byName = new Map<string, tf.Tensor>();
    for (const p of params) {
      const g = grads[p.variable.name];
      if (g !== undefined) byName.set(p.name, g);
    }
    const k = kept as Omit<StepOutput, "total">;
    return {
      total: value,
      terms: k.terms,
      heads: k.heads,
      outputs: k.outputs,
      grads: byName,
      dispose: () => tf.dispose([value, ...Object.values(grads), k as never, alsoDispose ?? []]),
    };
  } catch (e) {
    tf.dispose([kept as never]);
    throw e;
  }
}

/** `tf.keep` on every tensor of a record (they outlive the gradient function's scope). */
function keepAll<T extends tf.Tensor>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).map(([k, t]) => [k, tf.keep(t)]));
}
