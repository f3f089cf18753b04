/**
 * The stage pairs the toolbox's feature methods read (AT, VID, SemCKD): `feat_s[1:-1]` and
 * `feat_t[1:-1]` of the official `is_feat` list, i.e. every map but the stem's, zipped (the shorter
 * list decides how many pairs there are).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { MethodTerm } from "../losses/kd.ts";

/** The entries after the stem's (maps, or their shapes) of both networks, paired by position. */
export function stagePairs<T>(s: readonly T[], t: readonly T[]): [T, T][] {
  const n = Math.min(s.length, t.length) - 1;
  return Array.from({ length: Math.max(n, 0) }, (_, i) => [s[i + 1], t[i + 1]]);
}

/** Per-pair terms as one method term: their sum, weighted by `beta`, each logged as `kd_pairs.<i>`. */
export function pairTerms(pairs: tf.Scalar[], beta: number): MethodTerm {
  return {
    term: (pairs.length === 0 ? tf.scalar(0) : tf.addN(pairs)) as tf.Scalar,
    beta,
    parts: Object.fromEntries(pairs.map((p, i) => [`kd_pairs.${i}`, p])),
  };
}
