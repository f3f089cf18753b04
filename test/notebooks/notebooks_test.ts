/**
 * Every notebook in notebooks/ runs top to bottom through the installed kernel spec (nbclient, as
 * `jupyter nbconvert --execute` does) with its default, CPU-sized setting, and shows what it should:
 * no errors, Plotly figures, HTML tables, SVG diagrams, images and live progress views with the MIME
 * types the front ends render. The committed notebooks are clean (no outputs) and follow the house
 * layout (a markdown cell first, one PAPER_SETTING cell).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  allOutputs,
  type ExecutedNotebook,
  executeNotebook,
  installKernel,
  mimeTypes,
  ROOT,
  stdoutText,
} from "./run.ts";

const PLOTLY = "application/vnd.plotly.v1+json";
const NOTEBOOKS = join(ROOT, "notebooks");

/** What each notebook must show, beyond running without errors. */
const EXPECTED: Record<
  string,
  { mimes: string[]; progress: boolean; check?: (nb: ExecutedNotebook) => void }
> = {
  "01-build-students.ipynb": {
    mimes: ["text/html", "image/svg+xml"],
    progress: false,
    check: (nb) => {
      const out = stdoutText(nb);
      assert.match(out, /^teacher\s+11,220,132$/m);
      assert.match(out, /^teacher \+ students\s+37,050,832$/m);
      const text = allOutputs(nb).map((o) => String(o.data?.["text/plain"] ?? "")).join("\n");
      for (
        const name of ["teacher.logits", 'students["8x8"].logits', 'students["32x32"].feature']
      ) {
        assert.ok(text.includes(name), `forward pass table lists ${name}`);
      }
      assert.ok(text.includes("[2,100]"), "teacher logits are [batch, 100]");
      // One diagram per attached student, each with more students than the last.
      const svgs = allOutputs(nb).filter((o) => typeof o.data?.["image/svg+xml"] === "string");
      assert.equal(svgs.length, 3);
    },
  },
  "02-train-teskd.ipynb": {
    mimes: [PLOTLY, "text/html", "image/png"],
    progress: true,
    check: (nb) => {
      const out = stdoutText(nb);
      assert.match(out, /deployed parameters: [\d,]+ \(trained with students: [\d,]+\)/);
      assert.match(out, /wrote \S+\/deployed\.safetensors \([\d,]+ bytes\): teacher /);
      const m =
        /deployed network top-1: ([\d.]+)% \(head "teacher" after the last epoch: ([\d.]+)%\)/
          .exec(out);
      assert.ok(m, `the deployment cell reports accuracies:\n${out}`);
      assert.equal(m[1], m[2], "the exported network scores like the trained run's deployed head");
      const html = allOutputs(nb).map((o) => String(o.data?.["text/html"] ?? "")).join("\n");
      assert.match(html, /top-1 \(%\) of the deployed network per epoch/);
      const figures = allOutputs(nb).filter((o) => o.data?.[PLOTLY] !== undefined);
      assert.equal(figures.length, 4, "loss, accuracy, teacher vs students, runs compared");
      // The TESKD run's controls: one widget view (an HBox of Stop, lr and its checkbox).
      const widgets = allOutputs(nb).filter((o) =>
        o.data?.["application/vnd.jupyter.widget-view+json"] !== undefined
      );
      assert.equal(widgets.length, 1, "the progress view's controls show as a widget");
      assert.match(String(widgets[0].data?.["text/plain"]), /HBox/);
    },
  },
  "03-ablations.ipynb": {
    mimes: [PLOTLY, "text/html"],
    progress: false,
    check: (nb) => {
      const text = allOutputs(nb).map((o) => String(o.data?.["text/plain"] ?? "")).join("\n");
      // Every grid's table lists its runs as finished: 4 + 3 + 2 + 2 runs, then the glance grid's
      // results (caption "… over finished runs"): two settings of "2 finished" runs each.
      assert.equal(text.match(/\bfinished\b/g)?.length ?? 0, 14, text);
      assert.equal(text.match(/\b2 finished\b/g)?.length ?? 0, 2, text);
      // factor columns are named by their dotted paths; the metrics are the deployed head's
      for (const c of ["method.kd", "method.levels", "method.temperature", "final_top1"]) {
        assert.ok(text.includes(c), `a table shows the column ${c}`);
      }
      const figures = allOutputs(nb).filter((o) => o.data?.[PLOTLY] !== undefined);
      const charts = figures.map((f) => JSON.stringify(f.data?.[PLOTLY]));
      assert.equal(
        figures.length,
        7,
        "one figure per grid, then the three views of the glance grid",
      );
      assert.ok(charts.some((c) => c.includes('"fill":"tonexty"')), "a mean ± std band");
      assert.ok(charts.some((c) => c.includes('"type":"parcoords"')), "parallel coordinates");
      assert.ok(charts.some((c) => c.includes('"type":"log"')), "loss terms on a log axis");
      // the explorer of the loss-terms grid: one widget view (drop-downs above its chart)
      const widgets = allOutputs(nb).filter((o) =>
        o.data?.["application/vnd.jupyter.widget-view+json"] !== undefined
      );
      assert.equal(widgets.length, 1, "the ablation explorer shows as a widget");
      // the Slurm cell shows the batch script it would submit
      assert.match(stdoutText(nb), /^#SBATCH --partition=gpu$/m);
      assert.match(stdoutText(nb), /^module load cuda\/12\.4$/m);
    },
  },
  "04-paper-tables.ipynb": {
    mimes: [PLOTLY, "text/html"],
    progress: false,
    check: (nb) => {
      const html = allOutputs(nb).map((o) => String(o.data?.["text/html"] ?? "")).join("\n");
      for (const published of ["74.41", "79.15", "69.71", "71.14"]) {
        assert.ok(html.includes(published), `the paper's ${published} is shown`);
      }
      const text = allOutputs(nb).map((o) => String(o.data?.["text/plain"] ?? "")).join("\n");
      assert.match(text, /measured \(tiny synthetic setting\)/);
    },
  },
  "05-kd-methods.ipynb": {
    mimes: [PLOTLY, "text/html"],
    progress: true,
    check: (nb) => {
      const texts = allOutputs(nb).map((o) => String(o.data?.["text/plain"] ?? ""));
      const comparison = texts.find((t) => t.startsWith("resnet32x4 → resnet8x4"));
      assert.ok(comparison, "the comparison table");
      // method, then top-1, deployed params, extra params, extra MB, ms/step, images/s
      const rows = new Map<string, number[]>();
      for (const line of comparison.split("\n")) {
        const m = /^\s*\d+\s+([a-z]+)((?:\s+[-\d.,e+]+){6})\s*$/.exec(line);
        if (m) rows.set(m[1], m[2].trim().split(/\s+/).map((v) => Number(v.replaceAll(",", ""))));
      }
      assert.deepEqual([...rows.keys()], [
        "kd",
        "fitnet",
        "at",
        "sp",
        "vid",
        "crd",
        "srrl",
        "semckd",
        "simkd",
        "atsc",
      ]);
      assert.match(comparison, /teacher \(resnet32x4\)\s+[\d.]+\s+7,410,730\s/);
      assert.match(comparison, /baseline \(resnet8x4 alone\)\s+[\d.]+\s+1,210,410\s/);
      // The official modules' sizes (spec §3.6; 10 classes here): what each method trains besides
      // the student, and what it deploys (SimKD and ATSC add the projector and the teacher's head).
      const student = 1_210_410;
      const projector = 214_016;
      const extra: Record<string, number> = {
        kd: 0,
        fitnet: 4_288,
        at: 0,
        sp: 0,
        vid: 258_496,
        crd: 65_792,
        srrl: 66_048,
        simkd: projector,
        atsc: projector + 7_410_730, // ATSC trains a copy of the teacher too
      };
      for (const [name, [top1, deployed, params, mb, ms, perSecond]] of rows) {
        assert.ok(top1 >= 0 && top1 <= 100, `${name} top-1 ${top1}`);
        const head = name === "simkd" || name === "atsc" ? 256 * 10 + 10 : 0;
        assert.equal(deployed, student + (head ? projector + head : 0), `${name} deployed`);
        if (name === "semckd") assert.ok(params > 10_000_000, "SemCKD: more than the student");
        else assert.equal(params, extra[name], `${name} extra parameters`);
        assert.ok(mb * 1e6 >= 4 * params * (1 - 5e-4), `${name}: memory holds its parameters`);
        assert.ok(ms > 0 && Math.abs(perSecond * ms - 8000) / 8000 < 2e-3, `${name} ${ms} ms`);
      }
      // buffers count: CRD's memory bank (2 × 48 rows of 128 and 5 constants), ATSC's anchor
      const crdBytes = 4 * (65_792 + 2 * 48 * 128 + 5);
      assert.ok(Math.abs(rows.get("crd")![3] * 1e6 - crdBytes) / crdBytes < 5e-4);
      assert.ok(rows.get("atsc")![3] * 1e6 > 8 * 7_000_000, "ATSC: teacher copy and its anchor");
      const text = texts.join("\n");
      assert.match(text, /crd\.contrast\s+\S+\s+0\s+12,293\s/, "the bank is listed as buffers");
      assert.match(
        stdoutText(nb),
        /simkd deploys student resnet8x4 \+ projector \+ teacher resnet32x4's classifier: 1,426,996 parameters/,
      );
      const figures = allOutputs(nb).filter((o) => o.data?.[PLOTLY] !== undefined);
      assert.equal(figures.length, 2, "accuracy vs deployed parameters, cost per step");
    },
  },
  "06-kd-paper-tables.ipynb": {
    mimes: [PLOTLY, "text/html"],
    progress: false,
    check: (nb) => {
      const text = allOutputs(nb).map((o) => String(o.data?.["text/plain"] ?? "")).join("\n");
      for (
        const published of [
          "73.09 ± 0.30",
          "74.42 ± 0.05",
          "78.08 ± 0.15",
          "79.42",
          "73.33",
          "74.76",
        ]
      ) {
        assert.ok(text.includes(published), `the published ${published} is shown`);
      }
      assert.match(text, /ATSC: no published number could be retrieved/);
      assert.match(text, /no KD cell has cifarresnet18/, "TESKD's numbers stand apart, with why");
      // Each measured row: its gap is measured − published, and its protocol says how it differs.
      const measured = [
        ...stdoutText(nb).matchAll(
          /^(\S+) (.+): measured ([\d.]+) \(seeds ([\d, ]+)\) vs published ([\d.]+) → gap (\S+); (.+)$/gm,
        ),
      ];
      const seen = measured.map((m) => `${m[1]} ${m[2]} (${m[4]})`);
      for (
        const row of [
          "simkd-readme Student (vanilla) (27)",
          "simkd-readme KD (27, 28)",
          "simkd-readme SimKD (f=2) (27)",
          "simkd-readme Teacher ResNet-32x4 (27)",
          "simkd-tensorboard kd (27, 28)",
          "mdistiller-readme KD (27)",
        ]
      ) {
        assert.ok(seen.includes(row), `a measured row ${row}: ${seen.join("; ")}`);
      }
      for (const m of measured) {
        assert.ok(Math.abs(Number(m[6]) - (Number(m[3]) - Number(m[5]))) < 0.011, m[0]);
        assert.match(m[7], /^differs: data\.dataset, /, "tiny runs are not the published protocol");
      }
      const figures = allOutputs(nb).filter((o) => o.data?.[PLOTLY] !== undefined);
      assert.equal(figures.length, 1, "published vs measured");
    },
  },
};

const kernelPrefix = await Deno.makeTempDir({ prefix: "teskd-notebooks-kernel-" });
const jupyterPath = await installKernel(kernelPrefix);
const names = [...Deno.readDirSync(NOTEBOOKS)].map((e) => e.name).filter((n) =>
  n.endsWith(".ipynb")
)
  .sort();

Deno.test("the notebooks are committed clean and laid out alike", async () => {
  assert.ok(names.length >= 2, `notebooks found: ${names.join(", ")}`);
  for (const name of names) {
    const nb = JSON.parse(await Deno.readTextFile(join(NOTEBOOKS, name)));
    assert.equal(nb.metadata.kernelspec.name, "teskd", `${name}: kernel spec`);
    assert.equal(nb.cells[0].cell_type, "markdown", `${name}: first cell explains it`);
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    for (const c of code) {
      assert.deepEqual(c.outputs, [], `${name}: committed without outputs`);
      assert.equal(c.execution_count, null, `${name}: committed without execution counts`);
    }
    const setting = code.filter((c: { source: string | string[] }) =>
      /^const PAPER_SETTING\b/m.test([c.source].flat().join(""))
    );
    assert.equal(setting.length, 1, `${name}: exactly one PAPER_SETTING cell`);
    assert.match([setting[0].source].flat().join(""), /PAPER_SETTING: boolean = false;/);
  }
});

for (const name of names) {
  Deno.test(`notebook ${name} runs top to bottom and shows its outputs`, async () => {
    const tmpDir = await Deno.makeTempDir({ prefix: "teskd-notebook-tmp-" });
    try {
      const nb = await executeNotebook(join(NOTEBOOKS, name), NOTEBOOKS, jupyterPath, { tmpDir });
      console.log(`${name}: ${nb.seconds.toFixed(1)} s`);
      assert.equal(nb.error, null, `${name} failed: ${nb.error}`);
      const errors = allOutputs(nb).filter((o) => o.output_type === "error");
      assert.deepEqual(errors.map((e) => `${e.ename}: ${e.evalue}`), []);
      const stderr = allOutputs(nb).filter((o) => o.output_type === "stream" && o.name === "stderr")
        .map((o) => o.text).join("");
      assert.doesNotMatch(stderr, /error/i, `${name} wrote errors to stderr`);
      for (const c of nb.cells) {
        if (c.cell_type === "code") {
          assert.notEqual(c.execution_count, null, `${name}: every cell ran`);
        }
      }
      const expected = EXPECTED[name] ?? { mimes: [PLOTLY, "text/html"], progress: false };
      const mimes = mimeTypes(nb);
      for (const m of expected.mimes) assert.ok(mimes.has(m), `${name} shows ${m}`);
      const html = allOutputs(nb).map((o) => o.data?.["text/html"]).filter((h) =>
        typeof h === "string"
      );
      assert.ok(html.some((h) => /<table[\s>]/.test(h as string)), `${name} shows an HTML table`);
      if (mimes.has(PLOTLY)) {
        for (const o of allOutputs(nb)) {
          const fig = o.data?.[PLOTLY] as { data?: unknown[] } | undefined;
          if (fig !== undefined) assert.ok(Array.isArray(fig.data) && fig.data.length > 0);
        }
      }
      if (expected.progress) {
        const views = allOutputs(nb).filter((o) =>
          o.output_type === "display_data" &&
          String(o.data?.["text/html"] ?? "").includes('class="teskd-progress"')
        );
        assert.ok(views.length >= 1, `${name} shows a progress view`);
        const ids = Object.keys(nb.updates).filter((id) => id.startsWith("teskd-progress-"));
        assert.ok(
          ids.length >= 1 && ids.every((id) => nb.updates[id] >= 1),
          "views update in place",
        );
        for (const v of views) {
          // The final state after the updates: the last epoch is done.
          const text = String(v.data?.["text/plain"]);
          const total = /epoch (\d+)\/(\d+)/.exec(text);
          assert.ok(total, `progress text names the epoch: ${text}`);
          assert.match(text, new RegExp(`epoch ${total[2]}/${total[2]}`));
        }
      }
      expected.check?.(nb);
      // The notebook removed what it made in its temporary folders.
      assert.deepEqual([...Deno.readDirSync(tmpDir)].map((e) => e.name), []);
    } finally {
      await Deno.remove(tmpDir, { recursive: true });
    }
  });
}

globalThis.addEventListener("unload", () => {
  Deno.removeSync(kernelPrefix, { recursive: true });
});
