/**
 * Writes the Jupyter kernel spec for this checkout: `deno task kernel-install [--prefix DIR] [--name NAME]`.
 *
 * The spec runs the pinned Deno (the very binary running this installer, which must be that version) on
 * `kernel/main.ts` with this checkout's `deno.json`, so notebooks anywhere resolve `import … from "teskd"`.
 * Installing twice gives the same files (idempotent). User level by default: `$JUPYTER_DATA_DIR/kernels`,
 * else `~/.local/share/jupyter/kernels` (Linux) or `~/Library/Jupyter/kernels` (macOS); with `--prefix`,
 * `<prefix>/share/jupyter/kernels` (for virtual environments and conda).
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DENO_VERSION } from "./deno_version.ts";

/** The kernel spec's name, the folder under `kernels/`. */
export const KERNEL_NAME = "teskd";

/** The name front ends show. */
export const DISPLAY_NAME = "TypeScript (teskd)";

/** Jupyter's `kernel.json`. */
export interface KernelSpec {
  argv: string[];
  display_name: string;
  language: string;
  interrupt_mode: "signal" | "message";
  env: Record<string, string>;
  metadata: Record<string, unknown>;
}

/** Options of {@link installKernelSpec}. */
export interface InstallOptions {
  /** Install under `<prefix>/share/jupyter/kernels` instead of the user's data dir. */
  prefix?: string;
  /** Kernel spec name (folder); default {@link KERNEL_NAME}. */
  name?: string;
  /** The Deno binary the spec runs; default the running one. */
  denoPath?: string;
  /** The Deno version of `denoPath`; default the running one. */
  denoVersion?: string;
  /** Environment lookup; default `Deno.env.get`. */
  env?: (name: string) => string | undefined;
  /** Operating system; default `Deno.build.os`. */
  os?: typeof Deno.build.os;
}

/** The checkout this file belongs to. */
export const CHECKOUT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where kernel specs go: `--prefix`, `$JUPYTER_DATA_DIR`, or the platform's user data dir. */
export function kernelsDir(opts: InstallOptions = {}): string {
  if (opts.prefix) return join(resolve(opts.prefix), "share", "jupyter", "kernels");
  const env = opts.env ?? ((n: string) => Deno.env.get(n));
  const dataDir = env("JUPYTER_DATA_DIR");
  if (dataDir) return join(dataDir, "kernels");
  const home = env("HOME") ?? env("USERPROFILE");
  if (!home) {
    throw new Error("cannot find the user's home directory (HOME is not set); use --prefix");
  }
  switch (opts.os ?? Deno.build.os) {
    case "darwin":
      return join(home, "Library", "Jupyter", "kernels");
    case "windows":
      return join(env("APPDATA") ?? join(home, "AppData", "Roaming"), "jupyter", "kernels");
    default:
      return join(env("XDG_DATA_HOME") ?? join(home, ".local", "share"), "jupyter", "kernels");
  }
}

/** The kernel spec for this checkout, run by `denoPath`. */
export function kernelSpec(denoPath: string, checkout = CHECKOUT_DIR): KernelSpec {
  return {
    argv: [
      denoPath,
      "run",
      "--allow-all",
      "--no-prompt",
      "--config",
      join(checkout, "deno.json"),
      join(checkout, "kernel", "main.ts"),
      // The cell compiler type-checks against the same import map Deno runs with.
      `--config=${join(checkout, "deno.json")}`,
      "{connection_file}",
    ],
    display_name: DISPLAY_NAME,
    language: "typescript",
    // Both SIGINT and interrupt_request work; messages survive front ends that run kernels remotely.
    interrupt_mode: "message",
    env: { NO_COLOR: "1" },
    metadata: { teskd: { deno_version: DENO_VERSION, checkout } },
  };
}

/**
 * Writes `kernel.json` and the logos; returns the spec's directory.
 * @throws Error when the Deno running this is not the pinned version.
 */
export async function installKernelSpec(opts: InstallOptions = {}): Promise<string> {
  const denoVersion = opts.denoVersion ?? Deno.version.deno;
  if (denoVersion !== DENO_VERSION) {
    throw new Error(
      `the kernel must run on Deno ${DENO_VERSION}, but this is Deno ${denoVersion}; ` +
        `run \`npx -y deno@${DENO_VERSION} task kernel-install\``,
    );
  }
  const dir = join(kernelsDir(opts), opts.name ?? KERNEL_NAME);
  await Deno.mkdir(dir, { recursive: true });
  const spec = kernelSpec(opts.denoPath ?? Deno.execPath());
  await writeAtomically(join(dir, "kernel.json"), JSON.stringify(spec, null, 2) + "\n");
  for (const logo of ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]) {
    await Deno.copyFile(join(CHECKOUT_DIR, "kernel", "logos", logo), join(dir, logo));
  }
  return dir;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, text);
  await Deno.rename(tmp, path);
}

function parseArgs(args: string[]): InstallOptions {
  const opts: InstallOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const [flag, inline] = arg.split("=", 2);
    const value = () => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    if (flag === "--prefix") opts.prefix = value();
    else if (flag === "--name") opts.name = value();
    else {throw new Error(
        `unknown option ${arg}; usage: kernel-install [--prefix DIR] [--name NAME]`,
      );}
  }
  return opts;
}

if (import.meta.main) {
  try {
    const dir = await installKernelSpec(parseArgs(Deno.args));
    console.log(`Installed kernel spec "${DISPLAY_NAME}" in ${dir}`);
  } catch (e) {
    console.error(`kernel-install: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
