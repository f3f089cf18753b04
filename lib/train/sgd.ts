/**
 * Stochastic gradient descent exactly as PyTorch's `torch.optim.SGD` computes it, on named tensors.
 *
 * For every parameter `p` with gradient `g` (in this order, in float32):
 * ```
 * g = g + wd·p                       (weight decay is added to the gradient, not decoupled)
 * buf = g                            on the parameter's first step
 * buf = m·buf + (1 − dampening)·g    afterwards
 * p = p − lr·(g + m·buf)             Nesterov
 * p = p − lr·buf                     plain momentum
 * ```
 * Momentum buffers are keyed by the parameter's name (the official PyTorch name), so that the state can
 * be written next to the weights in a checkpoint and read back by name.
 *
 * @example
 * ```ts
 * const opt = new SGD(model.namedParameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * opt.step(gradsByName);       // Map<name, tf.Tensor>; the caller disposes the gradients
 * opt.lr = 0.01;               // a schedule sets the rate between steps
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { fusedSgdMomentum } from "../backend/fused_sgd.ts";
import { withoutInterruptChecks } from "../backend/interrupt_check.ts";

/** What SGD needs of a parameter: its name and its variable (a `NamedTensor` of `lib/nn` fits). */
export interface SGDParam {
  /** Official (PyTorch) name, the key of gradients and momentum buffers. */
  name: string;
  /** The trainable variable, updated in place. */
  variable: tf.Variable;
}

/**
 * Settings that override the defaults for the parameters a predicate selects (PyTorch's param groups).
 * The first group whose `match` accepts a parameter applies to it.
 */
export interface SGDParamGroup {
  /** Selects the parameters of this group, e.g. `(p) => p.name.endsWith(".bias")`. */
  match: (p: SGDParam) => boolean;
  /** Weight decay of the group (e.g. 0 to exclude BatchNorm and biases). Default: the optimizer's. */
  weightDecay?: number;
  /** Multiplies the optimizer's (scheduled) learning rate for the group. Default 1. */
  lrScale?: number;
}

/** Hyper-parameters of {@link SGD}; the defaults are PyTorch's, not the TESKD recipe's. */
export interface SGDOptions {
  /** Learning rate (changed between steps by a schedule through {@link SGD.lr}). */
  lr: number;
  /** Momentum factor m. Default 0. */
  momentum?: number;
  /** Dampening of the gradient in the momentum buffer. Default 0 (must be 0 with Nesterov). */
  dampening?: number;
  /** L2 weight decay added to the gradient. Default 0. Applies to every parameter unless a group says otherwise. */
  weightDecay?: number;
  /** Nesterov momentum. Default false. */
  nesterov?: boolean;
  /** Per-parameter overrides; the first matching group wins. */
  groups?: SGDParamGroup[];
}

/** The optimizer's state, as saved in a checkpoint. Buffers are in tfjs layout, keyed by parameter name. */
export interface SGDState {
  /** Number of {@link SGD.step} calls made so far. */
  step: number;
  /** Momentum buffer of each parameter that has taken a step (absent before its first step). */
  momentumBuffers: Map<string, tf.Tensor>;
}

/** SGD with PyTorch's formulation; see the module documentation for the formula. */
export class SGD {
  /** Learning rate used by the next {@link step}. */
  lr: number;
  /** Momentum factor. */
  readonly momentum: number;
  /** Dampening. */
  readonly dampening: number;
  /** Default weight decay. */
  readonly weightDecay: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  /** The parameters, by name. */
  readonly params: ReadonlyMap<string, SGDParam>;
  #groups: SGDParamGroup[];
  #buffers = new Map<string, tf.Tensor>();
  #step = 0;

