import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import { createTeskd } from "../../lib/models/mod.ts";
import { teskdLoss } from "../../lib/losses/mod.ts";
import { Generator } from "../../lib/nn/mod.ts";
import { trainForwardBackward } from "../../lib/parity/mod.ts";
import { SGD } from "../../lib/train/sgd.ts";

await initBackend("cpu");

/** Two linearly separable classes: the class sets the sign of the mean of channel 0. */
function separable(n: number, size: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const g = new Generator(seed);
  const labels = Array.from({ length: n }, (_, i) => i % 2);
  const v = new Float32Array(n * size * size * 3);
  for (let i = 0; i < v.length; i++) {
    const b = Math.floor(i / (size * size * 3));
    v[i] = 0.5 * (2 * g.uniform() - 1) + (i % 3 === 0 ? (labels[b] === 1 ? 1 : -1) : 0);
  }
  return { x: tf.tensor4d(v, [n, size, size, 3]), y: tf.tensor1d(labels, "int32") };
}

/**
 * Enough steps for BatchNorm's running statistics (momentum 0.1) to settle for evaluation, and for
 * the weakest head (the 8x8 student) to clear the bar with a margin: at 30 steps its held-out
 * accuracy hung on float rounding (0.94 with the WebAssembly kernels, 0.56 with oneDNN's); at 60
 * every head reaches 1.0 on both.
 */
const STEPS = 60;

Deno.test("small TESKD net: training lowers the loss, teacher and students learn, no leaks", () => {
  const net = createTeskd("cifarresnet18", { numClasses: 2, widthMultiplier: 1 / 16, seed: 5 });
  const { x, y } = separable(16, 16, 11);
  const sgd = new SGD(net.namedParameters(), {
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: true,
  });
  const losses: number[] = [];
  const counts: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    const r = trainForwardBackward(net, x, y, {});
    losses.push(r.total.dataSync()[0]);
    assert.ok(["ce_sum", "kd_sum", "fea_sum", "ce_8x8", "kd_32x32"].every((k) => k in r.terms));
    sgd.step(r.grads);
    tf.dispose([...r.outputs.values(), ...Object.values(r.terms), r.total, ...r.grads.values()]);
    counts.push(tf.memory().numTensors);
  }
  // After the first step (which creates the momentum buffers) the tensor count must not move.
  assert.deepEqual(
    counts.slice(1),
    new Array(STEPS - 1).fill(counts[1]),
    `tensor counts ${counts}`,
  );
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(
    losses[STEPS - 1] < 0.7 * losses[0],
    `loss should drop: ${losses.map((l) => l.toFixed(3))}`,
  );
  // Inference passes are leak-free too, and on held-out data of the same task the teacher and every
  // student are well above chance (0.5 for two classes).
  net.eval();
  const heldOut = separable(32, 16, 12);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    const accuracies = tf.tidy(() => {
      const out = net.forward(heldOut.x);
      teskdLoss(out, heldOut.y); // computed inside tidy: must leave nothing behind
      const heads = { teacher: out.teacher, ...out.students };
      return Object.entries(heads).map(([name, head]) => {
        const hit = tf.equal(tf.argMax(head!.logits, 1), heldOut.y);
        return [name, tf.mean(tf.cast(hit, "float32")).dataSync()[0]] as const;
      });
    });
    assert.deepEqual(accuracies.map(([name]) => name), ["teacher", "8x8", "16x16", "32x32"]);
    for (const [name, acc] of accuracies) assert.ok(acc >= 0.75, `${name} accuracy ${acc}`);
  }
  assert.equal(tf.memory().numTensors, before);
  sgd.dispose();
  net.dispose();
  tf.dispose([x, y, heldOut.x, heldOut.y]);
});
