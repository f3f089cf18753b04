// The KD fixtures (official SimKD toolbox, test/fixtures/kd/) on the WebAssembly engine: every
// section, both training steps.
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import { expectKdParity, KD_CASES } from "./kd_cases.ts";

const info = await registerFastCpuBackend({ engine: "wasm" });
await initBackend("cpu");

for (const file of KD_CASES) {
  Deno.test(`kd parity (wasm): ${file}`, async () => {
    assert.notEqual(info.computeEngine, "onednn");
    await expectKdParity(file);
  });
}
