/**
 * A block allocator over a range of byte offsets (the kernels' WebAssembly memory). Training repeats
 * the same tensor sizes every step, so freed blocks wait in bins of their exact size and the next
 * request of that size takes one in O(1); only when the range is full are the free blocks merged
 * with their neighbours and split to fit (rare: the first steps of a new model).
 *
 * @module
 */

/** Alignment of every block (a cache line; also what the SIMD kernels like). */
export const BLOCK_ALIGN = 64;

/** A free range while merging. */
interface Range {
  at: number;
  bytes: number;
}

/** Allocates aligned blocks in `[base, limit)`, asking `grow(end)` for memory up to `end` first. */
export class BlockHeap {
  readonly base: number;
  readonly limit: number;
  #grow: (end: number) => void;
  #top: number;
  /** Size of every allocated block, by offset. */
  #used = new Map<number, number>();
  /** Free blocks below the top, by exact size. */
  #bins = new Map<number, number[]>();
  #usedBytes = 0;

  constructor(base: number, limit: number, grow: (end: number) => void) {
    if (base % BLOCK_ALIGN !== 0 || limit < base) {
      throw new Error(`BlockHeap: bad range [${base}, ${limit})`);
    }
    this.base = base;
    this.limit = limit;
    this.#grow = grow;
    this.#top = base;
  }

  /** Bytes in allocated blocks. */
  get usedBytes(): number {
    return this.#usedBytes;
  }

  /** End of the highest block ever handed out and not given back at the top. */
  get top(): number {
    return this.#top;
  }

  /** Offset of a block of at least `bytes` bytes, or null when the range has no room for it. */
  alloc(bytes: number): number | null {
    const size = roundUp(Math.max(bytes, 1));
    const at = this.#bins.get(size)?.pop() ?? this.#bump(size) ?? this.#fitAfterMerge(size);
    if (at === null) return null;
    this.#used.set(at, size);
    this.#usedBytes += size;
    return at;
  }

  /** Gives the block at `at` back; throws for an offset that is not an allocated block's start. */
  free(at: number): void {
    const size = this.#used.get(at);
    if (size === undefined) throw new Error(`BlockHeap: ${at} is not an allocated block`);
    this.#used.delete(at);
    this.#usedBytes -= size;
    if (at + size === this.#top) this.#top = at;
    else this.#bin(at, size);
  }

  /** Start of the allocated block that contains byte `offset`, or null. */
  blockContaining(offset: number): number | null {
    if (this.#used.has(offset)) return offset;
    for (const [at, size] of this.#used) if (offset >= at && offset < at + size) return at;
    return null;
  }

  #bin(at: number, size: number): void {
    const list = this.#bins.get(size);
    if (list === undefined) this.#bins.set(size, [at]);
    else list.push(at);
  }

  #bump(size: number): number | null {
    const at = this.#top;
    if (at + size > this.limit) return null;
    this.#grow(at + size);
    this.#top = at + size;
    return at;
  }

  /** Merges adjacent free blocks (and the top), then takes the smallest range that fits. */
  #fitAfterMerge(size: number): number | null {
    const ranges: Range[] = [];
    for (const [bytes, list] of this.#bins) for (const at of list) ranges.push({ at, bytes });
    if (ranges.length === 0) return null;
    this.#bins.clear();
    ranges.sort((a, b) => a.at - b.at);
    const merged: Range[] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last !== undefined && last.at + last.bytes === r.at) last.bytes += r.bytes;
      else merged.push({ ...r });
    }
    const last = merged[merged.length - 1];
    if (last.at + last.bytes === this.#top) {
      this.#top = last.at;
      merged.pop();
    }
    let best: Range | null = null;
    for (const r of merged) {
      if (r.bytes >= size && (best === null || r.bytes < best.bytes)) best = r;
    }
    for (const r of merged) {
      if (r !== best) this.#bin(r.at, r.bytes);
      else if (r.bytes > size) this.#bin(r.at + size, r.bytes - size);
    }
    return best?.at ?? this.#bump(size);
  }
}

function roundUp(n: number): number {
  return Math.ceil(n / BLOCK_ALIGN) * BLOCK_ALIGN;
}
