/**
 * The widget model in the kernel: typed properties synced with the front end's model over a comm,
 * as ipywidgets 8 does it (Jupyter widget protocol 2.1). A widget opens its comm when it is created,
 * if the teskd kernel publishes its comm transport (lib/jupyter.ts); otherwise it lives in memory
 * only ("headless"): properties, validation and observers work, nothing is sent or printed.
 *
 * The messages, as the front ends' widget managers expect them:
 * - comm_open on target "jupyter.widget", metadata `{version: "2.1.0"}`, data `{state,
 *   buffer_paths}` with the full state; models a state refers to ("IPY_MODEL_<id>": layout, style,
 *   children) are opened first, because the front end resolves a reference when it creates the model.
 * - kernel-side change → `{method: "update", state, buffer_paths}` with the changed keys only.
 * - front end's `update` → first `{method: "echo_update", state, buffer_paths}` with the received
 *   keys as received (sent inside the handler, so its parent is that update: the front end matches
 *   the echo to the update it sent, and ignores older echoes for those keys), then the values are
 *   checked and set and observers run; a value the kernel changes (clamped, converted, or set again
 *   by an observer) goes back as an `update`, one equal to what the front end sent does not.
 * - `request_state` → `update` with the full state; `custom` → the widget's custom handlers.
 *
 * Errors of callbacks, and invalid messages, are reported on stderr and never thrown into the
 * kernel's comm dispatcher; a rejected front-end value is answered with the kernel's value.
 *
 * @example
 * ```ts
 * const s = new IntSlider({ value: 3, max: 10 });
 * const stop = s.observe("value", (c) => console.log(c.old, "→", c.new));
 * s.value = 5; // sends {method: "update", state: {value: 5}} and calls the observer
 * stop();
 * ```
 *
 * @module
 */
import { type CommTransport, JUPYTER_DISPLAY, type KernelComm, kernelComms } from "../jupyter.ts";
import { isBinary, putBuffers, removeBuffers } from "./buffers.ts";
import { registerControlTarget } from "./control.ts";
import {
  MODEL_REF_PREFIX,
  type ModelSpec,
  PROTOCOL_VERSION,
  WIDGET_TARGET,
  WIDGET_VIEW_MIME,
} from "./protocol.ts";
import { reportError } from "./report.ts";
import { snakeCase, type TraitDef, type Traits } from "./traits.ts";

/** A change of one property, as observers receive it. */
export interface Change<T = unknown> {
  /** The property's (camelCase) name. */
  readonly name: string;
  /** Value before the change. */
  readonly old: T;
  /** Value after the change. */
  readonly new: T;
  /** The widget that changed. */
  readonly owner: Widget;
}

/** Observer of one property. */
export type Observer<T = unknown> = (change: Change<T>) => void;

/** Handler of a custom message from the front end (`{method: "custom", content}`). */
export type CustomHandler = (content: unknown, buffers: ArrayBuffer[]) => void;

/** Where a change comes from: the constructor, kernel code, or the front end. */
type Origin = "init" | "code" | "frontend";

/** Widgets whose comm is open, by model id (to resolve "IPY_MODEL_<id>" from the front end). */
const instances = new Map<string, Widget>();

/** Key of the observers of every property. */
const ALL = Symbol("all properties");

/** Opens a widget's comm if it can be (set by the class: it needs the private state). */
let openWidget: (w: Widget) => void;

/** The live widget with this model id, if its comm is open. */
export function widgetById(modelId: string): Widget | undefined {
  return instances.get(modelId);
}

/** Every widget whose comm is open. */
export function openWidgets(): Widget[] {
  return [...instances.values()];
}

/**
 * A widget model; see the module docs. Concrete widgets come from {@link widgetClass}, which adds
 * one accessor per property (`slider.value`).
 */
export abstract class Widget<P extends object = object> {
  readonly #spec: ModelSpec;
  readonly #traits: Traits<P>;
  /** The traits as entries, in declaration order. */
  readonly #traitList: [string, TraitDef<unknown>][];
  readonly #wireNames: Map<string, string | null>;
  readonly #values = new Map<string, unknown>();
  readonly #observers = new Map<string | symbol, Set<Observer>>();
  readonly #customHandlers = new Set<CustomHandler>();
  #id: string = crypto.randomUUID().replaceAll("-", "");
  #comm: KernelComm | undefined;
  #closed = false;
  /** While a front-end update is applied: its wire values, which are not sent back unchanged. */
  #lock: Map<string, unknown> | undefined;

