import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { AvgPool2d } from "../../lib/nn/avg_pool.ts";
import { Conv2d } from "../../lib/nn/conv.ts";
import { DepthwiseConv2d } from "../../lib/nn/depthwise.ts";
import { GroupedConv2d } from "../../lib/nn/grouped_conv.ts";
import { Generator } from "../../lib/nn/init.ts";
import { ChannelShuffle, channelShuffle } from "../../lib/nn/shuffle.ts";
import { MOBILENETS_V2 } from "../../lib/models/mobilenetv2.ts";
import type { Network, NetworkOptions } from "../../lib/models/network.ts";
import { SHUFFLENETS_V1 } from "../../lib/models/shufflenetv1.ts";
import { SHUFFLENETS_V2 } from "../../lib/models/shufflenetv2.ts";
import { fixtureInput, loadFixtureWeights } from "../../lib/parity/generate.ts";
import { valuesOverMax } from "../../lib/parity/metrics.ts";

await registerFastCpuBackend();
await initBackend("cpu");

const BUILDERS: Record<string, (opts: NetworkOptions) => Network> = {
  ...SHUFFLENETS_V2,
  ...SHUFFLENETS_V1,
  ...MOBILENETS_V2,
};

/** Spec §3.4–3.5: parameters at 100 classes, maps as [H, W, C], pooled channels. */
const SPEC: Record<
  string,
  { params: number; maps: [number, number, number][]; pooled: number; classifier: string }
> = {
  ShuffleV2: {
    params: 1_355_528,
    maps: [[32, 32, 24], [16, 16, 116], [8, 8, 232], [4, 4, 464]],
    pooled: 1024,
    classifier: "linear",
  },
  ShuffleV2_1_5: {
    params: 2_580_548,
    maps: [[32, 32, 24], [16, 16, 176], [8, 8, 352], [4, 4, 704]],
    pooled: 1024,
    classifier: "linear",
  },
  ShuffleV1: {
    params: 949_258,
    maps: [[32, 32, 24], [16, 16, 240], [8, 8, 480], [4, 4, 960]],
    pooled: 960,
    classifier: "linear",
  },
  MobileNetV2: {
    params: 812_836,
    maps: [[16, 16, 16], [16, 16, 12], [8, 8, 16], [4, 4, 48], [2, 2, 160]],
    pooled: 1280,
    classifier: "classifier",
  },
  MobileNetV2_1_0: {
    params: 2_353_060,
    maps: [[16, 16, 32], [16, 16, 24], [8, 8, 32], [4, 4, 96], [2, 2, 320]],
    pooled: 1280,
    classifier: "classifier",
  },
};

const FIXTURE = new URL("../fixtures/kd/resnet32x4_ShuffleV2_kd_b4.json", import.meta.url);

interface KdFixture {
  salt: string;
  batch: number;
  num_classes: number;
  parameters: Record<string, { shape: number[] }>;
  eval: {
    student: { logits: { values: number[][] }; feats: Record<string, { values?: number[][] }> };
  };
  tolerance: Record<string, number>;
}

Deno.test("the builders cover the official names, in order", () => {
  assert.deepEqual(Object.keys(BUILDERS), Object.keys(SPEC));
});

for (const [name, spec] of Object.entries(SPEC)) {
  Deno.test(`${name}: ${spec.params} parameters, spec feature shapes, classifier`, () => {
    const net = BUILDERS[name]({ numClasses: 100 });
    try {
      assert.equal(net.arch, name);
      assert.equal(net.numClasses, 100);
      assert.equal(net.parameterCount(), spec.params);
      assert.deepEqual(net.featureShapes(32), { maps: spec.maps, pooled: spec.pooled });
      assert.equal(net.classifierName, spec.classifier);
      const linear = net.classifier.namedParameters().map((p) => p.torchShape);
      assert.deepEqual(linear, [[100, spec.pooled], [100]]);
      // The classifier's tensors sit under the official classifier name.
      const names = net.namedParameters().map((p) => p.name);
      const last = names.at(-1) as string;
      assert.ok(last.startsWith(`${spec.classifier}.`), last);
    } finally {
      net.dispose();
    }
  });
}

Deno.test("numClasses is validated with a clear error", () => {
  for (const build of Object.values(BUILDERS)) {
    for (const bad of [0, -3, 2.5, NaN]) {
      assert.throws(() => build({ numClasses: bad }), /numClasses must be a positive integer/);
    }
  }
});

Deno.test("ShuffleV2 state_dict names, order and PyTorch shapes equal the fixture's", () => {
  const fx = JSON.parse(Deno.readTextFileSync(FIXTURE)) as KdFixture;
  const ref = Object.entries(fx.parameters)
    .filter(([k]) => k.startsWith("student."))
    .map(([k, v]) => [k.slice("student.".length), v.shape]);
  const net = BUILDERS.ShuffleV2({ numClasses: fx.num_classes });
  try {
    const own = net.namedTensors()
      .filter((t) => !t.name.endsWith("num_batches_tracked"))
      .map((t) => [t.name, t.torchShape]);
    assert.deepEqual(own, ref);
  } finally {
    net.dispose();
  }
});

