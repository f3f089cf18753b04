import { registerFastCpuBackend } from "../../lib/backend/cpu/mod.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import * as tf from "@tensorflow/tfjs";
import assert from "node:assert/strict";
import { CIFAR_RESNETS } from "../../lib/models/cifar_resnet.ts";
import type { Network, NetworkOptions } from "../../lib/models/network.ts";
import { VGG_BNS } from "../../lib/models/vgg_bn.ts";
import { WRNS } from "../../lib/models/wrn.ts";
import { fixtureInput, loadFixtureWeights } from "../../lib/parity/generate.ts";
import { valuesOverMax } from "../../lib/parity/metrics.ts";

await registerFastCpuBackend();
await initBackend("cpu");

const BUILDERS: Record<string, (opts: NetworkOptions) => Network> = {
  ...CIFAR_RESNETS,
  ...WRNS,
  ...VGG_BNS,
};

type Hwc = [number, number, number];

/** Maps of a 32×32 input for stage widths [w0, w1, w2, w3] (ResNet / WRN: 32², 32², 16², 8²). */
const resMaps = (w: readonly number[]): Hwc[] => [
  [32, 32, w[0]],
  [32, 32, w[1]],
  [16, 16, w[2]],
  [8, 8, w[3]],
];
/** VGG-BN maps: 64×32², 128×16², 256×8², 512×4², 512×4² (pool3 does not run at 32 px). */
const VGG_MAPS: Hwc[] = [[32, 32, 64], [16, 16, 128], [8, 8, 256], [4, 4, 512], [4, 4, 512]];

/**
 * Spec §3.1–3.3: parameters at 100 classes, maps as [H, W, C] (the spec's C×H² transposed), pooled
 * channels, classifier name.
 *
 * vgg11 / vgg16_bn / vgg19_bn are not in the spec's table; their counts follow from the official cfg
 * 'A' / 'D' / 'E' exactly as vgg8 ('S', 3,965,028) and vgg13 ('B', 9,462,180) do: each conv3x3 with
 * bias adds 9·C_in·C_out + C_out, each BN 2·C_out, the classifier 512·100 + 100.
 * - 'A' [[64],[128],[256,256],[512,512],[512,512]]: 9,225,984 + 51,300 = 9,277,284.
 * - 'D' [[64,64],[128,128],[256×3],[512×3],[512×3]]: 14,723,136 + 51,300 = 14,774,436.
 * - 'E' [[64,64],[128,128],[256×4],[512×4],[512×4]]: 20,035,392 + 51,300 = 20,086,692.
 * (Same formula: 'S' gives 3,913,728 + 51,300 and 'B' 9,410,880 + 51,300, the spec's counts.)
 */
