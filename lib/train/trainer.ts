/**
 * Training of any distillation method (a {@link Distiller}: TESKD, KD, SimKD, the baseline, …): SGD
 * over epochs of batches, evaluation of every head (top-1, top-5) after each epoch, a history of
 * per-epoch records, cancellation between steps, NaN/Inf detection, and atomic checkpoints. The
 * trainer names no method: it asks the distiller.
 *
 * The loop, per step: `forwardBackward` (the frozen forward passes of a pretrained teacher outside the
 * gradient tape, the method's training-mode loss under it over the trainable parameters only), read the
 * step's statistics (total loss, terms, top-1 per head, squared gradient norm: one read), refuse a
 * non-finite loss or gradient, set the scheduled learning rate, SGD step, dispose everything.
 *
 * What is checked when ({@link TrainerOptions.syncEvery}): on the CPU engines every step is read
 * before it is applied (reading costs nothing there). On a GPU a read drains the queue, so there the
 * trainer reads every `syncEvery` steps (8 by default) and keeps the guarantee on the device: each
 * step is applied (weights, momentum, BatchNorm statistics and other buffers) only if it and every
 * step since the last read were finite. A non-finite step therefore is never applied, nor is any
 * step after it; the error comes at the next read, within `syncEvery` steps, with the trainer in the
 * state before the bad step — the same state, and the same `fit()` continuation, as when reading
 * every step. The first step of a run and methods with a second optimizer step (ATSC) are always
 * read at once.
 *
 * Choices that differ from the official code, on purpose:
 * - Logged training loss terms and accuracies are averaged over the whole epoch (weighted by batch
 *   size), not taken from the last batch as the official log does.
 * - The trainer draws no random numbers: shuffling and augmentation are functions of (seed, epoch) in
 *   the data source, so the epoch index is the whole RNG state and a resumed run is bit-for-bit the
 *   uninterrupted one.
 *
 * @example
 * ```ts
 * const trainer = new Trainer({
 *   distiller, // e.g. buildDistiller(resolveMethodConfig("kd"), { student, teacher, inputSize: 32, seed: 0 })
 *   data: trainSource, evalData: testSource,
 *   optimizer: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
 *   schedule: { kind: "multistep", baseLr: 0.1, epochs: 200 },
 *   onEpoch: (r) => console.log(r.epoch, r.eval[r.deployedHead].top1),
 * });
 * await trainer.fit();          // interrupt and call fit() again to continue where it stopped
 * ```
 *
 * Live controls (a progress view's Stop button and learning-rate field use them, from a widget
 * callback while `fit()` awaits): {@link Trainer.requestStop} ends `fit()` after the current step,
 * without an error, with everything consistent (`fit()` again continues the run as if never stopped);
 * {@link Trainer.setLearningRate} overrides the schedule from the next step on.
 *
 * @module
 */
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { Batch } from "../data/types.ts";
import type { Distiller, TensorBatch } from "../distill/distiller.ts";
import { type ForwardBackward, forwardBackward, secondForwardBackward } from "../distill/step.ts";
import { correct } from "./evaluate.ts";
import { crossEntropy } from "../losses/losses.ts";
import { kernelInterruptSignal } from "../jupyter.ts";
import { withoutInterruptChecks } from "../backend/interrupt_check.ts";
import type { Module } from "../nn/module.ts";
import { loadCheckpoint, saveCheckpoint } from "./checkpoint.ts";
import { learningRate, type ScheduleConfig, validateSchedule } from "./schedule.ts";
import { SGD, type SGDOptions } from "./sgd.ts";

/** Anything that yields the batches of an epoch (the data layer's `BatchSource` fits). */
export interface TrainData {
  /** The batches of epoch `e` (0-based); the same `e` must always give the same batches. */
  epoch(e: number): AsyncIterable<Batch>;
  /** Batches per epoch, when known (needed by per-step schedules and for progress). */
  readonly batchesPerEpoch?: number;
}

