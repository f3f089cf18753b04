/**
 * An SVG diagram of a teacher with its students, drawn from the model summary rows: the teacher's
 * stages and head along the top, the top-down pathway (laterals, 2× upsampling, fusions) below, and
 * one head per attached student at the bottom — each box with its output shape and parameter count.
 *
 * @example
 * ```ts
 * const net = createTeskd(...);
 * const d = teskdDiagram(net);   // a cell's value: renders as SVG
 * net.attachStudent("16x16");
 * d;                             // drawn again: the new student appears
 * ```
 *
 * @module
 */
import type { Fusion, Teskd } from "../models/teskd.ts";
import { type SummaryRow, summaryText, teskdSummary } from "../models/summary.ts";
import { asciiHtml, escapeXml, JUPYTER_DISPLAY, type MimeBundle } from "./display.ts";

/** Options of {@link architectureSvg}. */
export interface DiagramOptions {
  /** Title above the drawing. Default "TESKD: teacher and students". */
  title?: string;
  /** Fusion variant, shown on the top-down arrows. */
  fusion?: Fusion;
}

const BOX_W = 176;
const BOX_H = 64;
const COL = 236;
const X0 = 20;
const Y_TEACHER = 52;
const Y_PATH = 190;
const Y_STUDENT = 328;

const COLORS = {
  teacher: { fill: "#e8f0fe", stroke: "#3367d6" },
  pathway: { fill: "#fef7e0", stroke: "#e37400" },
  student: { fill: "#e6f4ea", stroke: "#188038" },
};

function box(
  x: number,
  y: number,
  kind: keyof typeof COLORS,
  title: string,
  output: string,
  params: number,
): string {
  const c = COLORS[kind];
  const t = (dy: number, s: string, extra = "") =>
    `<text x="${x + BOX_W / 2}" y="${y + dy}" text-anchor="middle"${extra}>${escapeXml(s)}</text>`;
  return `<g class="box ${kind}">` +
    `<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="8" fill="${c.fill}" ` +
    `stroke="${c.stroke}" stroke-width="1.5"/>` +
    t(20, title, ' font-weight="bold"') +
    t(39, output) +
    t(56, `${params.toLocaleString("en-US")} params`, ' fill="#555"') +
    `</g>`;
}

function arrow(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  label?: string,
  below?: string,
): string {
  const line =
    `<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="#444" stroke-width="1.4" ` +
    `marker-end="url(#teskd-arrow)"/>`;
  const vertical = x1 === x2;
  const text = (x: number, y: number, anchor: string, s: string) =>
    `<text x="${x}" y="${y}" text-anchor="${anchor}" font-size="10" fill="#555">${
      escapeXml(s)
    }</text>`;
  // Vertical arrows are labelled at their right; horizontal ones above (and below) the line, in
  // the gap between two boxes.
  return line +
    (label
      ? vertical
        ? text(x1 + 6, (y1 + y2) / 2 + 4, "start", label)
        : text((x1 + x2) / 2, y1 - 6, "middle", label)
      : "") +
    (below ? text((x1 + x2) / 2, y1 + 14, "middle", below) : "");
}

