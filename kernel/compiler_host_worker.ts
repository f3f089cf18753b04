/**
 * Worker side of {@linkcode CompilerHost} (compiler_host.ts): owns the {@linkcode CellCompiler}, so
 * that TypeScript's type checker (0.7–2 s to load, milliseconds to tens of milliseconds per cell)
 * never blocks the kernel's main thread, which must keep answering heartbeat and control.
 *
 * Requests are `{ id, method, args }`; replies `{ id, ok: true, value }` or
 * `{ id, ok: false, error, cancelled }`. The first request is `init` with the compiler's options and
 * the shared cancel flag; after answering it the worker loads the type checker, so the first cell
 * does not pay for that.
 *
 * @module
 */
import { CellCompiler } from "./compiler/cell_compiler.ts";
import { type CellCompilerOptions, TypeCheckCancelled } from "./compiler/types.ts";
import type { CompilerRequest, CompilerResponse } from "./compiler_host.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<CompilerRequest>) => void) | null;
  postMessage(message: CompilerResponse): void;
};

let compiler: CellCompiler | undefined;
let initError: string | undefined;
/** Set to 1 by the host to cancel the type check of the compile in progress. */
let cancelFlag: Int32Array | undefined;
let current: CompilerRequest["method"] | undefined;

function handle(req: CompilerRequest): unknown {
  if (req.method === "init") {
    cancelFlag = req.args[1] as Int32Array;
    try {
      compiler = new CellCompiler({
        ...req.args[0] as CellCompilerOptions,
        // Only a compile is cancelled: completions asked meanwhile must not be.
        isCancelled: () => current === "compile" && Atomics.load(cancelFlag!, 0) === 1,
      });
    } catch (e) {
      initError = (e as Error).message;
      throw e;
    }
    return null;
  }
  if (!compiler) throw new Error(initError ?? "the compiler was not initialised");
  const a = req.args;
  switch (req.method) {
    case "compile": {
      // The stack mapper is a closure: the host asks for it by method instead.
      const { mapStack: _, ...result } = compiler.compile(
        a[0] as string,
        a[1] as { typecheck?: boolean },
      );
      return result;
    }
    case "mapStack":
      return compiler.mapStack(a[0] as string);
    case "commit":
      return compiler.commit(a[0] as string);
    case "reset":
      return compiler.reset();
    case "complete":
      return compiler.complete(a[0] as string, a[1] as number);
    case "inspect":
      return compiler.inspect(a[0] as string, a[1] as number, a[2] as 0 | 1);
    case "isComplete":
      return compiler.isComplete(a[0] as string);
  }
  throw new Error(`unknown compiler method ${String(req.method)}`);
}

scope.onmessage = (e) => {
  const req = e.data;
  current = req.method;
  try {
    scope.postMessage({ id: req.id, ok: true, value: handle(req) });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    const cancelled = err instanceof TypeCheckCancelled;
    scope.postMessage({ id: req.id, ok: false, error, cancelled });
  } finally {
    current = undefined;
  }
  if (req.method === "init" && compiler) {
    // After the reply, so the kernel is not held up; requests that arrive meanwhile wait.
    setTimeout(() => {
      // Cancellable like a compile: an interrupt of the first cell must not wait for it.
      current = "compile";
      try {
        compiler?.warm();
      } catch (err) {
        console.error(`teskd kernel: warming the type checker failed: ${(err as Error).message}`);
      } finally {
        current = undefined;
      }
    }, 0);
  }
};