  static {
    openWidget = (w) => w.#open();
  }

  /**
   * Sets the properties (defaults, then `opts`, checked together) and opens the comm when the kernel
   * is there.
   *
   * @param spec the model's and view's names and modules
   * @param traits the properties
   * @param opts initial values (undefined: the default)
   */
  protected constructor(spec: ModelSpec, traits: Traits<P>, opts: Partial<P> = {}) {
    this.#spec = spec;
    this.#traits = traits;
    this.#traitList = Object.entries(traits as Record<string, TraitDef<unknown>>);
    this.#wireNames = new Map(
      this.#traitList.map(([k, t]) => [k, t.wire === undefined ? snakeCase(k) : t.wire]),
    );
    const given = Object.fromEntries(
      Object.entries(opts).filter(([, v]) => v !== undefined),
    );
    for (const k of Object.keys(given)) this.#trait(k); // unknown option: throw before any default
    for (const [k, t] of this.#traitList) {
      // A given value replaces the default before it is made: a default layout or style is a
      // widget, with a comm of its own.
      this.#values.set(k, k in given ? t.coerce(given[k], this.#label(k)) : t.default());
    }
    this.#apply(given as Partial<P>, "init");
    this.#open();
  }

  /** The model id: the comm's id once open (a local id while headless). */
  get modelId(): string {
    return this.#id;
  }

  /** Whether the widget has a comm to a front end. */
  get isOpen(): boolean {
    return this.#comm !== undefined;
  }

  /** Whether {@link close} was called or the front end closed the comm. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The model's and view's names and modules. */
  get spec(): ModelSpec {
    return this.#spec;
  }

  /** The value of property `name`. */
  get<K extends keyof P & string>(name: K): P[K] {
    this.#trait(name);
    return this.#values.get(name) as P[K];
  }

  /**
   * Sets properties together: each is checked, then the changed ones are stored, sent in one
   * `update` and their observers called. Throws (changing nothing) when a value is invalid.
   */
  set(changes: Partial<P>): void {
    for (const k of Object.keys(changes)) {
      if (this.#trait(k).readOnly) throw new TypeError(`${this.#label(k)} is read-only`);
    }
    this.#apply(changes, "code");
  }

  /** Calls `fn` on each change of property `name`; returns a function that stops that. */
  observe<K extends keyof P & string>(name: K, fn: Observer<P[K]>): () => void;
  /** Calls `fn` on each change of any property; returns a function that stops that. */
  observe(fn: Observer): () => void;
  observe(a: string | Observer, b?: Observer<never>): () => void {
    const [key, fn] = typeof a === "function" ? [ALL, a] : [a, b as unknown as Observer];
    if (typeof key === "string") this.#trait(key);
    if (typeof fn !== "function") throw new TypeError("observe: the observer must be a function");
    let set = this.#observers.get(key);
    if (!set) this.#observers.set(key, set = new Set());
    const wrapped: Observer = (c) => fn(c); // a function observed twice is called twice
    set.add(wrapped);
    return () => void set.delete(wrapped);
  }

  /** Calls `fn` on each custom message from the front end; returns a function that stops that. */
  onCustom(fn: CustomHandler): () => void {
    const wrapped: CustomHandler = (c, b) => fn(c, b);
    this.#customHandlers.add(wrapped);
    return () => void this.#customHandlers.delete(wrapped);
  }

  /** Sends a custom message to the front end's model (`{method: "custom", content}`). */
  send(content: unknown, buffers: ArrayBuffer[] = []): void {
    this.#send({ method: "custom", content }, buffers);
  }

  /** The full wire state (snake_case keys, references as "IPY_MODEL_<id>", binary values kept). */
  getState(): Record<string, unknown> {
    return this.#wireState(undefined);
  }

  /** Opens the comm now if the kernel is there and it is not open (widgets open when created). */
  open(): void {
    this.#open();
  }

  /** Closes the comm: the front end removes the widget's views. The widget then works headless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const comm = this.#comm;
    this.#comm = undefined;
    if (comm) {
      instances.delete(comm.id);
      try {
        comm.close();
      } catch (e) {
        reportError(`closing widget ${this.#id}`, e);
      }
    }
  }

  /**
   * Adjusts a checked batch of proposed values before it is stored: cross-property rules (a
   * slider's value within its bounds, a dropdown's index, value and label together). Returns the
   * values to store (it may add properties); throws to refuse the batch. Current values are read
   * with {@link get}.
   */
  protected validate(proposed: Partial<P>): Partial<P> {
    return proposed;
  }

  /** Handles a custom message before the handlers added with {@link onCustom}. */
  protected handleCustom(_content: unknown, _buffers: ArrayBuffer[]): void {}

  /** `ClassName(key=value, …)` with the properties that differ from their defaults. */
  toString(): string {
    const parts: string[] = [];
    for (const [k, t] of this.#traitList) {
      if (t.repr === false) continue;
      const v = this.#values.get(k);
      if (sameValue(v, t.default())) continue;
      parts.push(`${k}=${reprValue(v)}`);
    }
    const text = `${this.constructor.name}(${parts.join(", ")})`;
    return text.length > 110 ? `${text.slice(0, 110)}…` : text;
  }

  /** The display bundle: the widget view (when the comm is open) and a text fallback. */
  [JUPYTER_DISPLAY](): Record<string, unknown> {
    this.#open();
    const bundle: Record<string, unknown> = { "text/plain": this.toString() };
    if (this.#comm) {
      bundle[WIDGET_VIEW_MIME] = { model_id: this.#id, version_major: 2, version_minor: 0 };
    }
    return bundle;
  }

  #label(k: string): string {
    return `${this.constructor.name}.${k}`;
  }

  #trait(k: string): TraitDef<unknown> {
    const t = Object.hasOwn(this.#traits, k)
      ? (this.#traits as Record<string, TraitDef<unknown>>)[k]
      : undefined;
    if (!t) throw new TypeError(`${this.constructor.name} has no property "${k}"`);
    return t;
  }

  /** Checks, stores, sends and notifies a batch of changes. */
  #apply(changes: Partial<P>, origin: Origin): void {
    const proposed: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(changes)) {
      if (v === undefined) continue;
      proposed[k] = this.#trait(k).coerce(v, this.#label(k));
    }
    const final = this.validate(proposed as Partial<P>) as Record<string, unknown>;
    const changed: Change[] = [];
    for (const [k, v] of Object.entries(final)) {
      this.#trait(k);
      const old = this.#values.get(k);
      if (origin !== "init" && sameValue(old, v)) continue;
      this.#values.set(k, v);
      if (origin !== "init") changed.push({ name: k, old, new: v, owner: this as Widget });
    }
    if (changed.length === 0) return;
    this.#sendUpdate(changed.map((c) => c.name));
    for (const c of changed) this.#notify(c);
  }

  #notify(change: Change): void {
    const fns = [
      ...(this.#observers.get(change.name) ?? []),
      ...(this.#observers.get(ALL) ?? []),
    ];
    for (const fn of fns) {
      try {
        fn(change);
      } catch (e) {
        reportError(`observer of ${this.#label(change.name)}`, e);
      }
    }
  }

  /** The wire state of properties `keys` (all, with the model's names, when undefined). */
  #wireState(keys: string[] | undefined): Record<string, unknown> {
    const state: Record<string, unknown> = {};
    if (keys === undefined) {
      const s = this.#spec;
      state._model_module = s.modelModule;
      state._model_module_version = s.modelModuleVersion;
      state._model_name = s.modelName;
      state._view_count = null; // ipywidgets' experimental view counting, off
      state._view_module = s.viewModule;
      state._view_module_version = s.viewModuleVersion;
      state._view_name = s.viewName;
    }
    for (const k of keys ?? this.#traitList.map(([k]) => k)) {
      const wire = this.#wireNames.get(k);
      if (wire === null || wire === undefined) continue;
      const t = this.#trait(k);
      const v = this.#values.get(k);
      state[wire] = t.toJson ? t.toJson(v) : v;
    }
    return Object.fromEntries(Object.entries(state).sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  #send(data: Record<string, unknown>, buffers: ArrayBuffer[] = []): void {
    const comm = this.#comm;
    if (!comm) return;
    try {
      comm.send(data, {}, buffers);
    } catch (e) {
      reportError(`sending "${data.method}" of widget ${this.#id}`, e);
    }
  }

  /** Sends the wire values of `keys`, except those equal to what the front end is setting. */
  #sendUpdate(keys: string[]): void {
    if (!this.#comm) return;
    const state = this.#wireState(keys.filter((k) => this.#wireNames.get(k) !== null));
    for (const [wire, sent] of this.#lock ?? []) {
      if (wire in state && sameValue(state[wire], sent)) delete state[wire];
    }
    if (Object.keys(state).length === 0) return;
    const split = removeBuffers(state);
    this.#send(
      { method: "update", state: split.state, buffer_paths: split.bufferPaths },
      split.buffers,
    );
  }

  #open(): void {
    if (this.#comm || this.#closed) return;
    const transport = kernelComms();
    if (!transport) return;
    registerControlTarget(transport, managerState);
    // Serialising the state opens the widgets it refers to first (see the module docs).
    const split = removeBuffers(this.#wireState(undefined));
    let comm: KernelComm;
    try {
      comm = openComm(transport, split);
    } catch (e) {
      reportError(`opening the comm of ${this.constructor.name}`, e);
      return;
    }
    this.#comm = comm;
    this.#id = comm.id;
    instances.set(comm.id, this as Widget);
    comm.onMsg((data, buffers) => {
      try {
        this.#onMsg(data, buffers ?? []);
      } catch (e) {
        reportError(`handling a message of widget ${this.#id}`, e);
      }
    });
    comm.onClose(() => {
      this.#closed = true;
      this.#comm = undefined;
      instances.delete(comm.id);
    });
  }

  #onMsg(data: unknown, buffers: ArrayBuffer[]): void {
    if (typeof data !== "object" || data === null) {
      throw new TypeError(`widget message is not an object: ${JSON.stringify(data)}`);
    }
    const msg = data as Record<string, unknown>;
    switch (msg.method) {
      case "update":
        return this.#onUpdate(msg, buffers);
      case "request_state": {
        const split = removeBuffers(this.#wireState(undefined));
        return this.#send(
          { method: "update", state: split.state, buffer_paths: split.bufferPaths },
          split.buffers,
        );
      }
      case "custom":
        return this.#onCustom(msg.content, buffers);
      default:
        throw new Error(`unknown front-end to kernel widget message method "${msg.method}"`);
    }
  }

  #onUpdate(msg: Record<string, unknown>, buffers: ArrayBuffer[]): void {
    const state = msg.state;
    if (typeof state !== "object" || state === null || Array.isArray(state)) return;
    const received = state as Record<string, unknown>;
    if (Array.isArray(msg.buffer_paths)) putBuffers(received, msg.buffer_paths, buffers);
    const props = new Map<string, string>(); // wire → property, for the keys this model syncs
    for (const [k, wire] of this.#wireNames) {
      if (wire !== null && wire in received) props.set(wire, k);
    }
    // The echo goes first, before any update the kernel sends in reaction (protocol 2.1).
    const echo: Record<string, unknown> = {};
    for (const wire of props.keys()) echo[wire] = received[wire];
    if (Object.keys(echo).length > 0) {
      const split = removeBuffers(echo);
      this.#send(
        { method: "echo_update", state: split.state, buffer_paths: split.bufferPaths },
        split.buffers,
      );
    }
    const saved = this.#lock;
    this.#lock = new Map([...props.keys()].map((wire) => [wire, received[wire]]));
    let failed: unknown;
    try {
      const changes: Record<string, unknown> = {};
      for (const [wire, k] of props) {
        const t = this.#trait(k);
        changes[k] = t.fromJson ? t.fromJson(received[wire]) : received[wire];
      }
      this.#apply(changes as Partial<P>, "frontend");
    } catch (e) {
      failed = e;
    } finally {
      this.#lock = saved;
    }
    if (failed !== undefined) {
      reportError(
        `setting ${[...props.values()].join(", ")} of widget ${this.#id} from the front end`,
        failed,
      );
      this.#sendUpdate([...props.values()]); // the front end shows the kernel's values again
    }
  }

  #onCustom(content: unknown, buffers: ArrayBuffer[]): void {
    try {
      this.handleCustom(content, buffers);
    } catch (e) {
      reportError(`custom message handler of ${this.constructor.name}`, e);
    }
    for (const fn of [...this.#customHandlers]) {
      try {
        fn(content, buffers);
      } catch (e) {
        reportError(`custom message handler of ${this.constructor.name}`, e);
      }
    }
  }
}

