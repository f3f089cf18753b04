/**
 * The TESKD paper's headline results as data, each cell with the {@link TrainConfig} that reproduces
 * it, and {@link paperTable}: the published numbers side by side with your measured runs (final and
 * best-after-last-milestone top-1 of the deployed ResNet-18 — TESKD's teacher, the baseline's
 * network — the gap, and how far each run got).
 *
 * @example
 * ```ts
 * await paperTable("runs");           // every run folder under runs/ (or an ablation's folder)
 * await paperTable(await runAblation({
 *   base: { recipe: "teskd", model: { network: "cifarresnet18" } }, // the paper's recipe for both
 *   factors: { method: ["baseline", "teskd"] },
 *   dir,
 * }));
 * ```
 *
 * @module
 */
import * as aq from "arquero";
import {
  configDiff,
  resolveTrainConfig,
  type TrainConfig,
  type TrainConfigInput,
} from "../train/config.ts";
import { ablationTable } from "./ablation.ts";
import { type MeasuredRun, measuredRuns } from "./measured_runs.ts";
import { type ArqueroTable, displayable } from "./table.ts";

/** One published number. */
export interface PaperCell {
  /** Dataset as the paper names it. */
  dataset: "CIFAR-100" | "ImageNet";
  /** Network as the paper names it. */
  network: "ResNet-18";
  /** "baseline": the network trained alone with CE; "teskd": trained with its students. */
  method: "baseline" | "teskd";
  /** Published top-1 (%) of the deployed network (the ResNet-18, TESKD's teacher). */
  top1: number;
  /** Published gain over the baseline (TESKD rows). */
  gain?: number;
  /**
   * The configuration that reproduces the cell here (a config input: the rest are defaults); null
   * when this library cannot train it (ImageNet: see {@link PaperCell.note}).
   */
  config: TrainConfigInput | null;
  /** How the cell is reproduced, and any caveat. */
  note: string;
}

const IMAGENET_NOTE = "The official ImageNet path cannot run as published (its distributed " +
  "sampler is used without a process group). A faithful run would use torchvision ResNet-18 " +
  "(7×7/2 stem, max-pool, students ending at 7×7), SGD lr 0.1, momentum 0.9, weight decay 1e-4, " +
  "batch 256, 90 epochs with lr × 0.1 at 30 and 60, single process; this library has no ImageNet " +
  "loader, so there is no TrainConfig for it.";

/** The paper's setting shared by its CIFAR-100 cells: its recipe, network and data set. */
const PAPER_CIFAR = {
  recipe: "teskd",
  data: { dataset: "cifar100" },
  model: { network: "cifarresnet18" },
} as const satisfies TrainConfigInput;

/**
 * The abstract's table (ResNet-18). Both CIFAR-100 cells use the TESKD paper's recipe
 * (`recipe: "teskd"`: SGD 0.1 Nesterov, batch 128, 200 epochs, ×0.1 at 100 and 150) on
 * `cifarresnet18`: TESKD with its official settings, the baseline `method: { name: "baseline" }`
 * (plain CE; its own default recipe would be the toolbox's, hence the explicit recipe).
 */
export const PAPER_RESULTS: readonly PaperCell[] = Object.freeze(
  [
    {
      dataset: "CIFAR-100",
      network: "ResNet-18",
      method: "baseline",
      top1: 74.41,
      config: { ...PAPER_CIFAR, method: { name: "baseline" } },
      note:
        "ResNet-18 alone, CE only; official recipe (200 epochs, lr 0.1 ×0.1 at 100/150, batch 128)",
    },
    {
      dataset: "CIFAR-100",
      network: "ResNet-18",
      method: "teskd",
      top1: 79.15,
      gain: 4.74,
      config: { ...PAPER_CIFAR, method: { name: "teskd" } },
      note: "official recipe and settings (3 students, ce 0.2, kd 0.8, fea 1e-7, T 4)",
    },
    {
      dataset: "ImageNet",
      network: "ResNet-18",
      method: "baseline",
      top1: 69.71,
      config: null,
      note: IMAGENET_NOTE,
    },
    {
      dataset: "ImageNet",
      network: "ResNet-18",
      method: "teskd",
      top1: 71.14,
      gain: 1.43,
      config: null,
      note: IMAGENET_NOTE,
    },
  ] satisfies PaperCell[],
);

/** The full configuration of a paper cell (throws for cells that cannot be trained here). */
export function paperConfig(cell: PaperCell): TrainConfig {
  if (cell.config === null) {
    throw new Error(
      `paperConfig: ${cell.dataset} ${cell.method} cannot be trained here: ${cell.note}`,
    );
  }
  return resolveTrainConfig(cell.config, `paper ${cell.dataset} ${cell.method}`);
}

