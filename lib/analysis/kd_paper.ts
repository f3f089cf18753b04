/**
 * The published CIFAR-100 numbers of the teacher→student methods as data — the SimKD README's table
 * (three students of one ResNet-32x4 teacher, with mean ± std where the repository's figure gives
 * it), the single runs of its tensorboard screenshot, mdistiller's KD baseline, and ATSC (whose
 * tables could not be retrieved: its cells carry no number) — each with its protocol (loss weights,
 * epochs, which epoch is reported, how many runs, the teacher) and its source. {@link kdPaperTable}
 * puts them next to measured run folders: the matching runs' final and best accuracy, averaged over
 * seeds, the gap, and every protocol field in which the runs differ from the published cell.
 * {@link teskdAlongside} says whether the TESKD paper's numbers share a setting with these cells.
 *
 * @example
 * ```ts
 * await kdPaperTable();                 // the published side only
 * await kdPaperTable("runs/kd-paper");  // with every run folder found under runs/kd-paper
 * ```
 *
 * @module
 */
import * as aq from "arquero";
import { basename, dirname, join } from "node:path";
import type { MethodName } from "../distill/registry.ts";
import { exists } from "../io/exists.ts";
import {
  configDiff,
  resolveTrainConfig,
  type TrainConfig,
  type TrainConfigInput,
} from "../train/config.ts";
import { ablationTable, sampleStats } from "./ablation.ts";
import { type MeasuredRun, measuredRuns } from "./measured_runs.ts";
import { PAPER_RESULTS } from "./paper.ts";
import { type ArqueroTable, displayable } from "./table.ts";

/** Where a published number comes from. */
export type KdSourceId =
  | "simkd-readme"
  | "simkd-figure"
  | "simkd-tensorboard"
  | "mdistiller-readme"
  | "atsc-paper";

/** A source of published numbers and the protocol all its cells share. */
export interface KdSource {
  /** Short name. */
  id: KdSourceId;
  /** What it is, in words. */
  title: string;
  /** Where it is (repository, file, commit). */
  where: string;
  /** Training epochs. */
  epochs: number;
  /**
   * Which epoch's accuracy is reported: "best" (the best test accuracy over the epochs, as the
   * toolbox saves and reports it) or "last" (after the last epoch).
   */
  selection: "best" | "last";
  /** What the source says about runs and seeds. */
  seeds: string;
  /** The recipe (optimizer, schedule, batch), as the source's code runs it. */
  recipe: string;
  /** Caveats. */
  note: string;
}

const TOOLBOX_RECIPE = "SGD 0.05 (0.01 for ShuffleNet/MobileNet students), momentum 0.9, weight " +
  "decay 5e-4, batch 64, 240 epochs, ×0.1 at 150, 180, 210";

/** The sources, by id. */
export const KD_SOURCES: Readonly<Record<KdSourceId, KdSource>> = Object.freeze({
  "simkd-readme": {
    id: "simkd-readme",
    title: "SimKD README, CIFAR-100 table",
    where: "github.com/DefangChen/SimKD README.md @ 2b389c3",
    epochs: 240,
    selection: "best",
    seeds: "not stated",
    recipe: TOOLBOX_RECIPE,
    note:
      "cls = div = 1 for every method but SimKD; beta from scripts/run_distill.sh, written for " +
      "resnet32x4 → resnet8x4 (the other students' betas are assumed the same)",
  },
  "simkd-figure": {
    id: "simkd-figure",
    title: "SimKD repository figure, resnet32x4 → resnet8x4, mean ± std",
    where: "github.com/DefangChen/SimKD images/cifar100_result.png @ 2b389c3",
    epochs: 240,
    selection: "best",
    seeds: "mean ± std (number of runs not stated)",
    recipe: TOOLBOX_RECIPE,
    note: "SimKD+ and SimKD++ are variants of the paper that the code does not have",
  },
  "simkd-tensorboard": {
    id: "simkd-tensorboard",
    title: "SimKD tensorboard screenshot, single runs",
    where: "github.com/DefangChen/SimKD images/SimKD_result.png @ 2b389c3",
    epochs: 240,
    selection: "last",
    seeds: "one run",
    recipe: TOOLBOX_RECIPE,
    note: "test accuracy at epoch 240 (the last), not the best epoch",
  },
  "mdistiller-readme": {
    id: "mdistiller-readme",
    title: "mdistiller README, CIFAR-100 KD baseline",
    where: "github.com/megvii-research/mdistiller README.md, configs/cifar100/kd.yaml, " +
      "mdistiller/engine/cfg.py @ a08d46f",
    epochs: 240,
    selection: "best",
    seeds: "not stated",
    recipe: "SGD 0.05, momentum 0.9, weight decay 5e-4, batch 64, 240 epochs, ×0.1 at 150, 180, " +
      "210 (configs/cifar100/kd.yaml)",
    note:
      "another code base and other KD weights: 0.1·CE + 0.9·KD (cfg.py), T 4; its own teacher " +
      "checkpoints; the maintainers say in issues that CIFAR numbers are means of several runs; " +
      "the trainer records the best test accuracy of a run [inferred: the README does not say " +
      "which epoch it reports]",
  },
  "atsc-paper": {
    id: "atsc-paper",
    title: "ATSC paper (arXiv 2406.08528)",
    where: "arxiv.org/abs/2406.08528; code github.com/random2314235/ATSC @ 8bde1b2",
    epochs: 240,
    selection: "best",
    seeds: "unknown",
    recipe: TOOLBOX_RECIPE + " (the ATSC copy of the toolbox; README: -c 0 -d 0 -b 1 -w 1 -f 2)",
    note:
      "the paper's tables could not be retrieved (only its abstract was reachable): no number " +
      "is given here",
  },
});