function openComm(
  transport: CommTransport,
  split: ReturnType<typeof removeBuffers>,
): KernelComm {
  return transport.open(
    WIDGET_TARGET,
    { state: split.state, buffer_paths: split.bufferPaths },
    { version: PROTOCOL_VERSION },
    split.buffers,
  );
}

/** What the control comm's `request_states` answers: every open widget's model and state. */
function managerState(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [id, w] of instances) {
    out[id] = {
      model_name: w.spec.modelName,
      model_module: w.spec.modelModule,
      model_module_version: w.spec.modelModuleVersion,
      state: w.getState(),
    };
  }
  return out;
}

/** A widget class constructor with one accessor per property of `P`. */
export type WidgetClass<P extends object> = new (opts?: Partial<P>) => Widget<P> & P;

/**
 * A widget class for a model: one accessor per trait (`w.value` reads, `w.value = 5` sets, as
 * {@link Widget.set}). Subclass it to add methods and cross-property rules.
 *
 * @example
 * ```ts
 * class Counter extends widgetClass<{ value: number }>(controlsModel("IntText"), { value: int(0) }) {}
 * ```
 */
export function widgetClass<P extends object>(spec: ModelSpec, traits: Traits<P>): WidgetClass<P> {
  class Base extends Widget<P> {
    constructor(opts: Partial<P> = {}) {
      super(spec, traits, opts);
    }
  }
  for (const key of Object.keys(traits)) {
    Object.defineProperty(Base.prototype, key, {
      get(this: Widget<P>) {
        return this.get(key as keyof P & string);
      },
      set(this: Widget<P>, v: unknown) {
        this.set({ [key]: v } as Partial<P>);
      },
      configurable: true,
    });
  }
  return Base as unknown as WidgetClass<P>;
}

