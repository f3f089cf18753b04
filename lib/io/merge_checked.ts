/**
 * Defaults merged with what a user gave, field by field, refusing unknown fields and values of
 * another type than the default's: the check behind every config (runs, methods).
 *
 * @module
 */

/** Options of {@link mergeChecked}. */
export interface MergeCheckedOptions {
  /** Dotted path of `defaults` inside the whole config ("" at the top; "model." below). */
  path?: string;
  /** Dotted paths that may be given although they have no default. */
  optional?: ReadonlySet<string>;
  /** The message for an unknown field. Default: `unknown field "<path>"; known fields here: …`. */
  unknown?: (field: string, known: string[]) => string;
}

/**
 * A deep copy of `defaults` with `given` merged in; nested objects merge recursively.
 *
 * @example
 * ```ts
 * mergeChecked({ lr: 0.1, nesterov: true }, { lr: 0.05 }, "x.json"); // { lr: 0.05, nesterov: true }
 * mergeChecked({ lr: 0.1 }, { lr: "0.05" }, "x.json"); // throws: x.json: "lr" must be a number, got "0.05"
 * ```
 * @throws Error naming `source` and the field's dotted path
 */
export function mergeChecked(
  defaults: object,
  given: unknown,
  source: string,
  opts: MergeCheckedOptions = {},
): Record<string, unknown> {
  const path = opts.path ?? "";
  if (typeof given !== "object" || given === null || Array.isArray(given)) {
    throw new Error(
      `${source}: "${path.slice(0, -1)}" must be an object, got ${JSON.stringify(given)}`,
    );
  }
  const out = structuredClone(defaults) as Record<string, unknown>;
  for (const [k, v] of Object.entries(given)) {
    const field = path + k;
    const d = out[k];
    if (!(k in out) && !opts.optional?.has(field)) {
      const known = Object.keys(out);
      throw new Error(
        `${source}: ${
          opts.unknown?.(field, known) ??
            `unknown field "${field}"; known fields here: ${known.join(", ")}`
        }`,
      );
    }
    if (v === undefined) continue;
    if (d !== undefined && typeof d === "object" && d !== null && !Array.isArray(d)) {
      out[k] = mergeChecked(d, v, source, { ...opts, path: field + "." });
    } else if (d !== undefined && (Array.isArray(d) ? !Array.isArray(v) : typeof v !== typeof d)) {
      throw new Error(
        `${source}: "${field}" must be ${Array.isArray(d) ? "a list" : `a ${typeof d}`}, got ${
          JSON.stringify(v)
        }`,
      );
    } else {
      out[k] = structuredClone(v);
    }
  }
  return out;
}
