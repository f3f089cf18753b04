/**
 * `deno task lab`: installs the npm dependencies, registers the kernel spec for this checkout, and opens
 * `notebooks/` in JupyterLab, or in the classic Notebook when only that is installed.
 *
 * The front end is looked for first: with none installed, it says what to install and exits non-zero
 * before touching anything (no half-installed state). Extra arguments go to Jupyter (e.g. `--no-browser`).
 *
 * @module
 */
import { join } from "node:path";
import { CHECKOUT_DIR, installKernelSpec } from "../kernel/install.ts";

/** A Jupyter front end that can open the notebooks. */
export interface FrontEnd {
  /** "lab" or "notebook". */
  kind: "lab" | "notebook";
  /** The command and leading arguments that start it. */
  command: string[];
  /** Its version, as it reports it. */
  version: string;
}

/** What to tell a user who has no Jupyter front end. */
export const INSTALL_ADVICE = [
  "No Jupyter front end found: neither `jupyter lab` nor `jupyter notebook` runs.",
  "Install one of them, then run this command again:",
  "  pip install jupyterlab                     # JupyterLab (recommended)",
  "  sudo apt-get install jupyter-notebook      # Debian/Ubuntu: the classic Notebook",
  "  conda install -c conda-forge jupyterlab    # conda",
].join("\n");

/** Finds JupyterLab, else the classic Notebook, on PATH. */
export async function findFrontEnd(): Promise<FrontEnd | undefined> {
  for (const kind of ["lab", "notebook"] as const) {
    const version = await versionOf(["jupyter", kind]);
    if (version) return { kind, command: ["jupyter", kind], version };
  }
  return undefined;
}

async function versionOf(command: string[]): Promise<string | undefined> {
  try {
    const out = await new Deno.Command(command[0], {
      args: [...command.slice(1), "--version"],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim().split("\n").pop() : undefined;
  } catch {
    return undefined; // not on PATH
  }
}

async function run(command: string[], what: string): Promise<void> {
  const status = await new Deno.Command(command[0], { args: command.slice(1) }).spawn().status;
  if (!status.success) throw new Error(`${what} failed (exit code ${status.code})`);
}

async function main(args: string[]): Promise<number> {
  const frontEnd = await findFrontEnd();
  if (!frontEnd) {
    console.error(INSTALL_ADVICE);
    return 1;
  }
  await run([Deno.execPath(), "install", "--frozen", "--quiet"], "installing npm dependencies");
  const specDir = await installKernelSpec();
  console.error(`Kernel spec installed in ${specDir}`);
  const notebooks = join(CHECKOUT_DIR, "notebooks");
  console.error(`Opening ${notebooks} in Jupyter ${frontEnd.kind} ${frontEnd.version}`);
  // Jupyter refuses to run as root unless told; root is the norm in containers and CI.
  const asRoot = Deno.uid() === 0 && !args.includes("--allow-root") ? ["--allow-root"] : [];
  const child = new Deno.Command(frontEnd.command[0], {
    args: [...frontEnd.command.slice(1), `--notebook-dir=${notebooks}`, ...asRoot, ...args],
  }).spawn();
  // Ctrl-C reaches Jupyter directly (same process group); a SIGTERM sent to this process alone is passed
  // on, so Jupyter never outlives the task.
  Deno.addSignalListener("SIGINT", () => {});
  Deno.addSignalListener("SIGTERM", () => child.kill("SIGTERM"));
  return (await child.status).code;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`lab: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