/** "IPY_MODEL_<id>" of a widget, opening its comm first when the kernel is there. */
function refOf(w: Widget): string {
  openWidget(w);
  return `${MODEL_REF_PREFIX}${w.modelId}`;
}

/** The widget a reference from the front end names; throws when there is none. */
function fromRef(j: unknown): Widget {
  if (typeof j === "string" && j.startsWith(MODEL_REF_PREFIX)) {
    const w = instances.get(j.slice(MODEL_REF_PREFIX.length));
    if (w) return w;
  }
  throw new TypeError(`not a reference to a live widget: ${JSON.stringify(j)}`);
}

/**
 * A reference to another widget (ipywidgets' InstanceDict with widget_serialization: a layout, a
 * style): a fresh `make()` by default, "IPY_MODEL_<id>" on the wire.
 */
// deno-lint-ignore no-explicit-any
export function ref<W extends Widget<any>>(
  // deno-lint-ignore no-explicit-any
  cls: abstract new (...args: any[]) => W,
  make: () => W,
): TraitDef<W> {
  return {
    default: make,
    coerce: (v, name) => {
      if (!(v instanceof cls)) throw new TypeError(`${name} must be a ${cls.name}`);
      return v;
    },
    toJson: (w) => refOf(w),
    fromJson: fromRef,
    repr: false,
  };
}

