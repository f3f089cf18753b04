import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { customDistiller, type LossResult } from "../../lib/distill/custom.ts";
import {
  type EpochRecord,
  NonFiniteLossError,
  type StepInfo,
  Trainer,
  type TrainerOptions,
} from "../../lib/train/trainer.ts";
import { KERNEL_INTERRUPT_SIGNAL } from "../../lib/jupyter.ts";
import { TinyNet, type TinyOutput, TOY_CLASSES, toyCeLoss, ToyData } from "./tiny_model.ts";
import { createTeacher } from "../../lib/models/zoo.ts";
import { resolveMethodConfig } from "../../lib/distill/registry.ts";
import { teskd } from "../../lib/distill/teskd.ts";

await initBackend("cpu");

const CLASSES = TOY_CLASSES;
const ceLoss = toyCeLoss;

function heads(out: TinyOutput): Record<string, tf.Tensor2D> {
  const h: Record<string, tf.Tensor2D> = { teacher: out.teacher.logits };
  if (out.students["8x8"]) h["8x8"] = out.students["8x8"].logits;
  return h;
}

function makeTrainer(
  extra: Partial<TrainerOptions> & { loss?: typeof ceLoss } = {},
  modelSeed = 1,
): Trainer {
  const { loss, ...rest } = extra;
  return new Trainer({
    distiller: customDistiller({
      model: new TinyNet({ seed: modelSeed, classes: CLASSES, student: true }),
      loss: loss ?? ceLoss,
      heads,
    }),
    data: new ToyData(24, 8, CLASSES, 3),
    evalData: new ToyData(12, 6, CLASSES, 4),
    optimizer: { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    schedule: { kind: "multistep", baseLr: 0.05, epochs: 3, milestones: [2] },
    seed: 27,
    ...rest,
  });
}

/** The CE loss, made NaN at its `poison`-th training call (batches of 8; -1: never). */
function poisonedLoss(poison: number) {
  const state = {
    poison,
    calls: 0,
    loss: (out: TinyOutput, y: tf.Tensor1D): LossResult => {
      const l = ceLoss(out, y);
      if (out.teacher.logits.shape[0] === 8 && ++state.calls === state.poison) {
        return { total: tf.mul(l.total, NaN) as tf.Scalar, terms: l.terms };
      }
      return l;
    },
  };
  return state;
}

function weights(t: Trainer): Map<string, Float32Array> {
  const sd = t.model.stateDict();
  const out = new Map([...sd].map(([k, v]) => [k, v.dataSync() as Float32Array]));
  tf.dispose([...sd.values()]);
  return out;
}

function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, k);
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

Deno.test("trainer: epochs, per-epoch averages (not the last batch), accuracies, lr, no tensor leak", async () => {
  const steps: StepInfo[] = [];
  const stepTensors: number[] = [];
  const epochTensors: number[] = [];
  const t = makeTrainer({
    onStep: (s) => {
      steps.push(s);
      stepTensors.push(tf.memory().numTensors);
    },
    onEpoch: () => {
      epochTensors.push(tf.memory().numTensors);
    },
  });
  const history = await t.fit();
  assert.equal(history.length, 3);
  assert.equal(steps.length, 9);
  // After the first step created the momentum buffers, the tensor count never moves.
  assert.ok(stepTensors.slice(1).every((n) => n === stepTensors[1]), `${stepTensors}`);
  assert.ok(
    epochTensors.every((n) => n === stepTensors[1]),
    `${epochTensors} vs ${stepTensors[1]}`,
  );
  assert.deepEqual(history.map((r) => r.lr), [0.05, 0.05, 0.005000000000000001]);
  for (const r of history) {
    const mine = steps.filter((s) => s.epoch === r.epoch);
    const n = mine.reduce((a, s) => a + s.images, 0);
    assert.equal(r.images, 24);
    assert.equal(r.steps, 3);
    for (const term of ["ce_teacher", "ce_8x8"]) {
      const mean = mine.reduce((a, s) => a + s.terms[term] * s.images, 0) / n;
      assert.ok(Math.abs(r.terms[term] - mean) < 1e-6, `${term}: ${r.terms[term]} vs ${mean}`);
    }
    assert.ok(Math.abs(r.loss - (r.terms.ce_teacher + r.terms.ce_8x8)) < 1e-5);
    assert.deepEqual(Object.keys(r.eval).sort(), ["8x8", "teacher"]);
    for (const h of Object.values(r.eval)) {
      assert.ok(h.top1 >= 0 && h.top1 <= h.top5 && h.top5 <= 100);
      assert.equal((h.top1 * 12 / 100) % 1 < 1e-9 || (h.top1 * 12 / 100) % 1 > 1 - 1e-9, true);
    }
    assert.ok(Number.isFinite(r.evalLoss!));
    assert.ok(r.imagesPerSecond > 0 && r.trainSeconds > 0);
    assert.ok(steps.every((s) => s.gradNorm > 0 && Number.isFinite(s.gradNorm)));
  }
  assert.ok(history[2].loss < history[0].loss, `loss ${history.map((r) => r.loss)}`);
  assert.equal(history[2].globalStep, 9);
  dispose(t);
});

