import assert from "node:assert/strict";
import { join } from "node:path";
import { getMethod, METHOD_NAMES } from "../../lib/distill/registry.ts";
import { main, parseArgs } from "../../lib/train/cli.ts";
import { parseSafetensors } from "../../lib/train/safetensors.ts";
import { configDiff, resolveTrainConfig } from "../../lib/train/config.ts";
import type { EpochRecord } from "../../lib/train/trainer.ts";
import { TINY_RUN, tinyRun } from "./tiny_run.ts";

async function writeConfig(dir: string, cfg: unknown): Promise<string> {
  const path = join(dir, "cfg.json");
  await Deno.writeTextFile(path, typeof cfg === "string" ? cfg : JSON.stringify(cfg));
  return path;
}

/** True for the names of TESKD's student modules (never in the deployed teacher). */
const isStudentTensor = (n: string) => /^(laterals|upsample|fuse_|downsample[123]\.|fc_b)/.test(n);

Deno.test("cli: trains, writes history, results, checkpoint and the deployed teacher; resumes", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "out");
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const cfgPath = await writeConfig(dir, { ...TINY_RUN, outDir: out });
  assert.equal(await main(["--config", cfgPath], { log }), 0, lines.join("\n"));
  const history = JSON.parse(await Deno.readTextFile(join(out, "history.json"))) as EpochRecord[];
  assert.equal(history.length, 1);
  assert.deepEqual(Object.keys(history[0].eval).sort(), ["8x8", "teacher"]);
  assert.equal(history[0].deployedHead, "teacher");
  assert.ok(Number.isFinite(history[0].loss));
  assert.ok(
    ["ce_sum", "kd_sum", "fea_sum", "ce_teacher", "kd_8x8"].every((k) => k in history[0].terms),
  );
  const results = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
  assert.equal(results.finalTop1, history[0].eval.teacher.top1);
  assert.equal(results.deployedHead, "teacher");
  assert.equal(results.method, "teskd");
  assert.equal(results.epochs, 1);
  const deployed = parseSafetensors(await Deno.readFile(join(out, "deployed.safetensors")));
  const names = [...deployed.tensors.keys()];
  assert.ok(names.includes("layer4.1.bn2.running_var") && names.includes("fc.weight"));
  assert.ok(!names.some(isStudentTensor));
  assert.equal(deployed.metadata?.method, "teskd");
  const last = parseSafetensors(await Deno.readFile(join(out, "last.safetensors")));
  assert.ok(last.tensors.has("fc_b3.weight"));
  assert.ok(last.tensors.has("optimizer.momentum_buffer.fc_b3.weight"));
  assert.equal(last.metadata?.epoch, "1");
  assert.deepEqual(
    resolveTrainConfig(JSON.parse(last.metadata!.config)),
    resolveTrainConfig({ ...TINY_RUN, outDir: out }),
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

  // A config that computes something else is refused, naming the fields; nothing is overwritten.
  const before = await Deno.readFile(join(out, "last.safetensors"));
  lines.length = 0;
  const changed = await writeConfig(
    dir,
    tinyRun({
      outDir: out,
      method: { name: "teskd", levels: ["8x8"], kd: 0.5 },
      optim: { lr: 0.2 },
      schedule: { epochs: 3 },
    }),
  );
  assert.equal(await main(["--config", changed, "--resume"], { log }), 1);
  assert.match(
    lines.at(-1)!,
    /cannot resume from .*last\.safetensors: the config differs from the checkpoint's in method\.kd, optim\.lr \(only schedule\.epochs may grow\)/,
  );
  assert.deepEqual(await Deno.readFile(join(out, "last.safetensors")), before);
  // Fewer epochs than the checkpoint's is a different run too.
  lines.length = 0;
  const fewer = await writeConfig(dir, tinyRun({ outDir: out, schedule: { epochs: 1 } }));
  assert.equal(await main(["--config", fewer, "--resume"], { log }), 1);
  assert.match(lines.at(-1)!, /differs from the checkpoint's in schedule\.epochs/);
});