/** One published number (or a published row whose number could not be retrieved). */
export interface KdPaperCell {
  /** Where it comes from. */
  source: KdSourceId;
  /** The row as published ("KD", "SimKD (f=4)", "Student (vanilla)"). */
  label: string;
  /** Data set. */
  dataset: "CIFAR-100";
  /** The network whose accuracy is reported (zoo name). */
  student: string;
  /** Its pretrained teacher (zoo name); null for a network trained alone. */
  teacher: string | null;
  /**
   * The method that reproduces it here, with the fields that identify the published variant (loss
   * weights, SimKD's factor): a run matches the cell only when these fields agree; its other
   * settings are the method's official defaults. Null when the code has no such method.
   */
  method: ({ name: MethodName } & Record<string, unknown>) | null;
  /** Published top-1 (%); null when it could not be retrieved. */
  top1: number | null;
  /** Published standard deviation over runs, where given. */
  std?: number;
  /** Where the std comes from, when not from {@link source}. */
  stdFrom?: KdSourceId;
  /** Published top-1 (%) of the teacher the student learned from. */
  teacherTop1?: number;
  /** Caveats. */
  note?: string;
}

/** The toolbox's weights of each method for resnet32x4 → resnet8x4 (`scripts/run_distill.sh`). */
const TOOLBOX_WEIGHTS: Record<string, { cls: number; div: number; beta?: number }> = {
  kd: { cls: 1, div: 1 },
  fitnet: { cls: 1, div: 1, beta: 100 },
  at: { cls: 1, div: 1, beta: 1000 },
  sp: { cls: 1, div: 1, beta: 3000 },
  vid: { cls: 1, div: 1, beta: 1 },
  crd: { cls: 1, div: 1, beta: 0.8 },
  srrl: { cls: 1, div: 1, beta: 1 },
  semckd: { cls: 1, div: 1, beta: 400 },
  simkd: { cls: 0, div: 0, beta: 1 },
};

/** The SimKD README's rows: label, method (`baseline`: the student alone), variant, columns. */
const SIMKD_README: [string, MethodName, Record<string, unknown>, number[]][] = [
  ["Student (vanilla)", "baseline", {}, [73.09, 70.46, 74.15]],
  ["KD", "kd", {}, [74.42, 72.73, 76.82]],
  ["FitNet", "fitnet", {}, [74.32, 72.91, 77.12]],
  ["AT", "at", {}, [75.07, 71.9, 77.51]],
  ["SP", "sp", {}, [74.29, 73.12, 77.18]],
  ["VID", "vid", {}, [74.55, 73.19, 77.11]],
  ["CRD", "crd", {}, [75.59, 73.54, 77.66]],
  ["SRRL", "srrl", {}, [75.39, 73.23, 77.55]],
  ["SemCKD", "semckd", {}, [76.23, 75.27, 79.13]],
  ["SimKD (f=8)", "simkd", { factor: 8 }, [76.73, 74.74, 78.96]],
  ["SimKD (f=4)", "simkd", { factor: 4 }, [77.88, 75.62, 79.48]],
  ["SimKD (f=2)", "simkd", { factor: 2 }, [78.08, 75.76, 79.54]],
];
/** The README's columns: all three students learn from the same resnet32x4 (79.42%). */
const SIMKD_STUDENTS = ["resnet8x4", "vgg8", "ShuffleV2_1_5"];
/** Standard deviations of the repository's figure (resnet8x4 column). */
const SIMKD_FIGURE_STD: Record<string, number> = {
  "Student (vanilla)": 0.3,
  "KD": 0.05,
  "SimKD (f=2)": 0.15,
};
const SIMKD_TEACHER_TOP1 = 79.42;

