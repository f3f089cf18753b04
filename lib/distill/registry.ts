/**
 * Every distillation method by name. Adding a method: its file (config type, distiller, `Method`),
 * its loss terms, and one line in {@link METHODS}.
 *
 * @module
 */
import { mergeChecked } from "../io/merge_checked.ts";
import { at } from "./at.ts";
import { atsc } from "./atsc.ts";
import { baseline } from "./baseline.ts";
import { crd } from "./crd.ts";
import type { Distiller } from "./distiller.ts";
import { fitnet } from "./fitnet.ts";
import { kd } from "./kd.ts";
import type { BuildContext, Method, MethodConfigBase } from "./method.ts";
import { semckd } from "./semckd.ts";
import { simkd } from "./simkd.ts";
import { sp } from "./sp.ts";
import { srrl } from "./srrl.ts";
import { teskd } from "./teskd.ts";
import { vid } from "./vid.ts";

/** The methods, by registry name. */
export const METHODS = {
  baseline,
  teskd,
  kd,
  fitnet,
  at,
  sp,
  vid,
  crd,
  srrl,
  semckd,
  simkd,
  atsc,
} as const;

/** A method's registry name. */
export type MethodName = keyof typeof METHODS;

/** The config of any method: a union discriminated on `name`. */
export type MethodConfig = {
  [K in MethodName]: (typeof METHODS)[K] extends Method<infer C> ? C : never;
}[MethodName];

/** Registry names, in the order of {@link METHODS}. */
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

/**
 * The method of a name.
 *
 * @throws Error listing the known names
 */
export function getMethod(name: string): Method<MethodConfigBase> {
  const m = (METHODS as Record<string, Method<MethodConfigBase>>)[name];
  if (m === undefined || !Object.hasOwn(METHODS, name)) {
    throw new Error(`unknown method "${name}"; known methods: ${METHOD_NAMES.join(", ")}`);
  }
  return m;
}

/**
 * A method's config with the defaults filled in and every field checked: unknown fields and wrong
 * types are errors naming `source` and the field.
 *
 * @example
 * ```ts
 * resolveMethodConfig({ name: "simkd", factor: 4 }); // { name: "simkd", cls: 0, div: 0, beta: 1, temperature: 4, factor: 4 }
 * ```
 */
export function resolveMethodConfig(partial: unknown, source = "method"): MethodConfig {
  if (typeof partial === "string") partial = { name: partial };
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) {
    throw new Error(`${source}: expected a method name or an object with a "name" field`);
  }
  const name = (partial as { name?: unknown }).name;
  if (typeof name !== "string") {
    throw new Error(`${source}: "name" must be one of ${METHOD_NAMES.join(", ")}`);
  }
  let method: Method<MethodConfigBase>;
  try {
    method = getMethod(name);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  const cfg = mergeChecked(method.defaults, partial, source, {
    unknown: (field, known) =>
      `unknown field "${field}" for method "${name}"; its fields: ${known.join(", ")}`,
  }) as unknown as MethodConfigBase;
  method.validate?.(cfg, source);
  return cfg as MethodConfig;
}

/** Builds the distiller of a resolved method config. */
export function buildDistiller(cfg: MethodConfig, ctx: BuildContext): Distiller {
  return getMethod(cfg.name).build(ctx, cfg);
}
