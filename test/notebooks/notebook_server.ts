/**
 * Test support shared by the browser tests: a private Jupyter environment in a temporary folder,
 * the classic Notebook server on a free port with a token, headless Chromium's flags, and stopping
 * child processes.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";

/** Chromium's flags for a headless run that reaches nothing outside (a profile dir comes on top). */
export const CHROMIUM_FLAGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
];

/** A port nothing listens on now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Stops a child: SIGTERM, then SIGKILL after 10 s; resolves when it has exited. */
export async function stopChild(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    return; // already exited
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited meanwhile
    }
  }, 10_000);
  await child.status;
  clearTimeout(timer);
}

/** Jupyter's folders (and HOME) under `tmp`, finding kernel specs in `jupyterPath`. */
export function jupyterEnv(tmp: string, jupyterPath: string): Record<string, string> {
  return {
    JUPYTER_PATH: jupyterPath,
    JUPYTER_DATA_DIR: join(tmp, "data"),
    JUPYTER_CONFIG_DIR: join(tmp, "config"),
    JUPYTER_RUNTIME_DIR: join(tmp, "runtime"),
    HOME: tmp,
    XDG_RUNTIME_DIR: join(tmp, "runtime"),
  };
}

/** A running classic Notebook server. */
export interface NotebookServer {
  child: Deno.ChildProcess;
  /** `http://127.0.0.1:PORT`. */
  base: string;
  token: string;
  /** What it wrote on stderr so far. */
  log(): string;
}

/**
 * Starts `jupyter notebook` (the classic 6.4 server) on a free port with a fresh token and waits
 * until its API answers (at most 30 s). The caller stops `child`.
 */
export async function startNotebookServer(
  notebookDir: string,
  env: Record<string, string>,
): Promise<NotebookServer> {
  const port = freePort();
  const token = crypto.randomUUID().replaceAll("-", "");
  const child = new Deno.Command("/usr/bin/jupyter", {
    args: [
      "notebook",
      "--no-browser",
      `--port=${port}`,
      "--ip=127.0.0.1",
      `--NotebookApp.token=${token}`,
      "--allow-root",
      `--notebook-dir=${notebookDir}`,
    ],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const chunks: string[] = [];
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) chunks.push(chunk);
  })();
  const base = `http://127.0.0.1:${port}`;
  let up = false;
  for (let i = 0; i < 150 && !up; i++) {
    try {
      const r = await fetch(`${base}/api/status?token=${token}`);
      await r.body?.cancel();
      up = r.ok;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  if (!up) await stopChild(child);
  assert.ok(up, `the notebook server answered:\n${chunks.join("")}`);
  return { child, base, token, log: () => chunks.join("") };
}
