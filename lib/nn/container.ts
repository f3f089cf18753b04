/**
 * `ModuleList`-like container with sparse numeric names ("0".."3"), kept in numeric order, so that a
 * model can hold only some of its official `laterals.i` / `upsample.j` entries.
 *
 * @module
 */
import { Module } from "./module.ts";

/** Children indexed by integers; the state_dict order is ascending index. */
export class ModuleList<M extends Module> extends Module {
  readonly #items = new Map<number, M>();

  /** Adds `m` at `index`; throws when that index is taken. */
  set(index: number, m: M): M {
    if (this.#items.has(index)) throw new Error(`ModuleList: index ${index} is already set`);
    this.#items.set(index, m);
    this.registerModule(String(index), m);
    this.reorderChildren([...this.#items.keys()].sort((a, b) => a - b).map(String));
    return m;
  }

  /** The module at `index`; throws a clear error when absent. */
  at(index: number): M {
    const m = this.#items.get(index);
    if (m === undefined) throw new Error(`ModuleList: no module at index ${index}`);
    return m;
  }

  /** Whether `index` is set. */
  has(index: number): boolean {
    return this.#items.has(index);
  }
}
