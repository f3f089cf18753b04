/**
 * Kernel benchmark: start → kernel_info_reply, trivial cell round trip, small typed cell.
 * Run through `deno task bench kernel` (bench/main.ts calls {@link benchKernel}).
 * @module
 */
import * as zmq from "zeromq";
import { join } from "node:path";
import { deserialize, type Message, newHeader, serialize, Signer } from "../kernel/wire.ts";

const MAIN = new URL("../kernel/main.ts", import.meta.url).pathname;

function freePorts(n: number): number[] {
  const ports: number[] = [];
  const listeners = [];
  for (let i = 0; i < n; i++) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    listeners.push(l);
    ports.push((l.addr as Deno.NetAddr).port);
  }
  for (const l of listeners) l.close();
  return ports;
}

/** A minimal client: a DEALER on shell; replies are polled (see kernel/sockets.ts for why). */
class BenchClient {
  #shell = new zmq.Dealer({ linger: 0 });
  #signer: Signer;
  #session = crypto.randomUUID();
  constructor(key: string, shellPort: number) {
    this.#signer = new Signer(key);
    this.#shell.connect(`tcp://127.0.0.1:${shellPort}`);
  }
  async request(msgType: string, content: Record<string, unknown>, timeoutMs = 60_000) {
    const header = newHeader(msgType, this.#session);
    await this.#shell.send(serialize(this.#signer, {
      identities: [],
      header,
      parent_header: {},
      metadata: {},
      content,
      buffers: [],
    }));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      while (this.#shell.readable) {
        const msg: Message = deserialize(this.#signer, await this.#shell.receive());
        if (msg.parent_header.msg_id === header.msg_id) return msg;
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    throw new Error(`bench: no reply to ${msgType} within ${timeoutMs} ms`);
  }
  close() {
    this.#shell.close();
  }
}

async function startKernel(dir: string, i: number) {
  const [shell, control, stdin, iopub, hb] = freePorts(5);
  const key = crypto.randomUUID();
  const file = join(dir, `kernel-${i}.json`);
  await Deno.writeTextFile(
    file,
    JSON.stringify({
      transport: "tcp",
      ip: "127.0.0.1",
      key,
      signature_scheme: "hmac-sha256",
      shell_port: shell,
      control_port: control,
      stdin_port: stdin,
      iopub_port: iopub,
      hb_port: hb,
    }),
  );
  const t0 = performance.now();
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", MAIN, file],
    env: { TESKD_HISTORY_FILE: join(dir, "history.jsonl") },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const client = new BenchClient(key, shell);
  await client.request("kernel_info_request", {});
  return { client, proc, startMs: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function execute(client: BenchClient, code: string): Promise<number> {
  const t0 = performance.now();
  const r = await client.request("execute_request", {
    code,
    silent: false,
    store_history: true,
    user_expressions: {},
    allow_stdin: false,
    stop_on_error: true,
  });
  if (r.content.status !== "ok") throw new Error(`bench cell failed: ${r.content.evalue}`);
  return performance.now() - t0;
}

/** Prints kernel start, trivial round-trip and typed-cell timings (medians, milliseconds). */
export async function benchKernel(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "teskd-bench-kernel-" });
  try {
    const starts: number[] = [];
    let kept: Awaited<ReturnType<typeof startKernel>> | null = null;
    for (let i = 0; i < 3; i++) {
      const k = await startKernel(dir, i);
      starts.push(k.startMs);
      if (i < 2) {
        await k.client.request("shutdown_request", { restart: false });
        await k.proc.status;
        k.client.close();
      } else kept = k;
    }
    // Reference for start: a bare Deno process that does nothing.
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await new Deno.Command(Deno.execPath(), { args: ["eval", ""], stdout: "null" }).output();
      bare.push(performance.now() - t0);
    }
    const { client, proc } = kept!;
    for (let i = 0; i < 5; i++) await execute(client, "1 + 1");
    const trivial: number[] = [];
    for (let i = 0; i < 30; i++) trivial.push(await execute(client, "1 + 1"));
    // Reference for round trips: kernel_info (protocol only, no execution).
    const info: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t0 = performance.now();
      await client.request("kernel_info_request", {});
      info.push(performance.now() - t0);
    }
    // Reference for the typed cell: the same cell with type checking opted out.
    const untyped: number[] = [];
    for (let i = 0; i < 10; i++) {
      untyped.push(
        await execute(
          client,
          `// @ts-nocheck\ninterface Q${i} { x: number; y: number }\n` +
            `const q${i}: Q${i} = { x: ${i}, y: 2 };\nMath.hypot(q${i}.x, q${i}.y)`,
        ),
      );
    }
    const typed: number[] = [];
    for (let i = 0; i < 10; i++) {
      typed.push(
        await execute(
          client,
          `interface P${i} { x: number; y: number }\n` +
            `const p${i}: P${i} = { x: ${i}, y: 2 };\nMath.hypot(p${i}.x, p${i}.y)`,
        ),
      );
    }
    await client.request("shutdown_request", { restart: false });
    await proc.status;
    client.close();
    const row = (what: string, ms: number, ref: number, refName: string) =>
      console.log(
        `${what.padEnd(36)} median ${ms.toFixed(2).padStart(8)} ms  = ${(ms / ref).toFixed(1)}× ` +
          `${refName} (${ref.toFixed(2)} ms)`,
      );
    row("kernel start → kernel_info_reply", median(starts), median(bare), "bare `deno eval`");
    row("trivial cell round trip (warm)", median(trivial), median(info), "kernel_info round trip");
    row("small typed cell check+run", median(typed), median(untyped), "same cell, @ts-nocheck");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchKernel();
