/**
 * Reading and validating a Jupyter connection file.
 *
 * @example
 * ```ts
 * import { readConnectionFile, endpoint } from "./connection.ts";
 * const info = await readConnectionFile("/tmp/kernel-1.json");
 * console.log(endpoint(info, "shell_port")); // "tcp://127.0.0.1:5555"
 * ```
 * @module
 */

/** The fields of a Jupyter connection file that the kernel uses. */
export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  key: string;
  signature_scheme: string;
  shell_port: number;
  control_port: number;
  stdin_port: number;
  iopub_port: number;
  hb_port: number;
}

/** The five channel port fields. */
export type PortName = "shell_port" | "control_port" | "stdin_port" | "iopub_port" | "hb_port";

const PORTS: PortName[] = ["shell_port", "control_port", "stdin_port", "iopub_port", "hb_port"];

/** Validates a parsed connection file; throws an error naming the bad field. */
export function parseConnectionInfo(raw: unknown, source = "connection file"): ConnectionInfo {
  if (typeof raw !== "object" || raw === null) throw new Error(`${source}: expected a JSON object`);
  const r = raw as Record<string, unknown>;
  const transport = r.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") {
    throw new Error(
      `${source}: transport must be "tcp" or "ipc", got ${JSON.stringify(transport)}`,
    );
  }
  const ip = r.ip ?? "127.0.0.1";
  if (typeof ip !== "string" || ip === "") {
    throw new Error(`${source}: ip must be a non-empty string`);
  }
  const key = r.key ?? "";
  if (typeof key !== "string") throw new Error(`${source}: key must be a string`);
  const scheme = r.signature_scheme ?? "hmac-sha256";
  if (scheme !== "hmac-sha256") {
    throw new Error(`${source}: unsupported signature_scheme ${JSON.stringify(scheme)}`);
  }
  const info: Record<string, unknown> = { transport, ip, key, signature_scheme: scheme };
  for (const name of PORTS) {
    const v = r[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) {
      throw new Error(`${source}: ${name} must be an integer port, got ${JSON.stringify(v)}`);
    }
    info[name] = v;
  }
  return info as unknown as ConnectionInfo;
}

/** Reads and validates the connection file at `path`. */
export async function readConnectionFile(path: string): Promise<ConnectionInfo> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`cannot read connection file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new Error(`connection file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConnectionInfo(raw, `connection file ${path}`);
}

/**
 * The ZeroMQ endpoint of one channel. For ipc the Jupyter convention is `ipc://{ip}-{port}`.
 */
export function endpoint(info: ConnectionInfo, port: PortName): string {
  if (info.transport === "ipc") return `ipc://${info.ip}-${info[port]}`;
  return `tcp://${info.ip}:${info[port]}`;
}
