/**
 * The trainer's live controls: requestStop() ends fit() after the current step without an error,
 * and fit() again continues to the uninterrupted result; setLearningRate() overrides the schedule
 * from the next step on.
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { customDistiller } from "../../lib/distill/custom.ts";
import {
  type EpochRecord,
  type StepInfo,
  Trainer,
  type TrainerOptions,
} from "../../lib/train/trainer.ts";
import { TinyNet, TOY_CLASSES, toyCeLoss, ToyData } from "./tiny_model.ts";
import type { Batch } from "../../lib/data/types.ts";

await initBackend("cpu");

const CLASSES = TOY_CLASSES;
const ceLoss = toyCeLoss;

function makeTrainer(extra: Partial<TrainerOptions> = {}): Trainer {
  return new Trainer({
    distiller: customDistiller({
      model: new TinyNet({ seed: 1, classes: CLASSES, student: true }),
      loss: ceLoss,
      heads: (out) => ({ teacher: out.teacher.logits, "8x8": out.students["8x8"]!.logits }),
    }),
    data: new ToyData(24, 8, CLASSES, 3),
    evalData: new ToyData(12, 6, CLASSES, 4),
    optimizer: { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    schedule: { kind: "multistep", baseLr: 0.05, epochs: 3, milestones: [2] },
    seed: 27,
    ...extra,
  });
}

function weights(t: Trainer): Map<string, Float32Array> {
  const sd = t.model.stateDict();
  const out = new Map([...sd].map(([k, v]) => [k, v.dataSync() as Float32Array]));
  tf.dispose([...sd.values()]);
  return out;
}

/** The parts of a record that do not depend on timing. */
function stable(r: EpochRecord): unknown {
  const { trainSeconds: _t, evalSeconds: _e, imagesPerSecond: _i, ...rest } = r;
  return rest;
}

function dispose(t: Trainer): void {
  t.optimizer.dispose();
  t.model.dispose();
}

/** Training data that calls `hook(epoch, batch)` as each batch is fetched (before it is trained). */
class HookedData extends ToyData {
  hook: (epoch: number, batch: number) => void = () => {};
  override async *epoch(e: number): AsyncGenerator<Batch> {
    let i = 0;
    for await (const b of super.epoch(e)) {
      this.hook(e, i++);
      yield b;
    }
  }
}

Deno.test("trainer controls: a stop requested from a timer (a click while fit() awaits) stops after the current step", async () => {
  const ref = makeTrainer();
  await ref.fit();
  assert.equal(ref.stopped, false);
  const steps: StepInfo[] = [];
  let stopAt = 5; // mid epoch 1 (3 steps per epoch)
  const t: Trainer = makeTrainer({
    onStep: (s) => {
      steps.push(s);
      if (s.globalStep === stopAt) setTimeout(() => assert.equal(t.requestStop(), true), 0);
    },
  });
  const history = await t.fit();
  assert.equal(t.stopped, true);
  assert.equal(t.running, false);
  assert.equal(t.globalStep, 5, "the click is handled before the next step");
  assert.equal(history.length, 1, "epoch 1 was cut short: not recorded");
  assert.equal(t.epoch, 1);
  assert.equal(t.model.training, true);
  stopAt = -1;
  assert.equal(t.requestStop(), false, "not running: ignored, the next fit() is not stopped");
  await t.fit();
  assert.equal(t.stopped, false);
  assert.deepEqual(t.history.map(stable), ref.history.map(stable));
  assert.deepEqual(weights(t), weights(ref));
  assert.deepEqual(steps.map((s) => s.globalStep), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  dispose(ref);
  dispose(t);
});

for (const syncEvery of [1, 4]) {
  Deno.test(`trainer controls: stopped mid-epoch with steps queued, fit() again equals an uninterrupted run (syncEvery ${syncEvery})`, async () => {
    // 6 steps per epoch; reading every 4 steps, epoch 1's first three are still queued on the
    // device when the stop comes: they are read and accounted for before fit() returns.
    const data = () => new HookedData(48, 8, CLASSES, 3);
    const ref = makeTrainer({ syncEvery, data: data() });
    await ref.fit();
    const d = data();
    const steps: number[] = [];
    const t = makeTrainer({ syncEvery, data: d, onStep: (s) => void steps.push(s.globalStep) });
    let fired = false;
    d.hook = (e, i) => {
      if (e === 1 && i === 3 && !fired) {
        fired = true;
        assert.equal(t.requestStop(), true);
      }
    };
    const history = await t.fit();
    assert.equal(t.stopped, true);
    assert.equal(t.globalStep, 9, "epoch 1 stopped after its third step");
    assert.equal(t.optimizer.stepCount, 9, "every applied step is counted");
    assert.equal(history.length, 1);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8, 9], "and reported");
    await t.fit();
    assert.equal(t.stopped, false);
    assert.deepEqual(t.history.map(stable), ref.history.map(stable));
    assert.deepEqual(weights(t), weights(ref));
    dispose(ref);
    dispose(t);
  });
}

Deno.test("trainer controls: a stop requested during an epoch's last step stops before its evaluation", async () => {
  const ref = makeTrainer({
    schedule: { kind: "multistep", baseLr: 0.05, epochs: 2, milestones: [] },
  });
  await ref.fit();
  const evaluated: number[] = [];
  const t: Trainer = makeTrainer({
    schedule: { kind: "multistep", baseLr: 0.05, epochs: 2, milestones: [] },
    onStep: (s) => s.globalStep === 3 && t.requestStop(),
    onEpoch: (r) => void evaluated.push(r.epoch),
  });
  await t.fit();
  assert.equal(t.stopped, true);
  assert.equal(t.globalStep, 3);
  assert.equal(t.history.length, 0, "not evaluated yet");
  assert.deepEqual(evaluated, []);
  await assert.rejects(() => t.save("/nonexistent/x"), /half done/);
  await t.fit();
  assert.deepEqual(t.history.map(stable), ref.history.map(stable));
  assert.deepEqual(weights(t), weights(ref));
  dispose(ref);
  dispose(t);
});

Deno.test("trainer controls: setLearningRate takes effect at the next step; undefined gives the schedule back", async () => {
  const lrs: number[] = [];
  const t: Trainer = makeTrainer({
    onStep: (s) => {
      lrs.push(s.lr);
      assert.equal(t.optimizer.lr, s.lr, "the optimizer stepped with the reported rate");
      if (s.globalStep === 2) t.setLearningRate(0.2);
      if (s.globalStep === 5) t.setLearningRate(undefined);
    },
  });
  await t.fit();
  // Steps 1–2 scheduled (0.05), 3–5 overridden (0.2), then the schedule again (0.05; ×0.1 from
  // the milestone at epoch 2).
  const decayed = 0.05 * 0.1;
  assert.deepEqual(lrs, [0.05, 0.05, 0.2, 0.2, 0.2, 0.05, decayed, decayed, decayed]);
  assert.deepEqual(t.history.map((r) => r.lr), [0.05, 0.2, decayed]);
  assert.equal(t.learningRateOverride, undefined);
  assert.throws(() => t.setLearningRate(-1), RangeError);
  assert.throws(() => t.setLearningRate(NaN), RangeError);
  dispose(t);

  // The override changes the update: a run at 0.2 from step 3 differs from the scheduled one.
  const a = makeTrainer({ onStep: (s) => s.globalStep === 2 && a.setLearningRate(0.2) });
  const b = makeTrainer();
  await a.fit({ epochs: 1 });
  await b.fit({ epochs: 1 });
  assert.notDeepEqual(weights(a), weights(b));
  dispose(a);
  dispose(b);
});