/** A method config of the toolbox's weights plus the variant's own fields. */
function toolboxMethod(
  name: MethodName,
  extra: Record<string, unknown> = {},
): { name: MethodName } & Record<string, unknown> {
  return { name, ...TOOLBOX_WEIGHTS[name], ...extra };
}

function simkdReadmeCells(): KdPaperCell[] {
  const cells: KdPaperCell[] = [];
  SIMKD_STUDENTS.forEach((student, column) => {
    for (const [label, name, extra, values] of SIMKD_README) {
      const alone = name === "baseline";
      const std = column === 0 ? SIMKD_FIGURE_STD[label] : undefined;
      cells.push({
        source: "simkd-readme",
        label,
        dataset: "CIFAR-100",
        student,
        teacher: alone ? null : "resnet32x4",
        method: alone ? { name } : toolboxMethod(name, extra),
        top1: values[column],
        ...(std === undefined ? {} : { std, stdFrom: "simkd-figure" as const }),
        ...(alone ? {} : { teacherTop1: SIMKD_TEACHER_TOP1 }),
        ...(student === "vgg8" && !alone
          ? { note: "a cross-architecture pair: the README has no VGG-13 teacher" }
          : {}),
      });
    }
  });
  cells.push({
    source: "simkd-readme",
    label: "Teacher ResNet-32x4",
    dataset: "CIFAR-100",
    student: "resnet32x4",
    teacher: null,
    method: { name: "baseline" },
    top1: SIMKD_TEACHER_TOP1,
    note: "the teacher of every column (train_teacher.py: the same recipe, CE only)",
  });
  return cells;
}

/** Every published cell: SimKD (README, figure, screenshot), mdistiller's KD, ATSC. */
export const KD_PAPER_RESULTS: readonly KdPaperCell[] = Object.freeze(
  [
    ...simkdReadmeCells(),
    ...(["SimKD+", "SimKD++"] as const).map((label, i): KdPaperCell => ({
      source: "simkd-figure",
      label,
      dataset: "CIFAR-100",
      student: "resnet8x4",
      teacher: "resnet32x4",
      method: null,
      top1: [78.47, 78.88][i],
      std: [0.08, 0.05][i],
      teacherTop1: SIMKD_TEACHER_TOP1,
      note: "a variant of the SimKD paper that the code does not have",
    })),
    ...([
      ["vanilla resnet8x4", "resnet8x4", null, { name: "baseline" }, 72.35],
      ["hint (b=100)", "resnet8x4", "resnet32x4", toolboxMethod("fitnet"), 74.15],
      ["kd", "resnet8x4", "resnet32x4", toolboxMethod("kd"), 74.76],
      ["semckd (b=400)", "resnet8x4", "resnet32x4", toolboxMethod("semckd"), 76.14],
      ["simkd", "resnet8x4", "resnet32x4", toolboxMethod("simkd", { factor: 2 }), 78.15],
      ["teacher resnet32x4", "resnet32x4", null, { name: "baseline" }, 79.34],
    ] as const).map(([label, student, teacher, method, top1]): KdPaperCell => ({
      source: "simkd-tensorboard",
      label,
      dataset: "CIFAR-100",
      student,
      teacher,
      method: { ...method },
      top1,
    })),
    {
      source: "mdistiller-readme",
      label: "KD",
      dataset: "CIFAR-100",
      student: "resnet8x4",
      teacher: "resnet32x4",
      method: { name: "kd", cls: 0.1, div: 0.9 },
      top1: 73.33,
      note:
        "1.09 below the SimKD README's KD (74.42): other CE/KD weights and teacher checkpoints " +
        "(which of the two explains the gap was not verified)",
    },
    {
      source: "atsc-paper",
      label: "ATSC",
      dataset: "CIFAR-100",
      student: "resnet8x4",
      teacher: "resnet32x4",
      method: { name: "atsc" },
      top1: null,
      note: "not retrievable: only the paper's abstract was reachable (it claims " +
        "state-of-the-art results on CIFAR-100 and ImageNet, with one or several teachers); " +
        "fill in from the PDF",
    },
  ] satisfies KdPaperCell[],
);

