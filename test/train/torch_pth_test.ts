import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { zipSync } from "fflate";
import { initBackend } from "../../lib/backend/mod.ts";
import { entryFromArray, serializeSafetensorsToBytes } from "../../lib/train/safetensors.ts";
import {
  loadStateDictFile,
  loadTorchStateDict,
  readTorchFile,
  TorchPthError,
  TorchTensor,
  type TorchValue,
} from "../../lib/train/torch_pth.ts";

await initBackend("cpu");

/**
 * Writes every fixture with real PyTorch, in one Python process (importing torch takes seconds), and
 * `expected.json`: for each file, every tensor's dtype, shape and row-major values (int64 as strings).
 */
const GENERATOR = String.raw`
import collections, io, json, os, pickle, sys, zipfile
import torch

out = sys.argv[1]
torch.manual_seed(0)
expected = {}

def describe(t):
    c = t.detach().contiguous()
    if c.dtype == torch.int64:
        values = [str(x) for x in c.flatten().tolist()]
    elif c.dtype in (torch.float16, torch.bfloat16):
        values = c.float().flatten().tolist()
    elif c.dtype == torch.bool:
        values = [int(x) for x in c.flatten().tolist()]
    else:
        values = c.flatten().tolist()
    return {"dtype": str(c.dtype).replace("torch.", ""), "shape": list(c.shape), "values": values}

def record(name, tensors):
    expected[name] = {k: describe(v) for k, v in tensors.items()}

class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(4, 10)
    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return self.fc(x.mean((2, 3)))

net = Net()
net.train()
for _ in range(3):
    net(torch.randn(2, 3, 5, 5))
sd = net.state_dict()
assert sd["bn1.num_batches_tracked"].dtype == torch.int64
torch.save({"model": sd, "epoch": 3, "best_acc": 71.5}, os.path.join(out, "cnn.pth"))
record("cnn", sd)

# Views saved as such: a transpose, a slice with an offset, a row, an expand (stride 0), and two
# tensors that share one storage.
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) * 0.5
shared = torch.randn(20)
views = {
    "base": base,
    "t": base.t(),
    "slice": base[1:3, 2:5],
    "row": base[2],
    "col": base[:, 3],
    "expand": torch.tensor([1.0, 2.0, 3.0]).expand(2, 3),
    "a": shared[:12].view(3, 4),
    "b": shared[12:].view(2, 4),
    "scalar": torch.tensor(7.25),
    "empty": torch.zeros(0, 3),
}
assert not views["t"].is_contiguous() and views["slice"].storage_offset() == 8
assert views["a"].storage().data_ptr() == views["b"].storage().data_ptr()
torch.save(views, os.path.join(out, "views.pth"))
record("views", views)

dtypes = {
    "f16": torch.tensor([[1.5, -2.25, 65504.0], [6e-08, 0.1, -0.0]], dtype=torch.float16),
    "f64": torch.tensor([1 / 3, 1e300, -2.5e-310, 3.0], dtype=torch.float64).view(2, 2).t(),
    "bf16": torch.tensor([1.0, -3.140625, 1e38, 0.0078125], dtype=torch.bfloat16),
    "i64": torch.tensor([1, -2, 2**40, -(2**53 - 1), 2**53 - 1], dtype=torch.int64),
    "i64big": torch.tensor([2**62, -(2**63), 5], dtype=torch.int64),
    "i32": torch.tensor([[2**31 - 1, -(2**31)], [0, 7]], dtype=torch.int32),
    "i16": torch.tensor([-32768, 32767, 3], dtype=torch.int16),
    "i8": torch.tensor([-128, 127], dtype=torch.int8),
    "u8": torch.tensor([0, 255, 9], dtype=torch.uint8),
    "bool": torch.tensor([True, False, True], dtype=torch.bool),
}
torch.save(dtypes, os.path.join(out, "dtypes.pth"))
record("dtypes", dtypes)

# DataParallel names, under "state_dict" (the fallback entry).
dp = torch.nn.DataParallel(net).state_dict()
assert all(k.startswith("module.") for k in dp)
torch.save({"state_dict": dp, "epoch": 9}, os.path.join(out, "dp.pth"))

# The legacy (pre-1.6) format.
legacy = {"model": sd, "epoch": 5, "t": base.t(), "slice": base[1:3, 2:5], "f16": dtypes["f16"]}
torch.save(legacy, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)
record("legacy", {k: v for k, v in legacy.items() if k != "model" and k != "epoch"})

# No state dict.
torch.save({"epoch": 3, "acc": 1.5, "names": ["a", "b"]}, os.path.join(out, "nostate.pth"))

# Malicious pickles in a hand-written zip: os.system via GLOBAL + REDUCE (protocol 2), and
# builtins.eval via STACK_GLOBAL (protocol 4). Running either would create the marker file.
marker = os.path.join(out, "pwned")
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + marker,))
class Evil4:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch %s')" % marker,))
def write_zip(path, pkl, extra=()):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/version", "3\n")
        for name, data in extra:
            z.writestr(name, data)
write_zip(os.path.join(out, "evil.pth"), pickle.dumps({"model": Evil()}, protocol=2))
write_zip(os.path.join(out, "evil4.pth"), pickle.dumps({"model": Evil4()}, protocol=4))

# A storage shorter than its tensor needs.
with zipfile.ZipFile(os.path.join(out, "cnn.pth")) as z:
    entries = [(i.filename, z.read(i.filename)) for i in z.infolist()]
with zipfile.ZipFile(os.path.join(out, "short.pth"), "w", zipfile.ZIP_STORED) as z:
    for name, data in entries:
        z.writestr(name, data[:-4] if name.endswith("/data/0") else data)
    assert any(name.endswith("/data/0") for name, _ in entries)

with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f)
`;