Deno.test("ShuffleV2 eval logits and pooled vector match the fixture (official PyTorch)", () => {
  const fx = JSON.parse(Deno.readTextFileSync(FIXTURE)) as KdFixture;
  const tol = fx.tolerance["eval/values_over_max"];
  const net = BUILDERS.ShuffleV2({ numClasses: fx.num_classes });
  try {
    loadFixtureWeights(net, `${fx.salt}student.`);
    net.eval();
    const x = fixtureInput(fx.batch, fx.salt);
    const [logits, pooled] = tf.tidy(() => {
      const f = net.features(x);
      return [f.logits.dataSync(), f.pooled.dataSync()];
    });
    x.dispose();
    const refFeats = fx.eval.student.feats;
    const refPooled = refFeats[`f${Object.keys(refFeats).length - 1}`].values!.flat();
    const eLogits = valuesOverMax(logits, fx.eval.student.logits.values.flat());
    const ePooled = valuesOverMax(pooled, refPooled);
    assert.ok(eLogits <= tol, `logits values_over_max ${eLogits} > ${tol}`);
    assert.ok(ePooled <= tol, `pooled values_over_max ${ePooled} > ${tol}`);
  } finally {
    net.dispose();
  }
});

for (const name of Object.keys(SPEC)) {
  Deno.test(`${name}: one variableGrads of a CE loss gives a finite gradient for every parameter`, () => {
    const net = BUILDERS[name]({ numClasses: 10, seed: 3 });
    try {
      net.train();
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 7);
      const y = tf.oneHot([1, 8], 10);
      const params = net.parameters();
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, net.forward(x).logits) as tf.Scalar,
        params,
      );
      assert.ok(Number.isFinite(value.dataSync()[0]));
      for (const p of net.namedParameters()) {
        const g = grads[p.variable.name];
        assert.ok(g !== undefined, `no gradient for ${p.name}`);
        assert.deepEqual(g.shape, p.variable.shape, p.name);
        const d = g.dataSync();
        assert.ok(d.every(Number.isFinite), `non-finite gradient for ${p.name}`);
      }
      // The gradient does reach the stem (a broken chain would leave zeros there).
      const stem = net.namedParameters()[0];
      assert.ok(tf.tidy(() => tf.max(tf.abs(grads[stem.variable.name])).dataSync()[0]) > 0);
      tf.dispose([value, x, y, ...Object.values(grads)]);
    } finally {
      net.dispose();
    }
  });
}

/**
 * Eval-mode logits (first 12 of each of 2 images) of ShuffleV1 and MobileNetV2, which have no official
 * fixture: computed once in float64 with PyTorch 1.13 on an independent re-statement of the official
 * architectures, loaded with the fixture value rule under the key prefix `xcheck.<name>.` and fed
 * `fixtureInput(2, "xcheck.<name>.")`.
 */
const TORCH_LOGITS: Record<string, number[][]> = {
  ShuffleV1: [
    [
      1.59946539,
      0.0868429491,
      -0.204928598,
      0.674103788,
      0.866482166,
      -0.00813020699,
      -0.720948292,
      -0.52314546,
      -1.74089147,
      1.3509536,
      -0.882425478,
      -0.759880895,
    ],
    [
      1.70784046,
      0.101796752,
      -0.19859178,
      0.737155457,
      0.987970489,
      -0.00917486495,
      -0.782784145,
      -0.546476905,
      -1.80766876,
      1.36249778,
      -0.941197293,
      -0.816233781,
    ],
  ],
  MobileNetV2: [
    [
      -0.365576612,
      0.313359313,
      0.00498773457,
      -0.0983040838,
      0.29133535,
      -0.11684704,
      -0.0818175191,
      0.00283284969,
      -0.0771182543,
      -0.013740097,
      -0.0718092343,
      0.122336234,
    ],
    [
      -0.361712634,
      0.304843393,
      0.00268502513,
      -0.0872040423,
      0.28313942,
      -0.122790722,
      -0.0983096012,
      0.00522325902,
      -0.0799994076,
      -0.0172306961,
      -0.0690673395,
      0.11377754,
    ],
  ],
  MobileNetV2_1_0: [
    [
      -0.0190687365,
      -0.230022648,
      0.155339871,
      -0.0281210995,
      0.0220879862,
      0.0841793319,
      0.120626,
      -0.00912197192,
      0.0505460057,
      -0.260373028,
      -0.0577220923,
      -0.0647961467,
    ],
    [
      -0.0212577865,
      -0.227399799,
      0.160076508,
      -0.0276798242,
      0.0225986423,
      0.0824043636,
      0.10800612,
      -0.0166630101,
      0.0456444629,
      -0.257340861,
      -0.055440354,
      -0.0667844708,
    ],
  ],
};

