/**
 * The errors an execute reply carries, in Jupyter's shape (`ename`, `evalue`, `traceback`): a cell
 * that does not compile, a cell interrupted before it ran, and the traceback of a runtime error
 * without the kernel's own frames.
 *
 * @example
 * ```ts
 * import { traceback } from "./cell_errors.ts";
 * traceback("TypeError", "boom", error.stack ?? ""); // ["TypeError: boom", "    at f (cell-3.ts:2:7)"]
 * ```
 * @module
 */
import type { CellDiagnostic } from "./compiler/types.ts";
import { INTERRUPT_ENAME } from "./runtime_contract.ts";

/** An error as an execute reply and the iopub `error` message carry it. */
export interface CellError {
  status: "error";
  ename: string;
  evalue: string;
  traceback: string[];
}

/** The error reported for a cell that does not compile (syntax or type errors). */
export function diagnosticsError(
  errors: CellDiagnostic[],
  count: number,
): CellError {
  if (errors.length === 0) {
    return {
      status: "error",
      ename: "CompilerError",
      evalue: "the cell did not compile",
      traceback: ["CompilerError: the cell did not compile"],
    };
  }
  const first = errors[0];
  const lines = errors.map((d) =>
    `cell[${count}]:${d.line}:${d.column} - ${d.ename}${d.code ? ` TS${d.code}` : ""}: ${d.message}`
  );
  return {
    status: "error",
    ename: first.ename,
    evalue: errors.length === 1
      ? `${first.message} (line ${first.line}:${first.column})`
      : `${first.message} (line ${first.line}:${first.column}) and ${errors.length - 1} more`,
    traceback: [`${first.ename}: ${errors.length} error(s) in cell [${count}]`, ...lines],
  };
}

/** Traceback lines: the error line, then stack frames outside the kernel's own code. */
export function traceback(ename: string, evalue: string, stack: string): string[] {
  const frames = stack.split("\n").filter((l) => /^\s+at /.test(l))
    .filter((l) =>
      !l.includes("executor_worker.ts") && !l.includes("/kernel/worker/") &&
      !l.includes("compiler/eval.ts") && !l.includes("ext:")
    );
  return [`${ename}: ${evalue}`, ...frames];
}

/** The reply of a cell interrupted while it was being compiled. */
export function interruptedBeforeRun(): CellError {
  const evalue = "interrupted before it ran (during its type check)";
  return {
    status: "error",
    ename: INTERRUPT_ENAME,
    evalue,
    traceback: [`${INTERRUPT_ENAME}: ${evalue}`],
  };
}
