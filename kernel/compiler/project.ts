/**
 * What the type checker needs to know about the project: where deno.json is, its import map and
 * compiler options, the TypeScript lib directory, Deno's own type declarations, and @types/node.
 *
 * @module
 */

import ts from "typescript";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

/** The project a notebook belongs to, as read from its deno.json. */
export interface ProjectInfo {
  /** Directory of deno.json (or the notebook's directory when there is none). */
  root: string;
  /** Import map entries with targets made absolute (keys ending in "/" are prefixes). */
  imports: Map<string, string>;
  /** Type-checking flags taken over from deno.json's compilerOptions. */
  flags: ts.CompilerOptions;
}

/** Flags of deno.json's compilerOptions that change what a cell may do; the rest are Deno's own. */
const CARRIED_FLAGS = [
  "strict",
  "noImplicitAny",
  "strictNullChecks",
  "strictFunctionTypes",
  "strictPropertyInitialization",
  "noImplicitThis",
  "useUnknownInCatchVariables",
  "noImplicitOverride",
  "noImplicitReturns",
  "noFallthroughCasesInSwitch",
  "noUncheckedIndexedAccess",
  "exactOptionalPropertyTypes",
];

/**
 * Reads deno.json at `configPath`, or the first one found walking up from `cwd`.
 *
 * @example
 * ```ts
 * const project = readProject("/work/main/notebooks");
 * project.imports.get("teskd"); // "/work/main/lib/mod.ts"
 * ```
 */
export function readProject(cwd: string, configPath?: string): ProjectInfo {
  const found = configPath ?? findConfig(cwd);
  if (!found) return { root: cwd, imports: new Map(), flags: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Deno.readTextFileSync(found));
  } catch (e) {
    throw new Error(`cell compiler: cannot read config '${found}': ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null) {
    throw new Error(`cell compiler: config '${found}' is not a JSON object`);
  }
  const root = path.dirname(path.resolve(found));
  const config = parsed as {
    imports?: Record<string, unknown>;
    compilerOptions?: Record<string, unknown>;
  };
  const imports = new Map<string, string>();
  for (const [key, target] of Object.entries(config.imports ?? {})) {
    if (typeof target !== "string") continue;
    imports.set(key, /^\.{0,2}\//.test(target) ? path.resolve(root, target) : target);
  }
  const chosen: Record<string, unknown> = {};
  for (const flag of CARRIED_FLAGS) {
    if (config.compilerOptions && flag in config.compilerOptions) {
      chosen[flag] = config.compilerOptions[flag];
    }
  }
  const flags = ts.convertCompilerOptionsFromJson(chosen, root).options;
  return { root, imports, flags };
}

function findConfig(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const candidate = path.join(dir, name);
      if (isFile(candidate)) return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** `true` when `p` names an existing file. */
export function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** `true` when `p` names an existing directory. */
export function isDirectory(p: string): boolean {
  try {
    return Deno.statSync(p).isDirectory;
  } catch {
    return false;
  }
}

/** Directory holding TypeScript's lib.*.d.ts files. */
export function typescriptLibDir(): string {
  const entry = import.meta.resolve("typescript");
  if (entry.startsWith("file:")) {
    const dir = path.dirname(fileURLToPath(entry));
    if (isFile(path.join(dir, "lib.esnext.d.ts"))) return dir;
  }
  const fallback = path.resolve(
    path.dirname(fileURLToPath(import.meta.url)),
    "../../node_modules/typescript/lib",
  );
  if (!isFile(path.join(fallback, "lib.esnext.d.ts"))) {
    throw new Error(`cell compiler: TypeScript lib files not found (looked in ${fallback})`);
  }
  return fallback;
}

/** Bumped whenever the cached declarations below change, so old caches are not reused. */
const TYPES_REVISION = 2;

/**
 * Deno's timers exist in every worker, but `deno types` (2.9) leaves their declarations to its web lib,
 * which the checker does not load; without these, a cell using `setTimeout` would not type-check.
 */
const TIMER_GLOBALS_DTS = `
declare function setTimeout(cb: (...args: any[]) => void, delay?: number, ...args: any[]): number;
declare function setInterval(cb: (...args: any[]) => void, delay?: number, ...args: any[]): number;
declare function clearTimeout(id?: number): void;
declare function clearInterval(id?: number): void;
`;

/**
 * Path of a file holding `deno types` for the running Deno, generated once and cached under
 * `$XDG_CACHE_HOME/teskd` (or `~/.cache/teskd`). Its lib references are dropped: the checker adds
 * TypeScript's `esnext` lib itself and knows no `deno.*` libs.
 */
export function denoTypesFile(): string {
  const home = Deno.env.get("HOME") ?? Deno.cwd();
  const dir = path.join(Deno.env.get("XDG_CACHE_HOME") ?? path.join(home, ".cache"), "teskd");
  const file = path.join(dir, `deno-types-${Deno.version.deno}-${TYPES_REVISION}.d.ts`);
  if (isFile(file)) return file;
  const out = new Deno.Command(Deno.execPath(), {
    args: ["types"],
    stdout: "piped",
    stderr: "piped",
  })
    .outputSync();
  if (!out.success) {
    throw new Error(`cell compiler: 'deno types' failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  const text = new TextDecoder().decode(out.stdout).replace(
    /^\/\/\/ <reference (lib|no-default-lib)=.*$/gm,
    "",
  ) + TIMER_GLOBALS_DTS;
  Deno.mkdirSync(dir, { recursive: true });
  // Write then rename so that concurrent kernels never read a half-written file.
  const tmp = `${file}.${Deno.pid}.tmp`;
  Deno.writeTextFileSync(tmp, text);
  Deno.renameSync(tmp, file);
  return file;
}

/** Entry file of @types/node in the project's node_modules (Deno's layout), if installed. */
export function nodeTypesFile(root: string): string | undefined {
  const direct = path.join(root, "node_modules/@types/node/index.d.ts");
  if (isFile(direct)) return direct;
  const store = path.join(root, "node_modules/.deno");
  if (!isDirectory(store)) return undefined;
  const candidates = [...Deno.readDirSync(store)].map((e) => e.name).filter((n) =>
    n.startsWith("@types+node@")
  )
    .sort();
  for (const name of candidates.reverse()) {
    const file = path.join(store, name, "node_modules/@types/node/index.d.ts");
    if (isFile(file)) return file;
  }
  return undefined;
}