for (const [name, ref] of Object.entries(TORCH_LOGITS)) {
  Deno.test(`${name} eval logits match a PyTorch float64 re-statement`, () => {
    const net = BUILDERS[name]({ numClasses: 100 });
    try {
      loadFixtureWeights(net, `xcheck.${name}.`);
      net.eval();
      const x = fixtureInput(2, `xcheck.${name}.`);
      const got = tf.tidy(() => tf.slice(net.forward(x).logits, [0, 0], [2, 12]).arraySync());
      x.dispose();
      const e = valuesOverMax((got as number[][]).flat(), ref.flat());
      assert.ok(e < 1e-5, `values_over_max ${e}`);
    } finally {
      net.dispose();
    }
  });
}

// --- The layers, against plain references. ---

Deno.test("channelShuffle: old channel j·C/g + i becomes i·g + j (PyTorch's view-permute-reshape)", () => {
  const c = 6;
  const x = tf.tensor4d(Array.from({ length: 2 * c }, (_, i) => i), [1, 1, 2, c]);
  const y = new ChannelShuffle(3).forward(x);
  // Groups {0,1}, {2,3}, {4,5} interleave: 0, 2, 4, 1, 3, 5.
  assert.deepEqual(Array.from(y.dataSync()), [0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11]);
  assert.equal(channelShuffle(x, 1), x);
  tf.dispose([x, y]);
});

Deno.test("DepthwiseConv2d equals a dense conv with a diagonal weight; [C,1,k,k] state dict", () => {
  const rng = new Generator(5);
  const c = 4;
  const dw = new DepthwiseConv2d(c, 3, { stride: 2, padding: 1, rng });
  const sd = dw.stateDict();
  assert.deepEqual(sd.get("weight")!.shape, [c, 1, 3, 3]);
  const dense = new Conv2d(c, c, 3, { stride: 2, padding: 1, rng });
  // Dense OIHW weight with W[o, i] = dw[o] when i = o, else 0.
  const w = sd.get("weight")!.arraySync() as number[][][][];
  const full = Array.from(
    { length: c },
    (_, o) =>
      Array.from({ length: c }, (_, i) => i === o ? w[o][0] : [[0, 0, 0], [0, 0, 0], [0, 0, 0]]),
  );
  dense.loadStateDict(new Map([["weight", tf.tensor4d(full)], ["bias", sd.get("bias")!]]));
  const x = tf.randomNormal([2, 6, 6, c], 0, 1, "float32", 1);
  const a = dw.forward(x);
  const b = dense.forward(x);
  assert.deepEqual(a.shape, [2, 3, 3, c]);
  assert.ok(valuesOverMax(a.dataSync(), b.dataSync()) < 1e-6);
  // Round trip of the layout.
  dw.loadStateDict(sd);
  assert.deepEqual(
    Array.from(dw.stateDict().get("weight")!.dataSync()),
    Array.from(sd.get("weight")!.dataSync()),
  );
  tf.dispose([x, a, b, ...sd.values()]);
  dw.dispose();
  dense.dispose();
});

Deno.test("GroupedConv2d equals a dense conv with a block-diagonal weight; [O, I/g, k, k]", () => {
  const rng = new Generator(9);
  const [ci, co, g] = [6, 9, 3];
  const gc = new GroupedConv2d(ci, co, 1, { groups: g, rng });
  const sd = gc.stateDict();
  assert.deepEqual(sd.get("weight")!.shape, [co, ci / g, 1, 1]);
  const w = sd.get("weight")!.arraySync() as number[][][][];
  const full = Array.from(
    { length: co },
    (_, o) =>
      Array.from({ length: ci }, (_, i) => {
        const grp = Math.floor(o / (co / g));
        const local = i - grp * (ci / g);
        return local >= 0 && local < ci / g ? [[w[o][local][0][0]]] : [[0]];
      }),
  );
  const dense = new Conv2d(ci, co, 1, { rng });
  dense.loadStateDict(new Map([["weight", tf.tensor4d(full)], ["bias", sd.get("bias")!]]));
  const x = tf.randomNormal([2, 4, 4, ci], 0, 1, "float32", 2);
  const a = gc.forward(x);
  const b = dense.forward(x);
  assert.ok(valuesOverMax(a.dataSync(), b.dataSync()) < 1e-6);
  assert.throws(() => new GroupedConv2d(5, 9, 1, { groups: 3, rng }), /must divide/);
  tf.dispose([x, a, b, ...sd.values()]);
  gc.dispose();
  dense.dispose();
});

Deno.test("AvgPool2d counts the zero padding (PyTorch count_include_pad=True)", () => {
  const y = new AvgPool2d(3, 2, 1).forward(tf.ones([1, 4, 4, 1]));
  const v = Array.from(y.dataSync());
  [4 / 9, 6 / 9, 6 / 9, 1].forEach((e, i) => assert.ok(Math.abs(v[i] - e) < 1e-6, `${v}`));
  y.dispose();
});
