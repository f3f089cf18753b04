/**
 * Shared names and result types of the cell compiler.
 *
 * Kept apart from `mod.ts` so the implementation modules can import them without a cycle.
 *
 * @module
 */

/**
 * Name of the global function the compiled code calls at the top of every loop body and every
 * function body. The runtime defines it on the worker's `globalThis`; it may throw to interrupt a
 * cell that never yields (`while (true) {}`).
 *
 * @example
 * ```ts
 * (globalThis as Record<string, unknown>)[GUARD_NAME] = () => {
 *   if (interruptRequested) throw new Error("interrupted");
 * };
 * ```
 */
export const GUARD_NAME = "__teskdGuard";

/** One syntax or type error of a cell, positioned in the cell's own text (1-based, code points). */
export interface CellDiagnostic {
  /** Severity. */
  category: "error" | "warning";
  /** Human-readable message (TypeScript's text, chains flattened). */
  message: string;
  /** 1-based line in the cell. */
  line: number;
  /** 1-based column in the cell, counted in unicode code points. */
  column: number;
  /** TypeScript diagnostic code, when the diagnostic comes from TypeScript. */
  code?: number;
  /** Exception name for the Jupyter error reply: `"SyntaxError"` or `"TSError"` (type error). */
  ename: string;
}

/** Result of {@linkcode CellCompiler.compile}. */
export interface CompileResult {
  /** `true` when `js` is present and the cell may run. */
  ok: boolean;
  /** Body of an async function (run it with `evaluateCell`); returns the last expression's value. */
  js?: string;
  /** Syntax and type errors; empty when `ok`. */
  diagnostics: CellDiagnostic[];
  /**
   * With `ok`: whether the cell declares top-level names or `declare global`/`declare module`
   * blocks. When it does not, committing it changes nothing, and callers may skip the commit.
   */
  declares?: boolean;
  /** Rewrites positions of compiled cells in a stack trace to `cell-N.ts:line:col` of the cells. */
  mapStack(stack: string): string;
}

/** Options of a {@linkcode CellCompiler}. */
export interface CellCompilerOptions {
  /** Directory of the notebook: relative imports and relative file paths resolve from here. */
  cwd: string;
  /** Path of the project's deno.json (import map, compiler options); found upward from cwd if absent. */
  configPath?: string;
  /** Type-check cells before running them (default `true`); a cell can opt out by directive. */
  typecheck?: boolean;
  /**
   * Ambient declarations (d.ts text) of the globals the runtime defines for cells, such as
   * `display`. Default: `CELL_GLOBALS_DTS` of kernel/runtime_contract.ts. One `declare function`
   * or `declare var` per line lets a cell's own declaration of that name replace it.
   */
  globalsDts?: string;
  /**
   * Cancels a type check in progress (an interrupt): `compile` then throws
   * {@linkcode TypeCheckCancelled}. Polled by TypeScript at its cancellation points (declarations
   * of functions, classes, interfaces and namespaces). Default: never.
   */
  isCancelled?: () => boolean;
}

/** Thrown by `CellCompiler.compile` when `isCancelled` stopped the type check. */
export class TypeCheckCancelled extends Error {
  constructor() {
    super("the type check was cancelled");
    this.name = "TypeCheckCancelled";
  }
}
