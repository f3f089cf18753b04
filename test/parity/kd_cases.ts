/**
 * The KD fixture cases of the methods implemented so far, and the assertion both CPU engines' parity
 * tests make on each: every section (parameters, counts, eval, both training steps) in tolerance, and
 * every section actually compared.
 */
import assert from "node:assert/strict";
import { checkKdFixture, type KdFixture } from "../../lib/parity/kd_check.ts";
import { formatLine } from "../../lib/parity/tally.ts";

/** Fixture files of every method (the toolbox's nine, ATSC) and the baseline. */
export const KD_CASES = [
  "baseline_resnet8x4_b4.json",
  "baseline_resnet32x4_b8.json",
  "resnet32x4_resnet8x4_kd_b4.json",
  "vgg13_vgg8_kd_b8.json",
  "resnet32x4_ShuffleV2_kd_b4.json",
  "resnet32x4_resnet8x4_hint_b4.json",
  "resnet32x4_ShuffleV2_hint_b4.json",
  "resnet32x4_resnet8x4_attention_b4.json",
  "resnet32x4_ShuffleV2_attention_b4.json",
  "resnet32x4_resnet8x4_similarity_b4.json",
  "resnet32x4_resnet8x4_vid_b4.json",
  "resnet32x4_resnet8x4_srrl_b4.json",
  "resnet32x4_resnet8x4_crd_b4.json",
  "resnet32x4_ShuffleV2_crd_b4.json",
  "resnet32x4_resnet8x4_semckd_b8.json",
  "vgg13_vgg8_semckd_b8.json",
  "resnet32x4_resnet8x4_simkd_b4.json",
  "vgg13_vgg8_simkd_b8.json",
  "resnet32x4_ShuffleV2_simkd_b4.json",
  "resnet32x4_resnet8x4_atsc_b4.json",
] as const;

const DIR = new URL("../fixtures/kd/", import.meta.url).pathname;

/**
 * The ShuffleV2 student's training-step tolerances, recalibrated. The fixtures' tolerance is 10× the
 * drift of one PyTorch float32 run from the float64 reference. In these cases (the same student
 * weights and input) one ReLU input, `layer2.1`'s first BatchNorm output at [3, 5, 4, 0], is
 * −2.19e-7 in float64 on activations of size ~1, below what any float32 forward resolves (ours and
 * PyTorch's both err by ~8e-7 there). Whether the ReLU passes a gradient is then a coin toss, and
 * everything below it follows. The recorded run landed on the right side (−4.2e-7: PyTorch 1.13, 2
 * threads, mkldnn; step-0 gradient `sumsq_rel` drift 5.14e-4); PyTorch float32 with 1 thread (+3.1e-7)
 * or without mkldnn (+5.4e-7) lands on the other, with a drift of 6.25e-3 and 6.27e-3, and fails the
 * recorded tolerance itself. Ours lands at +6.9e-8 on both engines (every op as accurate as PyTorch's
 * float32: 1×1 convs 0.9–2.8e-7, depthwise 4e-8, BatchNorm 2.5e-8 relative), and with that single
 * element set to its float64 value every section passes at 1.0× PyTorch's recorded drift. So the
 * training-step tolerances of these cases are scaled by the worst PyTorch float32 drift seen over
 * those configurations divided by the recorded one (6.27e-3 / 5.14e-4 ≈ 12.2); eval and parameters
 * keep theirs. (Measured by a float64 PyTorch restatement of ShuffleV2 with the fixture weights,
 * which reproduces the fixture's gradients to 1.2e-7.)
 */
const SHUFFLEV2_STEP_DRIFT_SCALE = 12.2;

