/**
 * Runs a notebook through the installed kernel spec with nbclient (execute_notebook.py) and returns
 * its outputs, for the notebook tests.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { installKernelSpec } from "../../kernel/install.ts";

/** One output of a cell, as nbformat stores it. */
export interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
}

/** One executed cell. */
export interface ExecutedCell {
  cell_type: string;
  execution_count: number | null;
  outputs: NotebookOutput[];
}

/** What execute_notebook.py reports. */
export interface ExecutedNotebook {
  seconds: number;
  error: string | null;
  cells: ExecutedCell[];
  /** update_display_data messages received, per display id. */
  updates: Record<string, number>;
}

/** The repository root. */
export const ROOT: string = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Installs the kernel spec under `prefix`; returns the JUPYTER_PATH that finds it. */
export async function installKernel(prefix: string): Promise<string> {
  await installKernelSpec({ prefix });
  return join(prefix, "share", "jupyter");
}

/**
 * Executes `notebook` with the kernel found on `jupyterPath`, in `workdir`; writes the executed
 * notebook to `out` when given. `tmpDir` becomes the kernel's TMPDIR, so the temporary folders a
 * notebook makes land there (and go when the test removes it), even when the notebook fails.
 */
export async function executeNotebook(
  notebook: string,
  workdir: string,
  jupyterPath: string,
  opts: { out?: string; tmpDir?: string } = {},
): Promise<ExecutedNotebook> {
  const out = opts.out;
  const script = join(ROOT, "test", "notebooks", "execute_notebook.py");
  const res = await new Deno.Command("/usr/bin/python3", {
    args: [script, notebook, workdir, ...(out ? [out] : [])],
    env: {
      JUPYTER_PATH: jupyterPath,
      TESKD_BACKEND: "cpu",
      ...(opts.tmpDir ? { TMPDIR: opts.tmpDir } : {}),
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(res.stderr);
  if (!res.success) throw new Error(`execute_notebook.py failed on ${notebook}:\n${stderr}`);
  return JSON.parse(new TextDecoder().decode(res.stdout)) as ExecutedNotebook;
}

/** Every output of the notebook, in order. */
export function allOutputs(nb: ExecutedNotebook): NotebookOutput[] {
  return nb.cells.flatMap((c) => c.outputs);
}

/** The MIME types present in display_data / execute_result outputs. */
export function mimeTypes(nb: ExecutedNotebook): Set<string> {
  const types = new Set<string>();
  for (const o of allOutputs(nb)) for (const k of Object.keys(o.data ?? {})) types.add(k);
  return types;
}

/** All stdout text of the notebook. */
export function stdoutText(nb: ExecutedNotebook): string {
  return allOutputs(nb).filter((o) => o.output_type === "stream" && o.name === "stdout")
    .map((o) => o.text ?? "").join("");
}
