/**
 * Checkpoints as safetensors files that the official PyTorch code can read: the model's state dict
 * under its official names in PyTorch layout (OIHW convs, `[out, in]` linears, BatchNorm running
 * statistics, `num_batches_tracked` as int64), the SGD momentum buffers next to it as
 * `optimizer.momentum_buffer.<parameter name>` (same layout as their parameter), and the training
 * position (epoch, step), RNG state, config and history as JSON strings in `__metadata__`.
 *
 * In PyTorch: `sd = safetensors.torch.load_file(path)`, then
 * `model.load_state_dict({k: v for k, v in sd.items() if not k.startswith("optimizer.")})`.
 *
 * Files are written atomically (see {@link writeFileAtomic}): a crash leaves the previous checkpoint.
 *
 * @example
 * ```ts
 * await saveCheckpoint("out/last.safetensors", model, { optimizer, epoch: 3, step: 1173 });
 * const info = await loadCheckpoint("out/last.safetensors", model, { optimizer });
 * await exportDeployed("out/deployed.safetensors", distiller); // what the method deploys
 * ```
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Distiller } from "../distill/distiller.ts";
import type { Module, NamedTensor } from "../nn/module.ts";
import { writeFileAtomic } from "./atomic.ts";
import {
  decodeToFloat32,
  decodeToNumbers,
  entryFromArray,
  parseSafetensors,
  type SafetensorsEntry,
  serializeSafetensors,
} from "./safetensors.ts";
import type { SGD } from "./sgd.ts";

/** Name prefix of the momentum buffers in a checkpoint. */
export const MOMENTUM_PREFIX = "optimizer.momentum_buffer.";

/** Name prefix of the second optimizer's momentum buffers (ATSC's `optimizer_last`). */
export const SECOND_MOMENTUM_PREFIX = "optimizer_last.momentum_buffer.";

/** Value of the `format` metadata key. */
export const CHECKPOINT_FORMAT = "teskd.checkpoint.v1";

/** The optimizer settings recorded in a checkpoint (informative: the config decides on resume). */
export interface OptimizerInfo {
  /** Always "SGD". */
  type: "SGD";
  /** Steps taken. */
  step: number;
  /** Learning rate of the last step. */
  lr: number;
  /** Momentum factor. */
  momentum: number;
  /** Dampening. */
  dampening: number;
  /** Weight decay. */
  weightDecay: number;
  /** Nesterov momentum. */
  nesterov: boolean;
}

/** Where training stood when a checkpoint was written. */
export interface CheckpointInfo {
  /** Completed epochs (training resumes at this 0-based epoch). */
  epoch: number;
  /** Optimizer steps taken over the whole run. */
  step: number;
  /** Opaque RNG state of the trainer, when recorded. */
  rng?: string;
  /** The training configuration (parsed JSON), when recorded. */
  config?: unknown;
  /** The per-epoch history (parsed JSON), when recorded. */
  history?: unknown;
  /** Optimizer settings and step, when the checkpoint holds optimizer state. */
  optimizer?: OptimizerInfo;
  /** The second optimizer's settings and step, when it holds that state (ATSC). */
  secondOptimizer?: OptimizerInfo;
  /** Every other metadata entry, verbatim. */
  extra: Record<string, string>;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /** Optimizer whose momentum buffers and step are saved. */
  optimizer?: SGD;
  /** A method's second optimizer (ATSC's), saved the same way under its own prefix. */
  secondOptimizer?: SGD;
  /** Completed epochs. */
  epoch: number;
  /** Optimizer steps taken over the run. */
  step: number;
  /** Opaque RNG state. */
  rng?: string;
  /** Training configuration (JSON-serialisable). */
  config?: unknown;
  /** Per-epoch history (JSON-serialisable). */
  history?: unknown;
  /** Further metadata strings (must not use the reserved keys). */
  extra?: Record<string, string>;
}

const RESERVED = [
  "format",
  "epoch",
  "step",
  "rng",
  "config",
  "history",
  "optimizer",
  "optimizer_last",
];

