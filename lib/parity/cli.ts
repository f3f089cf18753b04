/**
 * `deno task parity [--backend cpu|webgpu|auto] [--sections parameters,counts,eval,train] [--steps N]
 * <fixture.json>…` — checks each fixture and prints one line per checked quantity (worst error and
 * tolerance). Exits 1 when any quantity is out of tolerance, 2 on bad usage.
 *
 * @module
 */
import { initBackend } from "../backend/mod.ts";
import type { BackendRequest } from "../backend/mod.ts";
import {
  checkFixture,
  type CheckLine,
  formatLine,
  type ParityOptions,
  type ParityReport,
  type Section,
  SECTIONS,
} from "./check.ts";
import { parseFixture } from "./fixture.ts";
import { checkKdFixture, isKdFixture } from "./kd_check.ts";

/** Parsed command line. */
export interface ParityArgs {
  /** Fixture paths. */
  files: string[];
  /** Engine request. */
  backend: BackendRequest;
  /** Sections to check. */
  sections: Section[];
  /** Training steps to check, or undefined for all. */
  steps: number | undefined;
}

/** Parses the arguments; throws a usage message on bad input. */
export function parseParityArgs(args: string[]): ParityArgs {
  const out: ParityArgs = { files: [], backend: "auto", sections: [...SECTIONS], steps: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = () => {
      const v = args[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--backend") out.backend = value() as BackendRequest;
    else if (a === "--sections") {
      const s = value().split(",").map((x) => x.trim()).filter((x) => x);
      for (const x of s) {
        if (!(SECTIONS as readonly string[]).includes(x)) {
          throw new Error(`--sections: unknown section "${x}"; expected ${SECTIONS.join(", ")}`);
        }
      }
      out.sections = s as Section[];
    } else if (a === "--steps") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`--steps must be a non-negative integer`);
      out.steps = n;
    } else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else out.files.push(a);
  }
  if (out.files.length === 0) throw new Error("no fixture given");
  return out;
}

/**
 * Checks a fixture file of either kind: the TESKD fixtures (a `network` field) or the KD methods'
 * (a `method` and a `student` field).
 *
 * @param describe told what the case is before it runs
 */
export async function checkAnyFixture(
  path: string,
  opts: ParityOptions,
  describe: (what: string) => void = () => {},
): Promise<ParityReport> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read fixture ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (isKdFixture(raw)) {
    const pair = raw.student && raw.teacher
      ? `${raw.teacher} → ${raw.student}`
      : raw.student ?? raw.teacher;
    describe(`${raw.method}, ${pair}, batch ${raw.batch}`);
    return await checkKdFixture(raw, opts);
  }
  const fx = parseFixture(text, path);
  describe(`${fx.network}, ${fx.num_classes} classes, batch ${fx.batch}`);
  return await checkFixture(fx, opts);
}

if (import.meta.main) {
  let args: ParityArgs;
  try {
    args = parseParityArgs(Deno.args);
  } catch (e) {
    console.error(`parity: ${(e as Error).message}`);
    console.error(
      "usage: deno task parity [--backend cpu|webgpu|auto] [--sections a,b] [--steps N] <fixture.json>…",
    );
    Deno.exit(2);
  }
  const info = await initBackend(args.backend);
  console.log(`backend: ${info.name} (${info.reason})`);
  let ok = true;
  for (const f of args.files) {
    const t0 = performance.now();
    const opts = {
      sections: args.sections,
      steps: args.steps,
      log: (l: CheckLine) => console.log(formatLine(l)),
    };
    const report = await checkAnyFixture(f, opts, (what) => console.log(`== ${f}: ${what}`));
    console.log(
      `== ${report.ok ? "PASS" : "FAIL"} ${report.name} (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
    );
    ok &&= report.ok;
  }
  Deno.exit(ok ? 0 : 1);
}
