/**
 * The widget browser test's setup: the kernel spec in a temporary folder, the test page bundled
 * (bundle.ts) and served by the classic Notebook server (its `extra_static_paths`, so the page and
 * the kernel API share one origin), and headless Chromium on the page with a teskd kernel started
 * and JupyterLab's `KernelWidgetManager` attached (page.ts).
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { installKernel } from "../notebooks/run.ts";
import { jupyterEnv, startNotebookServer, stopChild } from "../notebooks/notebook_server.ts";
import { buildPage } from "./bundle.ts";
import { type CdpPage, launchChromium } from "./cdp.ts";

// The page's own types (a type-only import: nothing of the page's bundle loads here).
export type { CellResult, PageOutput } from "./page.ts";
import type { CellResult } from "./page.ts";

/** The running setup of one test. */
export interface Harness {
  tmp: string;
  page: CdpPage;
  /** Seconds each setup phase took. */
  timings: Record<string, number>;
  /** The notebook server's log so far. */
  serverLog(): string;
  /** Runs `code` in the kernel through the page; fails on an error or a view that did not render. */
  cell(code: string, timeoutMs?: number): Promise<CellResult>;
  /** The text/plain of the cell's execute_result. */
  value(code: string, timeoutMs?: number): Promise<string>;
  /** The value of `expression` (JSON-serialisable), evaluated in the kernel (after `prelude`). */
  json<T>(expression: string, timeoutMs?: number): Promise<T>;
  /** Stops everything and removes the temporary folder. */
  close(): Promise<void>;
}

/** Describes a cell's failure: its error outputs, view errors and the page's console. */
export function describe(r: CellResult, page: CdpPage): string {
  const errors = r.outputs.filter((o) => o.type === "error")
    .map((o) => `${o.ename}: ${o.evalue}\n${(o.traceback ?? []).join("\n")}`);
  const stderr = r.outputs.filter((o) => o.type === "stream").map((o) => o.text).join("");
  return [
    `status ${r.status}`,
    ...errors,
    ...(stderr ? [`stream output:\n${stderr}`] : []),
    ...(r.viewErrors.length ? [`view errors:\n${r.viewErrors.join("\n")}`] : []),
    ...(page.console.length ? [`page console:\n${page.console.slice(-20).join("\n")}`] : []),
  ].join("\n");
}

/** Sets everything up; the caller must `close()` it. */
export async function startHarness(): Promise<Harness> {
  const tmp = await Deno.makeTempDir({ prefix: "teskd-widgets-" });
  const children: Deno.ChildProcess[] = [];
  const timings: Record<string, number> = {};
  let page: CdpPage | undefined;
  const close = async () => {
    page?.close();
    for (const c of children.reverse()) await stopChild(c);
    await Deno.remove(tmp, { recursive: true });
  };
  try {
    let t = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      timings[name] = Math.round(now - t) / 1000;
      t = now;
    };
    const jupyterPath = await installKernel(join(tmp, "kernel"));
    const pageDir = join(tmp, "page");
    await buildPage(pageDir);
    lap("bundle");

    const env: Record<string, string> = {
      ...jupyterEnv(tmp, jupyterPath),
      TMPDIR: tmp,
      TESKD_BACKEND: "cpu",
    };
    await Deno.mkdir(env.JUPYTER_CONFIG_DIR);
    // The page is served at /static/ from the notebook server itself (same origin as the API).
    await Deno.writeTextFile(
      join(env.JUPYTER_CONFIG_DIR, "jupyter_notebook_config.json"),
      JSON.stringify({ NotebookApp: { extra_static_paths: [pageDir] } }),
    );
    const notebookDir = join(tmp, "notebooks");
    await Deno.mkdir(notebookDir);
    const server = await startNotebookServer(notebookDir, env);
    children.push(server.child);
    const { base, token } = server;
    lap("server");

    const browser = await launchChromium(join(tmp, "chromium"), env);
    children.push(browser.child);
    page = browser.page;
    await page.navigate(`${base}/static/index.html`);
    await page.waitFor(
      "globalThis.teskdPage?.ready === true",
      10_000,
      `the test page's script did not load:\n${page.console.join("\n")}`,
    );
    lap("browser");
    const p = page;
    const started = await p.evaluate<string>(
      `teskdPage.start("teskd", ${JSON.stringify(token)})`,
      60_000,
    ).catch(async (e) => {
      const pageLog = await p.evaluate<string[]>("teskdPage.log").catch(() => []);
      throw new Error(
        `starting the teskd kernel from the page failed: ${e.message}\nserver log:\n${
          server.log().slice(-4000)
        }\npage console:\n${p.console.join("\n")}\npage log:\n${pageLog.join("\n")}`,
      );
    });
    assert.match(started, /teskd/, "the page's kernel is teskd");
    lap("kernel");

    const cell = async (code: string, timeoutMs = 60_000): Promise<CellResult> => {
      const r = await p.evaluate<CellResult>(
        `teskdPage.runCell(${JSON.stringify(code)})`,
        timeoutMs,
      );
      assert.ok(
        r.status === "ok" && r.viewErrors.length === 0,
        `the cell failed:\n${code}\n${describe(r, p)}`,
      );
      return r;
    };
    return {
      tmp,
      page: p,
      timings,
      serverLog: () => server.log(),
      cell,
      value: async (code, timeoutMs) => {
        const r = await cell(code, timeoutMs);
        const result = r.outputs.find((o) => o.type === "execute_result");
        assert.ok(
          result?.text !== undefined,
          `the cell has a text result:\n${code}\n${describe(r, p)}`,
        );
        return result.text;
      },
      json: async <T>(expression: string, timeoutMs?: number): Promise<T> => {
        const marker = `@@json${crypto.randomUUID().slice(0, 8)}@@`;
        const r = await cell(
          `console.log(${JSON.stringify(marker)} + JSON.stringify(${expression}));`,
          timeoutMs,
        );
        const text = r.outputs.filter((o) => o.type === "stream").map((o) => o.text).join("");
        const line = text.split("\n").find((l) => l.startsWith(marker));
        assert.ok(line, `the cell printed its value:\n${expression}\n${describe(r, p)}`);
        return JSON.parse(line.slice(marker.length)) as T;
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
