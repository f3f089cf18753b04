/**
 * teskd: Teacher Evolution via Self-Knowledge Distillation for TensorFlow.js on Deno.
 *
 * Notebooks import everything from here: `import { initBackend } from "teskd";`.
 *
 * @module
 */
export * from "./backend/mod.ts";
export * from "./data/mod.ts";
export * from "./train/mod.ts";