Deno.test("cli: bad arguments and configs fail with clear messages; an abort exits 130", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  assert.throws(() => parseArgs([]), /--config is required/);
  assert.throws(() => parseArgs(["--config", "a.json", "--fast"]), /unknown argument "--fast"/);
  assert.throws(() => parseArgs(["--config", "a.json", "--epochs", "0"]), /--epochs must be/);
  const fails = async (cfg: unknown, message: RegExp) => {
    assert.equal(await main(["--config", await writeConfig(dir, cfg)], { log }), 1);
    assert.match(lines.at(-1)!, message);
  };
  await fails({ epochs: 3 }, /cfg\.json: unknown field "epochs"; known fields here: recipe, data/);
  await fails({ optim: { lr: -1 } }, /cfg\.json: "optim\.lr" must be a number ≥ 0, got -1/);
  await fails({ optim: { lr: "0.1" } }, /cfg\.json: "optim\.lr" must be a number, got "0\.1"/);
  await fails({ data: { synthetc: {} } }, /unknown field "data\.synthetc"/);
  await fails({ method: { name: "kd", beta: 3 } }, /unknown field "beta" for method "kd"/);
  await fails({ method: "dkd" }, /unknown method "dkd"; known methods: baseline, teskd, kd/);
  await fails("", /cfg\.json is empty/);
  await fails("null", /cfg\.json: expected an object of TrainConfig fields .*got null/);
  await fails("[1]", /got a list/);
  assert.equal(await main(["--config", join(dir, "missing.json")], { log }), 1);
  assert.match(lines.at(-1)!, /cannot read config .*missing\.json/);
  // A teacher→student method without a teacher says what to set.
  await fails(
    tinyRun({ method: "kd", model: { network: "cifarresnet18" }, outDir: join(dir, "kd") }),
    /method "kd" distills from a pretrained teacher: set model\.teacher/,
  );
  const ctrl = new AbortController();
  ctrl.abort(new Error("stop now"));
  const cfg = await writeConfig(dir, { ...TINY_RUN, outDir: join(dir, "o") });
  assert.equal(await main(["--config", cfg], { log, signal: ctrl.signal }), 130);
  assert.match(lines.at(-1)!, /stopped: stop now\. Run again with --resume/);
});

Deno.test("cli: the baseline (the network alone, CE only) runs through the same trainer", async () => {
  const dir = await Deno.makeTempDir();
  const out = join(dir, "base");
  const lines: string[] = [];
  const cfg = await writeConfig(dir, tinyRun({ method: "baseline", outDir: out }));
  assert.equal(await main(["--config", cfg], { log: (l) => lines.push(l) }), 0, lines.join("\n"));
  const history = JSON.parse(await Deno.readTextFile(join(out, "history.json"))) as EpochRecord[];
  assert.deepEqual(Object.keys(history[0].eval), ["model"]);
  assert.equal(history[0].deployedHead, "model");
  assert.deepEqual(Object.keys(history[0].terms), ["cls"]);
  assert.ok(Math.abs(history[0].loss - history[0].terms.cls) < 1e-6);
  const last = parseSafetensors(await Deno.readFile(join(out, "last.safetensors")));
  assert.ok(![...last.tensors.keys()].some(isStudentTensor));
  assert.ok(last.tensors.has("fc.weight"));
});

Deno.test("config: recipes and method defaults are the official ones; bad values are refused", () => {
  const c = resolveTrainConfig({});
  assert.equal(c.recipe, "teskd");
  assert.deepEqual(
    [c.optim.lr, c.optim.momentum, c.optim.nesterov, c.optim.weightDecay, c.data.batchSize],
    [0.1, 0.9, true, 5e-4, 128],
  );
  assert.deepEqual([c.schedule.epochs, c.schedule.milestones, c.seed], [200, [100, 150], 27]);
  assert.deepEqual(c.method, {
    name: "teskd",
    levels: ["8x8", "16x16", "32x32"],
    ce: 0.2,
    kd: 0.8,
    fea: 1e-7,
    temperature: 4,
    fusion: "add-concat",
    detachTeacher: false,
  });
  assert.deepEqual([c.model.network, c.data.dataset], ["cifarresnet18", "cifar100"]);
  // The toolbox recipe (SimKD's train_student.py), with its lr override for small students.
  const kd = resolveTrainConfig({ method: "kd" });
  assert.equal(kd.recipe, "toolbox");
  assert.deepEqual(
    [kd.optim.lr, kd.optim.nesterov, kd.data.batchSize, kd.schedule.epochs, kd.schedule.milestones],
    [0.05, false, 64, 240, [150, 180, 210]],
  );
  assert.deepEqual(kd.method, { name: "kd", cls: 1, div: 1, temperature: 4 });
  assert.equal(
    resolveTrainConfig({ method: "simkd", model: { network: "cifarresnet18" } }).optim.lr,
    0.05,
  );
  assert.deepEqual(resolveTrainConfig({ method: { name: "simkd", factor: 4 } }).method, {
    name: "simkd",
    cls: 0,
    div: 0,
    beta: 1,
    temperature: 4,
    factor: 4,
  });
  assert.equal(resolveTrainConfig({ method: "fitnet" }).method.name, "fitnet");
  // A field given overrides the recipe's; the recipe can be chosen.
  const mixed = resolveTrainConfig({ recipe: "teskd", method: "kd", optim: { lr: 0.02 } });
  assert.deepEqual([mixed.optim.lr, mixed.optim.nesterov, mixed.data.batchSize], [0.02, true, 128]);
  assert.throws(
    () => resolveTrainConfig({ model: { network: "resnet9" } }, "x.json"),
    /x\.json: "model\.network" must be one of .*cifarresnet18/,
  );
  assert.throws(
    () => resolveTrainConfig({ method: { name: "teskd", levels: ["4x4"] } }),
    /"levels" must be a list of 8x8/,
  );
  assert.throws(
    () => resolveTrainConfig({ method: { name: "simkd", factor: 0 } }),
    /"factor" must be an integer ≥ 1/,
  );
  assert.throws(
    () => resolveTrainConfig({ recipe: "fast" }),
    /"recipe" must be "teskd" or "toolbox"/,
  );
  assert.deepEqual(configDiff(c, resolveTrainConfig({ seed: 1, outDir: "elsewhere" })), ["seed"]);
});

