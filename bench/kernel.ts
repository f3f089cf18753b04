/**
 * Kernel benchmark: start → kernel_info_reply, a trivial cell's round trip, a small typed cell.
 * Run through `deno task bench kernel` (bench/main.ts calls {@link benchKernel}).
 *
 * The timing client is bench/kernel_client.py on Debian's jupyter_client, as a front end talks to
 * the kernel: a round trip runs from sending execute_request to the iopub `status: idle` of that
 * request, and the client's sockets block in zmq_poll, so it adds no polling delay of its own.
 * Deno's own kernel (`deno jupyter --kernel`) driven by the same client is the reference for the
 * round trip.
 * @module
 */
import { join } from "node:path";

const MAIN = new URL("../kernel/main.ts", import.meta.url).pathname;
const CLIENT = new URL("./kernel_client.py", import.meta.url).pathname;
/** Debian's Python, which has jupyter_client (the first python3 on PATH may not). */
const PYTHON = "/usr/bin/python3";

/** Timings (milliseconds) reported by kernel_client.py. */
interface ClientTimings {
  start: number[];
  trivial: number[];
  kernel_info: number[];
  trivial_after_pause: number[];
  untyped: number[];
  typed: number[];
  deno_start: number[];
  deno_trivial?: number[];
  deno_trivial_after_pause?: number[];
}

/** The value below which a fraction `q` of `xs` lies (nearest rank). */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (q === 0.5 && s.length % 2 === 0) return (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)];
}

async function runClient(config: Record<string, unknown>): Promise<ClientTimings> {
  let out;
  try {
    out = await new Deno.Command(PYTHON, {
      args: [CLIENT, JSON.stringify(config)],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    throw new Error(`bench kernel: cannot run ${PYTHON}: ${(e as Error).message}`);
  }
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(
      `bench kernel: ${CLIENT} failed (it needs ${PYTHON} with jupyter_client):\n${stderr}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout)) as ClientTimings;
}

/** Prints kernel start, round-trip and typed-cell timings (median and p90, milliseconds). */
export async function benchKernel(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "teskd-bench-kernel-" });
  try {
    // Reference for start: a bare Deno process that does nothing.
    const bare: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await new Deno.Command(Deno.execPath(), { args: ["eval", ""], stdout: "null" }).output();
      bare.push(performance.now() - t0);
    }
    const t = await runClient({
      tmp: dir,
      teskd: [Deno.execPath(), "run", "--allow-all", MAIN, "{connection_file}"],
      reference: [Deno.execPath(), "jupyter", "--kernel", "--conn", "{connection_file}"],
      env: { TESKD_HISTORY_FILE: join(dir, "history.jsonl") },
      starts: 7,
      warmup: 5,
      trivial: 30,
      paused: 9,
      typed: 10,
    });
    const row = (what: string, xs: number[], ref: number[] | undefined, refName: string) => {
      const m = quantile(xs, 0.5);
      const vs = ref && ref.length > 0
        ? `  = ${(m / quantile(ref, 0.5)).toFixed(1)}× ${refName} (${
          quantile(ref, 0.5).toFixed(2)
        } ms)`
        : "";
      console.log(
        `${what.padEnd(40)} median ${m.toFixed(2).padStart(8)} ms  p90 ${
          quantile(xs, 0.9).toFixed(2).padStart(8)
        } ms${vs}`,
      );
    };
    row("kernel start → kernel_info_reply", t.start, bare, "bare `deno eval`");
    row("trivial cell round trip (warm, to idle)", t.trivial, t.deno_trivial, "`deno jupyter`");
    row(
      "  same, after 0.6 s idle",
      t.trivial_after_pause,
      t.deno_trivial_after_pause,
      "`deno jupyter` after idle",
    );
    row("kernel_info round trip (to idle)", t.kernel_info, undefined, "");
    row("small typed cell check+run", t.typed, t.untyped, "same cell, @ts-nocheck");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await benchKernel();
