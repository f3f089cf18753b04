/**
 * Worker side of {@linkcode CompilerHost} (compiler_host.ts): owns the {@linkcode CellCompiler}, so
 * that TypeScript's type checker (0.7–2 s to load, milliseconds to tens of milliseconds per cell)
 * never blocks the kernel's main thread, which must keep answering heartbeat and control.
 *
 * Requests and answers are those of compiler_protocol.ts: each {@linkcode CompilerRequest} gets one
 * {@linkcode CompilerResponse}, `{ id, type, value }` or `{ id, ok: false, error,
 * cancelled }`. The first request is `init` with the compiler's options and the shared cancel
 * flag; after answering it the worker loads the type checker, so the first cell does not pay for
 * that.
 *
 * @module
 */
import { CellCompiler } from "./compiler/cell_compiler.ts";
import { TypeCheckCancelled } from "./compiler/types.ts";
import type {
  CompilerAnswer,
  CompilerRequest,
  CompilerRequestType,
  CompilerResponse,
} from "./compiler_protocol.ts";

const scope = self as unknown as {
  onmessage: ((e: MessageEvent<CompilerRequest>) => void) | null;
  postMessage(message: CompilerResponse): void;
};

/** What {@linkcode handle} returns: a successful answer before `id` and `ok` are added. */
type Answer = {
  [T in CompilerRequestType]: Omit<CompilerAnswer<T>, "id" | "ok">;
}[CompilerRequestType];

let compiler: CellCompiler | undefined;
let initError: string | undefined;
/** Set to 1 by the host to cancel the type check of the compile in progress. */
let cancelFlag: Int32Array | undefined;
/** The type of the request being handled (or "compile" while warming): only a compile cancels. */
let current: CompilerRequestType | undefined;

/** Answers one request; throws what the compiler throws (the caller reports it as a failure). */
function handle(req: CompilerRequest): Answer {
  if (req.type === "init") {
    cancelFlag = req.cancel;
    try {
      compiler = new CellCompiler({
        ...req.options,
        // Only a compile is cancelled: completions asked meanwhile must not be.
        isCancelled: () => current === "compile" && Atomics.load(cancelFlag!, 0) === 1,
      });
    } catch (e) {
      initError = (e as Error).message;
      throw e;
    }
    return { type: "init", value: null };
  }
  if (!compiler) throw new Error(initError ?? "the compiler was not initialised");
  switch (req.type) {
    case "compile": {
      // The stack mapper is a closure: the host asks for it by a mapStack request instead.
      const { mapStack: _, ...result } = compiler.compile(req.code, req.options);
      return { type: "compile", value: result };
    }
    case "mapStack":
      return { type: "mapStack", value: compiler.mapStack(req.stack) };
    case "commit":
      compiler.commit(req.code);
      return { type: "commit", value: undefined };
    case "reset":
      compiler.reset();
      return { type: "reset", value: undefined };
    case "complete":
      return { type: "complete", value: compiler.complete(req.code, req.cursorPos) };
    case "inspect":
      return {
        type: "inspect",
        value: compiler.inspect(req.code, req.cursorPos, req.detailLevel),
      };
    case "isComplete":
      return { type: "isComplete", value: compiler.isComplete(req.code) };
  }
  // Unreachable while both sides speak compiler_protocol.ts; `never` makes a new request type
  // that is not handled above a type error.
  const unhandled: never = req;
  throw new Error(`unknown compiler request ${JSON.stringify(unhandled)}`);
}

scope.onmessage = (e) => {
  const req = e.data;
  current = req.type;
  try {
    scope.postMessage({ id: req.id, ok: true, ...handle(req) });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    const cancelled = err instanceof TypeCheckCancelled;
    scope.postMessage({ id: req.id, ok: false, error, cancelled });
  } finally {
    current = undefined;
  }
  if (req.type === "init" && compiler) {
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