/** The SimKD README's numbers as published: rows by label, one column per student. */
export function simkdReadmeTable(): ArqueroTable {
  const cells = KD_PAPER_RESULTS.filter((c) => c.source === "simkd-readme");
  const labels = [...new Set(cells.map((c) => c.label))];
  const fmt = (c: KdPaperCell | undefined) =>
    c?.top1 == null
      ? null
      : c.std === undefined
      ? c.top1.toFixed(2)
      : `${c.top1.toFixed(2)} ± ${c.std.toFixed(2)}`;
  const data: Record<string, unknown[]> = { method: labels };
  for (const student of SIMKD_STUDENTS) {
    data[student] = labels.map((l) =>
      // the teacher's row has one cell, shown in every column
      fmt(cells.find((c) => c.label === l && (c.student === student || l.startsWith("Teacher"))))
    );
  }
  return displayable(aq.table(data), {
    caption: "SimKD README, CIFAR-100 top-1 (%), teacher resnet32x4 (79.42) for every column; " +
      "± from the repository's figure",
    head: 20,
  });
}

/** Network names the zoo has twice (`vgg8_bn` is SimKD's `vgg8`). */
const ALIASES: Record<string, string> = { vgg8_bn: "vgg8", vgg11_bn: "vgg11", vgg13_bn: "vgg13" };
const canonical = (network: string | undefined) =>
  network === undefined ? undefined : ALIASES[network] ?? network;

/**
 * The full configuration of a published cell: the SimKD toolbox's recipe on CIFAR-100 with the
 * cell's networks and method (the teacher's checkpoint is the caller's to add).
 *
 * @throws Error for a cell whose method the code does not have
 */
export function kdPaperConfig(cell: KdPaperCell): TrainConfig {
  if (cell.method === null) {
    throw new Error(`kdPaperConfig: "${cell.label}" (${cell.source}) is not a method of this code`);
  }
  const input: TrainConfigInput = {
    recipe: "toolbox",
    data: { dataset: "cifar100" },
    model: {
      network: cell.student,
      ...(cell.teacher === null ? {} : { teacher: { network: cell.teacher } }),
    },
    method: cell.method,
  };
  return resolveTrainConfig(input, `${cell.source} ${cell.label}`);
}

/** The loss weights of a method config, as "cls 1 · div 1 · beta 100" ("CE only" for none). */
export function weightsLabel(method: Record<string, unknown>): string {
  const parts = ["cls", "div", "beta", "w"].filter((k) => typeof method[k] === "number")
    .map((k) => `${k} ${method[k]}`);
  return parts.length === 0 ? "CE only" : parts.join(" · ");
}

/** Fields that do not change what is trained, and the seed (recorded in its own column). */
const NOT_PROTOCOL = new Set([
  "outDir",
  "backend",
  "seed",
  "data.dataDir",
  "data.download",
  "data.workers",
  "data.evalBatchSize",
  "model.teacher.checkpoint",
]);

/** The file and its folder: enough to tell checkpoints apart in a table. */
const shortPath = (path: string) => join(basename(dirname(path)), basename(path));

/** Rows of every run folder at or under `dir` (ablation grids, CLI output folders, nested). */
async function runRowsUnder(dir: string, depth = 0): Promise<Record<string, unknown>[]> {
  if (await exists(join(dir, "config.json"))) {
    return (await ablationTable(dirname(dir), [basename(dir)])).objects() as Record<
      string,
      unknown
    >[];
  }
  const rows = (await ablationTable(dir)).objects() as Record<string, unknown>[];
  if (depth >= 3) return rows;
  const listed = new Set(rows.map((r) => basename(String(r.dir))));
  for await (const e of Deno.readDir(dir)) {
    if (e.isDirectory && !listed.has(e.name)) {
      rows.push(...await runRowsUnder(join(dir, e.name), depth + 1));
    }
  }
  return rows;
}

async function runsOf(
  measured: string | ArqueroTable | (string | ArqueroTable)[],
): Promise<MeasuredRun[]> {
  const rows: Record<string, unknown>[] = [];
  for (const m of [measured].flat()) {
    if (typeof m === "string") rows.push(...await runRowsUnder(m));
    else if (typeof m?.objects === "function") {
      rows.push(...m.objects() as Record<string, unknown>[]);
    } else throw new TypeError("kdPaperTable: measured must be run folders or ablation tables");
  }
  return await measuredRuns(rows);
}

