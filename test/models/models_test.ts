import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { initBackend } from "../../lib/backend/mod.ts";
import {
  createTeacher,
  createTeskd,
  LEVELS,
  ResNet,
  summaryText,
  Teskd,
  teskdSummary,
} from "../../lib/models/mod.ts";

await initBackend("cpu");

const FIXTURES = new URL("../fixtures/teskd/", import.meta.url);

/** Official names (in order) and counts from a fixture, without its large value arrays. */
function fixtureNames(
  file: string,
): { names: string[]; count: number; teacher: number; classes: number; net: string } {
  const fx = JSON.parse(Deno.readTextFileSync(new URL(file, FIXTURES)));
  return {
    names: Object.keys(fx.parameters),
    count: fx.parameter_count,
    teacher: fx.teacher_parameter_count,
    classes: fx.num_classes,
    net: fx.network,
  };
}

Deno.test("CIFAR ResNet-18 counts: teacher 11,220,132; with students 37,050,832; step by step", () => {
  const teacher = new ResNet("cifar", { depth: 18, numClasses: 100, seed: 27 });
  assert.equal(teacher.parameterCount(), 11_220_132);
  const net = new Teskd(teacher);
  assert.equal(net.parameterCount(), 11_220_132);
  net.attachStudent("8x8");
  const c8 = net.parameterCount();
  net.attachStudent("16x16");
  const c16 = net.parameterCount();
  net.attachStudent("32x32");
  assert.equal(net.parameterCount(), 37_050_832);
  // Spec: 8x8 student 2.55 M, +5.37 M for 16x16, +17.92 M for 32x32.
  assert.equal(Math.round((c8 - 11_220_132) / 1e4) / 100, 2.55);
  assert.equal(Math.round((c16 - c8) / 1e4) / 100, 5.37);
  assert.equal(Math.round((37_050_832 - c16) / 1e4) / 100, 17.92);
  assert.throws(() => net.attachStudent("8x8"), /already attached/);
  net.dispose();
});

for (
  const file of ["cifarresnet34_c100_b2.json", "seresnet18_c100_b2.json", "vgg16_c100_b8.json"]
) {
  Deno.test(`state dict names, order and counts match ${file}`, () => {
    const ref = fixtureNames(file);
    const net = createTeskd(ref.net, { numClasses: ref.classes });
    const names = net.namedTensors().map((t) => t.name).filter((n) =>
      !n.endsWith("num_batches_tracked")
    );
    assert.deepEqual(names, ref.names);
    assert.equal(net.parameterCount(), ref.count);
    assert.equal(net.teacher.parameterCount(), ref.teacher);
    net.dispose();
  });
}

Deno.test("ImageNet ResNet-18 teacher matches torchvision's 11,689,512 parameters", () => {
  const t = createTeacher("resnet18", { numClasses: 1000 });
  assert.equal(t.parameterCount(), 11_689_512);
  t.dispose();
});

Deno.test("attaching students out of order keeps the official state-dict order", () => {
  const a = createTeskd("cifarresnet18", {
    numClasses: 10,
    widthMultiplier: 1 / 16,
    levels: ["32x32", "8x8"],
  });
  const b = createTeskd("cifarresnet18", {
    numClasses: 10,
    widthMultiplier: 1 / 16,
    levels: ["8x8", "32x32"],
  });
  const names = a.namedTensors().map((t) => t.name);
  assert.deepEqual(names, b.namedTensors().map((t) => t.name));
  assert.ok(names.includes("fuse_2.0.weight"), "the 32x32 level needs the whole pathway");
  assert.ok(!names.some((n) => n.startsWith("downsample2") || n.startsWith("fc_b2")));
  assert.ok(names.indexOf("fuse_1.0.weight") < names.indexOf("fuse_3.0.weight"));
  assert.ok(names.indexOf("downsample3.0.weight") < names.indexOf("downsample1.0.weight"));
  a.dispose();
  b.dispose();
});

const SMALL: [string, number][] = [
  ["cifarresnet18", 32],
  ["cifarresnet50", 32],
  ["seresnet18", 32],
  ["seresnet50", 32],
  ["vgg19", 32],
  ["resnet18", 64],
];
for (const [name, size] of SMALL) {
  Deno.test(`${name} (width/16) forward: named outputs with the right shapes`, () => {
    const net = createTeskd(name, { numClasses: 7, widthMultiplier: 1 / 16, seed: 3 });
    const W = net.width;
    const shapes = tf.tidy(() => {
      const out = net.forward(tf.zeros([2, size, size, 3]));
      return {
        t: [out.teacher.logits.shape, out.teacher.feature.shape],
        s: LEVELS.map((l) => [out.students[l]!.logits.shape, out.students[l]!.feature.shape]),
      };
    });
    assert.deepEqual(shapes.t, [[2, 7], [2, net.teacher.stageChannels[3]]]);
    for (const s of shapes.s) assert.deepEqual(s, [[2, 7], [2, W]]);
    net.dispose();
  });
}

Deno.test("fusion variants, width, head kernels and summaries", () => {
  const mk = (fusion: "add-concat" | "add" | "concat") =>
    createTeskd("cifarresnet18", { numClasses: 10, widthMultiplier: 1 / 16, fusion, width: 16 });
  const ac = mk("add-concat");
  const add = mk("add");
  const cat = mk("concat");
  assert.equal(ac.parameterCount(), cat.parameterCount());
  // "add" halves the fuse convs' input: 3 convs of 16·16 weights fewer.
  assert.equal(ac.parameterCount() - add.parameterCount(), 3 * 16 * 16);
  ac.eval();
  const rows = teskdSummary(ac, 32);
  assert.ok(
    ac.teacher.training === false && ac.namedChildren().every(([, m]) => !m.training),
    "mode kept",
  );
  assert.equal(rows.reduce((s, r) => s + r.params, 0), ac.parameterCount());
  assert.deepEqual(rows.slice(0, 4).map((r) => r.output), [
    "4×32×32",
    "8×16×16",
    "16×8×8",
    "32×4×4",
  ]);
  const head8 = rows.find((r) => r.name === "head 8x8")!;
  assert.equal(head8.output, "16×4×4 → 10");
  assert.match(summaryText(rows), /total parameters: /);
  const k = createTeskd("cifarresnet18", {
    numClasses: 10,
    widthMultiplier: 1 / 16,
    headKernels: { "32x32": 4 },
    levels: ["32x32"],
  });
  assert.deepEqual(k.namedTensors().find((t) => t.name === "downsample1.0.weight")!.torchShape, [
    32,
    32,
    4,
    4,
  ]);
  const teacher = createTeacher("cifarresnet18", { numClasses: 10 });
  assert.equal(
    createTeskd("cifarresnet18", { numClasses: 10, levels: [] }).parameterCount(),
    teacher.parameterCount(),
  );
  assert.throws(() => createTeacher("resnet99", { numClasses: 10 }), /unknown network "resnet99"/);
  for (const m of [ac, add, cat, k, teacher]) m.dispose();
});
