/**
 * The teskd Jupyter kernel: protocol side and execution runtime. Start it with
 * `deno run --allow-all kernel/main.ts CONNECTION_FILE`; embed it with {@link Kernel}.
 *
 * @example
 * ```ts
 * import { CompilerHost, History, Kernel, readConnectionFile } from "./mod.ts";
 * const info = await readConnectionFile("/tmp/kernel.json");
 * const kernel = new Kernel(info, new CompilerHost({ cwd: Deno.cwd() }), {
 *   typecheck: true,
 *   history: await History.open("/tmp/history.jsonl"),
 *   languageVersion: "6.0.3",
 * });
 * await kernel.start();
 * ```
 * @module
 */
export {
  type ConnectionInfo,
  endpoint,
  parseConnectionInfo,
  readConnectionFile,
} from "./connection.ts";
export { CompilerHost, type HostedCompileResult } from "./compiler_host.ts";
export { defaultHistoryFile, History, type HistoryRow } from "./history.ts";
export { type CompilerLike, Kernel, KERNEL_VERSION, type KernelOptions } from "./kernel.ts";
export {
  deserialize,
  type Message,
  PROTOCOL_VERSION,
  serialize,
  Signer,
  WireError,
} from "./wire.ts";
export {
  CELL_GLOBALS_DTS,
  DISPLAY_SYMBOL,
  GUARD_NAME,
  INTERRUPT_ENAME,
  INTERRUPT_SIGNAL_SYMBOL,
} from "./runtime_contract.ts";
