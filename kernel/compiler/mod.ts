/**
 * The kernel's cell compiler: TypeScript cells → JavaScript that runs in one persistent worker,
 * type-checked against earlier cells, plus completion, inspection and completeness checks.
 *
 * ```ts
 * import { CellCompiler, evaluateCell } from "./kernel/compiler/mod.ts";
 *
 * const compiler = new CellCompiler({ cwd: Deno.cwd() });
 * const cell = "const xs = [1, 2, 3];\nxs.map((x) => x * 2)";
 * const result = compiler.compile(cell);
 * if (result.ok) {
 *   console.log(await evaluateCell(result.js!)); // [2, 4, 6]
 *   compiler.commit(cell);
 * } else {
 *   for (const d of result.diagnostics) console.log(`${d.ename} ${d.line}:${d.column} ${d.message}`);
 * }
 * ```
 *
 * See README.md in this directory for the directive, the guard and the persistence strategy.
 *
 * @module
 */

export {
  type CellCompilerOptions,
  type CellDiagnostic,
  type CompileResult,
  GUARD_NAME,
  TypeCheckCancelled,
} from "./types.ts";
export { CellCompiler } from "./cell_compiler.ts";
export { evaluateCell, WRAPPER_LINES } from "./eval.ts";
export type { IsCompleteResult } from "./is_complete.ts";