interface Expected {
  [file: string]: {
    [tensor: string]: { dtype: string; shape: number[]; values: (number | string)[] };
  };
}

let generated: Promise<{ dir: string; expected: Expected }> | undefined;

/** Runs the generator once; the files are shared by every test. */
function fixtures(): Promise<{ dir: string; expected: Expected }> {
  generated ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "torch_pth_test_" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
    const script = join(dir, "gen.py");
    await Deno.writeTextFile(script, GENERATOR);
    const out = await new Deno.Command("/usr/bin/python3", {
      args: [script, dir],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `the PyTorch fixture generator failed:\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
    const expected = JSON.parse(await Deno.readTextFile(join(dir, "expected.json"))) as Expected;
    return { dir, expected };
  })();
  return generated;
}

/** Compares a read tensor with what Python wrote, value by value (exactly). */
function assertTensor(t: TorchValue | undefined, want: Expected[string][string], name: string) {
  assert.ok(t instanceof TorchTensor, `${name} is a tensor`);
  assert.equal(t.dtype, want.dtype, `${name} dtype`);
  assert.deepEqual(t.shape, want.shape, `${name} shape`);
  const got = t.data instanceof BigInt64Array
    ? [...t.data].map(String)
    : t.dtype === "int64"
    ? [...t.data].map((x) => String(x))
    : Array.from(t.data as ArrayLike<number>);
  assert.deepEqual(got, want.values, `${name} values`);
}

function asMap(v: TorchValue | undefined): Map<TorchValue, TorchValue> {
  assert.ok(v instanceof Map);
  return v;
}

async function read(dir: string, file: string): Promise<TorchValue> {
  const path = join(dir, file);
  return readTorchFile(await Deno.readFile(path), path);
}

function dispose(sd: Map<string, tf.Tensor>) {
  for (const t of sd.values()) t.dispose();
}

Deno.test("torch_pth: a small CNN's checkpoint reads back exactly, with its other entries", async () => {
  const { dir, expected } = await fixtures();
  const ckpt = asMap(await read(dir, "cnn.pth"));
  assert.deepEqual([...ckpt.keys()], ["model", "epoch", "best_acc"]);
  assert.equal(ckpt.get("epoch"), 3);
  assert.equal(ckpt.get("best_acc"), 71.5);
  const model = asMap(ckpt.get("model"));
  assert.deepEqual([...model.keys()], Object.keys(expected.cnn));
  for (const [name, want] of Object.entries(expected.cnn)) {
    assertTensor(model.get(name), want, name);
  }
  const nbt = model.get("bn1.num_batches_tracked") as TorchTensor;
  assert.deepEqual([nbt.dtype, nbt.shape, [...nbt.data]], ["int64", [], [3]]);
  assert.ok(nbt.data instanceof Float64Array);
});

Deno.test('torch_pth: loadTorchStateDict takes the "model" entry, as tf tensors in PyTorch layout', async () => {
  const { dir, expected } = await fixtures();
  const sd = await loadTorchStateDict(join(dir, "cnn.pth"));
  try {
    assert.deepEqual([...sd.keys()], Object.keys(expected.cnn));
    for (const [name, want] of Object.entries(expected.cnn)) {
      const t = sd.get(name)!;
      assert.deepEqual(t.shape, want.shape, name);
      assert.equal(t.dtype, want.dtype === "int64" ? "int32" : "float32", name);
      assert.deepEqual([...t.dataSync()], want.values.map(Number), name);
    }
    assert.deepEqual(sd.get("conv1.weight")!.shape, [4, 3, 3, 3]);
  } finally {
    dispose(sd);
  }
});

Deno.test("torch_pth: non-contiguous views, offsets, stride 0 and shared storages", async () => {
  const { dir, expected } = await fixtures();
  const v = asMap(await read(dir, "views.pth"));
  for (const [name, want] of Object.entries(expected.views)) assertTensor(v.get(name), want, name);
  // Tensors that shared a storage become independent copies.
  assert.notEqual((v.get("a") as TorchTensor).data.buffer, (v.get("b") as TorchTensor).data.buffer);
  assert.deepEqual([...(v.get("t") as TorchTensor).data].slice(0, 4), [0, 3, 6, 9]);
});

Deno.test("torch_pth: float16, bfloat16, float64 and integer dtypes", async () => {
  const { dir, expected } = await fixtures();
  const v = asMap(await read(dir, "dtypes.pth"));
  for (const [name, want] of Object.entries(expected.dtypes)) assertTensor(v.get(name), want, name);
  const get = (k: string) => v.get(k) as TorchTensor;
  assert.ok(get("f16").data instanceof Float32Array);
  assert.ok(get("bf16").data instanceof Float32Array);
  assert.ok(get("f64").data instanceof Float64Array);
  assert.ok(get("i64").data instanceof Float64Array, "safe int64 values are numbers");
  assert.ok(get("i64big").data instanceof BigInt64Array, "int64 beyond 2^53 stays exact");
  assert.deepEqual([...get("i64big").data], [2n ** 62n, -(2n ** 63n), 5n]);
  assert.ok(get("i32").data instanceof Int32Array);
  assert.ok(get("u8").data instanceof Uint8Array);

  // As tf tensors: floats → float32, integers → int32, bool → bool; int64 beyond int32 is refused.
  await assert.rejects(
    loadTorchStateDict(join(dir, "dtypes.pth")),
    /dtypes\.pth: tensor "i64" \(int64\) holds 1099511627776, outside the int32 range/,
  );
});

Deno.test("torch_pth: DataParallel's module. prefix is stripped (state_dict entry)", async () => {
  const { dir, expected } = await fixtures();
  const sd = await loadTorchStateDict(join(dir, "dp.pth"));
  try {
    assert.deepEqual([...sd.keys()], Object.keys(expected.cnn));
    const w = expected.cnn["fc.weight"];
    assert.deepEqual([...sd.get("fc.weight")!.dataSync()], w.values);
  } finally {
    dispose(sd);
  }
  const raw = asMap(asMap(await read(dir, "dp.pth")).get("state_dict"));
  assert.ok([...raw.keys()].every((k) => String(k).startsWith("module.")));
});

Deno.test("torch_pth: the legacy (pre-1.6) format is read, views and all", async () => {
  const { dir, expected } = await fixtures();
  const v = asMap(await read(dir, "legacy.pth"));
  assert.equal(v.get("epoch"), 5);
  for (const [name, want] of Object.entries(expected.legacy)) assertTensor(v.get(name), want, name);
  const model = asMap(v.get("model"));
  for (const [name, want] of Object.entries(expected.cnn)) {
    assertTensor(model.get(name), want, name);
  }
  const sd = await loadStateDictFile(join(dir, "legacy.pth"));
  try {
    assert.deepEqual([...sd.keys()], Object.keys(expected.cnn));
  } finally {
    dispose(sd);
  }
});

Deno.test("torch_pth: malicious pickles are refused, naming the global, and nothing runs", async () => {
  const { dir } = await fixtures();
  const evil = join(dir, "evil.pth");
  assert.throws(
    () => readTorchFile(Deno.readFileSync(evil), evil),
    (e: Error) =>
      e instanceof TorchPthError &&
      e.message ===
        `${evil}: refusing to unpickle global "posix.system" (only tensors and plain containers are supported)`,
  );
  await assert.rejects(loadTorchStateDict(evil), /refusing to unpickle global "posix\.system"/);
  await assert.rejects(
    loadStateDictFile(join(dir, "evil4.pth")),
    /evil4\.pth: refusing to unpickle global "builtins\.eval"/,
  );
  assert.equal(await exists(join(dir, "pwned")), false, "the payload must not have run");
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A zip holding `archive/data.pkl` = the given pickle bytes (and any other entries). */
function zipWith(pkl: number[] | Uint8Array, extra: Record<string, Uint8Array> = {}): Uint8Array {
  return zipSync({ "archive/data.pkl": new Uint8Array(pkl), ...extra }, { level: 0 });
}

const enc = (s: string) => [...new TextEncoder().encode(s)];

Deno.test("torch_pth: hand-made pickles: BUILD, object construction, unknown opcodes are refused", () => {
  // {"a": 1}, then BUILD on the plain dict.
  const dictBuild = [0x80, 2, 0x7d, 0x28, 0x58, 1, 0, 0, 0, ...enc("a"), 0x4b, 1, 0x75];
  assert.throws(
    () => readTorchFile(zipWith([...dictBuild, 0x7d, 0x62, 0x2e]), "x.pth"),
    /x\.pth: refusing to BUILD \(set the state of\) a dict/,
  );
  // collections.OrderedDict via NEWOBJ.
  const od = [0x80, 2, 0x63, ...enc("collections\nOrderedDict\n"), 0x29, 0x81, 0x2e];
  assert.throws(() => readTorchFile(zipWith(od), "x.pth"), /x\.pth: refusing pickle opcode NEWOBJ/);
  // An allowed global used as a value; a storage class called.
  const g = [0x80, 2, 0x63, ...enc("torch\nFloatStorage\n")];
  assert.throws(
    () => readTorchFile(zipWith([...g, 0x2e]), "x.pth"),
    /global "torch\.FloatStorage" used as a value/,
  );
  assert.throws(
    () => readTorchFile(zipWith([...g, 0x29, 0x52, 0x2e]), "x.pth"),
    /refusing to call "torch\.FloatStorage"/,
  );
  assert.throws(
    () => readTorchFile(zipWith([0x80, 2, 0xff, 0x2e]), "x.pth"),
    /unknown pickle opcode 0xff/,
  );
  assert.throws(
    () => readTorchFile(zipWith([0x80, 2, 0x58, 9, 0, 0]), "x.pth"),
    /x\.pth: pickle data truncated/,
  );
  // Plain values: bytes (protocol 2's _codecs.encode), big ints, tuples, nested lists.
  const ok = [
    0x80,
    2,
    0x5d,
    0x28,
    0x63,
    ...enc("_codecs\nencode\n"),
    0x58,
    2,
    0,
    0,
    0,
    ...enc("xy"),
    0x58,
    6,
    0,
    0,
    0,
    ...enc("latin1"),
    0x86,
    0x52,
    0x8a,
    9,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1, // 2^64
    0x8a,
    1,
    0xff, // -1
    0x4a,
    0xfe,
    0xff,
    0xff,
    0xff, // -2
    0x47,
    0x3f,
    0xf8,
    0,
    0,
    0,
    0,
    0,
    0, // 1.5
    0x4e,
    0x88,
    0x89,
    0x4b,
    1,
    0x4b,
    2,
    0x86,
    0x65,
    0x2e,
  ];
  assert.deepEqual(readTorchFile(zipWith(ok), "x.pth"), [
    new Uint8Array([0x78, 0x79]),
    2n ** 64n,
    -1,
    -2,
    1.5,
    null,
    true,
    false,
    [1, 2],
  ]);
  assert.throws(
    () =>
      readTorchFile(
        zipWith([0x80, 2, 0x4e, 0x2e], { "archive/byteorder": new Uint8Array(enc("big")) }),
        "x.pth",
      ),
    /x\.pth: stored with byte order "big"/,
  );
});

Deno.test("torch_pth: truncated, corrupt, missing files and files without a state dict", async () => {
  const { dir } = await fixtures();
  const bytes = await Deno.readFile(join(dir, "cnn.pth"));
  const cut = join(dir, "cut.pth");
  await Deno.writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await assert.rejects(loadTorchStateDict(cut), (e: Error) => {
    assert.ok(e instanceof TorchPthError);
    assert.match(e.message, /cut\.pth: not a valid zip archive \(.*\): truncated or corrupt file/);
    return true;
  });
  await assert.rejects(
    loadTorchStateDict(join(dir, "short.pth")),
    /short\.pth: storage "0" \(torch\.FloatStorage, 108 elements\) holds 428 bytes, expected 432: truncated file/,
  );
  const legacy = await Deno.readFile(join(dir, "legacy.pth"));
  const cutLegacy = join(dir, "cut_legacy.pth");
  await Deno.writeFile(cutLegacy, legacy.subarray(0, legacy.length - 10));
  await assert.rejects(
    loadTorchStateDict(cutLegacy),
    /cut_legacy\.pth: storage "\d+".*: truncated file/,
  );
  const garbage = join(dir, "garbage.pth");
  await Deno.writeFile(garbage, new TextEncoder().encode("hello, this is not a checkpoint"));
  await assert.rejects(loadStateDictFile(garbage), /garbage\.pth: not a PyTorch checkpoint/);
  await assert.rejects(
    loadTorchStateDict(join(dir, "missing.pth")),
    /missing\.pth: cannot read the file: .*No such file/,
  );
  await assert.rejects(
    loadTorchStateDict(join(dir, "nostate.pth")),
    /nostate\.pth: no state dict found: .*top-level keys: "epoch", "acc", "names"/,
  );
  await assert.rejects(
    loadTorchStateDict(join(dir, "cnn.pth"), { key: "optimizer" }),
    /cnn\.pth: no entry "optimizer" \(top-level keys: "model", "epoch", "best_acc"\)/,
  );
  const sd = await loadTorchStateDict(join(dir, "cnn.pth"), { key: "model" });
  dispose(sd);
});

Deno.test("torch_pth: loadStateDictFile reads .pth and safetensors alike", async () => {
  const { dir, expected } = await fixtures();
  const fromPth = await loadStateDictFile(join(dir, "cnn.pth"));
  const entries = new Map(
    Object.entries(expected.cnn).map(([name, t]) => [
      `module.${name}`,
      entryFromArray(t.dtype === "int64" ? "I64" : "F32", t.shape, t.values.map(Number)),
    ]),
  );
  entries.set(
    "optimizer.momentum_buffer.module.fc.bias",
    entryFromArray("F32", [10], new Float32Array(10)),
  );
  const st = join(dir, "cnn.safetensors");
  await Deno.writeFile(st, serializeSafetensorsToBytes(entries));
  const fromSt = await loadStateDictFile(st);
  try {
    assert.deepEqual([...fromSt.keys()].sort(), [...fromPth.keys()].sort());
    for (const [name, t] of fromPth) {
      const u = fromSt.get(name)!;
      assert.equal(u.dtype, t.dtype, name);
      assert.deepEqual(u.shape, t.shape, name);
      assert.deepEqual([...u.dataSync()], [...t.dataSync()], name);
    }
  } finally {
    dispose(fromPth);
    dispose(fromSt);
  }
});
