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
import {
  answers,
  type CompilerAnswer,
  type CompilerCall,
  type CompilerRequest,
  type CompilerRequestType,
  type CompilerResponse,
  type CompilerResults,
  type Completions,
} from "./compiler_protocol.ts";

export type { Completions } from "./compiler_protocol.ts";

/** What {@linkcode CompilerHost.compile} returns. */
export interface HostedCompileResult {
  /** `true` when `js` is present and the cell may run. */
  ok: boolean;
  /** The compiled cell, to run with `evaluateCell`. */
  js?: string;
  /** Syntax and type errors; empty when `ok`. */
  diagnostics: CellDiagnostic[];
  /** With `ok`: whether committing the cell would record anything (see CompileResult). */
  declares?: boolean;
  /** Rewrites compiled-cell positions in a stack to the cells' own lines (see CellCompiler). */
  mapStack(stack: string): Promise<string>;
}

/** A request awaiting its answer. */
interface Pending {
  /** Settles the caller's promise with the worker's answer. */
  answer(response: CompilerResponse): void;
  /** Rejects the caller's promise (the worker is gone). */
  fail(error: Error): void;
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
  #pending = new Map<number, Pending>();
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
      p.answer(r);
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      console.error(`teskd kernel: the compiler worker died: ${e.message}`);
      this.#stop(`the compiler worker died (${e.message}); restart the kernel`);
    };
    this.ready = this.#call({ type: "init", options: opts, cancel: this.#cancel }).then(() => {});
  }

  #stop(reason: string): void {
    this.#gone = reason;
    this.#worker.terminate();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.fail(new Error(reason));
  }

  /** Sends one request; resolves with the worker's answer, typed by the request's type. */
  #call<C extends CompilerCall>(call: C): Promise<CompilerResults[C["type"]]> {
    if (this.#gone !== undefined) return Promise.reject(new Error(this.#gone));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {
        answer: (r) => {
          if (!r.ok) return reject(r.cancelled ? new TypeCheckCancelled() : new Error(r.error));
          // Not the union of answers but an answer of some type: that is what the check can narrow
          // to this request's type (C["type"], named since `call.type` alone reads as any type).
          const success: CompilerAnswer<CompilerRequestType> = r;
          if (answers<C["type"]>(success, call.type)) resolve(success.value);
          // Cannot happen while both sides speak compiler_protocol.ts; never resolve a wrong type.
          else reject(new Error(`the compiler answered a ${call.type} request as ${r.type}`));
        },
        fail: reject,
      });
      this.#worker.postMessage({ ...call, id } satisfies CompilerRequest);
    });
  }

  /**
   * Compiles (and, unless turned off, type-checks) one cell; see CellCompiler.compile. Rejects with
   * {@linkcode TypeCheckCancelled} when {@linkcode cancel} stopped it.
   */
  async compile(code: string, opts?: { typecheck?: boolean }): Promise<HostedCompileResult> {
    // Reset here, before the request is sent: a cancel() after this line reaches this compile.
    Atomics.store(this.#cancel, 0, 0);
    const r = await this.#call({ type: "compile", code, options: opts });
    return { ...r, mapStack: (stack) => this.#call({ type: "mapStack", stack }) };
  }

  /** Stops the type check of the compile in progress at its next cancellation point. */
  cancel(): void {
    Atomics.store(this.#cancel, 0, 1);
  }

  /** Makes a cell's declarations visible to later cells; see CellCompiler.commit. */
  async commit(code: string): Promise<void> {
    await this.#call({ type: "commit", code });
  }

  /** Forgets every committed cell (the runtime lost its state). */
  async reset(): Promise<void> {
    await this.#call({ type: "reset" });
  }

  /** Completions at a code-point offset; see CellCompiler.complete. */
  complete(code: string, cursorPos: number): Promise<Completions> {
    return this.#call({ type: "complete", code, cursorPos });
  }

  /** Signature and JSDoc at a code-point offset; see CellCompiler.inspect. */
  inspect(
    code: string,
    cursorPos: number,
    detailLevel: 0 | 1,
  ): Promise<{ found: boolean; data: Record<string, string> }> {
    return this.#call({ type: "inspect", code, cursorPos, detailLevel });
  }

  /** Whether `code` is complete; see CellCompiler.isComplete. */
  isComplete(code: string): Promise<IsCompleteResult> {
    return this.#call({ type: "isComplete", code });
  }

  /** Stops the worker; pending and later calls fail. */
  close(): void {
    this.#stop("the compiler is closed");
  }
}