/** Accuracy of one head, in percent. */
export interface HeadAccuracy {
  /** Top-1 accuracy, percent. */
  top1: number;
  /** Top-5 accuracy, percent (top-k with k = classes when there are fewer than 5). */
  top5: number;
}

/** What happened in one epoch. */
export interface EpochRecord {
  /** 0-based epoch index. */
  epoch: number;
  /** Learning rate at the epoch's first step. */
  lr: number;
  /** Mean total loss over the epoch's training batches (weighted by batch size). */
  loss: number;
  /** Mean of each loss term over the epoch. */
  terms: Record<string, number>;
  /** Training top-1 of each head over the epoch (percent, running weights: a cheap indicator). */
  trainTop1: Record<string, number>;
  /** Evaluation accuracy of each head (empty without evaluation data). */
  eval: Record<string, HeadAccuracy>;
  /** The head the method deploys (the run's result): a key of `eval` and `trainTop1`. */
  deployedHead: string;
  /** Mean cross-entropy of the deployed head on the evaluation data, when evaluated. */
  evalLoss?: number;
  /** Training images seen. */
  images: number;
  /** Optimizer steps in this epoch. */
  steps: number;
  /** Global optimizer step count at the end of the epoch. */
  globalStep: number;
  /** Training wall time (seconds), evaluation excluded. */
  trainSeconds: number;
  /** Evaluation wall time (seconds). */
  evalSeconds: number;
  /** Training throughput, images per second. */
  imagesPerSecond: number;
}

/** Progress of one step, for progress views. */
export interface StepInfo {
  /** 0-based epoch. */
  epoch: number;
  /** 0-based step within the epoch. */
  step: number;
  /** Steps in the epoch, when known. */
  batchesPerEpoch?: number;
  /** Global step count after this step. */
  globalStep: number;
  /** Total loss of this batch. */
  loss: number;
  /** Loss terms of this batch. */
  terms: Record<string, number>;
  /** Learning rate used. */
  lr: number;
  /** Global L2 norm of the gradient (before weight decay). */
  gradNorm: number;
  /** Images in this batch. */
  images: number;
  /** Images per second of this step. */
  imagesPerSecond: number;
}

/** Thrown when a loss term or the gradient is NaN or infinite; nothing was updated by that step. */
export class NonFiniteLossError extends Error {
  /** @param message what was non-finite, and where */
  constructor(
    message: string,
    /** Epoch of the bad step. */
    readonly epoch: number,
    /** Step within the epoch. */
    readonly step: number,
    /** The loss terms of the bad step. */
    readonly terms: Record<string, number>,
  ) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  /** What is trained: a method built for its networks (`buildDistiller`, or `customDistiller`). */
  distiller: Distiller;
  /** Training data. */
  data: TrainData;
  /** Evaluation data (scored after every epoch when given). */
  evalData?: TrainData;
  /** SGD settings (the learning rate comes from the schedule), or a ready optimizer. */
  optimizer: Omit<SGDOptions, "lr"> | SGD;
  /** The learning-rate schedule; `schedule.epochs` is the default number of epochs. */
  schedule: ScheduleConfig;
  /** Write `last.safetensors` (atomically) here after every epoch. */
  checkpointDir?: string;
  /** Saved in checkpoint metadata (the run's configuration, JSON-serialisable). */
  config?: unknown;
  /** The seed the model and data were built from; recorded in checkpoints. */
  seed?: number;
  /**
   * Called after every step (synchronously: keep it cheap); with `syncEvery` > 1, for a group of
   * steps at once when their statistics are read.
   */
  onStep?: (info: StepInfo) => void;
  /**
   * Steps between reads of the step statistics (see the module doc). Default: 1 on the CPU engines,
   * 8 on WebGPU.
   */
  syncEvery?: number;
  /** Called after every epoch's record is added to the history (awaited). */
  onEpoch?: (record: EpochRecord) => void | Promise<void>;
}

