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
import { CHROMIUM_FLAGS, jupyterEnv, startNotebookServer, stopChild } from "./notebook_server.ts";

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

async function run(cmd: string, args: string[], env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(
    out.success,
    `${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr)}`,
  );
  return text;
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

    const env = jupyterEnv(tmp, jupyterPath);
    // Trusted, so the outputs' scripts run (the classic Notebook sanitises untrusted HTML).
    // (`jupyter trust` is not packaged in Debian: sign with nbformat's notary, as it does.)
    await run("/usr/bin/python3", [
      "-c",
      "import sys, nbformat\nfrom nbformat.sign import NotebookNotary\n" +
      "nb = nbformat.read(sys.argv[1], as_version=4)\nNotebookNotary().sign(nb)",
      page,
    ], env);

    const server = await startNotebookServer(notebookDir, env);
    children.push(server.child);
    const url = `${server.base}/notebooks/view.ipynb?token=${server.token}`;
    const chromium = (extra: string[]) => {
      const child = new Deno.Command("/usr/bin/chromium", {
        args: [
          ...CHROMIUM_FLAGS,
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
    for (const c of children.reverse()) await stopChild(c);
    await Deno.remove(tmp, { recursive: true });
  }
});
