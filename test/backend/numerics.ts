/**
 * The error measure of the backend tests: the largest absolute difference relative to the
 * reference's largest magnitude (an error on the scale of the output, not of each element, so that
 * values near zero do not dominate).
 *
 * @module
 */
import assert from "node:assert/strict";

/** max |a − b| / max |b| (0 when both are all zero); the lengths must match. */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "compared arrays differ in length");
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-30);
}