  /**
   * @param params the parameters to optimize (names must be unique)
   * @param opts hyper-parameters
   */
  constructor(params: Iterable<SGDParam>, opts: SGDOptions) {
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.#groups = opts.groups ?? [];
    checkNonNegative("lr", this.lr);
    checkNonNegative("momentum", this.momentum);
    checkNonNegative("weightDecay", this.weightDecay);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new Error(
        `SGD: Nesterov momentum requires momentum > 0 and dampening = 0 ` +
          `(got momentum ${this.momentum}, dampening ${this.dampening})`,
      );
    }
    const byName = new Map<string, SGDParam>();
    for (const p of params) {
      if (byName.has(p.name)) throw new Error(`SGD: parameter name "${p.name}" appears twice`);
      byName.set(p.name, p);
    }
    this.params = byName;
  }

  /** Number of steps taken so far. */
  get stepCount(): number {
    return this.#step;
  }

  /**
   * Applies one update. Parameters without a gradient in `grads` are left alone (as PyTorch skips
   * parameters whose `.grad` is None): their momentum buffer does not decay either.
   *
   * @param grads gradient of each parameter, keyed by parameter name, in the parameter's shape.
   *   The caller keeps ownership of these tensors.
   * @param guard a float32 scalar on the device, 1 to apply the update, 0 to leave every parameter
   *   and buffer as it was (a parameter's first buffer then comes back as zeros): the trainer's
   *   check of a step that it has not read back yet. The step count advances either way.
   * @throws Error when a gradient names no parameter or has the wrong shape
   */
  step(grads: ReadonlyMap<string, tf.Tensor>, guard?: tf.Scalar): void {
    // Applied whole: a Jupyter kernel's interrupt (checked between kernels) never splits an update.
    withoutInterruptChecks(() => this.#update(grads, guard));
  }

  #update(grads: ReadonlyMap<string, tf.Tensor>, guard: tf.Scalar | undefined): void {
    checkNonNegative("lr", this.lr);
    for (const [name, g] of grads) {
      const p = this.params.get(name);
      if (p === undefined) throw new Error(`SGD.step: gradient for unknown parameter "${name}"`);
      if (!(g instanceof tf.Tensor)) {
        throw new Error(`SGD.step: gradient of "${name}" is ${g}, not a tensor (omit it instead)`);
      }
      if (!sameShape(g.shape, p.variable.shape)) {
        throw new Error(
          `SGD.step: gradient of "${name}" has shape [${g.shape}], parameter has [${p.variable.shape}]`,
        );
      }
    }
    for (const [name, grad] of grads) {
      const p = this.params.get(name)!;
      const group = this.#groups.find((gr) => gr.match(p));
      const wd = group?.weightDecay ?? this.weightDecay;
      const lr = this.lr * (group?.lrScale ?? 1);
      const old = this.#buffers.get(name);
      const fused = this.momentum !== 0
        ? fusedSgdMomentum(p.variable, grad, old, {
          lr,
          momentum: this.momentum,
          dampening: this.dampening,
          weightDecay: wd,
          nesterov: this.nesterov,
        }, guard)
        : null;
      if (fused !== null) {
        p.variable.assign(fused[0]);
        fused[0].dispose();
        old?.dispose();
        this.#buffers.set(name, fused[1]);
        continue;
      }
      const buf = tf.tidy(() => {
        const g = wd !== 0 ? grad.add(p.variable.mul(wd)) : grad;
        let update = g;
        let newBuf: tf.Tensor | undefined;
        if (this.momentum !== 0) {
          newBuf = old === undefined
            ? g.clone()
            : old.mul(this.momentum).add(this.dampening !== 0 ? g.mul(1 - this.dampening) : g);
          update = this.nesterov ? g.add(newBuf.mul(this.momentum)) : newBuf;
        }
        const next = p.variable.sub(update.mul(lr));
        if (guard === undefined) {
          p.variable.assign(next);
          return newBuf;
        }
        const apply = tf.notEqual(guard, 0);
        p.variable.assign(tf.where(apply, next, p.variable));
        return newBuf && tf.where(apply, newBuf, old ?? tf.zerosLike(newBuf));
      });
      if (buf !== undefined) {
        old?.dispose();
        this.#buffers.set(name, buf);
      }
    }
    this.#step++;
  }

  /**
   * Takes back `n` counted steps that a guard skipped on the device (the trainer's delayed check,
   * see {@link step}), so that the count is that of the steps applied.
   */
  rewindStepCount(n: number): void {
    if (!(Number.isInteger(n) && n >= 0 && n <= this.#step)) {
      throw new RangeError(`SGD.rewindStepCount: ${n} is not within 0..${this.#step}`);
    }
    this.#step -= n;
  }

  /**
   * A copy of the state (step count and momentum buffers); the caller disposes the returned buffers
   * (or passes them to {@link loadState}, which copies).
   */
  state(): SGDState {
    const momentumBuffers = new Map<string, tf.Tensor>();
    for (const [name, b] of this.#buffers) momentumBuffers.set(name, b.clone());
    return { step: this.#step, momentumBuffers };
  }

  /**
   * Replaces the state with a copy of `state` (the caller keeps ownership of its tensors).
   *
   * @throws Error when a buffer names no parameter or has the wrong shape
   */
  loadState(state: SGDState): void {
    withoutInterruptChecks(() => this.#loadState(state));
  }

  #loadState(state: SGDState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new Error(`SGD.loadState: step must be a non-negative integer, got ${state.step}`);
    }
    for (const [name, b] of state.momentumBuffers) {
      const p = this.params.get(name);
      if (p === undefined) {
        throw new Error(`SGD.loadState: momentum buffer for unknown parameter "${name}"`);
      }
      if (!sameShape(b.shape, p.variable.shape)) {
        throw new Error(
          `SGD.loadState: momentum buffer of "${name}" has shape [${b.shape}], parameter has [${p.variable.shape}]`,
        );
      }
    }
    this.#disposeBuffers();
    for (const [name, b] of state.momentumBuffers) {
      this.#buffers.set(name, tf.tidy(() => tf.cast(b, "float32").clone()));
    }
    this.#step = state.step;
  }

  /** Frees the momentum buffers (the parameters belong to the model, not the optimizer). */
  dispose(): void {
    this.#disposeBuffers();
  }

  #disposeBuffers(): void {
    for (const b of this.#buffers.values()) b.dispose();
    this.#buffers.clear();
  }
}

function checkNonNegative(what: string, v: number): void {
  if (!Number.isFinite(v) || v < 0) {
    throw new Error(`SGD: ${what} must be a finite number ≥ 0, got ${v}`);
  }
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
