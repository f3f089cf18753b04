/**
 * The rule of ipywidgets' bounded numbers (sliders, progress bars): `min ≤ value ≤ max`. A value out
 * of range is clamped; min above max is refused; moving a bound past the value moves the value.
 *
 * @module
 */

/** Current and proposed bounds and value. */
interface Bounded {
  value: number;
  min: number;
  max: number;
}

/**
 * The proposed changes with the value clamped into the (new) bounds; throws a RangeError when min
 * would exceed max.
 */
export function clampBounded<T extends Partial<Bounded>>(proposed: T, current: Bounded): T {
  const min = proposed.min ?? current.min;
  const max = proposed.max ?? current.max;
  if (min > max) {
    throw new RangeError(`min (${min}) must not exceed max (${max})`);
  }
  const value = proposed.value ?? current.value;
  const clamped = Math.min(Math.max(value, min), max);
  return clamped === value && proposed.value === undefined
    ? proposed
    : { ...proposed, value: clamped };
}
