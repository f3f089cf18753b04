import assert from "node:assert/strict";
import { learningRate, type ScheduleConfig } from "../../lib/train/schedule.ts";

const near = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);

Deno.test("multistep: ×0.1 at epochs 100 and 150 (0-based epochs)", () => {
  const cfg: ScheduleConfig = { kind: "multistep", baseLr: 0.1, epochs: 200 };
  near(learningRate(cfg, 0), 0.1);
  near(learningRate(cfg, 99), 0.1);
  near(learningRate(cfg, 100), 0.01);
  near(learningRate(cfg, 149), 0.01);
  near(learningRate(cfg, 150), 0.001);
  near(learningRate(cfg, 199), 0.001);
  near(learningRate({ ...cfg, milestones: [2], gamma: 0.5 }, 3), 0.05);
});

Deno.test("cosine: half-cosine from baseLr to minLr over the epochs", () => {
  const cfg: ScheduleConfig = { kind: "cosine", baseLr: 0.1, epochs: 200 };
  near(learningRate(cfg, 0), 0.1);
  near(learningRate(cfg, 50), 0.1 * (1 + Math.SQRT1_2) / 2); // cos(π/4)
  near(learningRate(cfg, 100), 0.05);
  near(learningRate({ ...cfg, minLr: 0.02 }, 100), 0.06);
  // per step: epoch 100 + 1/2 of an epoch of 4 steps -> t = 100.5
  near(
    learningRate({ ...cfg, perStep: true }, 100, 2, 4),
    0.05 * (1 + Math.cos(Math.PI * 100.5 / 200)),
  );
});

Deno.test("linear warm-up then the main schedule; per-epoch and per-step", () => {
  const ms: ScheduleConfig = { baseLr: 0.1, epochs: 200, warmupEpochs: 5 };
  near(learningRate(ms, 0), 0);
  near(learningRate(ms, 2), 0.04);
  near(learningRate(ms, 5), 0.1);
  near(learningRate({ ...ms, perStep: true }, 2, 50, 100), 0.05);
  near(learningRate({ ...ms, warmupStartFactor: 0.5 }, 0), 0.05);
  // cosine after a warm-up of 10 out of 110 epochs: epoch 60 is halfway
  const cos: ScheduleConfig = { kind: "cosine", baseLr: 0.1, epochs: 110, warmupEpochs: 10 };
  near(learningRate(cos, 60), 0.05);
  near(learningRate(cos, 10), 0.1);
  near(learningRate({ kind: "constant", baseLr: 0.3, epochs: 3 }, 2), 0.3);
});

Deno.test("schedules reject inconsistent settings with clear errors", () => {
  assert.throws(() => learningRate({ baseLr: -1, epochs: 3 }, 0), /baseLr must be/);
  assert.throws(() => learningRate({ baseLr: 0.1, epochs: 3, warmupEpochs: 3 }, 0), /warmupEpochs/);
  assert.throws(
    () => learningRate({ baseLr: 0.1, epochs: 9, milestones: [5, 2] }, 0),
    /milestones/,
  );
  assert.throws(() => learningRate({ baseLr: 0.1, epochs: 3, perStep: true }, 0), /stepsPerEpoch/);
  assert.throws(() => learningRate({ baseLr: 0.1, epochs: 3 }, 1.5), /epoch must be an integer/);
});
