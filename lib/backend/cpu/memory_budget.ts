/**
 * The CPU engine's tensor memory limit. Tensor values live outside V8's heap (ArrayBuffers), so
 * V8's heap limit never stops a model that does not fit: the process grows until the system's
 * out-of-memory killer ends it. The backend instead counts the bytes its tensors hold and refuses a
 * tensor that would take them past the limit, with a {@link TensorMemoryError} that names it; the
 * cell fails and every tensor already held is kept.
 *
 * The limit is `TESKD_TENSOR_MEMORY_MB` when set, else 80% of the memory the process may use (the
 * machine's, or its cgroup's when lower), leaving room for the JavaScript heap and the engine's
 * scratch memory.
 *
 * @example
 * ```ts
 * const budget = new TensorMemoryBudget(1 << 30);
 * const id = {};
 * budget.reserve(id, 4096);   // throws TensorMemoryError past 1 GiB held
 * budget.release(id);
 * ```
 * @module
 */
import os from "node:os";
import { readEnv } from "../env.ts";

/** Environment variable that sets the limit, MiB. */
export const TENSOR_MEMORY_ENV = "TESKD_TENSOR_MEMORY_MB";

/** Share of the usable memory the default limit allows tensors. */
const DEFAULT_SHARE = 0.8;

/** A tensor was refused because the engine's tensor memory limit would be exceeded. */
export class TensorMemoryError extends RangeError {
  override name = "TensorMemoryError";
  /**
   * @param requestedBytes bytes the refused tensor needs
   * @param heldBytes bytes tensors held when it was refused
   * @param limitBytes the limit, bytes
   * @param engine the engine named in the message ("teskd-cpu", "webgpu")
   * @param deviceLimit set when the limit is the device's own for one buffer (its name): then it
   *   is not about the total, and no setting raises it
   */
  constructor(
    readonly requestedBytes: number,
    readonly heldBytes: number,
    readonly limitBytes: number,
    engine: string,
    readonly deviceLimit?: string,
  ) {
    super(
      deviceLimit
        ? `${engine}: a tensor of ${mib(requestedBytes)} exceeds ${deviceLimit} ` +
          `(${mib(limitBytes)}). The model or batch does not fit this device: use a smaller ` +
          `batch or width.`
        : `${engine}: tensor memory limit reached: a tensor of ${mib(requestedBytes)} would take ` +
          `the ${mib(heldBytes)} tensors hold past the engine's limit of ${mib(limitBytes)} ` +
          `(${TENSOR_MEMORY_ENV}; default ${DEFAULT_SHARE * 100}% of the memory this process ` +
          `may use on the CPU). The model or batch does not fit: use a smaller batch or width, ` +
          `dispose tensors you no longer need (tf.dispose, tf.tidy), or raise ` +
          `${TENSOR_MEMORY_ENV} (MiB) if the machine has the memory.`,
    );
  }
}

/** Counts the bytes of live tensors against a limit. */
export class TensorMemoryBudget {
  #held = 0;
  readonly #sizes = new WeakMap<object, number>();

  /** A budget of `limitBytes` for the engine named in its errors. */
  constructor(public limitBytes: number, readonly engine = "teskd-cpu") {}

  /** Bytes the counted tensors hold now. */
  get heldBytes(): number {
    return this.#held;
  }

  /**
   * Counts `bytes` for `dataId`.
   * @throws TensorMemoryError when that would exceed the limit (nothing is counted then)
   */
  reserve(dataId: object, bytes: number): void {
    this.ensureRoom(bytes);
    this.count(dataId, bytes);
  }

  /** Counts `bytes` for `dataId` without a check (after {@link ensureRoom} said there is room). */
  count(dataId: object, bytes: number): void {
    this.#held += bytes;
    this.#sizes.set(dataId, bytes);
  }

  /** @throws TensorMemoryError when `bytes` more would exceed the limit */
  ensureRoom(bytes: number): void {
    if (this.#held + bytes > this.limitBytes) {
      throw new TensorMemoryError(bytes, this.#held, this.limitBytes, this.engine);
    }
  }

  /** Stops counting `dataId` (its values were freed). */
  release(dataId: object): void {
    const bytes = this.#sizes.get(dataId);
    if (bytes === undefined) return;
    this.#sizes.delete(dataId);
    this.#held -= bytes;
  }
}

/** `TESKD_TENSOR_MEMORY_MB` in bytes, read with `env`; undefined when unset. */
export function tensorMemoryLimitFromEnv(
  env: (name: string) => string | undefined = readEnv,
): number | undefined {
  const raw = env(TENSOR_MEMORY_ENV);
  if (raw === undefined || raw === "") return undefined;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) {
    throw new RangeError(`${TENSOR_MEMORY_ENV} must be a positive number of MiB, got ${raw}`);
  }
  return Math.floor(mb * 2 ** 20);
}

/**
 * The limit from {@link TENSOR_MEMORY_ENV}, else the default share of the usable memory (Infinity
 * when that cannot be known).
 */
export function defaultTensorMemoryLimit(): number {
  const set = tensorMemoryLimitFromEnv();
  if (set !== undefined) return set;
  const usable = usableMemoryBytes();
  return Number.isFinite(usable) ? Math.floor(usable * DEFAULT_SHARE) : Infinity;
}

/**
 * The memory this process may use: the machine's, or its cgroup's (v2 or v1) when lower. Infinity
 * when neither can be read (no `--allow-sys` nor `--allow-read`): then only the system limits.
 */
export function usableMemoryBytes(): number {
  let bytes = Infinity;
  try {
    bytes = os.totalmem();
  } catch {
    // no permission to ask the system (Deno's --allow-sys)
  }
  for (const file of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    try {
      const v = Number(Deno.readTextFileSync(file).trim());
      if (Number.isFinite(v) && v > 0) bytes = Math.min(bytes, v);
    } catch {
      // no such cgroup file (or "max", or no read permission): the machine's memory stands
    }
  }
  return bytes;
}

function mib(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 2 ** 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 1 : 0)} MiB`;
}
