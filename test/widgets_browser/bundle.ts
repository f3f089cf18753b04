/**
 * Builds the widget test page (page.ts + index.html) into a folder: page.js (one IIFE script) and
 * page.css (the widget styles page.ts imports). esbuild (npm, pinned in package.json) bundles it:
 * `deno bundle` cannot, as @jupyterlab/rendermime pulls in @jupyterlab/ui-components, whose icons
 * are `.svg` imports that need a text loader.
 *
 * Run alone: `deno run --allow-all test/widgets_browser/bundle.ts OUTDIR`.
 *
 * @module
 */
import * as esbuild from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const HERE = dirname(fileURLToPath(import.meta.url));

/** Bundles the page into `outDir` (created); returns the seconds it took. */
export async function buildPage(outDir: string): Promise<number> {
  const t0 = performance.now();
  await Deno.mkdir(outDir, { recursive: true });
  try {
    const result = await esbuild.build({
      entryPoints: [join(HERE, "page.ts")],
      outfile: join(outDir, "page.js"),
      bundle: true,
      format: "iife",
      platform: "browser",
      target: "es2022",
      logLevel: "silent",
      // @jupyterlab/ui-components imports its icons as text (webpack's raw loader).
      loader: { ".svg": "text" },
      write: true,
    });
    if (result.errors.length) {
      throw new Error(`esbuild: ${result.errors.map((e) => e.text).join("\n")}`);
    }
  } finally {
    await esbuild.stop();
  }
  await Deno.copyFile(join(HERE, "index.html"), join(outDir, "index.html"));
  return (performance.now() - t0) / 1000;
}

if (import.meta.main) {
  const out = Deno.args[0];
  if (!out) throw new Error("usage: bundle.ts OUTDIR");
  const seconds = await buildPage(out);
  console.log(`built ${out} in ${seconds.toFixed(2)} s`);
}