/**
 * vgg13 → vgg8 SemCKD: the step-1 output tolerances, recalibrated per metric. The mechanism, as for
 * ShuffleV2: at step 0 two ReLU inputs lie below float32's resolution (`regressor10`'s first
 * BatchNorm output at NCHW [6, 14, 1, 4] is −7.96e-9 in float64 on a channel reaching ~2.1;
 * `regressor30`'s second at [5, 244, 0, 1] is −2.06e-7 against ~1.6). Both our engines pass gradient
 * there, the float64 reference does not; a float64 replay of the official code with those two
 * decisions taken our way matches our step-1 outputs to 3e-6 relative RMS, 0.03× the unscaled
 * tolerance. SemCKD's Gram matrices
 * are unnormalised and beta is 400, so step 0's gradient is large and ill-conditioned, and step 1's
 * forward (projected pairs, deepest student maps) magnifies how the step-0 update was rounded. The
 * recorded drift is that of PyTorch 1.13 with 2 threads and mkldnn (replaying the official code on
 * the fixture's values reproduces every recorded drift to 1.00×, and the float64 reference to 0).
 * The same code in float32 with 1 thread (mkldnn on) lands at `sumsq_rel` 4.80e-6 at
 * `semckd_projected.30` (12.6× the recorded drift, over the fixture's tolerance of 3.80e-6: the
 * quantity and place where ours fails it) and `sample_over_rms` 1.42e-4 (3.3×); with mkldnn off (1
 * or 2 threads alike; convolutions then go through the BLAS gemm) at `sumsq_rel` 1.93e-5 (50.7×),
 * `sample_over_rms` 4.85e-3 (111×), `sum_over_sqrt_n_sumsq` 4.99e-6 (40.2×), `values_over_max`
 * 8.00e-4 (25.9×); with 4 threads and mkldnn as with 2 (≤ 1.07×). Each step-1 output tolerance is
 * scaled by the worst drift over the mkldnn runs (1, 2, 4 threads: the build the fixture was recorded
 * with) divided by the recorded one, so it becomes 10× the worst of those PyTorch float32 drifts. The
 * reference-BLAS runs without mkldnn would allow up to 111×; they are left out to keep the check
 * tight. Ours lands at 15.7–16.2× the recorded drift in the two metrics that failed (oneDNN: 6.11e-6,
 * 7.00e-4; WebAssembly: 5.98e-6, 7.06e-4), inside 10× the 1-thread drift. Everything else keeps the
 * fixture's tolerance: there ours is within 3.5× the recorded drift, where PyTorch without mkldnn
 * reaches 8.9× (step-0 gradients) and 12.1× (step-0 after-step states).
 */
const VGG_SEMCKD_STEP1_OUTPUT_DRIFT_SCALE: Readonly<Record<string, number>> = {
  "train_steps[1].outputs/sumsq_rel": 12.6,
  "train_steps[1].outputs/sample_over_rms": 3.3,
  "train_steps[1].outputs/sum_over_sqrt_n_sumsq": 6.7,
  "train_steps[1].outputs/values_over_max": 3.7,
};

/** Per case: one scale for every training-step tolerance, or scales of named tolerances. */
const RECALIBRATED: Readonly<Record<string, number | Readonly<Record<string, number>>>> = {
  "resnet32x4_ShuffleV2_kd_b4.json": SHUFFLEV2_STEP_DRIFT_SCALE,
  "resnet32x4_ShuffleV2_hint_b4.json": SHUFFLEV2_STEP_DRIFT_SCALE,
  "resnet32x4_ShuffleV2_simkd_b4.json": SHUFFLEV2_STEP_DRIFT_SCALE,
  "resnet32x4_ShuffleV2_attention_b4.json": SHUFFLEV2_STEP_DRIFT_SCALE,
  "resnet32x4_ShuffleV2_crd_b4.json": SHUFFLEV2_STEP_DRIFT_SCALE,
  "vgg13_vgg8_semckd_b8.json": VGG_SEMCKD_STEP1_OUTPUT_DRIFT_SCALE,
};

/** Reads a KD fixture of this folder, with the recalibrated tolerances where there are any. */
export async function loadKdFixture(file: string): Promise<KdFixture> {
  const fx = JSON.parse(await Deno.readTextFile(DIR + file)) as KdFixture;
  const scale = RECALIBRATED[file];
  if (typeof scale === "number") {
    for (const k of Object.keys(fx.tolerance)) {
      if (k.startsWith("train_steps[")) fx.tolerance[k] *= scale;
    }
  } else if (scale !== undefined) {
    for (const [k, s] of Object.entries(scale)) {
      // A renamed key would otherwise leave the tolerance silently unscaled.
      if (!(k in fx.tolerance)) throw new Error(`${file}: no tolerance "${k}" to recalibrate`);
      fx.tolerance[k] *= s;
    }
  }
  return fx;
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
  // ATSC's second optimizer: its gradient and the anchor W0 (kept at the loaded weights) compared.
  if (fx.method === "atsc") {
    for (
      const want of [
        "train_steps[1].grad_last/sumsq_rel",
        "train_steps[1].after_step.anchor/sumsq_rel",
      ]
    ) {
      assert.ok(q.has(want), `${file}: ${want} compared`);
    }
  }
  // The teacher's entries are among the after-step states compared (unchanged; ATSC's adapted).
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
