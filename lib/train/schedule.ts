/**
 * Learning-rate schedules: multistep (the TESKD recipe: × 0.1 at epochs 100 and 150), cosine, constant,
 * each with an optional linear warm-up, evaluated per epoch (as PyTorch's schedulers stepped once per
 * epoch) or per step (fractional epochs).
 *
 * Epochs are counted from 0: with the default milestones, epochs 0–99 run at the base rate, 100–149 at
 * 0.1× and 150–199 at 0.01× — what `MultiStepLR(milestones=[100, 150])` stepped after every epoch gives.
 *
 * @example
 * ```ts
 * const schedule: ScheduleConfig = { kind: "multistep", baseLr: 0.1, epochs: 200 };
 * learningRate(schedule, 120); // 0.01
 * learningRate({ ...schedule, kind: "cosine", perStep: true }, 3, 50, 391);
 * ```
 *
 * @module
 */

/** Shape of the schedule after warm-up. */
export type ScheduleKind = "multistep" | "cosine" | "constant";

/** A learning-rate schedule. */
export interface ScheduleConfig {
  /** Shape of the schedule. Default "multistep". */
  kind?: ScheduleKind;
  /** Base learning rate (the recipe: 0.1). */
  baseLr: number;
  /** Total epochs of training (the cosine's period ends here). */
  epochs: number;
  /** Multistep: epochs (0-based) at whose start the rate is multiplied by `gamma`. Default [100, 150]. */
  milestones?: number[];
  /** Multistep: the factor applied at each milestone. Default 0.1. */
  gamma?: number;
  /** Cosine: the rate reached at the end of training. Default 0. */
  minLr?: number;
  /** Epochs of linear warm-up (may be fractional with `perStep`). Default 0. */
  warmupEpochs?: number;
  /** Rate at the start of warm-up, as a fraction of the scheduled rate. Default 0. */
  warmupStartFactor?: number;
  /**
   * Evaluate at fractional epochs `epoch + step / stepsPerEpoch` (changes every step) instead of at
   * whole epochs (changes once per epoch, PyTorch's usual stepping). Default false.
   */
  perStep?: boolean;
}

/**
 * The learning rate for a given epoch (0-based) and step within it.
 *
 * Warm-up scales the main schedule linearly from `warmupStartFactor` to 1 over the first
 * `warmupEpochs`; the cosine starts after the warm-up and ends at `epochs`, multistep milestones stay
 * absolute epochs.
 *
 * @param cfg the schedule
 * @param epoch 0-based epoch index
 * @param step 0-based step within the epoch (only used with `perStep`)
 * @param stepsPerEpoch steps in an epoch (required with `perStep`)
 */
export function learningRate(
  cfg: ScheduleConfig,
  epoch: number,
  step = 0,
  stepsPerEpoch?: number,
): number {
  validateSchedule(cfg);
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new Error(`learningRate: epoch must be an integer ≥ 0, got ${epoch}`);
  }
  let t = epoch;
  if (cfg.perStep) {
    if (stepsPerEpoch === undefined || !Number.isInteger(stepsPerEpoch) || stepsPerEpoch <= 0) {
      throw new Error(
        `learningRate: a per-step schedule needs stepsPerEpoch (an integer > 0), got ${stepsPerEpoch}`,
      );
    }
    if (!Number.isInteger(step) || step < 0) {
      throw new Error(`learningRate: step must be an integer ≥ 0, got ${step}`);
    }
    t = epoch + step / stepsPerEpoch;
  }
  const warmup = cfg.warmupEpochs ?? 0;
  const main = mainRate(cfg, t, warmup);
  if (t < warmup) {
    const start = cfg.warmupStartFactor ?? 0;
    return main * (start + (1 - start) * (t / warmup));
  }
  return main;
}

function mainRate(cfg: ScheduleConfig, t: number, warmup: number): number {
  const kind = cfg.kind ?? "multistep";
  switch (kind) {
    case "constant":
      return cfg.baseLr;
    case "multistep": {
      const gamma = cfg.gamma ?? 0.1;
      // Repeated multiplication, as PyTorch's MultiStepLR updates the rate in place at each milestone.
      let lr = cfg.baseLr;
      for (const m of cfg.milestones ?? [100, 150]) if (t >= m) lr *= gamma;
      return lr;
    }
    case "cosine": {
      const minLr = cfg.minLr ?? 0;
      const progress = Math.min(1, Math.max(0, (t - warmup) / (cfg.epochs - warmup)));
      return minLr + (cfg.baseLr - minLr) * (1 + Math.cos(Math.PI * progress)) / 2;
    }
  }
}

/**
 * Throws a clear error when a schedule is inconsistent.
 *
 * @throws Error naming the field and the problem
 */
export function validateSchedule(cfg: ScheduleConfig): void {
  const kinds: ScheduleKind[] = ["multistep", "cosine", "constant"];
  if (cfg.kind !== undefined && !kinds.includes(cfg.kind)) {
    throw new Error(`schedule.kind must be one of ${kinds.join(", ")}, got "${cfg.kind}"`);
  }
  if (!Number.isFinite(cfg.baseLr) || cfg.baseLr < 0) {
    throw new Error(`schedule.baseLr must be a finite number ≥ 0, got ${cfg.baseLr}`);
  }
  if (!Number.isInteger(cfg.epochs) || cfg.epochs <= 0) {
    throw new Error(`schedule.epochs must be an integer > 0, got ${cfg.epochs}`);
  }
  const warmup = cfg.warmupEpochs ?? 0;
  if (!Number.isFinite(warmup) || warmup < 0 || warmup >= cfg.epochs) {
    throw new Error(
      `schedule.warmupEpochs must be ≥ 0 and < epochs (${cfg.epochs}), got ${warmup}`,
    );
  }
  const start = cfg.warmupStartFactor ?? 0;
  if (!Number.isFinite(start) || start < 0 || start > 1) {
    throw new Error(`schedule.warmupStartFactor must be in [0, 1], got ${start}`);
  }
  const ms = cfg.milestones ?? [];
  for (let i = 0; i < ms.length; i++) {
    if (!Number.isFinite(ms[i]) || ms[i] < 0 || (i > 0 && ms[i] <= ms[i - 1])) {
      throw new Error(`schedule.milestones must be increasing numbers ≥ 0, got [${ms}]`);
    }
  }
  const gamma = cfg.gamma ?? 0.1;
  if (!Number.isFinite(gamma) || gamma <= 0) {
    throw new Error(`schedule.gamma must be a finite number > 0, got ${gamma}`);
  }
  const minLr = cfg.minLr ?? 0;
  if (!Number.isFinite(minLr) || minLr < 0) {
    throw new Error(`schedule.minLr must be a finite number ≥ 0, got ${minLr}`);
  }
}