Deno.test("trainer: deterministic, and an abort mid-epoch resumes to the identical result", async () => {
  const ref = makeTrainer();
  await ref.fit();

  const ctrl = new AbortController();
  const t = makeTrainer({ onStep: (s) => s.globalStep === 4 && ctrl.abort() });
  await assert.rejects(() => t.fit({ signal: ctrl.signal }), (e: unknown) => {
    assert.equal((e as Error).name, "AbortError");
    return true;
  });
  assert.equal(t.epoch, 1); // epoch 0 done, epoch 1 interrupted after its first step
  assert.equal(t.globalStep, 4);
  assert.equal(t.history.length, 1);
  assert.equal(t.model.training, true);
  await t.fit();
  assert.deepEqual(t.history.map(stable), ref.history.map(stable));
  assertSameWeights(weights(t), weights(ref));
  dispose(ref);
  dispose(t);
});

Deno.test("trainer: the kernel's interrupt signal (well-known global getter) stops fit by default", async () => {
  const ctrl = new AbortController();
  Object.defineProperty(globalThis, KERNEL_INTERRUPT_SIGNAL, {
    get: () => ctrl.signal,
    configurable: true,
  });
  try {
    const t = makeTrainer({
      onStep: (s) => s.globalStep === 2 && ctrl.abort(new Error("interrupted")),
    });
    await assert.rejects(() => t.fit(), /interrupted/);
    assert.equal(t.globalStep, 2);
    dispose(t);
  } finally {
    delete (globalThis as unknown as Record<symbol, unknown>)[KERNEL_INTERRUPT_SIGNAL];
  }
});

Deno.test("trainer: an abort fired by an event (timer or message) while training stops it between steps", async () => {
  const ctrl = new AbortController();
  const t = makeTrainer({ onStep: (s) => s.globalStep === 2 && setTimeout(() => ctrl.abort(), 0) });
  await assert.rejects(
    () => t.fit({ signal: ctrl.signal }),
    (e: unknown) => (e as Error).name === "AbortError",
  );
  assert.ok(t.globalStep >= 2 && t.globalStep <= 3, `stopped at step ${t.globalStep}`);
  dispose(t);
  // The same with a message event, as a kernel's interrupt request arrives.
  const ctrl2 = new AbortController();
  const { port1, port2 } = new MessageChannel();
  port1.onmessage = () => ctrl2.abort();
  const t2 = makeTrainer({ onStep: (s) => s.globalStep === 2 && port2.postMessage("interrupt") });
  await assert.rejects(
    () => t2.fit({ signal: ctrl2.signal }),
    (e: unknown) => (e as Error).name === "AbortError",
  );
  assert.ok(t2.globalStep >= 2 && t2.globalStep <= 3, `stopped at step ${t2.globalStep}`);
  port1.close();
  dispose(t2);
});

