/**
 * The notebook scenario through the real kernel and a real Jupyter client: a teacher saved by
 * PyTorch (`torch.save({"model": state_dict, …})`, as the official toolbox's checkpoints are) loads
 * with `loadTeacher`, a small student is distilled with `kd` on generated data, the deployed network
 * is exported, and the export, loaded back into a fresh network, scores exactly the same.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../../lib/backend/mod.ts";
import { createExperiment } from "../../lib/train/experiment.ts";
import { Trainer } from "../../lib/train/trainer.ts";
import { accuracy } from "../../lib/train/evaluate.ts";

await initBackend("cpu");

type Json = Record<string, unknown>;
type Msg = { msg_type: string; content: Json };
type Cell = { reply: Json; iopub: Msg[] };

const CLIENT = new URL("./notebook_kd_client.py", import.meta.url).pathname;
const DATA = {
  dataset: "synthetic" as const,
  synthetic: { size: 8, classes: 4, train: 64, test: 32 },
  batchSize: 16,
  evalBatchSize: 16,
  workers: 0,
};

/** The value a cell returned (its execute_result, parsed from text/plain). */
function value(cell: Cell): Json | number {
  assert.equal(cell.reply.status, "ok", JSON.stringify(cell).slice(0, 3000));
  const r = cell.iopub.find((m) => m.msg_type === "execute_result");
  assert.ok(r, "the cell has a value");
  const text = String((r.content.data as Json)["text/plain"]);
  return Function(`return (${text})`)() as Json | number;
}

/** Trains a small teacher and writes its state dict as raw bytes + a manifest for PyTorch. */
async function writeTeacher(dir: string): Promise<number> {
  const run = await createExperiment({
    data: DATA,
    seed: 5,
    method: "baseline",
    model: { network: "resnet8" },
    schedule: { epochs: 8, milestones: [] },
    optim: { lr: 0.05 },
  });
  const trainer = new Trainer(run.trainerOptions());
  await trainer.fit();
  const top1 = (await accuracy(run.distiller.deployed(), run.evalData)).top1;
  const sd = run.distiller.module.stateDict();
  const manifest: Json[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of sd) {
    const data = await t.data();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
    manifest.push({ name, shape: t.shape, dtype: t.dtype, numel: t.size, offset });
    parts.push(bytes);
    offset += bytes.length;
  }
  tf.dispose([...sd.values()]);
  run.close();
  await Deno.writeTextFile(join(dir, "teacher.json"), JSON.stringify(manifest));
  const all = new Uint8Array(offset);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  await Deno.writeFile(join(dir, "teacher.bin"), all);
  return top1;
}

Deno.test("notebook: a PyTorch .pth teacher, kd distillation, export, reload with the same score", async () => {
  const dir = await Deno.makeTempDir({ prefix: "teskd-kd-notebook-" });
  try {
    const teacherTop1 = await writeTeacher(dir);
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [CLIENT, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const cells = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, Cell>;
    const loaded = value(cells.load) as Json;
    assert.deepEqual(loaded, { frozen: true, classes: 4, params: 77_652 });
    // The teacher read from PyTorch's file scores what it scored when it was trained here.
    assert.equal(value(cells.teacher), teacherTop1);
    assert.ok(teacherTop1 > 50, `the teacher learned the generated data (${teacherTop1}%)`);
    const distill = value(cells.distill) as Json;
    assert.equal(distill.head, "student");
    assert.deepEqual(distill.terms, ["cls", "div"]);
    const exp = value(cells.export) as Json;
    assert.equal(exp.n, 32);
    assert.equal(exp.back, exp.original, "the export loads back and scores the same");
    assert.equal(exp.back, exp.trained, "and the same as the trainer's last evaluation");
    assert.equal(exp.back, distill.top1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
