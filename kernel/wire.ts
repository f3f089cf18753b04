/**
 * The Jupyter wire format (protocol 5.3+): framing, hmac-sha256 signing and verification.
 *
 * @example
 * ```ts
 * import { Signer, serialize, deserialize, newHeader } from "./wire.ts";
 * const signer = new Signer("secret");
 * const frames = serialize(signer, {
 *   identities: [], header: newHeader("status", "s1"), parent_header: {}, metadata: {},
 *   content: { execution_state: "idle" }, buffers: [],
 * });
 * const back = deserialize(signer, frames); // same message, or an error string
 * ```
 * @module
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { Buffer } from "node:buffer";

/** The header of a Jupyter message. */
export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [extra: string]: unknown;
}

/** A decoded Jupyter message. */
export interface Message {
  identities: Uint8Array[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: Record<string, unknown>;
  buffers: Uint8Array[];
}

/** The protocol version this kernel speaks. */
export const PROTOCOL_VERSION = "5.4";

const DELIMITER = "<IDS|MSG>";
const DELIM_BYTES = new TextEncoder().encode(DELIMITER);
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Signs and verifies messages with the connection key. An empty key means unsigned. */
export class Signer {
  #key: string;
  constructor(key: string) {
    this.#key = key;
  }
  /** The hex signature of the four JSON frames ("" when unsigned). */
  sign(parts: Uint8Array[]): string {
    if (this.#key === "") return "";
    const h = createHmac("sha256", this.#key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }
  /** Constant-time comparison of `signature` with the expected one. */
  verify(signature: string, parts: Uint8Array[]): boolean {
    if (this.#key === "") return true;
    const expected = Buffer.from(this.sign(parts), "utf8");
    const got = Buffer.from(signature, "utf8");
    // Compare equal-length buffers only; the length of a hex sha256 digest is public anyway.
    if (got.length !== expected.length) return false;
    return timingSafeEqual(got, expected);
  }
}

/** A fresh header for a message the kernel sends. */
export function newHeader(msgType: string, session: string): Header {
  return {
    msg_id: crypto.randomUUID(),
    session,
    username: "kernel",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

const enc = new TextEncoder();

/** Encodes a message into ZeroMQ frames, signed. */
export function serialize(signer: Signer, msg: Message): Uint8Array[] {
  const parts = [
    enc.encode(JSON.stringify(msg.header)),
    enc.encode(JSON.stringify(msg.parent_header ?? {})),
    enc.encode(JSON.stringify(msg.metadata ?? {})),
    enc.encode(JSON.stringify(msg.content ?? {})),
  ];
  return [
    ...msg.identities,
    DELIM_BYTES,
    enc.encode(signer.sign(parts)),
    ...parts,
    ...msg.buffers,
  ];
}

function isDelimiter(frame: Uint8Array): boolean {
  if (frame.length !== DELIM_BYTES.length) return false;
  for (let i = 0; i < frame.length; i++) if (frame[i] !== DELIM_BYTES[i]) return false;
  return true;
}

function parseObject(frame: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(frame));
  } catch (e) {
    throw new WireError(`${what} frame is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new WireError(`${what} frame is not a JSON object`);
  }
  return v as Record<string, unknown>;
}

/** A message that cannot be decoded; `identities` is set when a reply could still be routed. */
export class WireError extends Error {
  override name = "WireError";
}

/**
 * Decodes ZeroMQ frames into a message, verifying the signature first.
 * Throws {@link WireError} for malformed frames and bad signatures (the caller logs and drops).
 */
export function deserialize(signer: Signer, frames: Uint8Array[]): Message {
  const at = frames.findIndex(isDelimiter);
  if (at < 0) throw new WireError("no <IDS|MSG> delimiter frame");
  if (frames.length < at + 6) {
    throw new WireError(
      `expected at least 5 frames after the delimiter, got ${frames.length - at - 1}`,
    );
  }
  let signature: string;
  try {
    signature = decoder.decode(frames[at + 1]);
  } catch {
    throw new WireError("signature frame is not UTF-8");
  }
  const parts = frames.slice(at + 2, at + 6);
  if (!signer.verify(signature, parts)) throw new WireError("invalid message signature");
  const header = parseObject(parts[0], "header");
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") {
    throw new WireError("header lacks a string msg_type or msg_id");
  }
  return {
    identities: frames.slice(0, at),
    header: header as Header,
    parent_header: parseObject(parts[1], "parent_header") as Header,
    metadata: parseObject(parts[2], "metadata"),
    content: parseObject(parts[3], "content"),
    buffers: frames.slice(at + 6),
  };
}