Deno.test("trainer: a NaN loss stops with a clear error and loses nothing", async () => {
  const dir = await Deno.makeTempDir();
  const poisoned = poisonedLoss(5); // the 5th training step (epoch 1, step 1) produces NaN
  let before: Map<string, Float32Array> | undefined;
  let ckptAfterEpoch0: Uint8Array | undefined;
  const t = makeTrainer({
    checkpointDir: dir,
    loss: poisoned.loss,
    onStep: (s) => {
      if (s.globalStep === 4) before = weights(t);
    },
    onEpoch: async () => {
      ckptAfterEpoch0 ??= await Deno.readFile(join(dir, "last.safetensors"));
    },
  });
  const count0 = tf.memory().numTensors;
  await assert.rejects(() => t.fit(), (e: unknown) => {
    assert.ok(e instanceof NonFiniteLossError);
    assert.match(
      e.message,
      /at epoch 1, step 1 \(global step 4\), the loss is not finite \(total NaN/,
    );
    assert.match(e.message, /The step was not applied/);
    assert.equal(e.epoch, 1);
    return true;
  });
  // Weights, BatchNorm statistics and counters are those before the bad step; nothing leaked.
  assertSameWeights(weights(t), before!);
  assert.equal(t.globalStep, 4);
  assert.ok(tf.memory().numTensors <= count0 + t.optimizer.params.size);
  assert.deepEqual(await Deno.readFile(join(dir, "last.safetensors")), ckptAfterEpoch0);
  // Training can go on once the cause is gone.
  poisoned.poison = -1;
  await t.fit();
  assert.equal(t.history.length, 3);
  dispose(t);
});

Deno.test("trainer: resume from a checkpoint is bit-for-bit the uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  const copy = join(dir, "after-epoch-1.safetensors");
  const a = makeTrainer({
    checkpointDir: dir,
    onEpoch: async (r) => {
      if (r.epoch === 1) await Deno.copyFile(join(dir, "last.safetensors"), copy);
    },
  });
  await a.fit();
  const b = makeTrainer({}, 42); // other initial weights: everything must come from the file
  await b.resume(copy);
  assert.equal(b.epoch, 2);
  assert.equal(b.globalStep, 6);
  assert.deepEqual(b.history.map(stable), a.history.slice(0, 2).map(stable));
  await b.fit();
  assertSameWeights(weights(b), weights(a));
  assert.deepEqual(stable(b.history[2]), stable(a.history[2]));
  dispose(a);
  dispose(b);
});