/** Whether a run is of the cell's networks and published method variant. */
function matches(cell: KdPaperCell, cfg: TrainConfig): boolean {
  if (cell.method === null) return false;
  if (canonical(cfg.model.network) !== cell.student) return false;
  if (cell.teacher !== null && canonical(cfg.model.teacher?.network) !== cell.teacher) return false;
  const method = cfg.method as unknown as Record<string, unknown>;
  return Object.entries(cell.method).every(([k, v]) => method[k] === v);
}

/** Protocol fields (dotted paths) in which a run differs from the published cell. */
function protocolDiff(cfg: TrainConfig, want: TrainConfig): string[] {
  // A network trained alone has no teacher: one named in its config (a grid's base) is not used.
  const alone = want.model.teacher === undefined && cfg.method.name === "baseline";
  // The published cells are CIFAR-100: the settings of generated data only say how it differs.
  return configDiff(want, cfg).filter((f) =>
    !NOT_PROTOCOL.has(f) && !f.startsWith("data.synthetic.") &&
    !(alone && f.startsWith("model.teacher"))
  );
}

/** Runs that are the same run but for the seed (and where it is written). */
function sameButSeed(a: TrainConfig, b: TrainConfig): boolean {
  return configDiff(a, b).every((f) => f === "seed" || f === "outDir" || f === "backend");
}

const round2 = (v: number | null) => (v === null ? null : Math.round(v * 100) / 100);

/** Options of {@link kdPaperTable}. */
export interface KdPaperTableOptions {
  /** Only the cells of these sources. Default all. */
  sources?: KdSourceId[];
  /** Only the cells of these students (zoo names). Default all. */
  students?: string[];
}

/**
 * The published cells next to measured runs, one row per cell:
 *
 * - the published side: `source`, `student`, `teacher`, `method` (the row as published),
 *   `published` (top-1 %, null when not retrievable), `std`, and its protocol: `weights` (cls ·
 *   div · beta · w), `epochs`, `selection` (best or last epoch), `seeds`, `teacher_top1`;
 * - the measured side, from the matching runs (same student and teacher networks and the cell's
 *   method variant: a SimKD factor, mdistiller's KD weights; any data set): `run` (the best match:
 *   a run with the published protocol first, then a finished one, then the one with most epochs),
 *   `state`, `run_dataset`, `run_weights`, `run_epochs` (done/total), `run_seeds` (every run that
 *   is the best match but for its seed), `run_teacher` (network ← checkpoint file),
 *   `measured_final` and `measured_best` (means over those seeds), `best_epoch` (1-based),
 *   `measured` (the epoch the source reports: best or final), `measured_std` (over seeds), `gap`
 *   (measured − published), `protocol` ("as published", or the fields that differ: data set,
 *   epochs, recipe, other method settings; the seed and checkpoint paths are not counted),
 *   `comparable` (finished with the published protocol), `runs` (matching runs);
 * - `note`.
 *
 * @param measured run folders (searched three levels deep: a CLI output folder, a folder of them,
 *   an ablation grid) or tables from {@link runAblation}/{@link ablationTable}
 *
 * @example
 * ```ts
 * const t = await kdPaperTable("runs/kd-paper", { students: ["resnet8x4"] });
 * t.select("method", "published", "measured", "gap", "protocol");
 * ```
 */
