/**
 * Pretrained teachers: a network of the zoo with weights from a PyTorch `.pth` checkpoint (the
 * official toolbox's `{"model": state_dict, …}`, read without Python) or a safetensors file, frozen.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import type { Network } from "../models/network.ts";
import { createNetwork } from "../models/registry.ts";
import { loadStateDictFile } from "../train/torch_pth.ts";

/** Options of {@link loadTeacher}. */
export interface LoadTeacherOptions {
  /** Classes; default: read from the checkpoint's classifier. */
  numClasses?: number;
  /** Width multiplier of a TESKD backbone saved at reduced width. Default 1. */
  widthMultiplier?: number;
}

/**
 * Builds `network`, loads its weights from `path` (strictly: every name and shape must match) and
 * freezes it: inference mode for good, no parameter offered to an optimizer.
 *
 * @example
 * ```ts
 * const teacher = await loadTeacher("resnet32x4", "save/teachers/models/resnet32x4_vanilla/resnet32x4_best.pth");
 * teacher.frozen; // true
 * ```
 * @throws Error naming the file: unreadable, not a checkpoint, or names/shapes that do not match
 */
export async function loadTeacher(
  network: string,
  path: string,
  opts: LoadTeacherOptions = {},
): Promise<Network> {
  const sd = await loadStateDictFile(path);
  try {
    const numClasses = opts.numClasses ?? classesOf(sd, path);
    const net = createNetwork(network, {
      numClasses,
      widthMultiplier: opts.widthMultiplier,
    });
    try {
      net.loadStateDict(sd);
    } catch (e) {
      net.dispose();
      throw new Error(`${path}: not a ${network} checkpoint: ${(e as Error).message}`);
    }
    return net.freeze();
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

/**
 * Classes of a checkpoint: the rows of its classifier, the last two-dimensional weight in natural
 * name order (the zoo's networks have one linear layer, TESKD's VGG three: `classifier.4` is last).
 * Name order, not file order: safetensors files list their tensors sorted.
 */
function classesOf(sd: Map<string, tf.Tensor>, path: string): number {
  const linear = [...sd.entries()].filter(([n, t]) => n.endsWith(".weight") && t.rank === 2)
    .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
  const last = linear.at(-1);
  if (last === undefined) {
    throw new Error(`${path}: no classifier weight found; pass numClasses`);
  }
  return last[1].shape[0];
}
