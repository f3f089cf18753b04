import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import {
  checkFixture,
  type CheckLine,
  fill,
  fnv1a32,
  formatLine,
  loadFixture,
  parseFixture,
  type Section,
  u,
  valueRule,
} from "../../lib/parity/mod.ts";
import { parseParityArgs } from "../../lib/parity/cli.ts";

// The full comparison, both training steps, on the WebAssembly kernels; parity_onednn_test.ts runs
// the same on the oneDNN engine.
await registerFastCpuBackend({ engine: "wasm" });
await initBackend("cpu");

const DIR = new URL("../fixtures/teskd/", import.meta.url).pathname;

Deno.test("generator reproduces the README examples", () => {
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(u("input", 0), 0.6430236228043213);
  const shapes = new Map([["layer1.0.conv1.weight", [64, 64, 3, 3]]]);
  const rule = valueRule("layer1.0.conv1.weight", shapes)!;
  const w = fill("layer1.0.conv1.weight", 124, rule);
  assert.equal(w[123], Math.fround(-0.007920357));
});

/** Runs sections of one fixture through the same checker as the CLI; asserts every line is in tolerance. */
async function expectParity(
  file: string,
  sections: Section[],
  steps?: number,
): Promise<CheckLine[]> {
  const fx = await loadFixture(DIR + file);
  const report = await checkFixture(fx, { sections, steps });
  const bad = report.lines.filter((l) => !l.ok).map(formatLine);
  assert.deepEqual(bad, [], `${file}: out of tolerance`);
  assert.ok(report.lines.length > 0);
  for (const s of sections) {
    const prefix = s === "counts" ? "parameter_count" : s === "train" ? "train_steps" : s;
    assert.ok(report.lines.some((l) => l.quantity.startsWith(prefix)), `${file}: section ${s} ran`);
  }
  return report.lines;
}

const ALL: Section[] = ["parameters", "counts", "eval", "train"];

Deno.test("parity: cifarresnet18 c100 b4 — parameters, counts, eval, two training steps", async () => {
  const lines = await expectParity("cifarresnet18_c100_b4.json", ALL);
  const ev = lines.find((l) => l.quantity === "eval/values_over_max")!;
  assert.equal(ev.count, 8, "all eight outputs compared");
  const q = new Set(lines.map((l) => l.quantity));
  for (
    const k of [
      "outputs/values_over_max",
      "loss/scalar_rel",
      "grad/sumsq_rel",
      "after_step/sample_over_rms",
    ]
  ) {
    assert.ok(q.has(`train_steps[0].${k}`) && q.has(`train_steps[1].${k}`), k);
  }
  const zero = lines.find((l) => l.quantity === "train_steps[0].grad/expected_zero_rms_over_max")!;
  assert.equal(
    zero.count,
    6,
    "the six student-head conv biases feeding a BatchNorm are checked as zero",
  );
});

for (
  const file of [
    "cifarresnet18_c10_b3_alt.json",
    "cifarresnet34_c100_b2.json",
    "seresnet18_c100_b2.json",
    "vgg16_c100_b8.json",
  ]
) {
  Deno.test(`parity: ${file} — parameters, counts, eval, two training steps`, async () => {
    await expectParity(file, ALL);
  });
}

Deno.test("the checker fails on a wrong reference and names the quantity", async () => {
  const fx = await loadFixture(DIR + "vgg16_c100_b8.json");
  fx.parameter_count += 1;
  const name = "layer2.0.weight";
  fx.parameters[name] = { ...fx.parameters[name], sumsq: fx.parameters[name].sumsq * 1.01 };
  const report = await checkFixture(fx, { sections: ["parameters", "counts"] });
  assert.equal(report.ok, false);
  const bad = report.lines.filter((l) => !l.ok);
  assert.deepEqual(bad.map((l) => l.quantity), ["parameters/sumsq_rel", "parameter_count"]);
  assert.equal(bad[0].where, name);
  assert.match(formatLine(bad[0]), /^FAIL parameters\/sumsq_rel .* at layer2\.0\.weight$/);
});

Deno.test("fixture loader and CLI arguments reject bad input clearly", () => {
  assert.throws(() => parseFixture("{", "x.json"), /x\.json: not valid JSON/);
  assert.throws(
    () => parseFixture('{"network": 3}', "x.json"),
    /field "network" missing or not a string/,
  );
  assert.throws(() => parseParityArgs([]), /no fixture given/);
  assert.throws(
    () => parseParityArgs(["--sections", "eval,bogus", "a.json"]),
    /unknown section "bogus"/,
  );
  const a = parseParityArgs(["--backend", "cpu", "--steps", "1", "a.json", "b.json"]);
  assert.deepEqual(a, {
    files: ["a.json", "b.json"],
    backend: "cpu",
    sections: a.sections,
    steps: 1,
  });
  assert.deepEqual(a.sections, ["parameters", "counts", "eval", "train"]);
});
