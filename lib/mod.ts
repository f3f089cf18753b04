/**
 * teskd: Teacher Evolution via Self-Knowledge Distillation for TensorFlow.js on Deno.
 *
 * Notebooks import everything from here:
 *
 * @example
 * ```ts
 * import { createTeskd, initBackend } from "teskd";
 * await initBackend();
 * ```
 *
 * @module
 */
export * from "./backend/mod.ts";
export { type FastCpuBackendInfo, registerFastCpuBackend } from "./backend/cpu/mod.ts";
export {
  formatStepProfile,
  type KernelSummary,
  type KernelTiming,
  profileStep,
  type ProfileStepOptions,
  type StepProfile,
} from "./backend/profile.ts";
export * from "./nn/mod.ts";
export * from "./models/mod.ts";
export * from "./losses/mod.ts";
export * from "./train/mod.ts";
export * from "./data/mod.ts";
export * as parity from "./parity/mod.ts";
export * from "./analysis/mod.ts";