Deno.test("trainer: the real TESKD model and loss (tiny width) train without leaking tensors", async () => {
  const counts: number[] = [];
  const backbone = createTeacher("cifarresnet18", {
    numClasses: 4,
    seed: 1,
    widthMultiplier: 1 / 64,
  });
  const distiller = teskd.build(
    { student: backbone, inputSize: 8, seed: 2 },
    resolveMethodConfig("teskd") as typeof teskd.defaults,
  );
  const t = new Trainer({
    distiller,
    data: new ToyData(12, 4, 4, 5),
    evalData: new ToyData(4, 4, 4, 6),
    optimizer: { momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
    schedule: { baseLr: 0.1, epochs: 2 },
    onStep: () => counts.push(tf.memory().numTensors),
    onEpoch: () => {
      counts.push(tf.memory().numTensors);
    },
  });
  await t.fit();
  assert.equal(counts.length, 8);
  assert.ok(counts.slice(1).every((n) => n === counts[1]), `${counts}`);
  const r = t.history[1];
  assert.deepEqual(Object.keys(r.eval), ["teacher", "8x8", "16x16", "32x32"]);
  assert.equal(r.deployedHead, "teacher");
  for (const k of ["ce_sum", "kd_sum", "fea_sum", "ce_32x32", "kd_16x16", "fea_8x8"]) {
    assert.ok(Number.isFinite(r.terms[k]), k);
  }
  t.optimizer.dispose();
  distiller.dispose();
});

Deno.test("trainer: a per-step cosine schedule with warm-up sets the rate of every step", async () => {
  const lrs: number[] = [];
  const schedule = {
    kind: "cosine" as const,
    baseLr: 0.1,
    epochs: 2,
    warmupEpochs: 1,
    perStep: true,
  };
  const t = makeTrainer({ schedule, evalData: undefined, onStep: (s) => lrs.push(s.lr) });
  await t.fit();
  // 3 steps per epoch: warm-up 0, 1/3, 2/3 of 0.1; then cosine over epoch 1: t = 1, 4/3, 5/3
  const cos = (t: number) => 0.05 * (1 + Math.cos(Math.PI * (t - 1)));
  const want = [0, 0.1 / 3, 0.2 / 3, cos(1), cos(4 / 3), cos(5 / 3)];
  lrs.forEach((lr, i) =>
    assert.ok(Math.abs(lr - want[i]) < 1e-12, `step ${i}: ${lr} vs ${want[i]}`)
  );
  assert.deepEqual(t.history[1].eval, {});
  assert.equal(t.history[0].lr, 0);
  dispose(t);
});

Deno.test("trainer: reading every 4 steps records the same history as reading every step", async () => {
  const stepsA: StepInfo[] = [];
  const stepsB: StepInfo[] = [];
  const a = makeTrainer({ onStep: (s) => void stepsA.push(s) });
  const b = makeTrainer({ syncEvery: 4, onStep: (s) => void stepsB.push(s) });
  const ha = await a.fit();
  const hb = await b.fit();
  assert.deepEqual(hb.map(stable), ha.map(stable));
  const strip = ({ imagesPerSecond: _i, ...rest }: StepInfo) => rest;
  assert.deepEqual(stepsB.map(strip), stepsA.map(strip));
  assert.throws(() => makeTrainer({ syncEvery: 0 }), /syncEvery must be an integer ≥ 1, got 0/);
  dispose(a);
  dispose(b);
});

Deno.test("trainer: reading every 4 steps, a NaN step and the steps queued after it are not applied", async () => {
  const poisoned = poisonedLoss(5); // the 5th training step (epoch 1, step 1); 4 and 5 are queued together
  let before: Map<string, Float32Array> | undefined;
  let momentumBefore: Map<string, Float32Array> | undefined;
  const t = makeTrainer({
    syncEvery: 4,
    loss: poisoned.loss,
    onStep: (s) => {
      if (s.globalStep !== 4) return;
      // reported when the queued steps are read: by then steps 5 and 6 ran on the device
      before = weights(t);
      const st = t.optimizer.state();
      momentumBefore = new Map(
        [...st.momentumBuffers].map(([k, v]) => [k, v.dataSync() as Float32Array]),
      );
      tf.dispose([...st.momentumBuffers.values()]);
    },
  });
  await assert.rejects(() => t.fit(), (e: unknown) => {
    assert.ok(e instanceof NonFiniteLossError);
    assert.match(
      e.message,
      /at epoch 1, step 1 \(global step 4\), the loss is not finite \(total NaN/,
    );
    return true;
  });
  assert.ok(poisoned.calls >= 6, "the step after the bad one was queued before the read");
  assertSameWeights(weights(t), before!);
  const st = t.optimizer.state();
  for (const [k, v] of st.momentumBuffers) {
    assert.deepEqual(v.dataSync(), momentumBefore!.get(k), k);
  }
  tf.dispose([...st.momentumBuffers.values()]);
  assert.equal(t.globalStep, 4);
  assert.equal(t.optimizer.stepCount, 4);
  // Training goes on from there, as after a bad step read at once.
  poisoned.poison = -1;
  await t.fit();
  assert.equal(t.history.length, 3);
  assert.equal(t.globalStep, 9);
  dispose(t);
});

Deno.test("trainer: the kernel's interrupt between kernels stops a step before its update; fit() goes on as if never stopped", async () => {
  const CHECK = Symbol.for("teskd.kernel.interruptCheck");
  let flag = false;
  const g = globalThis as unknown as Record<symbol, unknown>;
  g[CHECK] = () => {
    if (flag) throw new Error("KeyboardInterrupt (test)");
  };
  try {
    let calls = 0;
    let before: Map<string, Float32Array> | undefined;
    const t = makeTrainer({
      // the interrupt arrives inside the 5th step's forward pass, between two kernels
      loss: (out: TinyOutput, y: tf.Tensor1D): LossResult => {
        if (out.teacher.logits.shape[0] === 8 && ++calls === 5) flag = true;
        return ceLoss(out, y);
      },
      onStep: (s) => {
        if (s.globalStep === 4) before = weights(t);
      },
    });
    await assert.rejects(() => t.fit(), /KeyboardInterrupt \(test\)/);
    flag = false; // as the kernel clears it when the next cell starts
    assertSameWeights(weights(t), before!);
    assert.equal(t.globalStep, 4);
    await t.fit();
    const whole = makeTrainer();
    await whole.fit();
    assert.deepEqual(t.history.map(stable), whole.history.map(stable));
    assertSameWeights(weights(t), weights(whole));
    dispose(t);
    dispose(whole);
  } finally {
    delete g[CHECK];
  }
});