/** Fields (dotted paths) that do not change what is trained (where and how fast it runs). */
const NEUTRAL = new Set([
  "outDir",
  "backend",
  "data.dataDir",
  "data.download",
  "data.workers",
  "data.evalBatchSize",
]);

/** Fields of `cfg` (dotted paths) that differ from the cell's configuration. */
function recipeDiff(cfg: TrainConfig, want: TrainConfig): string[] {
  return configDiff(want, cfg).filter((f) => !NEUTRAL.has(f));
}

const DATASET_KEY: Record<PaperCell["dataset"], string> = {
  "CIFAR-100": "cifar100",
  "ImageNet": "imagenet",
};

async function runsOf(measured: string | ArqueroTable): Promise<MeasuredRun[]> {
  const t = typeof measured === "string" ? await ablationTable(measured) : measured;
  if (typeof t?.columnNames !== "function") {
    throw new TypeError("paperTable: measured must be a runs folder or a table from runAblation");
  }
  for (const c of ["id", "dir", "state"]) {
    if (!t.columnNames().includes(c)) {
      throw new Error(`paperTable: the measured table has no "${c}" column (use runAblation's)`);
    }
  }
  return await measuredRuns(t.objects() as Record<string, unknown>[]);
}

/** Preference among the runs matching one cell: faithful recipe, then finished, then progress. */
function rank(r: MeasuredRun, faithful: boolean): number {
  return (faithful ? 1e6 : 0) + (r.state === "finished" ? 1e5 : 0) + r.epochsDone;
}

/**
 * The paper's table side by side with measured runs: one row per cell with `dataset`, `network`,
 * `method`, `paper_top1`, `paper_gain`, and from the best-matching measured run (same
 * `config.data.dataset`, `config.model.network` (`cifarresnet18`) and `config.method.name`; a run
 * with the cell's configuration preferred, then a finished one, then the one with most epochs):
 * `run`, `state` ("not run", "running", "interrupted", "failed", "finished", or "not runnable
 * here"), `epochs` ("done/total"), `recipe` ("official" or the dotted paths of the fields that
 * differ), `measured_final` (top-1 of the run's deployed network — its `deployedHead` — after the
 * last epoch), `measured_best` (the best from the last milestone on, as the official log reports
 * it; else the best over all epochs),
 * `gap_final` and `gap_best` (measured − paper), `runs` (matching runs) and `note`.
 *
 * @param measured a runs folder (an ablation's, or any folder of CLI run folders) or a table from
 *   {@link runAblation}/{@link ablationTable}; without it, only the paper's side
 *
 * @example
 * ```ts
 * await paperTable("runs/paper");
 * ```
 */
export async function paperTable(measured?: string | ArqueroTable): Promise<ArqueroTable> {
  const runs = measured === undefined ? [] : await runsOf(measured);
  const rows = PAPER_RESULTS.map((cell) => {
    const want = cell.config === null ? null : paperConfig(cell);
    const matches = want === null
      ? []
      : runs.filter((r) =>
        r.config.data.dataset === DATASET_KEY[cell.dataset] &&
        r.config.model.network === want.model.network && r.config.method.name === cell.method
      );
    let pick: MeasuredRun | undefined;
    let pickDiff: string[] = [];
    for (const r of matches) {
      const diff = want ? recipeDiff(r.config, want) : [];
      if (!pick || rank(r, diff.length === 0) > rank(pick, pickDiff.length === 0)) {
        pick = r;
        pickDiff = diff;
      }
    }
    const best = pick ? (pick.afterLastMilestone ?? pick.best) : null;
    const final = pick?.final ?? null;
    const gap = (v: number | null) => (v === null ? null : Math.round((v - cell.top1) * 100) / 100);
    return {
      dataset: cell.dataset,
      network: cell.network,
      method: cell.method,
      paper_top1: cell.top1,
      paper_gain: cell.gain ?? null,
      run: pick?.id ?? null,
      state: want === null ? "not runnable here" : pick ? pick.state : "not run",
      epochs: pick ? `${pick.epochsDone}/${pick.epochs ?? "?"}` : null,
      recipe: pick
        ? (pickDiff.length === 0 ? "official" : `differs: ${pickDiff.join(", ")}`)
        : null,
      measured_final: final,
      measured_best: best,
      gap_final: gap(final),
      gap_best: gap(best),
      runs: matches.length,
      note: cell.note,
    };
  });
  return displayable(aq.from(rows), {
    caption: "TESKD paper (top-1 % of the deployed ResNet-18) vs measured: final = last epoch, " +
      "best = best from the last milestone on",
    maxColumns: 20,
  });
}
