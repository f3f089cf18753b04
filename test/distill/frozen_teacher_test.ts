// A frozen teacher really is frozen: trained with `kd`, its tensors come out bit-identical, its
// BatchNorm stays in inference mode, the optimizer holds nothing of it, and its forward pass runs
// outside the gradient tape (so no gradient is computed for it, not even one thrown away).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { createExperiment } from "../../lib/train/experiment.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { createNetwork } from "../../lib/models/registry.ts";
import type { Network } from "../../lib/models/network.ts";
import { tinyRun } from "../train/tiny_run.ts";

await initBackend("cpu");

/** Every tensor of a module, as raw bytes by name. */
function snapshot(net: Network): Map<string, Uint8Array> {
  return new Map(
    net.namedTensors().map((t) => [t.name, new Uint8Array(t.variable.dataSync().buffer.slice(0))]),
  );
}

/** Whether tfjs is recording a gradient tape right now (inside tf.grads / tf.variableGrads). */
function tapeDepth(): number {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth;
}

Deno.test("kd: the frozen teacher is bit-identical after training and never on the gradient tape", async () => {
  const teacher = createNetwork("cifarresnet18", {
    numClasses: 4,
    seed: 3,
    widthMultiplier: 1 / 64,
  })
    .freeze();
  const before = snapshot(teacher);
  const depths: number[] = [];
  const modes: boolean[] = [];
  const features = teacher.features.bind(teacher);
  teacher.features = (x) => {
    depths.push(tapeDepth());
    modes.push(teacher.training);
    return features(x);
  };
  const run = await createExperiment({
    ...tinyRun({ method: "kd", schedule: { epochs: 2, milestones: [1] } }),
    teacher,
  });
  const studentDepths: number[] = [];
  const student = (run.distiller as unknown as { student: Network }).student;
  const studentFeatures = student.features.bind(student);
  student.features = (x) => {
    studentDepths.push(tapeDepth());
    return studentFeatures(x);
  };
  const trainer = new Trainer(run.trainerOptions());
  await trainer.fit();
  assert.equal(trainer.history.length, 2);
  assert.equal(trainer.history[1].deployedHead, "student");
  assert.deepEqual(Object.keys(trainer.history[1].terms), ["cls", "div"]);
  // Bit-identical weights and running statistics.
  const after = snapshot(teacher);
  assert.deepEqual([...after.keys()], [...before.keys()]);
  for (const [k, v] of before) assert.deepEqual(after.get(k), v, k);
  // The teacher ran once per training step (2 epochs × 2 batches), never with a tape recording,
  // always in inference mode; the student did run under the tape.
  assert.equal(depths.length, 4);
  assert.ok(depths.every((d) => d === 0), `tape depth during the teacher's forward: ${depths}`);
  assert.ok(modes.every((m) => m === false));
  assert.ok(studentDepths.some((d) => d > 0));
  // No optimizer state and no trainable parameter of the teacher.
  const teacherVars = new Set(teacher.namedTensors().map((t) => t.variable.name));
  assert.ok(
    !run.distiller.module.trainableParameters().some((p) => teacherVars.has(p.variable.name)),
  );
  const state = trainer.optimizer.state();
  assert.ok([...state.momentumBuffers.keys()].every((n) => n.startsWith("student.")));
  assert.equal(state.momentumBuffers.size, student.namedParameters().length);
  tf.dispose([...state.momentumBuffers.values()]);
  // Nor is the teacher part of the checkpointed state.
  assert.ok(run.distiller.module.namedTensors().every((t) => t.name.startsWith("student.")));
  assert.equal(teacher.frozen, true);
  teacher.train(true);
  assert.equal(teacher.training, false, "a frozen module stays in inference mode");
  run.close();
  teacher.dispose();
});