Deno.test("cli: teacher→student methods run headless from a teacher checkpoint; each deploys its own network", async () => {
  const dir = await Deno.makeTempDir();
  const lines: string[] = [];
  const log = (l: string) => lines.push(l);
  const data = { ...TINY_RUN.data, synthetic: { size: 32, train: 16, test: 8, classes: 4 } };
  const small = { data, backend: "cpu" as const, schedule: { epochs: 1, milestones: [] } };
  // A teacher pretrained with the baseline; its deployed network is the checkpoint the others read.
  const teacherOut = join(dir, "teacher");
  const teacherCfg = await writeConfig(dir, {
    ...small,
    method: "baseline",
    model: { network: "resnet8" },
    outDir: teacherOut,
  });
  assert.equal(await main(["--config", teacherCfg], { log }), 0, lines.join("\n"));
  const checkpoint = join(teacherOut, "deployed.safetensors");
  const teacher = { network: "resnet8", checkpoint };
  // Every teacher→student method of the registry; each deploys the student alone, or (SimKD, ATSC)
  // the student with its projector and the (reused or adapted) teacher classifier.
  const studentOnly = ["conv1.weight", "fc.weight"];
  const withProjector = ["student.conv1.weight", "proj.transfer.0.weight", "cls_t.weight"];
  const deployedNames: Record<string, string[]> = { simkd: withProjector, atsc: withProjector };
  const methods = METHOD_NAMES.filter((m) => getMethod(m).needsTeacher);
  assert.equal(methods.length, 10, `the toolbox's nine methods and ATSC: ${methods}`);
  for (const [method, names] of methods.map((m) => [m, deployedNames[m] ?? studentOnly] as const)) {
    const out = join(dir, method);
    const cfg = await writeConfig(dir, {
      ...small,
      method,
      model: { network: "resnet8", teacher },
      outDir: out,
    });
    lines.length = 0;
    assert.equal(await main(["--config", cfg], { log }), 0, lines.join("\n"));
    const results = JSON.parse(await Deno.readTextFile(join(out, "results.json")));
    assert.equal(results.method, method);
    assert.equal(results.deployedHead, "student");
    const deployed = parseSafetensors(await Deno.readFile(join(out, "deployed.safetensors")));
    for (const n of names) assert.ok(deployed.tensors.has(n), `${method}: ${n} deployed`);
    assert.equal(deployed.metadata?.method, method);
    // The checkpoint holds what was trained: never a frozen teacher; ATSC's adapted teacher, always.
    const last = parseSafetensors(await Deno.readFile(join(out, "last.safetensors")));
    const teacherSaved = [...last.tensors.keys()].some((n) => n.startsWith("teacher."));
    assert.equal(teacherSaved, method === "atsc", `${method}: teacher in the checkpoint`);
    assert.ok(lines.some((l) => l.includes(`${method}: resnet8 from resnet8`)), lines.join("\n"));
  }
  // A teacher checkpoint of another network is refused, naming the file.
  lines.length = 0;
  const wrong = await writeConfig(dir, {
    ...small,
    method: "kd",
    model: { network: "resnet8", teacher: { network: "resnet14", checkpoint } },
    outDir: join(dir, "wrong"),
  });
  assert.equal(await main(["--config", wrong], { log }), 1);
  assert.match(
    lines.at(-1)!,
    /deployed\.safetensors: not a resnet14 checkpoint: loadStateDict: missing/,
  );
});
