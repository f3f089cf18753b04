/**
 * The KD fixture cases of the methods implemented so far, and the assertion both CPU engines' parity
 * tests make on each: every section (parameters, counts, eval, both training steps) in tolerance, and
 * every section actually compared.
 */
import assert from "node:assert/strict";
import { checkKdFixture, type KdFixture } from "../../lib/parity/kd_check.ts";
import { formatLine } from "../../lib/parity/tally.ts";

/** Fixture files of kd, FitNet (`hint`), SimKD and the baseline. */
export const KD_CASES = [
  "baseline_resnet8x4_b4.json",
  "baseline_resnet32x4_b8.json",
  "resnet32x4_resnet8x4_kd_b4.json",
  "vgg13_vgg8_kd_b8.json",
  "resnet32x4_ShuffleV2_kd_b4.json",
  "resnet32x4_resnet8x4_hint_b4.json",
  "resnet32x4_ShuffleV2_hint_b4.json",
  "resnet32x4_resnet8x4_simkd_b4.json",
  "vgg13_vgg8_simkd_b8.json",
  "resnet32x4_ShuffleV2_simkd_b4.json",
] as const;

const DIR = new URL("../fixtures/kd/", import.meta.url).pathname;

/** Reads a KD fixture of this folder. */
export async function loadKdFixture(file: string): Promise<KdFixture> {
  return JSON.parse(await Deno.readTextFile(DIR + file)) as KdFixture;
}

/** Checks every section of a case and asserts that all of it was compared and is in tolerance. */
export async function expectKdParity(file: string): Promise<void> {
  const fx = await loadKdFixture(file);
  const report = await checkKdFixture(fx);
  const bad = report.lines.filter((l) => !l.ok).map(formatLine);
  assert.deepEqual(bad, [], `${file}: out of tolerance`);
  const q = new Set(report.lines.map((l) => l.quantity));
  for (
    const want of [
      "parameters/sumsq_rel",
      "parameter_count",
      "optimizer_params",
      "eval/values_over_max",
      "eval/scalar_rel",
      "train_steps[0].outputs/values_over_max",
      "train_steps[0].loss/scalar_rel",
      "train_steps[0].grad/sumsq_rel",
      "train_steps[0].after_step/sample_over_rms",
      "train_steps[1].grad/sample_over_rms",
      "train_steps[1].after_step/sumsq_rel",
    ]
  ) assert.ok(q.has(want), `${file}: ${want} compared`);
  // The teacher's entries are among the after-step states compared (it must come out unchanged).
  if (fx.teacher && fx.method !== "baseline") {
    const after = report.lines.find((l) => l.quantity === "train_steps[1].after_step/sumsq_rel")!;
    const teacherEntries = Object.keys(fx.train_steps[1].after_step)
      .filter((n) => n.startsWith("teacher.")).length;
    assert.ok(
      teacherEntries > 0 && after.count >= teacherEntries,
      `${file}: teacher state compared`,
    );
  }
}
