import assert from "node:assert/strict";
import {
  decodeToFloat32,
  decodeToNumbers,
  entryFromArray,
  parseSafetensors,
  type SafetensorsEntry,
  SafetensorsError,
  serializeSafetensorsToBytes,
} from "../../lib/train/safetensors.ts";

/** A file built by hand: u64 LE length, header text padded with spaces, then the data bytes. */
function handFile(header: string, padTo8: boolean, data: number[]): Uint8Array {
  let h = header;
  if (padTo8) { while (h.length % 8 !== 0) h += " "; }
  const len = [h.length & 0xff, (h.length >> 8) & 0xff, 0, 0, 0, 0, 0, 0];
  return new Uint8Array([...len, ...[...h].map((c) => c.charCodeAt(0)), ...data]);
}

// float32 0..5 little-endian: 0 = 00000000, 1 = 0000803f, 2 = 00000040, 3 = 00004040, 4 = 00008040, 5 = 0000a040
const F32_0_TO_5 = [
  0,
  0,
  0,
  0,
  0,
  0,
  128,
  63,
  0,
  0,
  0,
  64,
  0,
  0,
  64,
  64,
  0,
  0,
  128,
  64,
  0,
  0,
  160,
  64,
];

Deno.test("writes the reference implementation's bytes: no padding needed (64-byte header)", () => {
  const header = `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`;
  assert.equal(header.length, 64);
  const expected = handFile(header, true, F32_0_TO_5);
  const got = serializeSafetensorsToBytes(
    new Map([["attn.0", entryFromArray("F32", [1, 2, 3], [0, 1, 2, 3, 4, 5])]]),
  );
  assert.deepEqual(got, expected);
});

Deno.test("writes the reference's bytes: header padded with spaces to 8 bytes", () => {
  const header = `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}`;
  assert.equal(header.length, 65); // padded to 72 with seven spaces
  const expected = handFile(header, true, F32_0_TO_5);
  assert.equal(expected[8 + 71], 0x20);
  const got = serializeSafetensorsToBytes(
    new Map([["attn0", entryFromArray("F32", [1, 1, 2, 3], [0, 1, 2, 3, 4, 5])]]),
  );
  assert.deepEqual(got, expected);
});

Deno.test("writes the reference's bytes: empty file, and metadata first", () => {
  assert.deepEqual(
    serializeSafetensorsToBytes(new Map()),
    new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]),
  );
  assert.deepEqual(
    serializeSafetensorsToBytes(new Map(), { framework: "pt" }),
    handFile(`{"__metadata__":{"framework":"pt"}}`, true, []),
  );
});

Deno.test("orders tensors by dtype (widest first) then name; I64 and F32 encoded little-endian", () => {
  const header = `{"__metadata__":{"a":"1","b":"x\\"y"},` +
    `"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},` +
    `"0.w":{"dtype":"F32","shape":[1],"data_offsets":[8,12]},` +
    `"a.w":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}`;
  // I64 300 = 2c 01 00..; F32 -2 = 000000c0; 0.5 = 0000003f; 1 = 0000803f
  const data = [0x2c, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0x3f, 0, 0, 0x80, 0x3f];
  const expected = handFile(header, true, data);
  const tensors = new Map<string, SafetensorsEntry>([
    ["a.w", entryFromArray("F32", [2], [0.5, 1])],
    ["bn.num_batches_tracked", entryFromArray("I64", [], [300])],
    ["0.w", entryFromArray("F32", [1], [-2])],
  ]);
  const got = serializeSafetensorsToBytes(tensors, { b: 'x"y', a: "1" });
  assert.deepEqual(new TextDecoder().decode(got.subarray(8, 8 + header.length)), header);
  assert.deepEqual(got, expected);
});

Deno.test("round-trips every readable dtype, metadata and shapes", () => {
  const tensors = new Map<string, SafetensorsEntry>([
    ["f32", entryFromArray("F32", [2, 2], [1.5, -2.25, 3e-8, 1e30])],
    ["f64", entryFromArray("F64", [3], [Math.PI, -0, 1e-300])],
    ["i64", entryFromArray("I64", [2], [-(2 ** 40), 7])],
    ["i32", entryFromArray("I32", [2], [-5, 2 ** 31 - 1])],
    ["u8", entryFromArray("U8", [3], [0, 128, 255])],
    ["f16", entryFromArray("F16", [4], [1, -0.5, 65504, 2 ** -24])],
    ["bf16", entryFromArray("BF16", [2], [1, -3.5])],
    ["scalar", entryFromArray("F32", [], [42])],
    ["empty", entryFromArray("F32", [0, 3], [])],
  ]);
  const bytes = serializeSafetensorsToBytes(tensors, { epoch: "3", "über": "ünïcode ✓" });
  const file = parseSafetensors(bytes);
  assert.equal(file.headerLength % 8, 0);
  assert.deepEqual(file.metadata, { epoch: "3", "über": "ünïcode ✓" });
  for (const [name, t] of tensors) {
    const r = file.tensors.get(name)!;
    assert.equal(r.dtype, t.dtype, name);
    assert.deepEqual(r.shape, t.shape, name);
    assert.deepEqual(r.data, t.data, name);
  }
  assert.deepEqual([...decodeToFloat32(file.tensors.get("f32")!)], [
    1.5,
    -2.25,
    Math.fround(3e-8),
    Math.fround(1e30),
  ]);
  assert.deepEqual([...decodeToNumbers(file.tensors.get("f64")!)], [Math.PI, -0, 1e-300]);
  assert.deepEqual([...decodeToNumbers(file.tensors.get("i64")!)], [-(2 ** 40), 7]);
  assert.deepEqual([...decodeToNumbers(file.tensors.get("i32")!)], [-5, 2 ** 31 - 1]);
  assert.deepEqual([...decodeToNumbers(file.tensors.get("u8")!)], [0, 128, 255]);
  assert.deepEqual([...decodeToFloat32(file.tensors.get("f16")!)], [1, -0.5, 65504, 2 ** -24]);
  assert.deepEqual([...decodeToFloat32(file.tensors.get("bf16")!)], [1, -3.5]);
  assert.deepEqual([...decodeToFloat32(file.tensors.get("scalar")!)], [42]);
});