/** A list of widgets (a box's children), as references on the wire. */
export function refList(): TraitDef<readonly Widget[]> {
  return {
    default: () => Object.freeze([]),
    coerce: (v, name) => {
      if (!Array.isArray(v) || !v.every((w) => w instanceof Widget)) {
        throw new TypeError(`${name} must be a list of widgets`);
      }
      return Object.freeze([...v]);
    },
    toJson: (ws) => ws.map(refOf),
    fromJson: (j) => {
      if (!Array.isArray(j)) throw new TypeError(`not a list of widget references: ${j}`);
      return j.map(fromRef);
    },
    repr: false,
  };
}

/**
 * Whether two property values are equal: numbers, strings and widgets by identity, lists and plain
 * objects by content, binary values by bytes (as traitlets compares with ==).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a === "number" && typeof b === "number") return a === b; // 0 and -0
  if (isBinary(a) && isBinary(b)) {
    const x = bytesOf(a), y = bytesOf(b);
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  }
  if (isPlain(a) && isPlain(b)) {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && sameValue(a[k], b[k]));
  }
  return false;
}

function bytesOf(v: ArrayBuffer | ArrayBufferView): Uint8Array {
  return v instanceof ArrayBuffer
    ? new Uint8Array(v)
    : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function isPlain(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function reprValue(v: unknown): string {
  if (isBinary(v)) return `<${v.byteLength} bytes>`;
  if (v instanceof Widget) return v.constructor.name;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
