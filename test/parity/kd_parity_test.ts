// The KD fixtures (official SimKD toolbox, test/fixtures/kd/) on the default CPU engine, oneDNN
// (libdnnl2 is installed wherever the suite runs, as in CI): every section, both training steps.
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import { expectKdParity, KD_CASES } from "./kd_cases.ts";

const info = await registerFastCpuBackend();
await initBackend("cpu");

for (const file of KD_CASES) {
  Deno.test(`kd parity (default engine, oneDNN): ${file}`, async () => {
    assert.equal(
      info.computeEngine,
      "onednn",
      "the default engine is oneDNN where it is installed",
    );
    await expectKdParity(file);
  });
}