/** Options of {@link Trainer.fit}. */
export interface FitOptions {
  /** Train until this many epochs are complete. Default `schedule.epochs`. */
  epochs?: number;
  /**
   * Stops the run between steps (throws the signal's reason; the trainer stays usable and `fit`
   * continues where it stopped). Default: the Jupyter kernel's interrupt signal for the current cell,
   * when running in the teskd kernel.
   */
  signal?: AbortSignal;
}

/** What one step measured. */
interface StepResult {
  total: number;
  terms: Record<string, number>;
  correct: Record<string, number>;
  gradNorm: number;
}

/** Running sums of the epoch in progress (kept across an interruption). */
interface EpochProgress {
  epoch: number;
  batchesDone: number;
  trainDone: boolean;
  lr: number;
  images: number;
  lossSum: number;
  termSums: Record<string, number>;
  correctSums: Record<string, number>;
  trainSeconds: number;
}

/** Trains a distiller; see the module documentation. */
export class Trainer {
  /** What is trained. */
  readonly distiller: Distiller;
  /** The optimizer (over the distiller's trainable parameters only). */
  readonly optimizer: SGD;
  /**
   * The second optimizer of a method with a second step (ATSC), with the main one's settings and
   * learning rate and its own momentum.
   */
  readonly secondOptimizer: SGD | undefined;
  /** One record per completed epoch. */
  readonly history: EpochRecord[] = [];
  readonly #opts: TrainerOptions;
  #epoch = 0;
  #step = 0;
  #progress: EpochProgress | undefined;
  #running = false;
  #stopRequested = false;
  #stopped = false;
  #lrOverride: number | undefined;
  /** 1 while every step since the last read was finite (the device-side guard); made when needed. */
  #healthy: tf.Variable | undefined;

  /** @param opts distiller, data, optimizer, schedule and callbacks */
  constructor(opts: TrainerOptions) {
    validateSchedule(opts.schedule);
    if (
      opts.syncEvery !== undefined && !(Number.isInteger(opts.syncEvery) && opts.syncEvery >= 1)
    ) {
      throw new Error(`Trainer: syncEvery must be an integer ≥ 1, got ${opts.syncEvery}`);
    }
    this.#opts = opts;
    this.distiller = opts.distiller;
    this.optimizer = opts.optimizer instanceof SGD ? opts.optimizer : new SGD(
      opts.distiller.module.trainableParameters(),
      { ...opts.optimizer, lr: opts.schedule.baseLr },
    );
    const second = opts.distiller.secondStep;
    const o = this.optimizer;
    this.secondOptimizer = second && new SGD(second.parameters(), {
      lr: o.lr,
      momentum: o.momentum,
      dampening: o.dampening,
      weightDecay: o.weightDecay,
      nesterov: o.nesterov,
    });
  }

  /** The checkpointed module of the distiller (what is trained). */
  get model(): Module {
    return this.distiller.module;
  }

  /** Completed epochs (the 0-based index of the next epoch). */
  get epoch(): number {
    return this.#epoch;
  }

  /** Optimizer steps taken. */
  get globalStep(): number {
    return this.#step;
  }

  /** Whether the last `fit()` ended early on {@link requestStop} (false while running). */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether `fit()` is running. */
  get running(): boolean {
    return this.#running;
  }

  /** Whether a stop was requested and the running `fit()` has not stopped yet. */
  get stopRequested(): boolean {
    return this.#stopRequested;
  }

