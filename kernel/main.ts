/**
 * Entry point of the teskd Jupyter kernel:
 * `deno run --allow-all kernel/main.ts [--no-typecheck] [--config=DENO_JSON] {connection_file}`.
 * Type checking defaults to on; `--no-typecheck` or `TESKD_TYPECHECK=0` turns it off.
 * `--config=` names the deno.json the compiler reads (pass Deno the same file with its own
 * `--config` flag so run time and type checking resolve imports alike); default: found upward from
 * the working directory (the notebook's).
 * @module
 */
import packageJson from "../package.json" with { type: "json" };
import { CompilerHost } from "./compiler_host.ts";
import { readConnectionFile } from "./connection.ts";
import { defaultHistoryFile, History } from "./history.ts";
import { Kernel } from "./kernel.ts";
import { bindSockets } from "./sockets.ts";

/**
 * TypeScript's version, for kernel_info: the exact pin in package.json (read here so the main
 * thread need not load TypeScript itself; the compiler worker does).
 */
const TYPESCRIPT_VERSION: string = packageJson.dependencies.typescript;

/** Parses the command line: the connection file and the type-check setting. */
export function parseArgs(
  args: string[],
  env: (name: string) => string | undefined,
): { connectionFile: string; typecheck: boolean; configPath?: string } {
  let typecheck = !["0", "false", "no", "off"].includes(
    (env("TESKD_TYPECHECK") ?? "").toLowerCase(),
  );
  const files: string[] = [];
  let configPath: string | undefined;
  for (const a of args) {
    if (a === "--no-typecheck") typecheck = false;
    else if (a.startsWith("--config=")) configPath = a.slice("--config=".length);
    else if (a === "--typecheck") typecheck = true;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 1) {
    throw new Error(
      "usage: kernel/main.ts [--no-typecheck|--typecheck] [--config=DENO_JSON] CONNECTION_FILE",
    );
  }
  return configPath === undefined
    ? { connectionFile: files[0], typecheck }
    : { connectionFile: files[0], typecheck, configPath };
}

async function main(): Promise<void> {
  const { connectionFile, typecheck, configPath } = parseArgs(Deno.args, (n) => Deno.env.get(n));
  const info = await readConnectionFile(connectionFile);
  // Bound before the workers start: the client connects from the moment it launched the kernel
  // and, refused, tries again only every 100–200 ms (ZeroMQ's reconnect interval plus jitter).
  const sockets = bindSockets(info);
  sockets.catch(() => {}); // a failure surfaces from kernel.start()
  const history = await History.open(defaultHistoryFile());
  // The compiler (TypeScript) loads in its own worker while the sockets bind.
  const compiler = new CompilerHost({ cwd: Deno.cwd(), typecheck, configPath });
  compiler.ready.catch((e) => {
    console.error(`teskd kernel: ${(e as Error).message}`);
    Deno.exit(1);
  });
  const kernel = new Kernel(info, compiler, {
    typecheck,
    history,
    languageVersion: TYPESCRIPT_VERSION,
    sockets,
    configPath,
  });
  await kernel.start();
  Deno.addSignalListener("SIGINT", () => kernel.interrupt());
  await kernel.closed;
  Deno.exit(0);
}

if (import.meta.main) {
  main().catch((e) => {
    console.error(`teskd kernel: ${(e as Error).message}`);
    Deno.exit(1);
  });
}
