// ATSC beyond its fixture: several teachers (this library's reading of the paper), the adapted
// teachers and their anchors, the deployed network, and a resume from a checkpoint that is exactly
// the uninterrupted run (both optimizers' momentum, the anchors and the adapted teachers restored).
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import type { AtscDistiller } from "../../lib/distill/atsc.ts";
import type { Network } from "../../lib/models/network.ts";
import { createNetwork } from "../../lib/models/registry.ts";
import { exportDeployed, saveCheckpoint } from "../../lib/train/checkpoint.ts";
import type { TrainConfigInput } from "../../lib/train/config.ts";
import { createExperiment, type Experiment } from "../../lib/train/experiment.ts";
import { parseSafetensors } from "../../lib/train/safetensors.ts";
import { Trainer } from "../../lib/train/trainer.ts";

await initBackend("cpu");

/** Every tensor of a module as raw bytes, by name. */
function snapshot(net: { namedTensors(): { name: string; variable: tf.Variable }[] }) {
  return new Map(
    net.namedTensors().map((t) => [t.name, new Uint8Array(t.variable.dataSync().buffer.slice(0))]),
  );
}

/** Two pretrained-teacher checkpoints (resnet8, different weights) in a fresh folder. */
async function teacherFiles(dir: string): Promise<{ network: string; checkpoint: string }[]> {
  const files = [];
  for (const seed of [11, 12]) {
    const net = createNetwork("resnet8", { numClasses: 4, seed });
    const checkpoint = join(dir, `teacher${seed}.safetensors`);
    await saveCheckpoint(checkpoint, net, { epoch: 0, step: 0 });
    net.dispose();
    files.push({ network: "resnet8", checkpoint });
  }
  return files;
}

const run = (teachers: { network: string; checkpoint: string }[], epochs: number) =>
  ({
    method: { name: "atsc", w: 0.5 },
    model: { network: "resnet8", teachers },
    data: {
      dataset: "synthetic",
      synthetic: { size: 32, train: 16, test: 8, classes: 4 },
      batchSize: 8,
      evalBatchSize: 8,
      workers: 0,
    },
    schedule: { epochs, milestones: [] },
    backend: "cpu",
  }) satisfies TrainConfigInput;

Deno.test("atsc with two teachers: each adapts and is anchored, the deployed logits average the heads", async () => {
  const dir = await Deno.makeTempDir();
  const files = await teacherFiles(dir);
  const exp = await createExperiment(run(files, 2));
  const distiller = exp.distiller as AtscDistiller;
  try {
    const [t0, t1] = distiller.teachers;
    assert.equal(distiller.teachers.length, 2);
    const before = distiller.teachers.map(snapshot);
    const trainer = new Trainer(exp.trainerOptions());
    assert.ok(trainer.secondOptimizer !== undefined, "a second optimizer");
    // One classifier bias per teacher is stepped by the second optimizer.
    assert.deepEqual([...trainer.secondOptimizer.params.keys()], [
      "teacher.0.fc.bias",
      "teacher.1.fc.bias",
    ]);
    await trainer.fit();
    assert.equal(trainer.secondOptimizer.stepCount, 4);
    const record = trainer.history.at(-1)!;
    assert.ok(record.terms.w > 0, "the teachers drifted from their anchors");
    assert.ok(Number.isFinite(record.terms.cls_teacher_second_forward));
    // Each adapted teacher moved; its anchor is still its loaded weights.
    for (const [k, t] of [t0, t1].entries()) {
      const now = snapshot(t);
      const moved = [...now].filter(([n, v]) => !equalBytes(v, before[k].get(n)!)).length;
      assert.ok(moved > 0, `teacher ${k} adapted`);
      const anchor = snapshot(
        distiller.module.namedChildren().find(([n]) => n === "atsc_w0")![1],
      );
      for (const [name, w0] of anchor) {
        if (!name.startsWith(`${k}.`)) continue;
        const param = name.slice(2);
        assert.ok(equalBytes(w0, before[k].get(param)!), `anchor ${name} is the loaded weight`);
      }
    }
    // The anchors cover every conv and the classifier weight, nothing 1-D, not the classifier bias.
    const anchorNames = distiller.module.namedBuffers().filter((b) =>
      b.name.startsWith("atsc_w0.0.")
    )
      .map((b) => b.name.slice("atsc_w0.0.".length));
    const multiDim = t0.namedParameters().filter((p) => p.torchShape.length > 1).map((p) => p.name);
    assert.deepEqual(anchorNames, multiDim);
    // Deployed: the mean of each teacher classifier on its projector's pooled output.
    distiller.train(false);
    const x = tf.randomNormal([3, 32, 32, 3], 0, 1, "float32", 5);
    const deployed = distiller.deployed();
    const got = tf.tidy(() => deployed.predict(x));
    const want = tf.tidy(() => {
      const last = exp.distiller.module.namedChildren()[0][1] as Network;
      const map = last.features(x).maps.at(-1)!;
      const m = deployed.module as unknown as {
        proj: { at(k: number): { transfer: { forward(x: tf.Tensor): tf.Tensor } } };
      };
      const heads = [t0, t1].map((t, k) =>
        t.classifier.forward(tf.mean(m.proj.at(k).transfer.forward(map), [1, 2]))
      );
      return tf.div(tf.add(heads[0], heads[1]), 2);
    });
    assert.ok(tf.max(tf.abs(tf.sub(got, want))).dataSync()[0] < 1e-5, "deployed = mean of heads");
    tf.dispose([x, got, want]);
    const file = join(dir, "deployed.safetensors");
    await exportDeployed(file, distiller);
    const names = [...parseSafetensors(await Deno.readFile(file)).tensors.keys()];
    for (const n of ["student.fc.weight", "proj.0.transfer.0.weight", "proj.1.transfer.6.weight"]) {
      assert.ok(names.includes(n), n);
    }
    for (const n of ["cls_t.0.weight", "cls_t.1.bias"]) assert.ok(names.includes(n), n);
    assert.ok(!names.some((n) => n.startsWith("teacher.") || n.includes("w0")), "no teacher");
  } finally {
    exp.close();
  }
});

