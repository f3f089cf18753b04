// CRD's state across interruptions. A CLI run killed (SIGKILL) after its first epoch's checkpoint and
// resumed with --resume ends bit-identical to an uninterrupted run with the same seed: weights,
// momentum buffers, both memory banks and Z. And a training step that fails (a non-finite loss)
// leaves the memory banks and Z as they were, although the forward pass had already written them.
import assert from "node:assert/strict";
import { join } from "node:path";
import { initBackend } from "../../lib/backend/mod.ts";
import type { CrdConfig, CrdDistiller } from "../../lib/distill/crd.ts";
import { buildDistiller, resolveMethodConfig } from "../../lib/distill/registry.ts";
import type { Batch } from "../../lib/data/types.ts";
import { createNetwork } from "../../lib/models/registry.ts";
import { main } from "../../lib/train/cli.ts";
import { readCheckpointInfo } from "../../lib/train/checkpoint.ts";
import { parseSafetensors } from "../../lib/train/safetensors.ts";
import { NonFiniteLossError, Trainer } from "../../lib/train/trainer.ts";

const CLI = new URL("../../lib/train/cli.ts", import.meta.url).pathname;

/** Tiny networks (ResNet-18 at 1/64 width) on small 8×8 synthetic data: ~1 s per epoch on a CPU. */
const TINY = { network: "cifarresnet18", widthMultiplier: 1 / 64 };
const DATA = {
  dataset: "synthetic",
  synthetic: { size: 8, train: 128, test: 32, classes: 4 },
  batchSize: 32,
  evalBatchSize: 32,
  workers: 0,
};

async function writeJson(path: string, value: unknown): Promise<string> {
  await Deno.writeTextFile(path, JSON.stringify(value));
  return path;
}

/** Runs the training CLI in a process of its own. */
function cli(args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CLI, ...args],
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

/** The CLI's exit, with its log when it fails. */
async function finish(child: Deno.ChildProcess, what: string): Promise<void> {
  const [status, log] = await Promise.all([child.status, new Response(child.stderr).text()]);
  assert.equal(status.code, 0, `${what} failed:\n${log}`);
}

/** Every tensor of a safetensors file, by name. */
async function tensorsOf(path: string): Promise<Map<string, Uint8Array>> {
  const file = parseSafetensors(await Deno.readFile(path), path);
  return new Map([...file.tensors].map(([n, e]) => [n, e.data]));
}

/**
 * How many bytes differ (a length mismatch counts as all of them). Not `assert.deepEqual`: its
 * message diffs the arrays element by element, which for a memory bank takes gigabytes.
 */
function differingBytes(x: Uint8Array, y: Uint8Array): number {
  if (x.length !== y.length) return Math.max(x.length, y.length);
  let n = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) n++;
  return n;
}

/** float32 values of a checkpoint entry. */
const floats = (bytes: Uint8Array) =>
  new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));

