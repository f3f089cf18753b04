/**
 * Every network of the zoo by name: the TESKD backbones (`cifarresnet18`, `seresnet18`, `vgg16`, …) and
 * the CIFAR models of the KD toolboxes (`resnet8x4`, `resnet32x4`, `wrn_40_2`, `vgg8`, `ShuffleV2`,
 * `MobileNetV2`, …), each with the official state_dict names.
 *
 * @module
 */
import type { Network, NetworkOptions } from "./network.ts";
import { CIFAR_RESNETS } from "./cifar_resnet.ts";
import { MOBILENETS_V2 } from "./mobilenetv2.ts";
import { SHUFFLENETS_V1 } from "./shufflenetv1.ts";
import { SHUFFLENETS_V2 } from "./shufflenetv2.ts";
import { VGG_BNS } from "./vgg_bn.ts";
import { WRNS } from "./wrn.ts";
import { createTeacher, NETWORKS as TESKD_BACKBONES } from "./zoo.ts";

/** Options of {@link createNetwork}. */
export interface CreateNetworkOptions extends NetworkOptions {
  /** Scales every width (TESKD backbones only: small test networks). Default 1. */
  widthMultiplier?: number;
}

type Builder = (opts: CreateNetworkOptions) => Network;

/** One builder per registry name. */
const BUILDERS: Record<string, Builder> = {
  ...Object.fromEntries(
    TESKD_BACKBONES.map((name) => [name, (o: CreateNetworkOptions) => createTeacher(name, o)]),
  ),
  ...CIFAR_RESNETS,
  ...WRNS,
  ...VGG_BNS,
  ...SHUFFLENETS_V1,
  ...SHUFFLENETS_V2,
  ...MOBILENETS_V2,
};

/** The registry names, in registration order. */
export function networkNames(): string[] {
  return Object.keys(BUILDERS);
}

/**
 * A freshly initialised network of the zoo.
 *
 * @example
 * ```ts
 * createNetwork("resnet8x4", { numClasses: 100 }).parameterCount(); // 1233540
 * ```
 * @throws Error listing the known names for an unknown one; for `widthMultiplier` on a network
 *   that cannot scale
 */
export function createNetwork(name: string, opts: CreateNetworkOptions): Network {
  const build = Object.hasOwn(BUILDERS, name) ? BUILDERS[name] : undefined;
  if (build === undefined) {
    throw new Error(`unknown network "${name}"; known networks: ${networkNames().join(", ")}`);
  }
  if ((opts.widthMultiplier ?? 1) !== 1 && !(TESKD_BACKBONES as readonly string[]).includes(name)) {
    throw new Error(
      `createNetwork: "${name}" has no widthMultiplier (only the TESKD backbones do)`,
    );
  }
  return build(opts);
}