/** Where each optimizer's state lives in a checkpoint: tensor-name prefix and metadata key. */
const SLOTS = [
  { option: "optimizer", prefix: MOMENTUM_PREFIX, key: "optimizer" },
  { option: "secondOptimizer", prefix: SECOND_MOMENTUM_PREFIX, key: "optimizer_last" },
] as const;

/**
 * Builds the checkpoint's tensors (PyTorch layout) and metadata in memory. Tensors are read back
 * asynchronously, so this works on GPU backends too.
 *
 * @throws Error when the optimizer holds a buffer for a parameter the model does not have
 */
export async function checkpointEntries(
  model: Module,
  opts: SaveCheckpointOptions,
): Promise<{ tensors: Map<string, SafetensorsEntry>; metadata: Record<string, string> }> {
  const named = new Map(model.namedTensors().map((t) => [t.name, t]));
  const tensors = new Map<string, SafetensorsEntry>();
  const sd = model.stateDict();
  try {
    for (const [name, t] of sd) {
      tensors.set(name, await toEntry(t, named.get(name)?.integer ?? false));
    }
  } finally {
    for (const t of sd.values()) t.dispose();
  }
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    epoch: String(checkCount(opts.epoch, "epoch")),
    step: String(checkCount(opts.step, "step")),
  };
  if (opts.rng !== undefined) metadata.rng = opts.rng;
  if (opts.config !== undefined) metadata.config = JSON.stringify(opts.config);
  if (opts.history !== undefined) metadata.history = JSON.stringify(opts.history);
  for (const [k, v] of Object.entries(opts.extra ?? {})) {
    if (RESERVED.includes(k)) {
      throw new Error(`saveCheckpoint: extra metadata key "${k}" is reserved`);
    }
    metadata[k] = v;
  }
  for (const slot of SLOTS) {
    const opt = opts[slot.option];
    if (opt === undefined) continue;
    const state = opt.state();
    try {
      for (const [name, buf] of state.momentumBuffers) {
        const nt = named.get(name);
        if (nt === undefined) {
          throw new Error(
            `saveCheckpoint: the optimizer has a momentum buffer for "${name}", which the model does not have`,
          );
        }
        const torch = tf.tidy(() => nt.toTorch(buf));
        try {
          tensors.set(slot.prefix + name, await toEntry(torch, false));
        } finally {
          torch.dispose();
        }
      }
    } finally {
      for (const b of state.momentumBuffers.values()) b.dispose();
    }
    const info: OptimizerInfo = {
      type: "SGD",
      step: state.step,
      lr: opt.lr,
      momentum: opt.momentum,
      dampening: opt.dampening,
      weightDecay: opt.weightDecay,
      nesterov: opt.nesterov,
    };
    metadata[slot.key] = JSON.stringify(info);
  }
  return { tensors, metadata };
}

/**
 * Writes a checkpoint atomically.
 *
 * @param path target file (its directory must exist)
 * @param model the model whose state dict is saved
 * @param opts optimizer, position and metadata
 */
export async function saveCheckpoint(
  path: string,
  model: Module,
  opts: SaveCheckpointOptions,
): Promise<void> {
  const { tensors, metadata } = await checkpointEntries(model, opts);
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/**
 * Writes the network a method deploys (`distiller.deployed()`: TESKD's teacher without its students,
 * KD's student, SimKD's student + projector + teacher classifier) under its official names, no
 * optimizer state. It loads back with `loadStateDictFile` into the same network, here or in PyTorch.
 *
 * @param path target file
 * @param distiller the trained method
 * @param metadata extra metadata strings
 */
export async function exportDeployed(
  path: string,
  distiller: Distiller,
  metadata: Record<string, string> = {},
): Promise<void> {
  const deployed = distiller.deployed();
  const { tensors } = await checkpointEntries(deployed.module, { epoch: 0, step: 0 });
  await writeFileAtomic(
    path,
    serializeSafetensors(tensors, {
      format: CHECKPOINT_FORMAT,
      content: "deployed",
      method: distiller.method,
      description: deployed.description,
      ...metadata,
    }),
  );
}

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /** Restore momentum buffers and step into this optimizer (the file must hold optimizer state). */
  optimizer?: SGD;
  /** Restore the second optimizer's state into this one (the file must hold it). */
  secondOptimizer?: SGD;
  /**
   * Require the file's model tensors and the model's tensors to be the same set. Default true.
   * A missing `num_batches_tracked` is allowed, as in PyTorch.
   */
  strict?: boolean;
}

