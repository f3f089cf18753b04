/**
 * The epoch-by-epoch batch source: seeded per-epoch shuffling, batching with an optional drop-last,
 * and batch building on data workers with a prefetch window so the training loop rarely waits.
 *
 * @module
 */
import { type BatchMaker, createMaker, type DatasetSpec } from "./maker.ts";
import { permutation } from "./rng.ts";
import type { Batch, BatchSource } from "./types.ts";
import type { FromWorker, ToWorker } from "./worker.ts";

/** Options of {@linkcode DataLoader}. */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Number of classes the labels range over. */
  numClasses: number;
  /** Reshuffle every epoch (seeded by seed and epoch). Default `true`. */
  shuffle?: boolean;
  /** Drop the last incomplete batch. Default `false`. */
  dropLast?: boolean;
  /**
   * Data workers. 0 builds batches on the calling thread. Default: all cores but one (at least 1).
   * Batches are identical for any worker count.
   */
  workers?: number;
  /**
   * Workers stop after this many milliseconds without requests and start again on demand, so a
   * script that forgets {@linkcode DataLoader.close} still exits. Default 5000.
   */
  idleMs?: number;
  /** Batches requested ahead of the consumer. Default `max(4, 2 × workers)`. */
  prefetch?: number;
  /**
   * Once an epoch's batches are all requested, start on epoch e + 1 (used if the next call is
   * `epoch(e + 1)`, dropped otherwise). Default `true` (ignored without workers).
   */
  prefetchNextEpoch?: boolean;
}

interface Job {
  resolve: (b: Batch) => void;
  reject: (e: Error) => void;
}

/** The requests made so far for one epoch. */
interface EpochRun {
  epoch: number;
  order: Int32Array;
  next: number;
  pending: Map<number, Promise<Batch>>;
}

interface Slot {
  worker: Worker;
  busy: number;
}

function defaultWorkers(): number {
  return Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1);
}

/** Makes a copy of `a` in shared memory unless it already is, so workers can read it in place. */
function shared<T extends Uint8Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const ctor = a.constructor as { new (b: SharedArrayBuffer): T };
  const out = new ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a as unknown as ArrayLike<number>);
  return out;
}

/**
 * A {@linkcode BatchSource} over a data-set spec. Each epoch's order is a seeded permutation, and
 * each sample's augmentation depends only on (seed, epoch, sample index), so the batches are the same
 * whatever the worker count. Call {@linkcode DataLoader.close} when done to stop the workers.
 *
 * @example
 * ```ts
 * const set = await loadCifar({ kind: "cifar10", split: "train" });
 * const loader = new DataLoader(
 *   { type: "images", ...set, augment: cifarTrain(), seed: 1 },
 *   { batchSize: 128, numClasses: set.numClasses, workers: 2 },
 * );
 * for await (const batch of loader.epoch(0)) console.log(batch.n, batch.y[0]);
 * loader.close();
 * ```
 */
export class DataLoader implements BatchSource {
  /** Batches per epoch. */
  readonly batchesPerEpoch: number;
  /** Samples in the data set. */
  readonly size: number;
  /** Number of classes. */
  readonly numClasses: number;
  /** Images per (full) batch. */
  readonly batchSize: number;
  readonly #spec: DatasetSpec;
  readonly #shuffle: boolean;
  readonly #prefetch: number;
  readonly #slots: Slot[] = [];
  readonly #workers: number;
  readonly #idleMs: number;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #jobs = new Map<number, Job>();
  readonly #lookahead: boolean;
  #ahead: EpochRun | null = null;
  #local: BatchMaker | null = null;
  #nextId = 0;
  #closed = false;

  /** Creates the loader and starts its workers (they stop when idle and restart on demand). */
  constructor(spec: DatasetSpec, opts: LoaderOptions) {
    const size = spec.labels.length;
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
      throw new Error(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    }
    if (size === 0) throw new Error("DataLoader: the data set is empty");
    for (let i = 0; i < size; i++) {
      const l = spec.labels[i];
      if (l < 0 || l >= opts.numClasses) {
        throw new Error(`DataLoader: label ${l} of sample ${i} outside 0..${opts.numClasses - 1}`);
      }
    }
    this.size = size;
    this.numClasses = opts.numClasses;
    this.batchSize = opts.batchSize;
    this.#shuffle = opts.shuffle ?? true;
    this.batchesPerEpoch = opts.dropLast
      ? Math.floor(size / opts.batchSize)
      : Math.ceil(size / opts.batchSize);
    if (this.batchesPerEpoch === 0) {
      throw new Error(
        `DataLoader: dropLast with batchSize ${opts.batchSize} > data set size ${size} leaves no batches`,
      );
    }
    const workers = opts.workers ?? defaultWorkers();
    // Without workers, building batches ahead would only block the caller earlier.
    this.#lookahead = (opts.prefetchNextEpoch ?? true) && workers > 0;
    this.#prefetch = Math.max(1, opts.prefetch ?? Math.max(4, 2 * workers));
    this.#spec = spec.type === "images"
      ? { ...spec, images: shared(spec.images), labels: shared(spec.labels) }
      : spec;
    if (!Number.isInteger(workers) || workers < 0) {
      throw new Error(`DataLoader: workers must be a non-negative integer, got ${workers}`);
    }
    this.#workers = workers;
    this.#idleMs = opts.idleMs ?? 5000;
    // Start now so module loading overlaps whatever the caller does before the first epoch.
    for (let i = 0; i < workers; i++) this.#startWorker();
    if (workers > 0) this.#armIdle();
  }