const SPEC: Record<string, { params: number; maps: Hwc[]; pooled: number; classifier: string }> = {
  resnet8: { params: 83_892, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet14: { params: 181_108, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet20: { params: 278_324, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet32: { params: 472_756, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet38: { params: 569_972, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet44: { params: 667_188, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet56: { params: 861_620, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet110: { params: 1_736_564, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet116: { params: 1_833_780, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  resnet14x2: { params: 703_732, maps: resMaps([16, 32, 64, 128]), pooled: 128, classifier: "fc" },
  resnet38x2: {
    params: 2_255_604,
    maps: resMaps([16, 32, 64, 128]),
    pooled: 128,
    classifier: "fc",
  },
  resnet110x2: {
    params: 6_911_220,
    maps: resMaps([16, 32, 64, 128]),
    pooled: 128,
    classifier: "fc",
  },
  resnet8x4: {
    params: 1_233_540,
    maps: resMaps([32, 64, 128, 256]),
    pooled: 256,
    classifier: "fc",
  },
  resnet14x4: {
    params: 2_783_620,
    maps: resMaps([32, 64, 128, 256]),
    pooled: 256,
    classifier: "fc",
  },
  resnet32x4: {
    params: 7_433_860,
    maps: resMaps([32, 64, 128, 256]),
    pooled: 256,
    classifier: "fc",
  },
  resnet38x4: {
    params: 8_983_940,
    maps: resMaps([32, 64, 128, 256]),
    pooled: 256,
    classifier: "fc",
  },
  wrn_16_1: { params: 180_916, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  wrn_16_2: { params: 703_284, maps: resMaps([16, 32, 64, 128]), pooled: 128, classifier: "fc" },
  wrn_40_1: { params: 569_780, maps: resMaps([16, 16, 32, 64]), pooled: 64, classifier: "fc" },
  wrn_40_2: { params: 2_255_156, maps: resMaps([16, 32, 64, 128]), pooled: 128, classifier: "fc" },
  vgg8: { params: 3_965_028, maps: VGG_MAPS, pooled: 512, classifier: "classifier" },
  vgg11: { params: 9_277_284, maps: VGG_MAPS, pooled: 512, classifier: "classifier" },
  vgg13: { params: 9_462_180, maps: VGG_MAPS, pooled: 512, classifier: "classifier" },
  vgg16_bn: { params: 14_774_436, maps: VGG_MAPS, pooled: 512, classifier: "classifier" },
  vgg19_bn: { params: 20_086_692, maps: VGG_MAPS, pooled: 512, classifier: "classifier" },
};

/** Aliases of the registry: alias → canonical name. */
const ALIASES: Record<string, string> = { vgg8_bn: "vgg8", vgg11_bn: "vgg11", vgg13_bn: "vgg13" };

interface KdFixture {
  salt: string;
  batch: number;
  num_classes: number;
  teacher: string;
  student: string;
  parameters: Record<string, { shape: number[] }>;
  eval: Record<
    "teacher" | "student",
    { logits: { values: number[][] }; feats: Record<string, { values?: number[][] }> }
  >;
  tolerance: Record<string, number>;
}

/** The fixture cases and which network plays which role there. */
const CASES: { file: string; role: "teacher" | "student"; arch: string }[] = [
  { file: "resnet32x4_resnet8x4_kd_b4.json", role: "teacher", arch: "resnet32x4" },
  { file: "resnet32x4_resnet8x4_kd_b4.json", role: "student", arch: "resnet8x4" },
  { file: "vgg13_vgg8_kd_b8.json", role: "teacher", arch: "vgg13" },
  { file: "vgg13_vgg8_kd_b8.json", role: "student", arch: "vgg8" },
];

const fixtures = new Map<string, KdFixture>();
function fixture(file: string): KdFixture {
  let fx = fixtures.get(file);
  if (fx === undefined) {
    const url = new URL(`../fixtures/kd/${file}`, import.meta.url);
    fx = JSON.parse(Deno.readTextFileSync(url)) as KdFixture;
    fixtures.set(file, fx);
  }
  return fx;
}

Deno.test("the builders cover the registry names (and the VGG aliases), in order", () => {
  assert.deepEqual(Object.keys(BUILDERS), [...Object.keys(SPEC), ...Object.keys(ALIASES)]);
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
      // The classifier's tensors are the last ones, under the official classifier name.
      const names = net.namedParameters().map((p) => p.name);
      assert.deepEqual(names.slice(-2), [`${spec.classifier}.weight`, `${spec.classifier}.bias`]);
    } finally {
      net.dispose();
    }
  });
}

Deno.test("the VGG *_bn aliases build the same networks as their canonical names", () => {
  for (const [alias, canonical] of Object.entries(ALIASES)) {
    const net = BUILDERS[alias]({ numClasses: 100 });
    try {
      assert.equal(net.arch, canonical);
      assert.equal(net.parameterCount(), SPEC[canonical].params);
    } finally {
      net.dispose();
    }
  }
});

Deno.test("numClasses is validated with a clear error", () => {
  for (const build of [CIFAR_RESNETS.resnet8, WRNS.wrn_16_1, VGG_BNS.vgg8]) {
    for (const bad of [0, -3, 2.5, NaN]) {
      assert.throws(() => build({ numClasses: bad }), /numClasses must be a positive integer/);
    }
  }
});

Deno.test("the initialisation follows the official schemes and the seed", () => {
  const stats = (t: tf.Tensor) => {
    const v = t.dataSync();
    let s = 0;
    let max = 0;
    for (const x of v) {
      s += x * x;
      max = Math.max(max, Math.abs(x));
    }
    return { rms: Math.sqrt(s / v.length), max };
  };
  const get = (net: Network, name: string) => {
    const e = net.namedTensors().find((t) => t.name === name);
    assert.ok(e, name);
    return e.variable;
  };
  // ResNet: conv N(0, 2/(9·C_out)); fc PyTorch default U(±1/√fan_in).
  const r = CIFAR_RESNETS.resnet8x4({ numClasses: 100, seed: 1 });
  const w = stats(get(r, "layer3.0.conv2.weight"));
  assert.ok(Math.abs(w.rms / Math.sqrt(2 / (9 * 256)) - 1) < 0.02, `${w.rms}`);
  assert.ok(stats(get(r, "fc.weight")).max <= 1 / 16);
  assert.ok(stats(get(r, "fc.bias")).max > 0);
  // WRN: fc bias 0.
  const wr = WRNS.wrn_16_2({ numClasses: 100, seed: 1 });
  assert.equal(stats(get(wr, "fc.bias")).max, 0);
  assert.ok(stats(get(wr, "fc.weight")).max <= 1 / Math.sqrt(128));
  // VGG: conv bias 0, classifier N(0, 0.01²) with bias 0.
  const v = VGG_BNS.vgg8({ numClasses: 100, seed: 1 });
  assert.equal(stats(get(v, "block0.0.bias")).max, 0);
  assert.ok(Math.abs(stats(get(v, "classifier.weight")).rms / 0.01 - 1) < 0.02);
  assert.equal(stats(get(v, "classifier.bias")).max, 0);
  // Same seed, same weights; another seed, other weights.
  const r2 = CIFAR_RESNETS.resnet8x4({ numClasses: 100, seed: 1 });
  const r3 = CIFAR_RESNETS.resnet8x4({ numClasses: 100, seed: 2 });
  const a = get(r, "conv1.weight").dataSync();
  assert.deepEqual(get(r2, "conv1.weight").dataSync(), a);
  assert.notDeepEqual(get(r3, "conv1.weight").dataSync(), a);
  for (const n of [r, r2, r3, wr, v]) n.dispose();
});

for (const { file, role, arch } of CASES) {
  Deno.test(`${arch}: state_dict names, order and PyTorch shapes equal the fixture's (${role})`, () => {
    const fx = fixture(file);
    assert.equal(fx[role], arch);
    const prefix = `${role}.`;
    const ref = Object.entries(fx.parameters)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v.shape]);
    const net = BUILDERS[arch]({ numClasses: fx.num_classes });
    try {
      const own = net.namedTensors()
        .filter((t) => !t.name.endsWith("num_batches_tracked"))
        .map((t) => [t.name, t.torchShape]);
      assert.deepEqual(own, ref);
    } finally {
      net.dispose();
    }
  });

  Deno.test(`${arch}: eval logits and pooled vector match the fixture (official PyTorch)`, () => {
    const fx = fixture(file);
    const tol = fx.tolerance["eval/values_over_max"];
    const net = BUILDERS[arch]({ numClasses: fx.num_classes });
    try {
      loadFixtureWeights(net, `${fx.salt}${role}.`);
      net.eval();
      const x = fixtureInput(fx.batch, fx.salt);
      const [logits, pooled] = tf.tidy(() => {
        const f = net.features(x);
        return [f.logits.dataSync(), f.pooled.dataSync()];
      });
      x.dispose();
      const ref = fx.eval[role];
      const keys = Object.keys(ref.feats);
      // The pooled vector (the official feat[-1]) is the last entry, listed in full.
      const refPooled = ref.feats[keys[keys.length - 1]].values!.flat();
      const eLogits = valuesOverMax(logits, ref.logits.values.flat());
      const ePooled = valuesOverMax(pooled, refPooled);
      assert.ok(eLogits <= tol, `logits values_over_max ${eLogits} > ${tol}`);
      assert.ok(ePooled <= tol, `pooled values_over_max ${ePooled} > ${tol}`);
    } finally {
      net.dispose();
    }
  });
}

for (const name of ["resnet8", "wrn_16_1", "vgg8"]) {
  Deno.test(`${name}: one variableGrads of a CE loss gives a finite gradient for every parameter`, () => {
    const net = BUILDERS[name]({ numClasses: 10, seed: 3 });
    try {
      net.train();
      const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 7);
      const y = tf.oneHot([1, 8], 10);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, net.forward(x).logits) as tf.Scalar,
        net.parameters(),
      );
      assert.ok(Number.isFinite(value.dataSync()[0]));
      for (const p of net.namedParameters()) {
        const g = grads[p.variable.name];
        assert.ok(g !== undefined, `no gradient for ${p.name}`);
        assert.deepEqual(g.shape, p.variable.shape, p.name);
        assert.ok(g.dataSync().every(Number.isFinite), `non-finite gradient for ${p.name}`);
      }
      // The gradient reaches the stem (a broken chain would leave zeros there).
      const stem = net.namedParameters()[0];
      assert.ok(tf.tidy(() => tf.max(tf.abs(grads[stem.variable.name])).dataSync()[0]) > 0);
      tf.dispose([value, x, y, ...Object.values(grads)]);
    } finally {
      net.dispose();
    }
  });
}

/**
 * Eval-mode logits (first 12 of each of 2 images) of two WRNs, which have no official fixture:
 * computed once in float64 with NumPy on a line-by-line re-statement of mdistiller's
 * `BasicBlock.forward` / `WideResNet.forward` (wrn_16_1 has an identity block1, wrn_16_2 a 1×1
 * `convShortcut` at stride 1 there), loaded with the fixture value rule under the key prefix
 * `xcheck.<name>.` and fed `fixtureInput(2, "xcheck.<name>.")`.
 */
const WRN_LOGITS: Record<string, number[][]> = {
  wrn_16_1: [
    [
      -0.987588694,
      0.751391345,
      -0.84395411,
      -0.623976014,
      -0.391319364,
      -0.902160128,
      -0.806091662,
      1.23387982,
      0.242691126,
      -0.0660566963,
      -0.415219354,
      -0.54977681,
    ],
    [
      -0.913988241,
      0.552145048,
      -0.889361887,
      -0.671901144,
      -0.374053606,
      -1.00451768,
      -0.992988451,
      1.32187066,
      0.315195948,
      -0.113552209,
      -0.375394271,
      -0.336105856,
    ],
  ],
  wrn_16_2: [
    [
      0.594144268,
      -0.607817812,
      0.10579045,
      -0.595607593,
      0.813342592,
      0.121860845,
      1.57075218,
      -0.800162558,
      0.700348057,
      -0.817442509,
      0.259563533,
      -0.124697752,
    ],
    [
      0.609128302,
      -0.734046519,
      -0.0201300766,
      -0.677193122,
      0.7093427,
      0.216853342,
      1.69030288,
      -0.648108058,
      0.779138704,
      -0.932079502,
      0.266354914,
      -0.214919978,
    ],
  ],
};

for (const [name, ref] of Object.entries(WRN_LOGITS)) {
  Deno.test(`${name} eval logits match a float64 re-statement of the official forward`, () => {
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
