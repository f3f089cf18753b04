/**
 * One training step of the product code path, as lib/train/trainer.ts takes it: `createTeskd`
 * forward in training mode, `teskdLoss` under `tf.variableGrads`, `SGD` (lr 0.1, momentum 0.9,
 * Nesterov, weight decay 5e-4) on every parameter that received a gradient. With `students: false`
 * the model is the baseline (the teacher alone, whose TESKD loss is its cross-entropy).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { createTeskd, type Teskd } from "../lib/models/mod.ts";
import { teskdLoss } from "../lib/losses/mod.ts";
import { SGD } from "../lib/train/sgd.ts";

/** A ready training step on fixed random data; `dispose` frees the model, data and optimizer. */
export interface BenchStep {
  model: Teskd;
  /** Runs one step and waits for the loss (as the trainer reads it back). */
  run(): number;
  /**
   * The same step for GPU backends, where synchronous reads are slow or missing (WebGPU under Deno):
   * queues the SGD update, then awaits the loss, so the promise settles after the whole step ran.
   */
  runAsync(): Promise<number>;
  dispose(): void;
}

/** Options of {@link makeTrainStep}. */
export interface TrainStepOptions {
  /** Scales every channel count (smoke runs on software GPUs); default 1, the paper's model. */
  widthMultiplier?: number;
}

/**
 * Builds a CIFAR ResNet-18 (100 classes) baseline or full TESKD training step at `batch`.
 *
 * @example
 * ```ts
 * const s = makeTrainStep(32, true);
 * s.run();
 * s.dispose();
 * ```
 */
export function makeTrainStep(
  batch: number,
  students: boolean,
  opts: TrainStepOptions = {},
): BenchStep {
  const model = createTeskd("cifarresnet18", {
    numClasses: 100,
    seed: 27,
    levels: students ? undefined : [],
    widthMultiplier: opts.widthMultiplier,
  });
  model.train();
  const opt = new SGD(model.namedParameters(), {
    lr: 0.1,
    momentum: 0.9,
    nesterov: true,
    weightDecay: 5e-4,
  });
  const x = tf.randomNormal([batch, 32, 32, 3], 0, 1, "float32", 1);
  const y = tf.randomUniform([batch], 0, 100, "int32", 2) as tf.Tensor1D;
  const params = model.namedParameters();
  const lossAndGrads = () => {
    const { value, grads } = tf.variableGrads(
      () => teskdLoss(model.forward(x), y).total,
      params.map((q) => q.variable),
    );
    const gradByName = new Map(
      params.filter((q) => grads[q.variable.name] !== undefined)
        .map((q) => [q.name, grads[q.variable.name]]),
    );
    return { value, grads, gradByName };
  };
  const run = (): number => {
    const { value, grads, gradByName } = lossAndGrads();
    const loss = value.dataSync()[0];
    opt.step(gradByName);
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  const runAsync = async (): Promise<number> => {
    const { value, grads, gradByName } = lossAndGrads();
    opt.step(gradByName);
    // The device runs its queue in order: this read completes only after the update did.
    const loss = (await value.data())[0];
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  };
  return {
    model,
    run,
    runAsync,
    dispose: () => {
      opt.dispose();
      tf.dispose([x, y]);
      model.dispose();
    },
  };
}
