/**
 * Structured messages over the kernel ↔ executor socket: many small ones and large binary ones
 * arrive whole, equal and in order, however the stream splits them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FrameChannel } from "../../kernel/frame_channel.ts";

type Msg = { n: number; text: string; bytes?: ArrayBuffer };

Deno.test("frame channel: small and large messages arrive whole and in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "teskd-frames-" });
  const listener = Deno.listen({ transport: "unix", path: join(dir, "s.sock") });
  try {
    const [server, client] = await Promise.all([
      listener.accept(),
      Deno.connect({ transport: "unix", path: join(dir, "s.sock") }),
    ]);
    const sender = new FrameChannel<Msg, Msg>(client);
    const receiver = new FrameChannel<Msg, Msg>(server);
    const big = new Uint8Array(5 * 2 ** 20 + 3).map((_, i) => (i * 7) % 251);
    const sent: Msg[] = [];
    for (let n = 0; n < 200; n++) {
      const m: Msg = { n, text: "é".repeat(n % 50) };
      if (n % 50 === 7) m.bytes = big.buffer.slice(n); // 5 MiB frames among small ones
      sent.push(m);
      sender.send(m);
    }
    const got: Msg[] = [];
    const reading = (async () => {
      for await (const m of receiver.messages()) got.push(m);
    })();
    await sender.flushed(); // the socket holds far less than 20 MiB: this needs the reader going
    sender.close();
    await reading;
    assert.equal(got.length, sent.length);
    for (let i = 0; i < sent.length; i++) {
      assert.equal(got[i].n, sent[i].n);
      assert.equal(got[i].text, sent[i].text);
      if (sent[i].bytes) {
        assert.deepEqual(new Uint8Array(got[i].bytes!), new Uint8Array(sent[i].bytes!));
      } else assert.equal(got[i].bytes, undefined);
    }
    receiver.close();
  } finally {
    listener.close();
    await Deno.remove(dir, { recursive: true });
  }
});
