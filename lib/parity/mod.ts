/**
 * Parity with the official PyTorch TESKD: fixture generator, metrics and checker.
 *
 * @module
 */
export * from "./generate.ts";
export * from "./fixture.ts";
export * from "./metrics.ts";
export * from "./check.ts";