  /**
   * Asks the running `fit()` to stop after the current step (or evaluation, or `onEpoch`): it then
   * resolves with the history so far and {@link stopped} true; the model, optimizer, step count and
   * history are as after that step, and `fit()` again continues the run exactly where it stopped (an
   * epoch cut short is finished, not restarted). Unlike an abort, nothing is thrown.
   *
   * @returns whether a run was there to stop (a request while not running is ignored, so that it
   *   does not stop the next run at its start)
   */
  requestStop(): boolean {
    if (!this.#running) return false;
    this.#stopRequested = true;
    return true;
  }

  /**
   * Sets the learning rate of every step from the next one on, in place of the schedule's; `undefined`
   * gives the schedule back. Epoch records and step infos report the rate used. The override is not
   * saved in checkpoints.
   *
   * @throws RangeError when `lr` is not a finite number ≥ 0
   */
  setLearningRate(lr: number | undefined): void {
    if (lr !== undefined && !(typeof lr === "number" && Number.isFinite(lr) && lr >= 0)) {
      throw new RangeError(`Trainer.setLearningRate: lr must be a finite number ≥ 0, got ${lr}`);
    }
    this.#lrOverride = lr;
  }

  /** The learning-rate override set with {@link setLearningRate}, if any. */
  get learningRateOverride(): number | undefined {
    return this.#lrOverride;
  }

  /**
   * Trains until `epochs` epochs are complete, evaluating and recording each one.
   *
   * @returns the history (all epochs so far); after {@link requestStop}, early, with
   *   {@link stopped} true
   * @throws the abort reason when cancelled; {@link NonFiniteLossError} on a NaN/Inf loss or gradient
   *   (the step is not applied and BatchNorm statistics are restored)
   */
  async fit(opts: FitOptions = {}): Promise<EpochRecord[]> {
    if (this.#running) throw new Error("Trainer.fit: already running");
    const epochs = opts.epochs ?? this.#opts.schedule.epochs;
    const signal = opts.signal ?? kernelInterruptSignal();
    this.#running = true;
    this.#stopped = false;
    let early = false;
    try {
      while (this.#epoch < epochs) {
        signal?.throwIfAborted();
        // A stop request ends the run here, or inside the epoch after its current step, or before
        // the evaluation (fit() again evaluates this epoch).
        if ((early = this.#stopRequested)) break;
        const p = this.#progress ?? this.#newProgress(this.#epoch);
        this.#progress = p;
        early = (!p.trainDone && !(await this.#trainEpoch(p, signal))) || this.#stopRequested;
        if (early) {
          // Stopped before the epoch's first step: nothing half done (checkpoints can be taken).
          if (p.batchesDone === 0) this.#progress = undefined;
          break;
        }
        const started = performance.now();
        const ev = this.#opts.evalData
          ? await this.#evaluate(this.#opts.evalData, signal)
          : undefined;
        const record = this.#record(p, ev, (performance.now() - started) / 1000);
        this.history.push(record);
        this.#progress = undefined;
        this.#epoch++;
        if (this.#opts.checkpointDir !== undefined) {
          await this.save(join(this.#opts.checkpointDir, "last.safetensors"));
        }
        await this.#opts.onEpoch?.(record);
      }
    } finally {
      this.#stopped = early;
      this.#stopRequested = false;
      this.#running = false;
      this.distiller.train(true);
    }
    return this.history;
  }

  /** Scores every head on `data` in inference mode. */
  async evaluate(data: TrainData, signal?: AbortSignal): Promise<Record<string, HeadAccuracy>> {
    return (await this.#evaluate(data, signal)).accuracy;
  }

  /** Writes a checkpoint of the model, optimizer, position, history and config (atomically). */
  async save(path: string): Promise<void> {
    if (this.#progress !== undefined) {
      throw new Error("Trainer.save: an epoch is half done; checkpoints are taken between epochs");
    }
    await saveCheckpoint(path, this.model, {
      optimizer: this.optimizer,
      secondOptimizer: this.secondOptimizer,
      epoch: this.#epoch,
      step: this.#step,
      rng: JSON.stringify({ seed: this.#opts.seed ?? null, scheme: "data source: f(seed, epoch)" }),
      config: this.#opts.config,
      history: this.history,
    });
  }

  /** Restores model, optimizer, position and history from a checkpoint written by {@link save}. */
  async resume(path: string): Promise<void> {
    if (this.#running) throw new Error("Trainer.resume: cannot resume while fit() runs");
    const info = await loadCheckpoint(path, this.model, {
      optimizer: this.optimizer,
      secondOptimizer: this.secondOptimizer,
    });
    this.#epoch = info.epoch;
    this.#step = info.step;
    this.#progress = undefined;
    this.history.splice(0, this.history.length, ...((info.history ?? []) as EpochRecord[]));
  }

  #newProgress(epoch: number): EpochProgress {
    return {
      epoch,
      batchesDone: 0,
      trainDone: false,
      lr: NaN,
      images: 0,
      lossSum: 0,
      termSums: {},
      correctSums: {},
      trainSeconds: 0,
    };
  }

  /** Trains the rest of an epoch; false when a stop request ended it early (`p` keeps its place). */
  async #trainEpoch(p: EpochProgress, signal: AbortSignal | undefined): Promise<boolean> {
    const { distiller, data, schedule } = this.#opts;
    distiller.train(true);
    const every = this.#syncEvery();
    const pending: PendingStep[] = [];
    let index = 0;
    try {
      for await (const batch of data.epoch(p.epoch)) {
        if (index++ < p.batchesDone) continue; // resuming an interrupted epoch: same batches, skip done ones
        // A method that trains on one batch size only (SemCKD) skips the others, as its official loop does.
        if (distiller.fixedBatch !== undefined && batch.n !== distiller.fixedBatch) {
          await this.#settle(pending, p);
          p.batchesDone++;
          continue;
        }
        await yieldToEventLoop(signal); // lets an interrupt (a message or timer event) abort the signal
        signal?.throwIfAborted();
        // A stop request (a widget's click, handled during the yield) ends the epoch here; the queued
        // steps are settled below, so `p` counts every applied step and fit() resumes after them.
        if (this.#stopRequested) return false;
        const lr = this.#lrOverride ?? learningRate(
          schedule,
          p.epoch,
          p.batchesDone + pending.length,
          data.batchesPerEpoch,
        );
        if (every > 1 && this.optimizer.stepCount > 0 && this.secondOptimizer === undefined) {
          pending.push(this.#dispatchStep(batch, lr, this.#step + pending.length));
          if (pending.length >= every) await this.#settle(pending, p);
          continue;
        }
        const started = performance.now();
        const r = await this.#trainStep(batch, lr, p);
        this.#account(p, r, lr, batch.n, (performance.now() - started) / 1000);
      }
    } finally {
      // Whatever stops the epoch (an interrupt, an error), the steps already queued are accounted
      // for: applied ones recorded, a non-finite one reported (its error then wins).
      await withoutInterruptChecks(() => this.#settle(pending, p));
    }
    if (p.batchesDone === 0) {
      throw new Error(`Trainer: epoch ${p.epoch} of the training data is empty`);
    }
    p.trainDone = true;
    return true;
  }

  /** The steps between reads: the option, else 1 on the CPU engines and 8 on a GPU. */
  #syncEvery(): number {
    return this.#opts.syncEvery ?? (tf.getBackend() === "webgpu" ? 8 : 1);
  }

  /** Adds a step's figures to the epoch's sums and reports it. */
  #account(p: EpochProgress, r: StepResult, lr: number, images: number, seconds: number): void {
    this.#step++;
    if (p.batchesDone === 0) p.lr = lr;
    p.batchesDone++;
    p.images += images;
    p.trainSeconds += seconds;
    p.lossSum += r.total * images;
    for (const [k, v] of Object.entries(r.terms)) {
      p.termSums[k] = (p.termSums[k] ?? 0) + v * images;
    }
    for (const [h, c] of Object.entries(r.correct)) {
      p.correctSums[h] = (p.correctSums[h] ?? 0) + c;
    }
    this.#opts.onStep?.({
      epoch: p.epoch,
      step: p.batchesDone - 1,
      batchesPerEpoch: this.#opts.data.batchesPerEpoch,
      globalStep: this.#step,
      loss: r.total,
      terms: r.terms,
      lr,
      gradNorm: r.gradNorm,
      images,
      imagesPerSecond: images / seconds,
    });
  }

  /**
   * One step queued on the device without reading anything back: applied only while the device's
   * guard says every step since the last read was finite (see the module doc).
   */
  #dispatchStep(batch: Batch, lr: number, globalStep: number): PendingStep {
    const { distiller } = this.#opts;
    const started = performance.now();
    const buffers = distiller.module.namedBuffers();
    const saved = buffers.map((b) => b.variable.clone()); // shares data: cheap
    const x = tf.tensor4d(batch.x, [batch.n, batch.height, batch.width, batch.channels]);
    const y = tf.tensor1d(batch.y, "int32");
    const index = batch.index ? tf.tensor1d(batch.index, "int32") : undefined;
    const healthy = this.#healthy ??= tf.tidy(() => tf.variable(tf.scalar(1), false));
    let r: ForwardBackward | undefined;
    try {
      r = forwardBackward(distiller, { x, y, index, step: globalStep });
      const stats = stepStatistics(r, y);
      tf.tidy(() => {
        const finite = tf.all(tf.isFinite(stats.vector));
        healthy.assign(tf.mul(healthy, tf.cast(finite, "float32")));
      });
      this.optimizer.lr = lr;
      // The update and the buffers' guard together: an interrupt never falls between them.
      withoutInterruptChecks(() => {
        this.optimizer.step(r!.grads, healthy as tf.Scalar);
        tf.tidy(() => {
          const apply = tf.notEqual(healthy, 0);
          buffers.forEach((b, i) => b.variable.assign(tf.where(apply, b.variable, saved[i])));
        });
      });
      return { ...stats, lr, images: batch.n, started };
    } catch (e) {
      buffers.forEach((b, i) => b.variable.assign(saved[i]));
      throw e;
    } finally {
      r?.dispose();
      tf.dispose([x, y, ...(index ? [index] : []), ...saved]);
    }
  }

  /**
   * Reads the statistics of the queued steps (one read) and accounts for them in order; at the
   * first non-finite one (not applied, nor any after it) restores the step count and throws.
   */
  async #settle(pending: PendingStep[], p: EpochProgress): Promise<void> {
    if (pending.length === 0) return;
    const steps = pending.splice(0);
    const all = tf.concat(steps.map((s) => s.vector));
    tf.dispose(steps.map((s) => s.vector));
    const v = await all.data().finally(() => all.dispose());
    const seconds = (performance.now() - steps[0].started) / 1000 / steps.length;
    let at = 0;
    for (const [i, s] of steps.entries()) {
      const r = parseStepStatistics(v.subarray(at, at + s.length), s.names, s.headNames);
      at += s.length;
      if (r.problem !== undefined) {
        // This step and the ones queued after it were skipped on the device.
        this.optimizer.rewindStepCount(steps.length - i);
        tf.tidy(() => this.#healthy!.assign(tf.scalar(1)));
        throw this.#nonFinite(`${r.problem} (${describe(r.total, r.terms)})`, p, r.terms);
      }
      this.#account(p, r, s.lr, s.images, seconds);
    }
  }

  /** One optimizer step; on any failure nothing is changed (BatchNorm statistics are restored). */
  async #trainStep(batch: Batch, lr: number, p: EpochProgress): Promise<StepResult> {
    const { distiller } = this.#opts;
    const buffers = distiller.module.namedBuffers();
    const saved = buffers.map((b) => b.variable.clone()); // shares data: cheap
    const x = tf.tensor4d(batch.x, [batch.n, batch.height, batch.width, batch.channels]);
    const y = tf.tensor1d(batch.y, "int32");
    const index = batch.index ? tf.tensor1d(batch.index, "int32") : undefined;
    const owned: tf.Tensor[] = [x, y, ...(index ? [index] : []), ...saved];
    let r: ForwardBackward | undefined;
    try {
      r = forwardBackward(distiller, { x, y, index, step: this.#step });
      const step = r;
      const stats = stepStatistics(step, y);
      owned.push(stats.vector);
      const v = await stats.vector.data();
      const { total, terms, correct: correctByHead, gradNorm, problem } = parseStepStatistics(
        v,
        stats.names,
        stats.headNames,
      );
      if (problem !== undefined) {
        throw this.#nonFinite(`${problem} (${describe(total, terms)})`, p, terms);
      }
      if (this.secondOptimizer !== undefined) {
        await this.#withSecondStep({ x, y, index, step: this.#step }, lr, step.grads, p, terms);
      } else {
        this.optimizer.lr = lr;
        this.optimizer.step(step.grads);
      }
      return { total, terms, correct: correctByHead, gradNorm };
    } catch (e) {
      buffers.forEach((b, i) => b.variable.assign(saved[i]));
      throw e;
    } finally {
      r?.dispose();
      tf.dispose(owned);
    }
  }

  /**
   * The main step, then the method's second pass on the updated weights and the second optimizer's
   * step. If the second loss is not finite, the main step is undone too (weights and momentum), so a
   * failed iteration changes nothing. Its logged terms join `terms`.
   */
  async #withSecondStep(
    batch: TensorBatch,
    lr: number,
    grads: Map<string, tf.Tensor>,
    p: EpochProgress,
    terms: Record<string, number>,
  ): Promise<void> {
    const main = this.optimizer;
    const second = this.secondOptimizer as SGD;
    const params = [...main.params.values()].map((q) => q.variable);
    const before = params.map((v) => v.clone()); // shares data until the step replaces it
    const state = main.state();
    let r: ForwardBackward | undefined;
    try {
      main.lr = lr;
      main.step(grads);
      r = secondForwardBackward(this.#opts.distiller, batch);
      const names = Object.keys(r.terms);
      const stats = tf.stack([r.total, ...names.map((n) => r!.terms[n])]);
      const v = await stats.data().finally(() => stats.dispose());
      names.forEach((n, i) => (terms[n] = v[1 + i]));
      if (!v.every(Number.isFinite)) {
        throw this.#nonFinite(
          `second-step loss is not finite (${describe(v[0], terms)})`,
          p,
          terms,
        );
      }
      second.lr = lr;
      second.step(r.grads);
    } catch (e) {
      params.forEach((w, i) => w.assign(before[i]));
      main.loadState(state);
      throw e;
    } finally {
      r?.dispose();
      tf.dispose(before);
      for (const b of state.momentumBuffers.values()) b.dispose();
    }
  }

  async #evaluate(
    data: TrainData,
    signal: AbortSignal | undefined,
  ): Promise<{ accuracy: Record<string, HeadAccuracy>; loss: number }> {
    const { distiller } = this.#opts;
    const wasTraining = distiller.module.training;
    distiller.train(false);
    const counts: Record<string, [number, number]> = {};
    let n = 0;
    let lossSum = 0;
    try {
      for await (const batch of data.epoch(0)) {
        await yieldToEventLoop(signal);
        signal?.throwIfAborted();
        let headNames: string[] = [];
        const stats = tf.tidy(() => {
          const x = tf.tensor4d(batch.x, [batch.n, batch.height, batch.width, batch.channels]);
          const y = tf.tensor1d(batch.y, "int32");
          const hs = distiller.predict(x);
          headNames = Object.keys(hs);
          const deployed = hs[distiller.deployedHead];
          if (deployed === undefined) {
            throw new Error(
              `Trainer: the method's predict() has no "${distiller.deployedHead}" head (it has ${
                headNames.join(", ")
              })`,
            );
          }
          return tf.stack([
            crossEntropy(deployed, y),
            ...headNames.flatMap((h) => [correct(hs[h], y, 1), correct(hs[h], y, 5)]),
          ]);
        });
        const v = await stats.data();
        stats.dispose();
        lossSum += v[0] * batch.n;
        headNames.forEach((h, i) => {
          const c = counts[h] ?? (counts[h] = [0, 0]);
          c[0] += v[1 + 2 * i];
          c[1] += v[2 + 2 * i];
        });
        n += batch.n;
      }
    } finally {
      distiller.train(wasTraining);
    }
    if (n === 0) throw new Error("Trainer: the evaluation data yielded no images");
    const accuracy: Record<string, HeadAccuracy> = {};
    for (const [h, [c1, c5]] of Object.entries(counts)) {
      accuracy[h] = { top1: (100 * c1) / n, top5: (100 * c5) / n };
    }
    return { accuracy, loss: lossSum / n };
  }

  #record(
    p: EpochProgress,
    ev: { accuracy: Record<string, HeadAccuracy>; loss: number } | undefined,
    evalSeconds: number,
  ): EpochRecord {
    const mean = (o: Record<string, number>, scale = 1) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, (scale * v) / p.images]));
    return {
      epoch: p.epoch,
      lr: p.lr,
      loss: p.lossSum / p.images,
      terms: mean(p.termSums),
      trainTop1: mean(p.correctSums, 100),
      eval: ev?.accuracy ?? {},
      deployedHead: this.distiller.deployedHead,
      ...(ev ? { evalLoss: ev.loss } : {}),
      images: p.images,
      steps: p.batchesDone,
      globalStep: this.#step,
      trainSeconds: p.trainSeconds,
      evalSeconds,
      imagesPerSecond: p.images / p.trainSeconds,
    };
  }

  #nonFinite(what: string, p: EpochProgress, terms: Record<string, number>): NonFiniteLossError {
    return new NonFiniteLossError(
      `Trainer: at epoch ${p.epoch}, step ${p.batchesDone} (global step ${this.#step}), the ${what}. ` +
        `The step was not applied: weights, optimizer, BatchNorm statistics and checkpoints are as ` +
        `before it. Lower the learning rate or check the data and loss weights.`,
      p.epoch,
      p.batchesDone,
      terms,
    );
  }
}

/**
 * Resolves after pending events (messages, due timers) have run. Awaiting tensor reads alone only runs
 * microtasks on the CPU backend, so without this an interrupt would wait for the whole run. Also
 * resolves when `signal` aborts: a kernel may cancel a cell's timers when it interrupts the cell.
 */
function yieldToEventLoop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(id);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const id = setTimeout(done, 0);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** A step's statistics on the device, as one vector, and how to read it. */
interface StepStatistics {
  /** [total, ...terms, ...top-1 correct per head, Σ g²] */
  vector: tf.Tensor1D;
  names: string[];
  headNames: string[];
  length: number;
}

/** A step queued on the device whose statistics are not read yet. */
interface PendingStep extends StepStatistics {
  lr: number;
  images: number;
  started: number;
}

/** The statistics of a step as one vector (one read instead of one per figure). */
function stepStatistics(step: ForwardBackward, y: tf.Tensor1D): StepStatistics {
  const names = Object.keys(step.terms);
  const headNames = Object.keys(step.heads);
  const vector = tf.tidy(() =>
    tf.stack([
      step.total,
      ...names.map((n) => step.terms[n]),
      ...headNames.map((h) => correct(step.heads[h], y, 1)),
      tf.addN([...step.grads.values()].map((g) => tf.sum(tf.square(g)))),
    ]) as tf.Tensor1D
  );
  return { vector, names, headNames, length: 2 + names.length + headNames.length };
}

/** A step's figures from its statistics vector; `problem` says what was not finite. */
function parseStepStatistics(
  v: ArrayLike<number>,
  names: string[],
  headNames: string[],
): StepResult & { problem?: string } {
  const total = v[0];
  const terms = Object.fromEntries(names.map((n, i) => [n, v[1 + i]]));
  const correct = Object.fromEntries(headNames.map((h, i) => [h, v[1 + names.length + i]]));
  const gradNorm = Math.sqrt(v[1 + names.length + headNames.length]);
  const problem = !Number.isFinite(total) || names.some((n) => !Number.isFinite(terms[n]))
    ? "loss is not finite"
    : !Number.isFinite(gradNorm)
    ? `gradient norm is ${gradNorm}`
    : undefined;
  return { total, terms, correct, gradNorm, ...(problem ? { problem } : {}) };
}

function describe(total: number, terms: Record<string, number>): string {
  const parts = Object.entries(terms).map(([k, v]) => `${k} ${v}`);
  return `total ${total}${parts.length ? ", " + parts.join(", ") : ""}`;
}