Deno.test("crd: a run killed after epoch 1 and resumed equals an uninterrupted one, memory and Z included", async () => {
  const dir = await Deno.makeTempDir();
  const log = () => {};
  // The teacher: a tiny network trained one epoch with the baseline; its deployed file is the checkpoint.
  const teacherCfg = await writeJson(join(dir, "teacher.json"), {
    data: DATA,
    model: TINY,
    method: "baseline",
    backend: "cpu",
    schedule: { epochs: 1, milestones: [] },
    outDir: join(dir, "teacher"),
  });
  assert.equal(await main(["--config", teacherCfg], { log }), 0);
  const cfg = await writeJson(join(dir, "crd.json"), {
    data: DATA,
    model: {
      ...TINY,
      teacher: { ...TINY, checkpoint: join(dir, "teacher", "deployed.safetensors") },
    },
    method: { name: "crd", nceK: 64 }, // 64 of the 96 other-class samples, without replacement
    backend: "cpu",
    schedule: { epochs: 2, milestones: [1] },
    seed: 5,
  });
  const whole = join(dir, "whole");
  const broken = join(dir, "broken");

  // The uninterrupted run, and one killed as soon as its first epoch's checkpoint exists.
  const uninterrupted = cli(["--config", cfg, "--out", whole]);
  const killed = cli(["--config", cfg, "--out", broken]);
  const ckpt = join(broken, "last.safetensors");
  for (;;) {
    try {
      await Deno.stat(ckpt); // written atomically (renamed into place): it exists whole or not at all
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  killed.kill("SIGKILL");
  const status = await killed.status;
  await killed.stderr.cancel();
  assert.equal(status.signal, "SIGKILL");
  const atKill = await tensorsOf(ckpt);
  const info = await readCheckpointInfo(ckpt);
  assert.equal(info.epoch, 1, "killed during the second epoch");
  assert.equal(info.step, 4);
  await finish(uninterrupted, "the uninterrupted run");

  // Resume the killed run.
  await finish(cli(["--config", cfg, "--out", broken, "--resume"]), "the resumed run");
  const a = await tensorsOf(join(whole, "last.safetensors"));
  const b = await tensorsOf(join(broken, "last.safetensors"));
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [name, bytes] of a) {
    assert.equal(differingBytes(b.get(name)!, bytes), 0, `${name} differs`);
  }
  assert.equal((await readCheckpointInfo(join(broken, "last.safetensors"))).step, 8);

  // What was compared is CRD's state: the banks (one row per training sample) and a set Z, which the
  // epoch after the kill changed; the optimizer holds the embeddings but never the buffers.
  const names = [...a.keys()];
  for (const n of ["crd.contrast.memory_v1", "crd.contrast.memory_v2", "crd.contrast.params"]) {
    assert.ok(names.includes(n), n);
    assert.ok(!names.includes(`optimizer.momentum_buffer.${n}`), `${n} is not optimized`);
  }
  assert.ok(names.includes("optimizer.momentum_buffer.crd.embed_s.linear.weight"));
  assert.equal(floats(a.get("crd.contrast.memory_v1")!).length, 128 * 128);
  const params = floats(a.get("crd.contrast.params")!);
  assert.deepEqual([params[0], params[1], params[4]], [64, Math.fround(0.07), 0.5]);
  assert.ok(params[2] > 0 && params[3] > 0, `Z set: ${params}`);
  assert.deepEqual(floats(atKill.get("crd.contrast.params")!), params, "Z frozen after step 0");
  for (const n of ["crd.contrast.memory_v1", "crd.contrast.memory_v2"]) {
    assert.ok(differingBytes(atKill.get(n)!, a.get(n)!) > 0, `${n} moved in epoch 2`);
  }
  await Deno.remove(dir, { recursive: true });
});

/** Batches of random images with sample indices; the batch at `poisoned` (global step) is NaN. */
class PoisonableData {
  readonly batchesPerEpoch = 2;
  poisoned = -1;
  #calls = 0;

  constructor(readonly labels: Int32Array) {}

  async *epoch(e: number): AsyncIterable<Batch> {
    for (let k = 0; k < this.batchesPerEpoch; k++) {
      const index = Int32Array.from({ length: 4 }, (_, i) => (e * 7 + k * 4 + i * 3) % 16);
      const x = Float32Array.from({ length: 4 * 8 * 8 * 3 }, (_, i) => Math.sin(i * 0.37 + e + k));
      if (this.#calls++ === this.poisoned) x[5] = NaN;
      await Promise.resolve();
      yield {
        x,
        y: index.map((i) => this.labels[i]),
        index,
        n: 4,
        height: 8,
        width: 8,
        channels: 3,
      };
    }
  }
}

/** The CRD buffers' values. */
function buffers(d: CrdDistiller): Float32Array[] {
  const c = d.criterion.contrast;
  return [c.params, c.memoryV1, c.memoryV2].map((v) => v.dataSync().slice() as Float32Array);
}

Deno.test("crd: a failed step leaves the memory banks and Z as they were", async () => {
  await initBackend("cpu");
  const labels = Int32Array.from({ length: 16 }, (_, i) => i % 4);
  const net = (seed: number) => createNetwork(TINY.network, { ...TINY, numClasses: 4, seed });
  const cfg = resolveMethodConfig({ name: "crd", nceK: 8, featDim: 16 }) as CrdConfig;
  const distiller = buildDistiller(cfg, {
    student: net(1),
    teacher: net(2),
    inputSize: 8,
    seed: 3,
    trainLabels: labels,
  }) as CrdDistiller;
  const data = new PoisonableData(labels);
  const trainer = new Trainer({
    distiller,
    data,
    optimizer: { momentum: 0.9, nesterov: false, weightDecay: 5e-4 },
    schedule: { baseLr: 0.01, epochs: 2 },
  });
  // The very first step fails: Z, set by its forward, must be unset again.
  const initial = buffers(distiller);
  data.poisoned = 0;
  await assert.rejects(() => trainer.fit(), NonFiniteLossError);
  assert.deepEqual(buffers(distiller), initial);
  assert.deepEqual(Array.from(initial[0].slice(2, 4)), [-1, -1]);
  // A later step fails: the banks keep what the steps before it wrote.
  data.poisoned = 2; // the second batch of the epoch that starts again (the calls count on)
  await assert.rejects(() => trainer.fit(), NonFiniteLossError);
  assert.equal(trainer.globalStep, 1);
  const afterOne = buffers(distiller);
  assert.ok(afterOne[0][2] > 0, "Z set by the good step");
  assert.notDeepEqual(afterOne[1], initial[1], "the good step wrote its rows");
  // The failed forward did write (NaN) rows before the loss was found non-finite; all undone.
  assert.ok(afterOne.every((b) => b.every(Number.isFinite)));
  data.poisoned = -1;
  await trainer.fit();
  assert.equal(trainer.globalStep, 4);
  assert.deepEqual(
    Array.from(buffers(distiller)[0].slice(2, 4)),
    Array.from(afterOne[0].slice(2, 4)),
  );
  trainer.optimizer.dispose();
  distiller.dispose();
});
