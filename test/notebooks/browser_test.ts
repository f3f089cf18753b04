/**
 * The notebooks as a researcher sees them: an executed notebook (a tiny TESKD run with the live
 * progress view and a Plotly chart) served by the classic Jupyter Notebook server and opened in
 * headless Chromium. The page's DOM must hold a drawn Plotly chart and the progress view; a
 * screenshot is saved under the test's temporary directory (set TESKD_KEEP_SCREENSHOT=FILE to keep a
 * copy and look at it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { executeNotebook, installKernel } from "./run.ts";

const CELLS = [
  "# Browser check\nA tiny TESKD run: live progress view, then its accuracy curves.",
  `import { accuracyCurves, createExperiment, initBackend, ProgressView, Trainer } from "teskd";
await initBackend("cpu");
const run = await createExperiment({
  method: "teskd",
  data: { dataset: "synthetic", synthetic: { train: 64, test: 32 }, batchSize: 32, workers: 0 },
  model: { network: "cifarresnet18", widthMultiplier: 0.0625 },
  schedule: { epochs: 2, milestones: [] },
});
const view = new ProgressView({ epochs: 2, title: "browser check run" });
const trainer = new Trainer({ ...run.trainerOptions(), onStep: view.onStep, onEpoch: view.onEpoch });
await trainer.fit();
view.finish();
run.close();`,
  "accuracyCurves(trainer.history, { title: 'browser check curves' })",
];

function notebookJson(): string {
  const cells = CELLS.map((src, i) =>
    i === 0
      ? { cell_type: "markdown", metadata: {}, source: src }
      : { cell_type: "code", metadata: {}, source: src, outputs: [], execution_count: null }
  );
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 4,
    metadata: {
      kernelspec: { name: "teskd", display_name: "TypeScript (teskd)", language: "typescript" },
    },
    cells,
  });
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function run(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(
    out.success,
    `${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`,
  );
  return text;
}

async function stop(child: Deno.ChildProcess): Promise<void> {
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

Deno.test("the classic Notebook shows a Plotly chart and the progress view in Chromium", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "teskd-browser-" });
  const children: Deno.ChildProcess[] = [];
  try {
    const jupyterPath = await installKernel(join(tmp, "kernel"));
    const notebookDir = join(tmp, "notebooks");
    await Deno.mkdir(notebookDir);
    const source = join(tmp, "source.ipynb");
    await Deno.writeTextFile(source, notebookJson());
    const page = join(notebookDir, "view.ipynb");
    const executed = await executeNotebook(source, notebookDir, jupyterPath, {
      out: page,
      tmpDir: tmp,
    });
    assert.equal(executed.error, null, `the notebook ran: ${executed.error}`);

    const env = {
      JUPYTER_PATH: jupyterPath,
      JUPYTER_DATA_DIR: join(tmp, "data"),
      JUPYTER_CONFIG_DIR: join(tmp, "config"),
      JUPYTER_RUNTIME_DIR: join(tmp, "runtime"),
      HOME: tmp,
      XDG_RUNTIME_DIR: join(tmp, "runtime"),
    };
    // Trusted, so the outputs' scripts run (the classic Notebook sanitises untrusted HTML).
    // (`jupyter trust` is not packaged in Debian: sign with nbformat's notary, as it does.)
    await run("/usr/bin/python3", [
      "-c",
      "import sys, nbformat\nfrom nbformat.sign import NotebookNotary\n" +
      "nb = nbformat.read(sys.argv[1], as_version=4)\nNotebookNotary().sign(nb)",
      page,
    ], env);

    const port = freePort();
    const token = crypto.randomUUID().replaceAll("-", "");
    const server = new Deno.Command("/usr/bin/jupyter", {
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
    children.push(server);
    const serverLog: string[] = [];
    (async () => {
      for await (const chunk of server.stderr.pipeThrough(new TextDecoderStream())) {
        serverLog.push(chunk);
      }
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
    assert.ok(up, `the notebook server answered:\n${serverLog.join("")}`);

    const url = `${base}/notebooks/view.ipynb?token=${token}`;
    const chromium = (extra: string[]) => {
      const child = new Deno.Command("/usr/bin/chromium", {
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-quic",
          `--user-data-dir=${join(tmp, `chromium-${children.length}`)}`,
          "--window-size=1280,2000",
          "--virtual-time-budget=15000",
          ...extra,
          url,
        ],
        env,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      children.push(child);
      return child;
    };
    const dom = new TextDecoder().decode((await chromium(["--dump-dom"]).output()).stdout);
    assert.match(dom, /class="[^"]*\bnotebook_app\b/, "the notebook page loaded");
    assert.match(dom, /class="[^"]*\bteskd-progress\b/, "the progress view is in the page");
    assert.match(dom, /browser check run/, "the progress view's title is shown");
    assert.match(
      dom,
      /epoch \/ step<\/th><td[^>]*>2\/2 /,
      "the progress view shows its final state (the last epoch)",
    );
    assert.match(dom, /class="[^"]*\bplot-container\b/, "Plotly drew the chart");
    assert.match(dom, /class="[^"]*\bmain-svg\b/, "the chart has its SVG");
    assert.match(dom, /browser check curves/, "the chart's title is drawn");

    const shot = join(tmp, "notebook.png");
    await chromium([`--screenshot=${shot}`]).output();
    const size = (await Deno.stat(shot)).size;
    assert.ok(size > 50_000, `screenshot ${shot} is ${size} bytes`);
    if (Deno.env.get("TESKD_KEEP_SCREENSHOT")) {
      await Deno.copyFile(shot, Deno.env.get("TESKD_KEEP_SCREENSHOT") as string);
    }
  } finally {
    for (const c of children.reverse()) await stop(c);
    await Deno.remove(tmp, { recursive: true });
  }
});
