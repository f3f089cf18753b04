/**
 * Trait definitions: for each property of a widget, its default, how a proposed value is checked or
 * converted (values from the front end are untyped JSON), how it travels (its snake_case name on
 * the wire, or none for kernel-only values such as a Dropdown's `value`), and how it is encoded.
 * The builders mirror the traitlets types ipywidgets declares (Unicode, Bool, CInt, CFloat,
 * CaselessStrEnum, allow_none, TypedTuple, InstanceDict with widget_serialization, Bytes).
 *
 * @example
 * ```ts
 * const traits = { value: int(0), description: str(), tooltip: nullable(str()) };
 * ```
 *
 * @module
 */
/** How one property of a widget is stored, checked and synced. */
export interface TraitDef<T> {
  /** The default (a fresh value per widget). */
  readonly default: () => T;
  /** Checks and converts a proposed value (from code or from the front end); throws when invalid. */
  readonly coerce: (v: unknown, name: string) => T;
  /**
   * Name in the model's wire state; undefined: the snake_case of the property name; null: kept in
   * the kernel only, never synced.
   */
  readonly wire?: string | null;
  /** JSON (or binary) for the wire; default the value itself. */
  readonly toJson?: (v: T) => unknown;
  /** Value from the wire, before `coerce`; default the JSON itself. */
  readonly fromJson?: (j: unknown) => unknown;
  /** Set by the front end or by the widget's own code only (`set()` refuses it). */
  readonly readOnly?: boolean;
  /** Whether `toString()` shows it when it differs from its default. Default true. */
  readonly repr?: boolean;
}

/** The traits of a widget with properties `P`. */
export type Traits<P> = { readonly [K in keyof P]-?: TraitDef<P[K]> };

/** "buttonStyle" → "button_style". */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function typeError(name: string, what: string, v: unknown): TypeError {
  let shown: string;
  try {
    shown = JSON.stringify(v) ?? String(v);
  } catch {
    shown = String(v);
  }
  return new TypeError(`${name} must be ${what}, got ${shown}`);
}

/** A string (traitlets Unicode). */
export function str(def = ""): TraitDef<string> {
  return {
    default: () => def,
    coerce: (v, name) => {
      if (typeof v !== "string") throw typeError(name, "a string", v);
      return v;
    },
  };
}

/** A boolean (traitlets Bool). */
export function bool(def: boolean): TraitDef<boolean> {
  return {
    default: () => def,
    coerce: (v, name) => {
      if (typeof v !== "boolean") throw typeError(name, "a boolean", v);
      return v;
    },
  };
}

/** An integer (traitlets CInt: a finite number, truncated toward zero as Python's int() does). */
export function int(def: number): TraitDef<number> {
  return {
    default: () => def,
    coerce: (v, name) => {
      if (typeof v !== "number" || !Number.isFinite(v)) throw typeError(name, "an integer", v);
      return Math.trunc(v) || 0; // `|| 0`: no -0 on the wire
    },
  };
}

/** A number (traitlets CFloat). */
export function float(def: number): TraitDef<number> {
  return {
    default: () => def,
    coerce: (v, name) => {
      if (typeof v !== "number" || Number.isNaN(v)) throw typeError(name, "a number", v);
      return v;
    },
  };
}

/** One of fixed strings (traitlets CaselessStrEnum: matched case-insensitively, stored as listed). */
export function oneOf<const T extends string>(values: readonly T[], def: T): TraitDef<T> {
  return {
    default: () => def,
    coerce: (v, name) => {
      const hit = typeof v === "string"
        ? values.find((x) => x.toLowerCase() === v.toLowerCase())
        : undefined;
      if (hit === undefined) throw typeError(name, `one of ${JSON.stringify(values)}`, v);
      return hit;
    },
  };
}

/** `inner`, or null (allow_none=True); the default null unless given. */
export function nullable<T>(inner: TraitDef<T>, def: T | null = null): TraitDef<T | null> {
  const { toJson, fromJson } = inner;
  return {
    default: () => def,
    coerce: (v, name) => (v === null || v === undefined ? null : inner.coerce(v, name)),
    ...(toJson ? { toJson: (v: T | null) => (v === null ? null : toJson(v)) } : {}),
    ...(fromJson ? { fromJson: (j: unknown) => (j === null ? null : fromJson(j)) } : {}),
  };
}

/** A list of strings (e.g. `_dom_classes`; traitlets TypedTuple(Unicode)). */
export function strList(): TraitDef<readonly string[]> {
  return {
    default: () => [],
    coerce: (v, name) => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) {
        throw typeError(name, "a list of strings", v);
      }
      return Object.freeze([...v]);
    },
  };
}

/** Plain JSON objects in a list (e.g. Output's `outputs`). */
export function objectList<T extends object>(): TraitDef<readonly T[]> {
  return {
    default: () => [],
    coerce: (v, name) => {
      if (!Array.isArray(v) || !v.every((x) => typeof x === "object" && x !== null)) {
        throw typeError(name, "a list of objects", v);
      }
      return Object.freeze([...v]) as readonly T[];
    },
  };
}

/** Bytes (traitlets Bytes): sent as a binary buffer. Typed arrays and DataViews are accepted. */
export function bytes(): TraitDef<Uint8Array> {
  return {
    default: () => new Uint8Array(0),
    coerce: (v, name) => {
      if (v instanceof Uint8Array) return v;
      if (v instanceof ArrayBuffer) return new Uint8Array(v);
      if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      throw typeError(name, "bytes (a Uint8Array, ArrayBuffer or typed array)", v);
    },
  };
}

/** Anything, kept in the kernel (e.g. a Dropdown's selected value). */
export function any<T>(def: T): TraitDef<T> {
  return { default: () => def, coerce: (v) => v as T, wire: null };
}