/**
 * Loads a checkpoint into a model (and optionally an optimizer). Everything is checked before
 * anything is changed: a bad file leaves the model and optimizer as they were.
 *
 * @returns where training stood
 * @throws Error naming the file and the offending tensor (missing, unexpected, wrong shape, wrong dtype)
 */
export async function loadCheckpoint(
  path: string,
  model: Module,
  opts: LoadCheckpointOptions = {},
): Promise<CheckpointInfo> {
  const file = parseSafetensors(await Deno.readFile(path), path);
  return applyCheckpoint(file.tensors, file.metadata ?? {}, model, opts, path);
}

/** Reads only the metadata of a checkpoint file. */
export async function readCheckpointInfo(path: string): Promise<CheckpointInfo> {
  const file = parseSafetensors(await Deno.readFile(path), path);
  return parseInfo(file.metadata ?? {}, path);
}

/**
 * {@link loadCheckpoint} on parsed content (for checkpoints held in memory).
 *
 * @param source a name for error messages
 */
export function applyCheckpoint(
  tensors: ReadonlyMap<string, SafetensorsEntry>,
  metadata: Record<string, string>,
  model: Module,
  opts: LoadCheckpointOptions = {},
  source = "checkpoint",
): CheckpointInfo {
  const strict = opts.strict ?? true;
  const info = parseInfo(metadata, source);
  const own = model.namedTensors();
  const ownNames = new Map(own.map((t) => [t.name, t]));
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };

  const weights: [NamedTensor, SafetensorsEntry][] = [];
  const buffers: Record<(typeof SLOTS)[number]["option"], [NamedTensor, SafetensorsEntry][]> = {
    optimizer: [],
    secondOptimizer: [],
  };
  const unexpected: string[] = [];
  const problems: string[] = [];
  for (const [name, e] of tensors) {
    const slot = SLOTS.find((sl) => name.startsWith(sl.prefix));
    if (slot !== undefined) {
      const nt = ownNames.get(name.slice(slot.prefix.length));
      if (nt === undefined || nt.kind !== "parameter") {
        if (opts[slot.option] !== undefined) {
          fail(`momentum buffer "${name}" names no parameter of the model`);
        }
        continue;
      }
      checkShape(e, nt, name, problems);
      buffers[slot.option].push([nt, e]);
      continue;
    }
    const nt = ownNames.get(name);
    if (nt === undefined) {
      unexpected.push(name);
      continue;
    }
    checkShape(e, nt, name, problems);
    weights.push([nt, e]);
  }
  if (problems.length > 0) {
    fail(
      problems.slice(0, 8).join("; ") +
        (problems.length > 8 ? `; … (${problems.length - 8} more)` : ""),
    );
  }
  const missing = own.filter((t) => !tensors.has(t.name) && !t.name.endsWith("num_batches_tracked"))
    .map((t) => t.name);
  if (strict && (missing.length > 0 || unexpected.length > 0)) {
    const parts: string[] = [];
    if (missing.length > 0) {
      parts.push(`missing ${missing.length} tensor(s) the model has: ${list(missing)}`);
    }
    if (unexpected.length > 0) {
      parts.push(
        `${unexpected.length} tensor(s) the model does not have: ${list(unexpected.sort())}`,
      );
    }
    fail(parts.join("; "));
  }
  for (const slot of SLOTS) {
    const opt = opts[slot.option];
    if (opt === undefined) continue;
    if (info[slot.option] === undefined) {
      fail(
        slot.option === "optimizer"
          ? "holds no optimizer state (load it without an optimizer to restore the weights only)"
          : `holds no state of the second optimizer ("${slot.key}")`,
      );
    }
    for (const [nt] of buffers[slot.option]) {
      if (!opt.params.has(nt.name)) {
        fail(`momentum buffer for "${nt.name}", which the optimizer does not optimize`);
      }
    }
  }

  // Everything checked: now convert and load.
  const sd = new Map<string, tf.Tensor>();
  const momentum = new Map<string, tf.Tensor>();
  try {
    for (const [nt, e] of weights) sd.set(nt.name, toTensor(e, nt, source));
    model.loadStateDict(sd, { strict: false });
    for (const slot of SLOTS) {
      const opt = opts[slot.option];
      if (opt === undefined) continue;
      for (const [nt, e] of buffers[slot.option]) {
        const torch = toTensor(e, nt, source);
        momentum.set(nt.name, tf.tidy(() => nt.fromTorch(torch)));
        torch.dispose();
      }
      opt.loadState({ step: info[slot.option]!.step, momentumBuffers: momentum });
      for (const t of momentum.values()) t.dispose();
      momentum.clear();
    }
  } finally {
    for (const t of sd.values()) t.dispose();
    for (const t of momentum.values()) t.dispose();
  }
  return info;
}

