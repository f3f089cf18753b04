import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { writeFileAtomic } from "../../lib/train/atomic.ts";
import {
  exportDeployed,
  loadCheckpoint,
  readCheckpointInfo,
  saveCheckpoint,
} from "../../lib/train/checkpoint.ts";
import { decodeToFloat32, parseSafetensors } from "../../lib/train/safetensors.ts";
import { SGD } from "../../lib/train/sgd.ts";
import { pseudoRandom, TinyNet } from "./tiny_model.ts";
import { resolveMethodConfig } from "../../lib/distill/registry.ts";
import { teskd, type TeskdConfig } from "../../lib/distill/teskd.ts";
import { createTeacher } from "../../lib/models/zoo.ts";

await initBackend("cpu");

const sgdOpts = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 };

/** One SGD step on a cross-entropy of the teacher and the student, on a fixed pseudo-random batch. */
function trainStep(model: TinyNet, opt: SGD, seed: number): void {
  const x = tf.tensor4d(pseudoRandom(4 * 8 * 8 * 3, seed), [4, 8, 8, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 5);
  const params = model.namedParameters();
  const { value, grads } = tf.variableGrads(() => {
    const out = model.forward(x);
    let loss = tf.losses.softmaxCrossEntropy(y, out.teacher.logits);
    if (out.students["8x8"]) {
      loss = loss.add(tf.losses.softmaxCrossEntropy(y, out.students["8x8"].logits));
    }
    return loss as tf.Scalar;
  }, params.map((p) => p.variable));
  const byName = new Map(params.map((p) => [p.name, grads[p.variable.name]]));
  opt.step(byName);
  tf.dispose([x, y, value, ...Object.values(grads)]);
}

function snapshot(model: TinyNet): Map<string, Float32Array> {
  const sd = model.stateDict();
  const out = new Map([...sd].map(([k, t]) => [k, t.dataSync() as Float32Array]));
  tf.dispose([...sd.values()]);
  return out;
}

Deno.test("checkpoint: official names, PyTorch layouts, int64 counters, momentum buffers, metadata", async () => {
  const dir = await Deno.makeTempDir();
  const model = new TinyNet({ seed: 3, student: true });
  const opt = new SGD(model.namedParameters(), sgdOpts);
  trainStep(model, opt, 1);
  const path = join(dir, "ckpt.safetensors");
  await saveCheckpoint(path, model, {
    optimizer: opt,
    epoch: 1,
    step: 1,
    rng: "seed:27",
    config: { lr: 0.1, milestones: [100, 150] },
    history: [{ epoch: 0, loss: 1.5 }],
  });
  const file = parseSafetensors(await Deno.readFile(path));
  assert.deepEqual(file.tensors.get("conv1.weight")!.shape, [4, 3, 3, 3]); // OIHW
  assert.deepEqual(file.tensors.get("fc.weight")!.shape, [5, 4]); // [out, in]
  assert.equal(file.tensors.get("bn1.num_batches_tracked")!.dtype, "I64");
  assert.deepEqual(file.tensors.get("bn1.num_batches_tracked")!.shape, []);
  assert.equal(file.tensors.get("bn1.running_var")!.dtype, "F32");
  const mb = file.tensors.get("optimizer.momentum_buffer.conv1.weight")!;
  assert.deepEqual(mb.shape, [4, 3, 3, 3]);
  // The conv weight in the file is the tfjs HWIO variable transposed to OIHW.
  const w = model.conv1.weight;
  const hwio = w.arraySync() as number[][][][];
  const oihw = decodeToFloat32(file.tensors.get("conv1.weight")!);
  assert.equal(oihw[((2 * 3 + 1) * 3 + 0) * 3 + 2], Math.fround(hwio[0][2][1][2])); // o2 i1 h0 w2
  assert.equal(file.metadata!.format, "teskd.checkpoint.v1");
  const info = await readCheckpointInfo(path);
  assert.equal(info.epoch, 1);
  assert.equal(info.step, 1);
  assert.equal(info.rng, "seed:27");
  assert.deepEqual(info.config, { lr: 0.1, milestones: [100, 150] });
  assert.deepEqual(info.history, [{ epoch: 0, loss: 1.5 }]);
  assert.equal(info.optimizer?.nesterov, true);
  assert.equal(info.optimizer?.step, 1);
  opt.dispose();
  model.dispose();
});

Deno.test("checkpoint: resume continues bit-for-bit", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "mid.safetensors");
  const a = new TinyNet({ seed: 5, student: true });
  const optA = new SGD(a.namedParameters(), sgdOpts);
  trainStep(a, optA, 10);
  trainStep(a, optA, 11);
  await saveCheckpoint(path, a, { optimizer: optA, epoch: 2, step: 2 });
  trainStep(a, optA, 12);
  trainStep(a, optA, 13);

  const b = new TinyNet({ seed: 99, student: true }); // different init: everything must come from the file
  const optB = new SGD(b.namedParameters(), sgdOpts);
  const before = tf.memory().numTensors;
  const info = await loadCheckpoint(path, b, { optimizer: optB });
  assert.equal(tf.memory().numTensors, before + optB.params.size); // the momentum buffers, no leak
  assert.equal(info.step, 2);
  assert.equal(optB.stepCount, 2);
  trainStep(b, optB, 12);
  trainStep(b, optB, 13);
  const sa = snapshot(a);
  const sb = snapshot(b);
  for (const [k, v] of sa) assert.deepEqual(sb.get(k), v, k);
  for (const o of [optA, optB]) o.dispose();
  a.dispose();
  b.dispose();
});