  #startWorker(): void {
    const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
    const slot: Slot = { worker, busy: 0 };
    worker.onmessage = (e: MessageEvent<FromWorker>) => {
      const m = e.data;
      const job = this.#jobs.get(m.id);
      if (!job) return;
      this.#jobs.delete(m.id);
      slot.busy--;
      if (this.#jobs.size === 0) this.#armIdle();
      if (m.type === "error") job.reject(new Error(m.message));
      else {
        job.resolve({
          x: m.x,
          y: m.y,
          ...(m.index ? { index: m.index } : {}),
          n: m.n,
          height: m.height,
          width: m.width,
          channels: m.channels,
        });
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      // Drop the broken worker (a fresh one starts on the next request) and fail what was asked.
      worker.terminate();
      this.#slots.splice(this.#slots.indexOf(slot), 1);
      this.#failAll(new Error(`data worker crashed: ${e.message}`));
    };
    worker.postMessage({ type: "init", spec: this.#spec } satisfies ToWorker);
    this.#slots.push(slot);
  }

  /** Stops the workers once nothing has been asked of them for `idleMs`. */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#jobs.size === 0) this.#stopWorkers();
    }, this.#idleMs);
  }

  #stopWorkers(): void {
    for (const s of this.#slots) s.worker.terminate();
    this.#slots.length = 0;
  }

  #failAll(err: Error): void {
    for (const job of this.#jobs.values()) job.reject(err);
    this.#jobs.clear();
  }

  /** Builds one batch (on the least busy worker, or here when there are none). */
  #run(indices: Int32Array, epoch: number): Promise<Batch> {
    if (this.#workers === 0) {
      this.#local ??= createMaker(this.#spec);
      try {
        return Promise.resolve(this.#local(indices, epoch));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    while (this.#slots.length < this.#workers) this.#startWorker();
    let slot = this.#slots[0];
    for (const s of this.#slots) if (s.busy < slot.busy) slot = s;
    slot.busy++;
    const id = this.#nextId++;
    return new Promise<Batch>((resolve, reject) => {
      this.#jobs.set(id, { resolve, reject });
      slot.worker.postMessage({ type: "batch", id, epoch, indices } satisfies ToWorker);
    });
  }

  /** Workers running now (they start on demand and stop when idle). */
  get activeWorkers(): number {
    return this.#slots.length;
  }

  /**
   * The data-set indices of each sample of epoch `e`, batch by batch (what {@linkcode epoch} uses).
   *
   * @example
   * ```ts
   * const firstBatch = loader.order(0).subarray(0, loader.batchSize);
   * ```
   */
  order(e: number): Int32Array {
    if (this.#shuffle) return permutation(this.size, this.#spec.seed, e);
    const p = new Int32Array(this.size);
    for (let i = 0; i < p.length; i++) p[i] = i;
    return p;
  }

  /** Issues batch requests of `run` while the shared prefetch window has room. */
  #issue(run: EpochRun, room: number): number {
    while (run.next < this.batchesPerEpoch && room > 0) {
      const start = run.next * this.batchSize;
      const idx = run.order.slice(start, Math.min(start + this.batchSize, this.size));
      const p = this.#run(idx, run.epoch);
      p.catch(() => {}); // surfaced when awaited; avoids unhandled rejections after an early break
      run.pending.set(run.next++, p);
      room--;
    }
    return room;
  }

  /**
   * Keeps the prefetch window full: first with this epoch's batches, then (once they are all
   * requested) with the next epoch's, so the first batches of epoch e + 1 are ready when the trainer
   * asks for them.
   */
  #fill(run: EpochRun): void {
    const room = this.#issue(
      run,
      this.#prefetch - run.pending.size - (this.#ahead?.pending.size ?? 0),
    );
    if (room > 0 && this.#lookahead && run.next === this.batchesPerEpoch) {
      if (this.#ahead?.epoch !== run.epoch + 1) this.#ahead = this.#newRun(run.epoch + 1);
      this.#issue(this.#ahead, room);
    }
  }

  #newRun(e: number): EpochRun {
    return { epoch: e, order: this.order(e), next: 0, pending: new Map() };
  }

  /** The batches of epoch `e`, in order, prefetched up to the prefetch window. */
  async *epoch(e: number): AsyncGenerator<Batch> {
    if (this.#closed) throw new Error("DataLoader: epoch() after close()");
    if (!Number.isInteger(e) || e < 0) throw new Error(`DataLoader: bad epoch ${e}`);
    // Requests made ahead for this epoch are used; ones for any other epoch are simply dropped.
    const run = this.#ahead?.epoch === e ? this.#ahead : this.#newRun(e);
    this.#ahead = null;
    this.#fill(run);
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      const batch = await run.pending.get(b)!;
      run.pending.delete(b);
      this.#fill(run);
      yield batch;
    }
  }

  /** Stops the workers; pending requests fail. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#stopWorkers();
    this.#ahead = null;
    this.#failAll(new Error("DataLoader closed"));
  }
}