function parseInfo(m: Record<string, string>, source: string): CheckpointInfo {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  const int = (key: string): number => {
    const v = m[key];
    if (v === undefined) return 0;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) {
      fail(`metadata "${key}" is not a count: ${JSON.stringify(v)}`);
    }
    return n;
  };
  const json = (key: string): unknown => {
    if (m[key] === undefined) return undefined;
    try {
      return JSON.parse(m[key]);
    } catch (e) {
      return fail(`metadata "${key}" is not valid JSON: ${(e as Error).message}`);
    }
  };
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) if (!RESERVED.includes(k)) extra[k] = v;
  const info: CheckpointInfo = { epoch: int("epoch"), step: int("step"), extra };
  if (m.rng !== undefined) info.rng = m.rng;
  if (m.config !== undefined) info.config = json("config");
  if (m.history !== undefined) info.history = json("history");
  for (const slot of SLOTS) {
    const opt = json(slot.key);
    if (opt === undefined) continue;
    const o = opt as Partial<OptimizerInfo>;
    if (typeof o !== "object" || o === null || o.type !== "SGD" || !Number.isSafeInteger(o.step)) {
      fail(`metadata "${slot.key}" is not an SGD state: ${m[slot.key]}`);
    }
    info[slot.option] = o as OptimizerInfo;
  }
  return info;
}

function checkShape(e: SafetensorsEntry, nt: NamedTensor, name: string, problems: string[]): void {
  const want = nt.torchShape;
  if (e.shape.length !== want.length || e.shape.some((d, i) => d !== want[i])) {
    problems.push(`"${name}" has shape [${e.shape}] in the file, the model expects [${want}]`);
  }
  const floating = e.dtype === "F32" || e.dtype === "F64" || e.dtype === "F16" ||
    e.dtype === "BF16";
  if (!nt.integer && !floating) {
    problems.push(`"${name}" is ${e.dtype} in the file, expected a floating-point dtype`);
  }
}

/** Reads a tensor back asynchronously (GPU backends cannot read synchronously in Deno). */
async function toEntry(t: tf.Tensor, integer: boolean): Promise<SafetensorsEntry> {
  const values = await t.data();
  if (!integer) return entryFromArray("F32", t.shape, values as Float32Array);
  const ints = Array.from(values, (v) => Math.round(v));
  return entryFromArray("I64", t.shape, ints);
}

function toTensor(e: SafetensorsEntry, nt: NamedTensor, source: string): tf.Tensor {
  const floating = e.dtype === "F32" || e.dtype === "F64" || e.dtype === "F16" ||
    e.dtype === "BF16";
  if (floating) return tf.tensor(decodeToFloat32(e), e.shape, "float32");
  const values = decodeToNumbers(e);
  if (values.some((v) => Math.abs(v) > 2 ** 24)) {
    throw new Error(`${source}: "${nt.name}" holds integers beyond float32's exact range`);
  }
  return tf.tensor(Float32Array.from(values), e.shape, "float32");
}

function checkCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`saveCheckpoint: ${what} must be a count, got ${n}`);
  }
  return n;
}

function list(names: string[]): string {
  return names.slice(0, 8).join(", ") + (names.length > 8 ? `, … (${names.length - 8} more)` : "");
}