Deno.test("reads F16/BF16 bits as documented (hand-encoded)", () => {
  // F16 0x3c00 = 1, 0xc000 = -2, 0x7bff = 65504; BF16 0x3f80 = 1, 0xc0a0 = -5
  const header = `{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},` +
    `"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}}`;
  const f = parseSafetensors(
    handFile(header, true, [0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x80, 0x3f, 0xa0, 0xc0]),
  );
  assert.deepEqual([...decodeToFloat32(f.tensors.get("h")!)], [1, -2, 65504]);
  assert.deepEqual([...decodeToFloat32(f.tensors.get("b")!)], [1, -5]);
  // Files need not be padded or ordered to be read.
  assert.equal(f.headerLength % 8, 0);
  const unpadded = parseSafetensors(
    handFile(`{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, false, [7]),
  );
  assert.deepEqual([...decodeToNumbers(unpadded.tensors.get("x")!)], [7]);
});

Deno.test("corrupt files fail with clear errors", () => {
  const bad = (bytes: Uint8Array, re: RegExp) =>
    assert.throws(() => parseSafetensors(bytes, "ckpt.safetensors"), (e: unknown) => {
      assert.ok(e instanceof SafetensorsError);
      assert.match(e.message, /^ckpt\.safetensors: /);
      assert.match(e.message, re);
      return true;
    });
  const good = serializeSafetensorsToBytes(
    new Map([["w", entryFromArray("F32", [2], [1, 2])], ["v", entryFromArray("F32", [1], [3])]]),
  );
  bad(good.subarray(0, 5), /too short/);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
  bad(huge, /exceeds the limit/);
  const long = good.slice();
  new DataView(long.buffer).setBigUint64(0, BigInt(good.length), true);
  bad(long, /runs past the end of the file/);
  bad(good.subarray(0, good.length - 3), /run past the end of the data.*truncated/);
  bad(new Uint8Array([...good, 0]), /trailing bytes/);
  const two = (a: string, b: string, data: number) =>
    handFile(
      `{"a":{"dtype":"F32","shape":[1],"data_offsets":${a}},` +
        `"b":{"dtype":"F32","shape":[1],"data_offsets":${b}}}`,
      true,
      new Array(data).fill(0),
    );
  bad(two("[0,4]", "[2,6]", 8), /"b": data_offsets \[2, 6\] overlap/);
  bad(two("[0,4]", "[8,12]", 12), /"b".*leave a gap/);
  bad(two("[0,4]", "[4,12]", 12), /"b".*hold 8 bytes, but F32 \[1\] needs 4/);
  bad(two("[0,4]", "[6,4]", 8), /end before they begin/);
  bad(
    handFile(`{"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}`, true, [0]),
    /unknown dtype/,
  );
  bad(handFile(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, true, [0]), /shape must/);
  bad(handFile(`{"a":`, true, []), /not valid JSON/);
  bad(handFile(`[1]`, true, []), /does not start with "\{"/);
  bad(handFile(`{"__metadata__":{"k":1}}`, true, []), /"__metadata__"."k" must be a string/);
  const badUtf8 = handFile(`{"a":1}`, true, []);
  badUtf8[10] = 0xff;
  bad(badUtf8, /not valid UTF-8/);
});

Deno.test("the writer rejects inconsistent tensors", () => {
  assert.throws(
    () =>
      serializeSafetensorsToBytes(
        new Map([["w", { dtype: "F32", shape: [3], data: new Uint8Array(8) }]]),
      ),
    /tensor "w" has 8 bytes, F32 \[3\] needs 12/,
  );
  assert.throws(() => entryFromArray("F32", [2, 2], [1, 2, 3]), /3 values given for shape \[2,2\]/);
  assert.throws(() => entryFromArray("I64", [1], [0.5]), /must be an integer/);
});
