/**
 * The module system: a tree of named sub-modules holding named tensors, like PyTorch's `nn.Module`.
 * Names are built from the attribute path ("layer2.0.downsample.1.weight"), so state dicts use the
 * official PyTorch names. Tensors live in tfjs layout (NHWC activations, HWIO conv weights, [in, out]
 * linear weights); every {@link NamedTensor} converts to and from the PyTorch layout.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** One named tensor of a module, in tfjs layout internally, with converters to/from the PyTorch layout. */
export interface NamedTensor {
  /** Full dotted name, as in the official PyTorch state_dict. */
  name: string;
  /** The tensor itself, in tfjs layout. */
  variable: tf.Variable;
  /** Trainable parameter, or buffer (running statistics). */
  kind: "parameter" | "buffer";
  /** Shape in the PyTorch layout. */
  torchShape: number[];
  /** Converts a tensor of this entry's tfjs layout to the PyTorch layout (a new tensor). */
  toTorch(t: tf.Tensor): tf.Tensor;
  /** Converts a tensor in the PyTorch layout to this entry's tfjs layout (a new tensor). */
  fromTorch(t: tf.Tensor): tf.Tensor;
  /** True for integer buffers (num_batches_tracked): exported as int64 in checkpoints. */
  integer?: boolean;
  /** True when the owning module is frozen ({@link Module.freeze}): never trained. */
  frozen?: boolean;
}

/** A local (not yet prefixed) tensor registration. */
interface LocalEntry {
  local: string;
  variable: tf.Variable;
  kind: "parameter" | "buffer";
  torchShape: number[];
  toTorch: (t: tf.Tensor) => tf.Tensor;
  fromTorch: (t: tf.Tensor) => tf.Tensor;
  integer: boolean;
}

/** Layout converters for tensors whose tfjs and PyTorch layouts are the same. */
const IDENTITY = {
  toTorch: (t: tf.Tensor) => t.clone(),
  fromTorch: (t: tf.Tensor) => t.clone(),
};

/** Options of {@link Module.registerTensor}. */
export interface RegisterOptions {
  /** "parameter" (default) or "buffer". */
  kind?: "parameter" | "buffer";
  /** Shape in PyTorch layout; defaults to the tfjs shape. */
  torchShape?: number[];
  /** tfjs → PyTorch converter; defaults to a copy. */
  toTorch?: (t: tf.Tensor) => tf.Tensor;
  /** PyTorch → tfjs converter; defaults to a copy. */
  fromTorch?: (t: tf.Tensor) => tf.Tensor;
  /** Integer buffer (exported as int64). */
  integer?: boolean;
}

/** One row of a module's summary table (plain object, ready for a dataframe). */
export interface ParameterRow {
  /** Full name. */
  name: string;
  /** "parameter" or "buffer". */
  kind: "parameter" | "buffer";
  /** Shape in PyTorch layout, e.g. "64x3x3x3". */
  shape: string;
  /** Number of elements. */
  numel: number;
}

/**
 * Base class of every layer and network. Sub-classes register tensors with {@link registerTensor}
 * and children with {@link registerModule} (in the official attribute order: that order is the
 * state_dict order), and implement their own `forward`.
 *
 * @example
 * ```ts
 * const net = new Sequential([new Conv2d(3, 8, 3, { padding: 1, rng: new Generator(1) }), new ReLU()]);
 * net.namedParameters().map((p) => p.name); // ["0.weight", "0.bias"]
 * ```
 */
export abstract class Module {
  /** Training mode (batch statistics in BatchNorm) or inference mode. */
  training = true;
  #frozen = false;
  readonly #entries: LocalEntry[] = [];
  readonly #children: [string, Module][] = [];