Deno.test("checkpoint: wrong shapes, missing and unexpected names fail clearly and change nothing", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "c.safetensors");
  const src = new TinyNet({ seed: 1, width: 4, student: true });
  await saveCheckpoint(path, src, { epoch: 0, step: 0 });

  const wide = new TinyNet({ seed: 2, width: 6, student: true });
  const untouched = snapshot(wide);
  await assert.rejects(
    () => loadCheckpoint(path, wide),
    /c\.safetensors: .*"conv1\.weight" has shape \[4,3,3,3\] in the file, the model expects \[6,3,3,3\]/,
  );
  for (const [k, v] of snapshot(wide)) assert.deepEqual(v, untouched.get(k), k);

  const teacherOnly = new TinyNet({ seed: 2 });
  await assert.rejects(
    () => loadCheckpoint(path, teacherOnly),
    /8 tensor\(s\) the model does not have: fc_b3\.bias, fc_b3\.weight, laterals\.0\.weight/,
  );
  const info = await loadCheckpoint(path, teacherOnly, { strict: false });
  assert.equal(info.epoch, 0);

  await saveCheckpoint(join(dir, "teacher.safetensors"), teacherOnly, { epoch: 0, step: 0 });
  const bigger = new TinyNet({ seed: 3, student: true });
  await assert.rejects(
    () => loadCheckpoint(join(dir, "teacher.safetensors"), bigger),
    /missing 7 tensor\(s\) the model has: laterals\.0\.weight/,
  );
  const opt = new SGD(bigger.namedParameters(), sgdOpts);
  await assert.rejects(
    () => loadCheckpoint(path, bigger, { optimizer: opt }),
    /holds no optimizer state/,
  );
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(join(dir, "cut.safetensors"), bytes.subarray(0, bytes.length - 10));
  await assert.rejects(() => loadCheckpoint(join(dir, "cut.safetensors"), bigger), /truncated/);
  for (const m of [src, wide, teacherOnly, bigger]) m.dispose();
});

Deno.test("exportDeployed writes what the method deploys: TESKD's teacher, students stripped", async () => {
  const dir = await Deno.makeTempDir();
  const small = { numClasses: 5, widthMultiplier: 1 / 32 };
  const distiller = teskd.build(
    { student: createTeacher("cifarresnet18", { ...small, seed: 7 }), inputSize: 8, seed: 8 },
    resolveMethodConfig("teskd") as TeskdConfig,
  );
  const path = join(dir, "deployed.safetensors");
  await exportDeployed(path, distiller);
  const file = parseSafetensors(await Deno.readFile(path));
  const names = [...file.tensors.keys()];
  assert.equal(file.metadata?.method, "teskd");
  assert.equal(file.metadata?.content, "deployed");
  const bare = createTeacher("cifarresnet18", { ...small, seed: 9 });
  assert.deepEqual(names.sort(), bare.namedTensors().map((t) => t.name).sort());
  assert.ok(distiller.module.namedTensors().some((t) => t.name.startsWith("fc_b3.")));
  await loadCheckpoint(path, bare);
  const x = tf.tensor4d(pseudoRandom(2 * 8 * 8 * 3, 4), [2, 8, 8, 3]);
  distiller.train(false);
  bare.eval();
  const a = tf.tidy(() => distiller.deployed().predict(x).dataSync());
  const b = tf.tidy(() => bare.forward(x).logits.dataSync());
  assert.deepEqual(b, a);
  x.dispose();
  distiller.dispose();
  bare.dispose();
});

Deno.test("atomic write: a failure mid-write leaves the old file intact and no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "last.safetensors");
  const model = new TinyNet({ seed: 1 });
  await saveCheckpoint(path, model, { epoch: 1, step: 10 });
  const old = await Deno.readFile(path);
  async function* failing(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(1 << 16).fill(7);
    yield new Uint8Array(1 << 16).fill(8);
    throw new Error("disk full (simulated)");
  }
  await assert.rejects(() => writeFileAtomic(path, failing()), /disk full \(simulated\)/);
  assert.deepEqual(await Deno.readFile(path), old);
  const entries = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.deepEqual(entries, ["last.safetensors"]);
  // A successful replacement swaps the whole content at once.
  await writeFileAtomic(path, [new Uint8Array([1, 2]), new Uint8Array([3])]);
  assert.deepEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["last.safetensors"]);
  await assert.rejects(
    () => writeFileAtomic(join(dir, "no", "such", "dir", "x.safetensors"), [new Uint8Array(1)]),
    /writeFileAtomic: cannot create a file in .*no\/such\/dir/,
  );
  model.dispose();
});
