/**
 * Parity with the official PyTorch code (TESKD, and the SimKD toolbox's KD methods): fixture
 * generator, metrics and the two checkers.
 *
 * @module
 */
export * from "./generate.ts";
export * from "./fixture.ts";
export * from "./metrics.ts";
export * from "./check.ts";
export { type CheckLine, compareSummaries, formatLine, Tally, tol } from "./tally.ts";
export * from "./kd_check.ts";