  /** Registers a tensor under a local name; the variable becomes owned by this module. */
  protected registerTensor(
    local: string,
    variable: tf.Variable,
    opts: RegisterOptions = {},
  ): tf.Variable {
    if (this.#entries.some((e) => e.local === local) || this.#children.some(([n]) => n === local)) {
      throw new Error(`${this.constructor.name}: duplicate name "${local}"`);
    }
    this.#entries.push({
      local,
      variable,
      kind: opts.kind ?? "parameter",
      torchShape: opts.torchShape ?? variable.shape.slice(),
      toTorch: opts.toTorch ?? IDENTITY.toTorch,
      fromTorch: opts.fromTorch ?? IDENTITY.fromTorch,
      integer: opts.integer ?? false,
    });
    return variable;
  }

  /** Registers a child module under a local name (an attribute name or a numeric index). */
  protected registerModule<M extends Module>(local: string, child: M): M {
    if (this.#entries.some((e) => e.local === local) || this.#children.some(([n]) => n === local)) {
      throw new Error(`${this.constructor.name}: duplicate name "${local}"`);
    }
    this.#children.push([local, child]);
    child.training = this.training && !child.frozen;
    return child;
  }

  /**
   * Reorders the direct children: names in `order` first, in that order, then the rest as they were.
   * Lets a model attach parts step by step and still export the official state_dict order.
   */
  protected reorderChildren(order: string[]): void {
    const rank = (n: string) => {
      const i = order.indexOf(n);
      return i < 0 ? order.length : i;
    };
    const sorted = this.#children.map((c, i) => ({ c, i })).sort((a, b) =>
      rank(a.c[0]) - rank(b.c[0]) || a.i - b.i
    );
    this.#children.splice(0, this.#children.length, ...sorted.map((e) => e.c));
  }

  /** Direct children, in registration order. */
  namedChildren(): [string, Module][] {
    return this.#children.slice();
  }

  /** Every tensor (parameters and buffers) in state_dict order: own tensors first, then children. */
  namedTensors(prefix = ""): NamedTensor[] {
    const out: NamedTensor[] = [];
    for (const e of this.#entries) {
      out.push({
        name: prefix + e.local,
        variable: e.variable,
        kind: e.kind,
        torchShape: e.torchShape,
        toTorch: e.toTorch,
        fromTorch: e.fromTorch,
        integer: e.integer,
        frozen: this.#frozen,
      });
    }
    for (const [n, c] of this.#children) out.push(...c.namedTensors(`${prefix}${n}.`));
    return out;
  }

  /** Trainable tensors with their official names, in state_dict order. */
  namedParameters(): NamedTensor[] {
    return this.namedTensors().filter((t) => t.kind === "parameter");
  }

  /** Buffers (running_mean, running_var, num_batches_tracked) with their official names. */
  namedBuffers(): NamedTensor[] {
    return this.namedTensors().filter((t) => t.kind === "buffer");
  }

  /** The trainable variables, in state_dict order (for optimizers and `tf.variableGrads`). */
  parameters(): tf.Variable[] {
    return this.namedParameters().map((p) => p.variable);
  }

  /** Parameters of the modules that are not frozen: what an optimizer trains. */
  trainableParameters(): NamedTensor[] {
    return this.namedParameters().filter((p) => !p.frozen);
  }

  /**
   * Freezes this module and every descendant: inference mode for good (BatchNorm on running
   * statistics, which never change), and no parameter offered to an optimizer
   * ({@link trainableParameters}). A frozen teacher's forward pass runs outside the gradient tape
   * (see `Distiller.frozenForward`), so no gradient is computed for it either.
   */
  freeze(): this {
    this.#frozen = true;
    this.training = false;
    for (const [, c] of this.#children) c.freeze();
    return this;
  }

  /** True after {@link freeze}. */
  get frozen(): boolean {
    return this.#frozen;
  }

  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.namedParameters().reduce((s, p) => s + p.variable.size, 0);
  }

  /** The whole state in PyTorch layout and official order (new tensors: the caller disposes them). */
  stateDict(): Map<string, tf.Tensor> {
    const sd = new Map<string, tf.Tensor>();
    for (const t of this.namedTensors()) sd.set(t.name, tf.tidy(() => t.toTorch(t.variable)));
    return sd;
  }

  /**
   * Loads a state dict in PyTorch layout. Strict by default: names missing from `sd` or not known to
   * this module are errors (a missing `num_batches_tracked` is allowed, as in PyTorch). Shapes must
   * match exactly. The caller keeps ownership of `sd`'s tensors.
   */
  loadStateDict(sd: Map<string, tf.Tensor>, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = this.namedTensors();
    const known = new Set(own.map((t) => t.name));
    const missing = own.filter((t) => !sd.has(t.name) && !t.name.endsWith("num_batches_tracked"));
    const unexpected = [...sd.keys()].filter((k) => !known.has(k));
    if (strict && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length > 0) {
        parts.push(
          `missing ${missing.length}: ${missing.slice(0, 8).map((t) => t.name).join(", ")}`,
        );
      }
      if (unexpected.length > 0) {
        parts.push(`unexpected ${unexpected.length}: ${unexpected.slice(0, 8).join(", ")}`);
      }
      throw new Error(`loadStateDict: ${parts.join("; ")}`);
    }
    for (const t of own) {
      const src = sd.get(t.name);
      if (src === undefined) continue;
      const want = t.torchShape;
      if (src.shape.length !== want.length || src.shape.some((d, i) => d !== want[i])) {
        throw new Error(
          `loadStateDict: "${t.name}" has shape [${src.shape}] but the module expects [${want}]`,
        );
      }
    }
    for (const t of own) {
      const src = sd.get(t.name);
      if (src === undefined) continue;
      const v = tf.tidy(() =>
        t.fromTorch(src.dtype === t.variable.dtype ? src : src.cast(t.variable.dtype))
      );
      t.variable.assign(v);
      v.dispose();
    }
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    this.training = mode && !this.#frozen;
    for (const [, c] of this.#children) c.train(mode);
    return this;
  }

  /** Sets inference mode (BatchNorm uses running statistics). */
  eval(): this {
    return this.train(false);
  }

  /** Frees every variable of this module and its descendants. */
  dispose(): void {
    for (const t of this.namedTensors()) t.variable.dispose();
  }

  /** One row per tensor (plain objects a dataframe can take). */
  parameterRows(): ParameterRow[] {
    return this.namedTensors().map((t) => ({
      name: t.name,
      kind: t.kind,
      shape: t.torchShape.join("x"),
      numel: t.torchShape.reduce((a, b) => a * b, 1),
    }));
  }
}
