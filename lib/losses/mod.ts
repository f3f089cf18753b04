/**
 * Losses: cross-entropy, temperature KD, feature loss, and the weighted TESKD loss.
 *
 * @module
 */
export * from "./losses.ts";
export * from "./teskd.ts";