/** The pathway index i of a pathway row ("top (t4)" → 4, "t3 (8x8 level)" → 3). */
function pathIndex(name: string): number | undefined {
  const m = /\bt([1-4])\b/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The stage index (1-4) feeding a student level ("8x8" → 3, "16x16" → 2, "32x32" → 1). */
const LEVEL_STAGE: Record<string, number> = { "8x8": 3, "16x16": 2, "32x32": 1 };

/**
 * SVG text of the architecture described by summary rows (`teacherSummary`/`teskdSummary`).
 * Throws when the rows have no teacher stages.
 */
export function architectureSvg(rows: readonly SummaryRow[], opts: DiagramOptions = {}): string {
  if (!Array.isArray(rows)) throw new TypeError("architectureSvg: rows must be an array");
  const stages = new Map<number, SummaryRow>();
  let head: SummaryRow | undefined;
  const path = new Map<number, SummaryRow>();
  const students = new Map<number, SummaryRow>();
  for (const r of rows) {
    if (r.part === "teacher") {
      const m = /^stage ([1-4])$/.exec(r.name);
      if (m) stages.set(Number(m[1]), r);
      else if (r.name === "head") head = r;
    } else if (r.part === "pathway") {
      const i = pathIndex(r.name);
      if (i !== undefined) path.set(i, r);
    } else if (r.part.startsWith("student ")) {
      const i = LEVEL_STAGE[r.part.slice("student ".length)];
      if (i !== undefined) students.set(i, r);
    }
  }
  if (stages.size === 0) {
    throw new Error("architectureSvg: the rows have no teacher stages (rows named 'stage 1'…)");
  }
  const colX = (i: number) => X0 + (i - 1) * COL;
  const parts: string[] = [];
  for (const [i, r] of stages) {
    parts.push(box(colX(i), Y_TEACHER, "teacher", `teacher ${r.name}`, r.output, r.params));
    if (stages.has(i + 1)) {
      parts.push(arrow(colX(i) + BOX_W, Y_TEACHER + BOX_H / 2, colX(i + 1), Y_TEACHER + BOX_H / 2));
    }
  }
  const last = Math.max(...stages.keys());
  if (head) {
    parts.push(box(colX(last + 1), Y_TEACHER, "teacher", "teacher head", head.output, head.params));
    parts.push(
      arrow(colX(last) + BOX_W, Y_TEACHER + BOX_H / 2, colX(last + 1), Y_TEACHER + BOX_H / 2),
    );
  }
  for (const [i, r] of path) {
    const title = i === 4 ? "lateral t4" : `fuse t${i}`;
    parts.push(box(colX(i), Y_PATH, "pathway", title, r.output, r.params));
    if (stages.has(i)) {
      parts.push(
        arrow(
          colX(i) + BOX_W / 2,
          Y_TEACHER + BOX_H,
          colX(i) + BOX_W / 2,
          Y_PATH,
          `laterals.${i - 1}`,
        ),
      );
    }
    if (path.has(i + 1)) {
      parts.push(
        arrow(
          colX(i + 1),
          Y_PATH + BOX_H / 2,
          colX(i) + BOX_W,
          Y_PATH + BOX_H / 2,
          "2× up",
          `fuse_${i}`,
        ),
      );
    }
  }
  for (const [i, r] of students) {
    parts.push(box(colX(i), Y_STUDENT, "student", `student ${r.name}`, r.output, r.params));
    if (path.has(i)) {
      parts.push(
        arrow(
          colX(i) + BOX_W / 2,
          Y_PATH + BOX_H,
          colX(i) + BOX_W / 2,
          Y_STUDENT,
          `downsample${i}`,
        ),
      );
    }
  }
  const total = rows.reduce((s, r) => s + r.params, 0);
  const studentCount = students.size;
  const width = colX(Math.max(last + 1, 5)) + BOX_W + X0;
  const height = (students.size ? Y_STUDENT : path.size ? Y_PATH : Y_TEACHER) + BOX_H + 36;
  const title = opts.title ?? "TESKD: teacher and students";
  const footer = `${studentCount} student${studentCount === 1 ? "" : "s"} attached · ` +
    `${total.toLocaleString("en-US")} parameters in all` +
    (opts.fusion && path.size > 1 ? ` · fusion ${opts.fusion}` : "");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">` +
    `<defs><marker id="teskd-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" ` +
    `markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/>` +
    `</marker></defs>` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${X0}" y="28" font-size="15" font-weight="bold">${escapeXml(title)}</text>` +
    parts.join("") +
    `<text x="${X0}" y="${height - 12}" fill="#555">${escapeXml(footer)}</text>` +
    `</svg>`;
}

/** A displayable architecture diagram (SVG, with the summary as text). */
export class ArchitectureDiagram {
  readonly #rows: () => readonly SummaryRow[];
  readonly #opts: () => DiagramOptions;

  /**
   * A diagram of fixed rows, or of rows computed at each display.
   *
   * @param rows the summary rows, or a function giving the current ones (drawn at display time)
   * @param opts title and fusion
   */
  constructor(
    rows: readonly SummaryRow[] | (() => readonly SummaryRow[]),
    opts: DiagramOptions | (() => DiagramOptions) = {},
  ) {
    this.#rows = typeof rows === "function" ? rows : () => rows;
    this.#opts = typeof opts === "function" ? opts : () => opts;
  }

  /** The SVG text, drawn from the current rows. */
  toSvg(): string {
    return architectureSvg(this.#rows(), this.#opts());
  }

  /** The summary as aligned text. */
  toString(): string {
    return summaryText([...this.#rows()]);
  }

  /**
   * The display bundle: SVG, the same SVG inline in HTML, and text. The HTML copy is there because
   * some exporters (nbconvert 6.5's lab template) strip the elements of `image/svg+xml` outputs
   * while they keep HTML; front ends preferring HTML show the identical drawing.
   */
  [JUPYTER_DISPLAY](): MimeBundle {
    const svg = this.toSvg();
    return {
      "image/svg+xml": svg,
      "text/html": asciiHtml(`<div class="teskd-diagram">${svg}</div>`),
      "text/plain": this.toString(),
    };
  }
}

/**
 * The diagram of summary rows.
 *
 * @example
 * ```ts
 * architectureDiagram(teskdSummary(net), { fusion: "add-concat" });
 * ```
 */
export function architectureDiagram(
  rows: readonly SummaryRow[],
  opts: DiagramOptions = {},
): ArchitectureDiagram {
  return new ArchitectureDiagram(rows, opts);
}

/**
 * The live diagram of a TESKD network: drawn from `teskdSummary(net, size)` each time it is
 * displayed, so students attached later appear.
 */
export function teskdDiagram(
  net: Teskd,
  opts: { size?: number; title?: string } = {},
): ArchitectureDiagram {
  return new ArchitectureDiagram(
    () => teskdSummary(net, opts.size ?? 32),
    () => ({ fusion: net.fusion, title: opts.title }),
  );
}