export async function kdPaperTable(
  measured?: string | ArqueroTable | (string | ArqueroTable)[],
  opts: KdPaperTableOptions = {},
): Promise<ArqueroTable> {
  const runs = measured === undefined ? [] : await runsOf(measured);
  const cells = KD_PAPER_RESULTS.filter((c) =>
    (opts.sources === undefined || opts.sources.includes(c.source)) &&
    (opts.students === undefined || opts.students.includes(c.student))
  );
  const rows = cells.map((cell) => {
    const src = KD_SOURCES[cell.source];
    const want = cell.method === null ? null : kdPaperConfig(cell);
    const found = want === null ? [] : runs.filter((r) => matches(cell, r.config));
    // the published protocol first, then finished, then the fewest differences, then progress
    const rank = (r: MeasuredRun) => {
      const differences = protocolDiff(r.config, want!).length;
      return (differences === 0 ? 1e8 : 0) + (r.state === "finished" ? 1e7 : 0) -
        1e4 * differences + Math.min(r.epochsDone, 9999);
    };
    const pick = found.reduce<MeasuredRun | undefined>(
      (p, r) => (p === undefined || rank(r) > rank(p) ? r : p),
      undefined,
    );
    const group = pick === undefined ? [] : found.filter((r) => sameButSeed(r.config, pick.config));
    const finals = sampleStats(group.map((r) => r.final));
    const bests = sampleStats(group.map((r) => r.best));
    const chosen = src.selection === "last" ? finals : bests;
    const diff = pick === undefined ? [] : protocolDiff(pick.config, want!);
    // the baseline trains its network alone: a teacher in its config (a grid's base) is not used
    const t = pick?.config.method.name === "baseline" ? undefined : pick?.config.model.teacher;
    return {
      source: cell.source,
      student: cell.student,
      teacher: cell.teacher,
      method: cell.label,
      published: cell.top1,
      std: cell.std ?? null,
      weights: cell.method === null ? null : weightsLabel(want!.method as never),
      epochs: src.epochs,
      selection: src.selection,
      seeds: cell.std !== undefined && cell.stdFrom !== undefined
        ? KD_SOURCES[cell.stdFrom].seeds
        : src.seeds,
      teacher_top1: cell.teacherTop1 ?? null,
      run: pick?.id ?? null,
      state: want === null ? "not in the code" : pick?.state ?? "not run",
      run_dataset: pick?.config.data.dataset ?? null,
      run_weights: pick ? weightsLabel(pick.config.method as never) : null,
      run_epochs: pick ? `${pick.epochsDone}/${pick.config.schedule.epochs}` : null,
      run_seeds: pick ? group.map((r) => r.config.seed).join(", ") : null,
      run_teacher: t === undefined
        ? null
        : `${t.network}${t.checkpoint === undefined ? "" : ` ← ${shortPath(t.checkpoint)}`}`,
      measured_final: round2(finals.mean),
      measured_best: round2(bests.mean),
      best_epoch: pick?.bestEpoch ?? null,
      measured: round2(chosen.mean),
      measured_std: round2(chosen.std),
      gap: cell.top1 === null || chosen.mean === null ? null : round2(chosen.mean - cell.top1),
      protocol: pick ? (diff.length === 0 ? "as published" : `differs: ${diff.join(", ")}`) : null,
      comparable: pick ? diff.length === 0 && pick.state === "finished" : null,
      runs: found.length,
      note: cell.note ?? null,
    };
  });
  // no cell left by the filters: still a table (of one column)
  return displayable(aq.from(rows, rows.length === 0 ? ["source"] : undefined), {
    caption: "published CIFAR-100 top-1 (%) with their protocol, next to measured runs " +
      "(measured = the epoch the source reports; gap = measured − published)",
    head: 40,
    maxColumns: 30,
  });
}

/**
 * The TESKD paper's cells (see {@link PAPER_RESULTS}) and whether each shares a setting — data
 * set, teacher and deployed network — with a published cell of {@link KD_PAPER_RESULTS}: only
 * then do its numbers belong in the same table. One row per TESKD cell: `dataset`, `network`,
 * `method`, `top1`, `gain`, `same_setting`, `why`.
 */
export function teskdAlongside(): ArqueroTable {
  const kdSettings = KD_PAPER_RESULTS.map((c) => ({
    dataset: c.dataset,
    net: c.student,
    t: c.teacher,
  }));
  const kdNets = [...new Set(KD_PAPER_RESULTS.map((c) => c.student))].join(", ");
  const rows = PAPER_RESULTS.map((p) => {
    const network = p.config?.model?.network ?? "torchvision resnet18";
    // TESKD trains its network with its own students: it has no pretrained teacher.
    const same = kdSettings.some((k) =>
      k.dataset === p.dataset && k.t === null && k.net === canonical(network)
    );
    return {
      dataset: p.dataset,
      network,
      method: p.method,
      top1: p.top1,
      gain: p.gain ?? null,
      same_setting: same,
      why: same
        ? "same data set and network, no pretrained teacher"
        : p.dataset !== "CIFAR-100"
        ? "the KD tables are CIFAR-100 only"
        : `no KD cell has ${network} (they have ${kdNets})` +
          (p.method === "teskd"
            ? "; and TESKD has no pretrained teacher: the network learns with its own students"
            : ""),
    };
  });
  return displayable(aq.from(rows), {
    caption: "TESKD paper (top-1 % of the deployed ResNet-18): same setting as a KD cell?",
  });
}
