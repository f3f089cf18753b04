/**
 * Runs of a results folder as the paper tables compare them: each row of an ablation table (the
 * CLI's run folders) with its accuracies and its resolved configuration, read from the run's
 * `config.json`. Both the TESKD paper table and the KD tables match runs to published cells this way.
 *
 * @module
 */
import { join } from "node:path";
import { resolveTrainConfig, type TrainConfig } from "../train/config.ts";

/** One run, with what a paper table needs of it. */
export interface MeasuredRun {
  /** The run's id (its folder name). */
  id: string;
  /** Its folder. */
  dir: string;
  /** "finished", "interrupted", … (the ablation table's `state`). */
  state: string;
  /** Epochs completed. */
  epochsDone: number;
  /** Epochs planned, when known. */
  epochs: number | null;
  /** Top-1 of the deployed head at the last epoch. */
  final: number | null;
  /** Best top-1 of the deployed head. */
  best: number | null;
  /** Epoch of the best top-1. */
  bestEpoch: number | null;
  /** Best top-1 from the last milestone on (what the official TESKD log reports). */
  afterLastMilestone: number | null;
  /** The run's resolved configuration. */
  config: TrainConfig;
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/**
 * The runs of ablation-table rows (`id`, `dir`, `state`, `epochs_done`, …), each folder once. A run
 * without a readable configuration (one that never started, or of another version) is left out: it
 * matches no published cell.
 */
export async function measuredRuns(rows: Record<string, unknown>[]): Promise<MeasuredRun[]> {
  const out: MeasuredRun[] = [];
  const seen = new Set<string>();
  for (const r of rows) {
    const dir = String(r.dir);
    if (seen.has(dir)) continue;
    seen.add(dir);
    let config: TrainConfig;
    try {
      const path = join(dir, "config.json");
      config = resolveTrainConfig(JSON.parse(await Deno.readTextFile(path)), path);
    } catch {
      continue;
    }
    out.push({
      id: String(r.id),
      dir,
      state: String(r.state),
      epochsDone: num(r.epochs_done) ?? 0,
      epochs: num(r.epochs),
      final: num(r.final_top1),
      best: num(r.best_top1),
      bestEpoch: num(r.best_epoch),
      afterLastMilestone: num(r.best_after_last_milestone_top1),
      config,
    });
  }
  return out;
}