Deno.test("atsc: the teachers given stay as they were; a method of one teacher refuses several", async () => {
  const dir = await Deno.makeTempDir();
  const files = await teacherFiles(dir);
  const teacher = createNetwork("resnet8", { numClasses: 4, seed: 11 }).freeze();
  const before = snapshot(teacher);
  const exp = await createExperiment({ ...run(files, 1), model: { network: "resnet8" }, teacher });
  try {
    await new Trainer(exp.trainerOptions()).fit();
    for (const [n, v] of snapshot(teacher)) assert.ok(equalBytes(v, before.get(n)!), n);
  } finally {
    exp.close();
    teacher.dispose();
  }
  await assert.rejects(
    () => createExperiment({ ...run(files, 1), method: "simkd" }),
    /method "simkd" distills from one teacher/,
  );
});

Deno.test("atsc: resuming from a checkpoint gives exactly the uninterrupted run", async () => {
  const dir = await Deno.makeTempDir();
  const files = await teacherFiles(dir);
  const single = (epochs: number) => ({ ...run(files.slice(0, 1), epochs) });
  const train = async (exp: Experiment, epochs: number, resume?: string) => {
    const trainer = new Trainer({ ...exp.trainerOptions(), checkpointDir: undefined });
    if (resume) await trainer.resume(resume);
    await trainer.fit({ epochs });
    return trainer;
  };
  const straight = await createExperiment(single(2));
  const a = await train(straight, 2);
  const first = await createExperiment(single(2));
  const b1 = await train(first, 1);
  const ckpt = join(dir, "epoch1.safetensors");
  await b1.save(ckpt);
  first.close();
  const second = await createExperiment(single(2));
  const b = await train(second, 2, ckpt);
  try {
    const sa = snapshot(straight.distiller.module);
    const sb = snapshot(second.distiller.module);
    assert.deepEqual([...sa.keys()], [...sb.keys()]);
    for (const [n, v] of sa) assert.ok(equalBytes(v, sb.get(n)!), `${n} identical`);
    for (
      const [opt, other] of [[a.optimizer, b.optimizer], [a.secondOptimizer!, b.secondOptimizer!]]
    ) {
      const [x, y] = [opt.state(), other.state()];
      assert.equal(x.step, y.step);
      assert.deepEqual([...x.momentumBuffers.keys()].sort(), [...y.momentumBuffers.keys()].sort());
      for (const [n, t] of x.momentumBuffers) {
        const u = y.momentumBuffers.get(n)!;
        assert.ok(
          equalBytes(new Uint8Array(t.dataSync().buffer), new Uint8Array(u.dataSync().buffer)),
          n,
        );
      }
      tf.dispose([...x.momentumBuffers.values(), ...y.momentumBuffers.values()]);
    }
    assert.deepEqual(a.history.map((r) => r.terms), b.history.map((r) => r.terms));
  } finally {
    straight.close();
    second.close();
  }
});

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
