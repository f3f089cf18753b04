/**
 * Readable summaries of a teacher and of a TESKD network: one row per stage / pathway part / student
 * head with its modules, output shape (C×H×W) and parameter count, as plain objects (for a dataframe)
 * and as aligned text.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Module } from "../nn/module.ts";
import { type Backbone, type Level, levelIndex } from "./backbone.ts";
import type { Teskd } from "./teskd.ts";

/** One row of a summary. */
export interface SummaryRow {
  /** "teacher" or the student level the part belongs to. */
  part: string;
  /** What the row is, e.g. "stage 2", "laterals.1", "head 8x8". */
  name: string;
  /** Modules (official names) making the row. */
  modules: string;
  /** Output shape C×H×W (or C for vectors). */
  output: string;
  /** Trainable parameters of those modules. */
  params: number;
}

/** Trainable parameters whose names start with one of `prefixes` (followed by a dot). */
function paramsUnder(m: Module, prefixes: string[]): number {
  return m.namedParameters()
    .filter((p) => prefixes.some((q) => p.name.startsWith(`${q}.`)))
    .reduce((s, p) => s + p.variable.size, 0);
}

/** Shapes (C, H, W) of the teacher's stage outputs for a square input of `size`. */
export function stageShapes(teacher: Backbone, size: number): [number, number, number][] {
  const was = teacher.training;
  teacher.eval();
  try {
    return tf.tidy(() => {
      const s = teacher.forwardStages(tf.zeros([1, size, size, 3]));
      return s.map((t) => [t.shape[3], t.shape[1], t.shape[2]] as [number, number, number]);
    });
  } finally {
    teacher.train(was);
  }
}

const shape = (c: number, h: number, w: number) => `${c}×${h}×${w}`;

/**
 * Rows for the teacher: its four stages and the head.
 *
 * @example
 * ```ts
 * summaryText(teacherSummary(teacher, 32));
 * ```
 */
export function teacherSummary(teacher: Backbone, size = 32): SummaryRow[] {
  const shapes = stageShapes(teacher, size);
  const rows: SummaryRow[] = teacher.stageModules.map((mods, i) => ({
    part: "teacher",
    name: `stage ${i + 1}`,
    modules: mods.join(", "),
    output: shape(...shapes[i]),
    params: paramsUnder(teacher, [...mods]),
  }));
  const staged = new Set(teacher.stageModules.flat());
  const headMods = teacher.namedChildren().map(([n]) => n).filter((n) => !staged.has(n));
  rows.push({
    part: "teacher",
    name: "head",
    modules: ["avgpool", ...headMods].join(", "),
    output: `${teacher.numClasses}`,
    params: paramsUnder(teacher, headMods),
  });
  return rows;
}

/** Rows for a TESKD network: the teacher, then the pathway and head of every attached level. */
export function teskdSummary(net: Teskd, size = 32): SummaryRow[] {
  const rows = teacherSummary(net.teacher, size);
  const shapes = stageShapes(net.teacher, size);
  const W = net.width;
  const names = new Set(net.namedParameters().map((p) => p.name.split(".").slice(0, 2).join(".")));
  const has = (prefix: string) =>
    [...names].some((n) => n === prefix || n.startsWith(`${prefix}.`));
  if (has("laterals.3")) {
    rows.push({
      part: "pathway",
      name: "top (t4)",
      modules: "laterals.3",
      output: shape(W, shapes[3][1], shapes[3][2]),
      params: paramsUnder(net, ["laterals.3"]),
    });
  }
  for (const level of ["8x8", "16x16", "32x32"] as Level[]) {
    const i = levelIndex(level);
    const [, h, w] = shapes[i - 1];
    if (has(`fuse_${i}`)) {
      const mods = [`upsample.${i - 1}`, `laterals.${i - 1}`, `fuse_${i}`];
      rows.push({
        part: "pathway",
        name: `t${i} (${level} level)`,
        modules: mods.join(", "),
        output: shape(W, h, w),
        params: paramsUnder(net, mods),
      });
    }
    if (net.levels.includes(level)) {
      const k = net.headKernels[level];
      rows.push({
        part: `student ${level}`,
        name: `head ${level}`,
        modules: `downsample${i}, avgpool, fc_b${i}`,
        output: `${W}×${Math.floor(h / k)}×${Math.floor(w / k)} → ${net.teacher.numClasses}`,
        params: paramsUnder(net, [`downsample${i}`, `fc_b${i}`]),
      });
    }
  }
  return rows;
}

/** Aligned text table of summary rows, with the total parameter count. */
export function summaryText(rows: SummaryRow[]): string {
  const head = ["part", "name", "modules", "output", "params"];
  const cells = rows.map((
    r,
  ) => [r.part, r.name, r.modules, r.output, r.params.toLocaleString("en-US")]);
  const widths = head.map((h, j) => Math.max(h.length, ...cells.map((c) => c[j].length)));
  const line = (c: string[]) =>
    c.map((x, j) => (j === 4 ? x.padStart(widths[j]) : x.padEnd(widths[j]))).join("  ");
  const total = rows.reduce((s, r) => s + r.params, 0);
  return [line(head), ...cells.map(line), `total parameters: ${total.toLocaleString("en-US")}`]
    .join("\n");
}
