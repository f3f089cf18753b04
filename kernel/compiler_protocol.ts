/**
 * Messages between the kernel's {@linkcode CompilerHost} (compiler_host.ts) and the compiler
 * worker (compiler_host_worker.ts), in the style of executor_protocol.ts: each request is one
 * member of a discriminated union with typed fields, and {@linkcode CompilerResults} says what the
 * worker answers to each request type. The host matches answers to requests by `id`; a successful
 * answer repeats the request's `type`, which is what types its `value`.
 *
 * @example
 * ```ts
 * import type { CompilerRequest, CompilerResponse } from "./compiler_protocol.ts";
 * const request: CompilerRequest = { id: 2, type: "complete", code: "Math.ma", cursorPos: 7 };
 * const answer: CompilerResponse = {
 *   id: 2,
 *   type: "complete",
 *   ok: true,
 *   value: { matches: ["max"], cursor_start: 5, cursor_end: 7, metadata: {} },
 * };
 * ```
 * @module
 */
import type { CellCompilerOptions, CompileResult } from "./compiler/types.ts";
import type { IsCompleteResult } from "./compiler/is_complete.ts";

/** Completions as CellCompiler.complete returns them. */
export interface Completions {
  /** The names that complete the code at the cursor. */
  matches: string[];
  /** Start of the range (code points) that a match replaces. */
  cursor_start: number;
  /** End of the range (code points) that a match replaces. */
  cursor_end: number;
  /** Jupyter's `_jupyter_types_experimental`: each match's kind. */
  metadata: Record<string, unknown>;
}

/** Signature and JSDoc as CellCompiler.inspect returns them. */
export interface Inspection {
  /** Whether a symbol was found at the cursor. */
  found: boolean;
  /** Its description by MIME type (text/plain, text/markdown). */
  data: Record<string, string>;
}

/**
 * A compile's result as it crosses to the host: CellCompiler.compile's result without its
 * `mapStack` closure (a function cannot be posted; the host asks with a `mapStack` request).
 */
export type CompiledCell = Omit<CompileResult, "mapStack">;

/** A request to the compiler worker, without the `id` the host adds. */
export type CompilerCall =
  /**
   * First and once: the compiler's options, and the flag the host sets to 1 to cancel the type
   * check of the compile in progress (shared memory, so it is seen while the worker is busy). The
   * worker makes `isCancelled` from that flag: a function cannot be posted.
   */
  | { type: "init"; options: Omit<CellCompilerOptions, "isCancelled">; cancel: Int32Array }
  /** Compiles (and, unless turned off, type-checks) a cell. */
  | { type: "compile"; code: string; options?: { typecheck?: boolean } }
  /** Rewrites compiled-cell positions in a stack trace to the cells' own lines. */
  | { type: "mapStack"; stack: string }
  /** Makes a cell's declarations visible to later cells. */
  | { type: "commit"; code: string }
  /** Forgets every committed cell. */
  | { type: "reset" }
  /** Completions at a code-point offset. */
  | { type: "complete"; code: string; cursorPos: number }
  /** Signature and JSDoc at a code-point offset. */
  | { type: "inspect"; code: string; cursorPos: number; detailLevel: 0 | 1 }
  /** Whether the code is a complete cell. */
  | { type: "isComplete"; code: string };

/** The type of a compiler request. */
export type CompilerRequestType = CompilerCall["type"];

/** A request to the compiler worker; the worker answers each with one {@linkcode CompilerResponse}. */
export type CompilerRequest = CompilerCall & {
  /** Chosen by the host, unique among its requests; repeated in the answer. */
  id: number;
};

/** What the worker answers to each type of request. */
export interface CompilerResults {
  /** The compiler read the project (an unusable one fails the request instead). */
  init: null;
  /** The compiled cell, or its diagnostics. */
  compile: CompiledCell;
  /** The stack with the cells' own positions. */
  mapStack: string;
  /** The cell is committed. */
  commit: undefined;
  /** The committed cells are forgotten. */
  reset: undefined;
  /** Completions at the cursor. */
  complete: Completions;
  /** The symbol at the cursor. */
  inspect: Inspection;
  /** Whether the code is complete. */
  isComplete: IsCompleteResult;
}

/** The worker's successful answer to a request of type `T`. */
export interface CompilerAnswer<T extends CompilerRequestType> {
  /** The request's id. */
  id: number;
  /** The request's type, repeated: it types `value`. */
  type: T;
  /** Succeeded. */
  ok: true;
  /** What the compiler returned. */
  value: CompilerResults[T];
}

/** The worker's successful answer to a request of any type. */
export type CompilerSuccess = {
  [T in CompilerRequestType]: CompilerAnswer<T>;
}[CompilerRequestType];

/** The worker's answer when a request failed: the error's message, and whether it was a cancel. */
export interface CompilerFailure {
  /** The request's id. */
  id: number;
  /** Failed. */
  ok: false;
  /** The message of what the compiler threw. */
  error: string;
  /** The type check was cancelled (the host rejects with TypeCheckCancelled). */
  cancelled: boolean;
}

/** The compiler worker's answer to one request. */
export type CompilerResponse = CompilerSuccess | CompilerFailure;

/** Whether `response` answers a request of type `type` (the host checks before trusting `value`). */
export function answers<T extends CompilerRequestType>(
  response: CompilerAnswer<CompilerRequestType>,
  type: T,
): response is CompilerAnswer<T> {
  return response.type === type;
}
