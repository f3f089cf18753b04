/**
 * Structured messages over a byte stream (the Unix socket between the kernel and its executor
 * process): each message is V8's structured-clone serialization (so ArrayBuffers, typed arrays and
 * nested objects cross as they do with `postMessage`) behind a 4-byte little-endian length.
 *
 * @example
 * ```ts
 * import { FrameChannel } from "./frame_channel.ts";
 * const conn = await Deno.connect({ transport: "unix", path: "/tmp/executor.sock" });
 * const channel = new FrameChannel<{ type: string }, { type: string }>(conn);
 * channel.send({ type: "ready" });
 * for await (const msg of channel.messages()) console.log(msg.type);
 * ```
 * @module
 */
import v8 from "node:v8";

/** Largest message accepted (a cell's outputs or a comm's buffers), to catch a corrupt stream. */
export const MAX_FRAME_BYTES = 1 << 30;

/** A duplex channel of structured messages: `Out` sent, `In` received. */
export class FrameChannel<Out, In> {
  #writing: Promise<void> = Promise.resolve();
  #closed = false;

  /** Wraps a connected stream; the channel owns it from now on. */
  constructor(readonly conn: Deno.Conn) {}

  /**
   * Queues one message. Writes keep their order; a failed write (the peer is gone) closes the
   * channel quietly: the reader then ends, which is how both sides learn of it.
   */
  send(msg: Out): void {
    if (this.#closed) return;
    const body = v8.serialize(msg);
    const frame = new Uint8Array(4 + body.length);
    new DataView(frame.buffer).setUint32(0, body.length, true);
    frame.set(body, 4);
    this.#writing = this.#writing.then(() => this.#writeAll(frame)).catch(() => this.close());
  }

  /** Resolves when every queued message has been handed to the socket. */
  flushed(): Promise<void> {
    return this.#writing;
  }

  /** Messages as they arrive; ends when the peer closes the stream. */
  async *messages(): AsyncGenerator<In> {
    // Chunks are kept as they come and joined once a whole frame is there: joining on every read
    // would copy a large frame (a comm's buffers, a big output) once per 64 KiB chunk.
    const chunks: Uint8Array[] = [];
    let buffered = 0;
    let need = 4; // bytes that make the next step possible: the header, then header + body
    let size = -1;
    while (!this.#closed) {
      const chunk = new Uint8Array(64 * 1024);
      let n: number | null;
      try {
        n = await this.conn.read(chunk);
      } catch {
        n = null;
      }
      if (n === null) break;
      chunks.push(chunk.subarray(0, n));
      buffered += n;
      while (buffered >= need) {
        const all = join(chunks, buffered);
        chunks.length = 0;
        if (size < 0) {
          size = new DataView(all.buffer, all.byteOffset).getUint32(0, true);
          if (size > MAX_FRAME_BYTES) {
            throw new Error(`FrameChannel: frame of ${size} bytes exceeds ${MAX_FRAME_BYTES}`);
          }
          need = 4 + size;
          chunks.push(all);
          continue;
        }
        yield v8.deserialize(all.subarray(4, 4 + size)) as In;
        const rest = all.subarray(4 + size);
        if (rest.length > 0) chunks.push(rest);
        buffered = rest.length;
        size = -1;
        need = 4;
      }
    }
  }

  /** Closes the stream (idempotent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed by the peer
    }
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }
}

/** The chunks as one array (the one chunk itself when there is one). */
function join(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
