/**
 * Losses: cross-entropy, temperature KD, feature loss, and the weighted TESKD loss.
 *
 * @module
 */
export * from "./losses.ts";
export * from "./teskd.ts";
export { attentionLoss, attentionMap, similarityLoss, VID_EPS, vidNll } from "./feature_kd.ts";
export { contrastScores, NCE_EPS, nceLoss, updatedMemory } from "./crd.ts";
export { pairMse, semckdLoss } from "./semckd.ts";
