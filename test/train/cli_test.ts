import assert from "node:assert/strict";
import { join } from "node:path";
import { main, parseArgs } from "../../lib/train/cli.ts";
import { parseSafetensors } from "../../lib/train/safetensors.ts";
import { isStudentTensor } from "../../lib/train/checkpoint.ts";
import { resolveTrainConfig } from "../../lib/train/config.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import { TINY_RUN } from "./tiny_run.ts";

const SMALL = TINY_RUN;

async function writeConfig(dir: string, cfg: object): Promise<string> {
  const path = join(dir, "cfg.json");
  await Deno.writeTextFile(path, JSON.stringify(cfg));
  return path;
}

Deno.test("cli: trains, writes history, results, checkpoint and the stripped teacher; resumes", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "out");
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const cfgPath = await writeConfig(dir, { ...SMALL, outDir: out });
  assert.equal(await main(["--config", cfgPath], { log }), 0, lines.join("\n"));
  const history = JSON.parse(await Deno.readTextFile(join(out, "history.json"))) as EpochRecord[];
  assert.equal(history.length, 1);
  assert.deepEqual(Object.keys(history[0].eval).sort(), ["8x8", "teacher"]);
  assert.ok(Number.isFinite(history[0].loss));
  assert.ok(
    ["ce_sum", "kd_sum", "fea_sum", "ce_teacher", "kd_8x8"].every((k) => k in history[0].terms),
  );
  const results = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
  assert.equal(results.finalTeacherTop1, history[0].eval.teacher.top1);
  assert.equal(results.epochs, 1);
  const teacher = parseSafetensors(await Deno.readFile(join(out, "teacher.safetensors")));
  const names = [...teacher.tensors.keys()];
  assert.ok(names.includes("layer4.1.bn2.running_var") && names.includes("fc.weight"));
  assert.ok(!names.some(isStudentTensor));
  const last = parseSafetensors(await Deno.readFile(join(out, "last.safetensors")));
  assert.ok(last.tensors.has("fc_b3.weight"));
  assert.ok(last.tensors.has("optimizer.momentum_buffer.fc_b3.weight"));
  assert.equal(last.metadata?.epoch, "1");
  assert.deepEqual(
    resolveTrainConfig(JSON.parse(last.metadata!.config)),
    resolveTrainConfig({ ...SMALL, outDir: out }),
  );
  assert.ok(lines.some((l) => l.startsWith("epoch 1/1 loss")), lines.join("\n"));

  lines.length = 0;
  assert.equal(
    await main(["--config", cfgPath, "--epochs", "2", "--resume"], { log }),
    0,
    lines.join("\n"),
  );
  assert.ok(
    lines.some((l) => l.includes("resumed from") && l.includes("at epoch 2")),
    lines.join("\n"),
  );
  const history2 = JSON.parse(await Deno.readTextFile(join(out, "history.json"))) as EpochRecord[];
  assert.equal(history2.length, 2);
  assert.deepEqual(history2[0].terms, history[0].terms);
});

Deno.test("cli: bad arguments and configs fail with clear messages; an abort exits 130", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  assert.throws(() => parseArgs([]), /--config is required/);
  assert.throws(() => parseArgs(["--config", "a.json", "--fast"]), /unknown argument "--fast"/);
  assert.throws(() => parseArgs(["--config", "a.json", "--epochs", "0"]), /--epochs must be/);
  assert.equal(await main(["--config", await writeConfig(dir, { epoch: 3 })], { log }), 1);
  assert.match(lines.at(-1)!, /cfg\.json: unknown field "epoch"/);
  assert.equal(await main(["--config", await writeConfig(dir, { lr: -1 })], { log }), 1);
  assert.match(lines.at(-1)!, /"lr" must be a number ≥ 0, got -1/);
  assert.equal(await main(["--config", join(dir, "missing.json")], { log }), 1);
  assert.match(lines.at(-1)!, /cannot read config .*missing\.json/);
  const ctrl = new AbortController();
  ctrl.abort(new Error("stop now"));
  const cfg = await writeConfig(dir, { ...SMALL, outDir: join(dir, "o") });
  assert.equal(await main(["--config", cfg], { log, signal: ctrl.signal }), 130);
  assert.match(lines.at(-1)!, /stopped: stop now\. Run again with --resume/);
});

Deno.test("cli: the baseline (teacher alone, CE only) runs through the same trainer", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "base");
  const lines: string[] = [];
  const cfg = await writeConfig(dir, { ...SMALL, method: "baseline", outDir: out });
  assert.equal(await main(["--config", cfg], { log: (l) => lines.push(l) }), 0, lines.join("\n"));
  const history = JSON.parse(await Deno.readTextFile(join(out, "history.json"))) as EpochRecord[];
  assert.deepEqual(Object.keys(history[0].eval), ["teacher"]);
  assert.equal(history[0].terms.kd_sum, 0);
  // CE weight 1: the total is the teacher's cross-entropy itself
  assert.ok(Math.abs(history[0].loss - history[0].terms.ce_teacher) < 1e-5);
  const last = parseSafetensors(await Deno.readFile(join(out, "last.safetensors")));
  assert.ok(![...last.tensors.keys()].some(isStudentTensor));
});

Deno.test("config: the defaults are the official recipe; unknown fields and bad values are refused", () => {
  const c = resolveTrainConfig({});
  assert.deepEqual(
    [c.lr, c.momentum, c.nesterov, c.weightDecay, c.batchSize, c.epochs, c.milestones, c.seed],
    [0.1, 0.9, true, 5e-4, 128, 200, [100, 150], 27],
  );
  assert.deepEqual([c.ce, c.kd, c.fea, c.temperature], [0.2, 0.8, 1e-7, 4]);
  assert.deepEqual([c.network, c.dataset, c.method, c.levels], [
    "cifarresnet18",
    "cifar100",
    "teskd",
    ["8x8", "16x16", "32x32"],
  ]);
  assert.throws(
    () => resolveTrainConfig({ network: "resnet9" }, "x.json"),
    /x\.json: "network" must be one of/,
  );
  assert.throws(() => resolveTrainConfig({ levels: ["4x4"] }), /"levels" must be a list of 8x8/);
  assert.throws(() => resolveTrainConfig([]), /expected a JSON object/);
});
