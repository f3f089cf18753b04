// Ablations over the parameters of teacher→student methods: any method field is a factor (SimKD's
// projector factor, CRD's number of negatives, ATSC's anchor weight), each run really trains with
// the value it is labelled with, and mean ± std is taken over seeds.
import assert from "node:assert/strict";
import { join } from "node:path";
import { meanStd, runAblation } from "../../lib/analysis/ablation.ts";
import { main } from "../../lib/train/cli.ts";
import type { TrainConfig } from "../../lib/train/config.ts";
import type { TrainConfigInput } from "../../lib/train/config.ts";
import { TINY_RUN } from "../train/tiny_run.ts";

const quiet = () => {};

/** A run on 32×32 synthetic images (the toolbox networks' input size), one short epoch. */
const SMALL: TrainConfigInput = {
  data: { ...TINY_RUN.data, synthetic: { size: 32, train: 16, test: 8, classes: 4 } },
  backend: "cpu",
  schedule: { epochs: 1, milestones: [] },
};

/** Pretrains a resnet8 teacher with the baseline through the CLI; returns its deployed checkpoint. */
async function pretrainedTeacher(dir: string): Promise<{ network: string; checkpoint: string }> {
  const out = join(dir, "teacher");
  const cfg = join(dir, "teacher.json");
  await Deno.writeTextFile(
    cfg,
    JSON.stringify({ ...SMALL, method: "baseline", model: { network: "resnet8" }, outDir: out }),
  );
  const lines: string[] = [];
  assert.equal(await main(["--config", cfg], { log: (l) => lines.push(l) }), 0, lines.join("\n"));
  return { network: "resnet8", checkpoint: join(out, "deployed.safetensors") };
}

Deno.test("ablation: any field of a teacher→student method is a factor, with mean ± std over seeds", async () => {
  const dir = await Deno.makeTempDir();
  const teacher = await pretrainedTeacher(dir);
  const grids: [string, Record<string, unknown[]>][] = [
    ["simkd", { "method.factor": [2, 8], seed: [1, 2] }],
    ["crd", { "method.nceK": [4, 8], seed: [1, 2] }],
    ["atsc", { "method.w": [0, 10], seed: [1, 2] }],
  ];
  for (const [method, factors] of grids) {
    const path = Object.keys(factors)[0];
    const field = path.slice("method.".length);
    const t = await runAblation({
      base: { ...SMALL, method, model: { network: "resnet8", teacher } },
      factors,
      dir: join(dir, method),
      log: quiet,
    });
    assert.equal(t.numRows(), 4, method);
    assert.deepEqual(t.array("state"), ["finished", "finished", "finished", "finished"], method);
    assert.deepEqual(t.array("method"), [method, method, method, method]);
    // Each run trained with the value its row carries: its saved config says so.
    for (let i = 0; i < 4; i++) {
      const cfg = JSON.parse(
        await Deno.readTextFile(join(t.get("dir", i) as string, "config.json")),
      ) as TrainConfig;
      const method = cfg.method as unknown as Record<string, unknown>;
      assert.equal(method[field], t.get(path, i), `${path} of run ${i}`);
      assert.equal(cfg.seed, t.get("seed", i));
    }
    const ms = meanStd(t, path, "final_top1");
    assert.deepEqual(ms.array(path), factors[path], method);
    assert.deepEqual(ms.array("n"), [2, 2], method);
    for (let g = 0; g < 2; g++) {
      const rows = [0, 1, 2, 3].filter((i) => t.get(path, i) === factors[path][g]);
      const v = rows.map((i) => t.get("final_top1", i) as number);
      const mean = (v[0] + v[1]) / 2;
      assert.ok(Math.abs((ms.get("mean", g) as number) - mean) < 1e-9, `${method} mean`);
      assert.ok(
        Math.abs((ms.get("std", g) as number) - Math.abs(v[0] - v[1]) / Math.SQRT2) < 1e-9,
        `${method} std`,
      );
    }
  }
  // A field the method does not have is refused before anything trains.
  await assert.rejects(
    () =>
      runAblation({
        base: { ...SMALL, method: "crd", model: { network: "resnet8", teacher } },
        factors: { "method.factor": [2] },
        dir: join(dir, "bad"),
        log: quiet,
      }),
    /unknown field "factor" for method "crd"/,
  );
});
