import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { deserialize, newHeader, serialize, Signer, WireError } from "../../kernel/wire.ts";
import { endpoint, parseConnectionInfo } from "../../kernel/connection.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function sample() {
  return {
    identities: [enc.encode("client-1")],
    header: newHeader("execute_request", "s1"),
    parent_header: {},
    metadata: { m: 1 },
    content: { code: "1 + 1" },
    buffers: [new Uint8Array([1, 2, 3])],
  };
}

Deno.test("wire: signature is hmac-sha256 over the four JSON frames", () => {
  const frames = serialize(new Signer("key"), sample());
  assert.equal(dec.decode(frames[1]), "<IDS|MSG>");
  const h = createHmac("sha256", "key");
  for (const f of frames.slice(3, 7)) h.update(f);
  assert.equal(dec.decode(frames[2]), h.digest("hex"));
});

Deno.test("wire: round trip keeps identities, content and buffers", () => {
  const signer = new Signer("key");
  const msg = deserialize(signer, serialize(signer, sample()));
  assert.equal(dec.decode(msg.identities[0]), "client-1");
  assert.equal(msg.header.msg_type, "execute_request");
  assert.deepEqual(msg.content, { code: "1 + 1" });
  assert.deepEqual(msg.metadata, { m: 1 });
  assert.deepEqual([...msg.buffers[0]], [1, 2, 3]);
});

Deno.test("wire: forged, missing signature and malformed frames are rejected", () => {
  const signer = new Signer("key");
  const forged = serialize(new Signer("other"), sample());
  assert.throws(() => deserialize(signer, forged), /invalid message signature/);
  const missing = serialize(signer, sample());
  missing.splice(2, 1);
  assert.throws(() => deserialize(signer, missing), WireError);
  assert.throws(() => deserialize(signer, [enc.encode("junk")]), /delimiter/);
  const bad = [enc.encode("{x"), enc.encode("{}"), enc.encode("{}"), enc.encode("{}")];
  const frames = [enc.encode("<IDS|MSG>"), enc.encode(signer.sign(bad)), ...bad];
  assert.throws(() => deserialize(signer, frames), /header frame is not valid UTF-8 JSON/);
});

Deno.test("wire: empty key means unsigned", () => {
  const signer = new Signer("");
  const frames = serialize(signer, sample());
  assert.equal(frames[2].length, 0);
  assert.equal(deserialize(signer, frames).header.msg_type, "execute_request");
});

Deno.test("connection: validates fields and builds tcp/ipc endpoints", () => {
  const base = {
    ip: "127.0.0.1",
    key: "k",
    transport: "tcp",
    signature_scheme: "hmac-sha256",
    shell_port: 1,
    control_port: 2,
    stdin_port: 3,
    iopub_port: 4,
    hb_port: 5,
  };
  assert.equal(endpoint(parseConnectionInfo(base), "iopub_port"), "tcp://127.0.0.1:4");
  const ipc = parseConnectionInfo({ ...base, transport: "ipc", ip: "/tmp/k" });
  assert.equal(endpoint(ipc, "hb_port"), "ipc:///tmp/k-5");
  assert.throws(() => parseConnectionInfo({ ...base, shell_port: "x" }), /shell_port/);
  assert.throws(() => parseConnectionInfo({ ...base, transport: "udp" }), /transport/);
  assert.throws(
    () => parseConnectionInfo({ ...base, signature_scheme: "md5" }),
    /signature_scheme/,
  );
});
