/**
 * The kernel's cell compiler, run in a worker (compiler_host_worker.ts). Type-checking a cell takes
 * milliseconds once warm, but loading the checker takes 0.7–2 s and a large cell can take longer;
 * on the main thread either would stop the heartbeat and the control channel (interrupts) from
 * answering. Here the main thread only awaits a message.
 *
 * Errors inside the compiler (TypeScript throwing, even a stack overflow) come back as rejected
 * calls; should the worker itself die, this and every later call fails with that reason.
 *
 * @module
 */
import {
  type CellCompilerOptions,
  type CellDiagnostic,
  TypeCheckCancelled,
} from "./compiler/types.ts";
import type { IsCompleteResult } from "./compiler/is_complete.ts";

/** A request to the compiler worker. */
export interface CompilerRequest {
  id: number;
  method:
    | "init"
    | "compile"
    | "mapStack"
    | "commit"
    | "reset"
    | "complete"
    | "inspect"
    | "isComplete";
  args: unknown[];
}

/** The compiler worker's answer to one request. */
export type CompilerResponse =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: string; cancelled?: boolean };

/** What {@linkcode CompilerHost.compile} returns. */
export interface HostedCompileResult {
  ok: boolean;
  js?: string;
  diagnostics: CellDiagnostic[];
  /** With `ok`: whether committing the cell would record anything (see CompileResult). */
  declares?: boolean;
  /** Rewrites compiled-cell positions in a stack to the cells' own lines (see CellCompiler). */
  mapStack(stack: string): Promise<string>;
}

/** Completions as CellCompiler.complete returns them. */
export interface Completions {
  matches: string[];
  cursor_start: number;
  cursor_end: number;
  metadata: Record<string, unknown>;
}

/**
 * A {@linkcode CellCompiler} in a worker, with the same methods returning promises.
 *
 * @example
 * ```ts
 * const compiler = new CompilerHost({ cwd: Deno.cwd() });
 * const r = await compiler.compile("const a: number = 1; a");
 * if (r.ok) await compiler.commit("const a: number = 1; a");
 * compiler.close();
 * ```
 */
export class CompilerHost {
  readonly #worker: Worker;
  #next = 1;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** Why the worker is gone (closed, or it died); calls then fail with this. */
  #gone: string | undefined;
  /** Shared with the worker: 1 cancels the type check of the compile in progress. */
  readonly #cancel = new Int32Array(new SharedArrayBuffer(4));
  /** Settles when the worker has read the project; rejects when the options are unusable. */
  readonly ready: Promise<void>;

  /** Starts the worker; it loads the type checker in the background. */
  constructor(opts: CellCompilerOptions) {
    this.#worker = new Worker(new URL("./compiler_host_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (e: MessageEvent<CompilerResponse>) => {
      const r = e.data;
      const p = this.#pending.get(r.id);
      if (!p) return;
      this.#pending.delete(r.id);
      if (r.ok) p.resolve(r.value);
      else p.reject(r.cancelled ? new TypeCheckCancelled() : new Error(r.error));
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      console.error(`teskd kernel: the compiler worker died: ${e.message}`);
      this.#stop(`the compiler worker died (${e.message}); restart the kernel`);
    };
    this.ready = this.#call("init", [opts, this.#cancel]).then(() => {});
  }

  #stop(reason: string): void {
    this.#gone = reason;
    this.#worker.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(new Error(reason));
  }

  #call<T>(method: CompilerRequest["method"], args: unknown[]): Promise<T> {
    if (this.#gone !== undefined) return Promise.reject(new Error(this.#gone));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ id, method, args } satisfies CompilerRequest);
    });
  }

  /**
   * Compiles (and, unless turned off, type-checks) one cell; see CellCompiler.compile. Rejects with
   * {@linkcode TypeCheckCancelled} when {@linkcode cancel} stopped it.
   */
  async compile(code: string, opts?: { typecheck?: boolean }): Promise<HostedCompileResult> {
    // Reset here, before the request is sent: a cancel() after this line reaches this compile.
    Atomics.store(this.#cancel, 0, 0);
    const r = await this.#call<Omit<HostedCompileResult, "mapStack">>("compile", [code, opts]);
    return { ...r, mapStack: (stack) => this.#call<string>("mapStack", [stack]) };
  }

  /** Stops the type check of the compile in progress at its next cancellation point. */
  cancel(): void {
    Atomics.store(this.#cancel, 0, 1);
  }

  /** Makes a cell's declarations visible to later cells; see CellCompiler.commit. */
  async commit(code: string): Promise<void> {
    await this.#call("commit", [code]);
  }

  /** Forgets every committed cell (the runtime lost its state). */
  async reset(): Promise<void> {
    await this.#call("reset", []);
  }

  /** Completions at a code-point offset; see CellCompiler.complete. */
  complete(code: string, cursorPos: number): Promise<Completions> {
    return this.#call("complete", [code, cursorPos]);
  }

  /** Signature and JSDoc at a code-point offset; see CellCompiler.inspect. */
  inspect(
    code: string,
    cursorPos: number,
    detailLevel: 0 | 1,
  ): Promise<{ found: boolean; data: Record<string, string> }> {
    return this.#call("inspect", [code, cursorPos, detailLevel]);
  }

  /** Whether `code` is complete; see CellCompiler.isComplete. */
  isComplete(code: string): Promise<IsCompleteResult> {
    return this.#call("isComplete", [code]);
  }

  /** Stops the worker; pending and later calls fail. */
  close(): void {
    this.#stop("the compiler is closed");
  }
}
