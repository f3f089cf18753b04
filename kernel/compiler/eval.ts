/**
 * Runs compiled cell code. Import this inside the worker that executes cells: the stack-trace
 * mapping of `CompileResult.mapStack` assumes code is run exactly this way.
 *
 * @module
 */

type AsyncFunctionConstructor = new (body: string) => () => Promise<unknown>;

/** `AsyncFunction`, which has no global name. */
const AsyncFunction = (async () => {}).constructor as AsyncFunctionConstructor;

/**
 * Lines V8 puts before the body of a function built by the `AsyncFunction` constructor
 * (`(async function anonymous(` and `) {`); stack positions are offset by this much.
 */
export const WRAPPER_LINES = 2;

/**
 * Evaluates the `js` of a successful `CompileResult` and resolves to the cell's value
 * (its last expression statement, or `undefined`).
 *
 * @example
 * ```ts
 * const result = compiler.compile("const a = 2; a * 21");
 * if (result.ok) console.log(await evaluateCell(result.js!)); // 42
 * ```
 */
export function evaluateCell(js: string): Promise<unknown> {
  return new AsyncFunction(js)();
}
