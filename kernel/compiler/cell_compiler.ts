/**
 * The cell compiler the kernel's execute/complete/inspect handlers use.
 *
 * @module
 */

import ts from "typescript";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import {
  type CellCompilerOptions,
  type CellDiagnostic,
  type CompileResult,
  TypeCheckCancelled,
} from "./types.ts";
import { cellOutput, cellTransformers, transpileCell, type TranspiledCell } from "./transform.ts";
import { LineMap } from "./source_map.ts";
import { codePointToIndex, indexToCodePoint, lineColumn } from "./positions.ts";
import { isComplete, type IsCompleteResult } from "./is_complete.ts";
import { isDirectory, type ProjectInfo, readProject } from "./project.ts";
import { TypeSession, VIRTUAL_PREFIX } from "./session.ts";
import { WRAPPER_LINES } from "./eval.ts";
import { CELL_GLOBALS_DTS } from "../runtime_contract.ts";

/** A cell whose first non-blank line is this comment is not type-checked (TypeScript's own). */
const NO_CHECK = /^\s*\/\/\s*@ts-nocheck\b/;

/** Stack positions of compiled cells: `teskd-cell-N.js, <anonymous>:LINE:COL` (V8's format). */
const FRAME = /teskd-cell-(\d+)\.js(?:, <anonymous>)?:(\d+):(\d+)/g;

/**
 * Compiles notebook cells (TypeScript) into JavaScript that runs in one persistent worker, and
 * answers completion, inspection and completeness questions against the session so far.
 *
 * @example
 * ```ts
 * const compiler = new CellCompiler({ cwd: Deno.cwd() });
 * const result = compiler.compile("const a = [1, 2];\na.length");
 * if (result.ok) {
 *   const value = await evaluateCell(result.js!); // 2, and globalThis.a persists
 *   compiler.commit("const a = [1, 2];\na.length");
 * }
 * compiler.complete("a.", 2).matches; // ["at", "concat", …]
 * ```
 */
export class CellCompiler {
  readonly #cwd: string;
  readonly #baseUrl: string;
  readonly #typecheck: boolean;
  readonly #project: ProjectInfo;
  readonly #globalsDts: string;
  readonly #isCancelled: () => boolean;
  readonly #maps = new Map<number, LineMap>();
  // Cells committed while no session exists yet (type-checking off); replayed when one starts.
  readonly #pending: string[] = [];
  #session?: TypeSession;
  #count = 0;

  /** Throws when `cwd` is not an existing absolute directory or the config cannot be read. */
  constructor(opts: CellCompilerOptions) {
    if (!path.isAbsolute(opts.cwd) || !isDirectory(opts.cwd)) {
      throw new Error(`CellCompiler: cwd '${opts.cwd}' is not an existing absolute directory`);
    }
    this.#cwd = path.resolve(opts.cwd);
    this.#baseUrl = pathToFileURL(this.#cwd + path.sep).href;
    this.#typecheck = opts.typecheck ?? true;
    this.#globalsDts = opts.globalsDts ?? CELL_GLOBALS_DTS;
    this.#isCancelled = opts.isCancelled ?? (() => false);
    this.#project = readProject(this.#cwd, opts.configPath);
  }

  /**
   * Compiles one cell. Syntax errors always stop it; type errors stop it unless type-checking is
   * off (constructor option, `opts.typecheck`, or a first line `// @ts-nocheck`). Throws
   * {@linkcode TypeCheckCancelled} when the `isCancelled` option stopped the type check.
   */
  compile(code: string, opts?: { typecheck?: boolean }): CompileResult {
    const id = ++this.#count;
    const mapStack = (stack: string) => this.mapStack(stack);
    const sourceUrl = `teskd-cell-${id}.js`;
    const typecheck = (opts?.typecheck ?? this.#typecheck) && !NO_CHECK.test(code);
    let out: TranspiledCell;
    if (typecheck) {
      let found: ts.Diagnostic[];
      try {
        found = this.#types().diagnostics(code);
      } catch (e) {
        if (e instanceof ts.OperationCanceledException) throw new TypeCheckCancelled();
        throw e;
      }
      const diagnostics = found.map((d) =>
        toCellDiagnostic(code, d, d.code < 2000 ? "SyntaxError" : "TSError")
      );
      if (diagnostics.length > 0) return { ok: false, diagnostics, mapStack };
      out = this.#emitChecked(sourceUrl);
    } else {
      out = transpileCell(code, this.#baseUrl, sourceUrl);
    }
    if (!out.js) {
      const diagnostics = out.diagnostics.map((d) => toCellDiagnostic(code, d, "SyntaxError"));
      return { ok: false, diagnostics, mapStack };
    }
    if (out.sourceMap) this.#maps.set(id, new LineMap(out.sourceMap));
    return { ok: true, js: out.js, diagnostics: [], declares: out.declares, mapStack };
  }

  /** The cell the type session just checked, emitted from the program that checked it. */
  #emitChecked(sourceUrl: string): TranspiledCell {
    const { transformers, declares } = cellTransformers(this.#baseUrl);
    const emitted = this.#types().emit(transformers);
    if (!emitted) throw new Error("TypeScript emitted no JavaScript for the cell");
    return {
      ...cellOutput(emitted.js, emitted.sourceMap, sourceUrl),
      diagnostics: [],
      declares: declares(),
    };
  }

  /**
   * Rewrites every position of a compiled cell in `stack` (from code run with `evaluateCell`) to
   * `cell-N.ts:LINE:COL` in that cell's own text, N counting `compile` calls from 1.
   */
  mapStack(stack: string): string {
    return stack.replace(FRAME, (all, id: string, line: string, column: string) => {
      const map = this.#maps.get(Number(id));
      const pos = map?.original(Number(line) - WRAPPER_LINES, Number(column));
      return pos ? `cell-${id}.ts:${pos.line}:${pos.column}` : all;
    });
  }

  /**
   * Makes a cell's declarations visible to later cells. Call it after a cell ran, also when it
   * threw part-way: declarations made before the error exist at run time.
   */
  commit(code: string): void {
    if (this.#session || this.#typecheck) this.#types().commit(code);
    else this.#pending.push(code);
  }

  /**
   * Forgets every committed cell, for when the runtime lost its state (worker restarted): later
   * cells no longer see earlier declarations. The loaded libraries stay warm.
   */
  reset(): void {
    this.#pending.length = 0;
    this.#session?.reset();
  }

  /** Completions at code-point offset `cursorPos`, with the range they replace (code points). */
  complete(
    code: string,
    cursorPos: number,
  ): {
    matches: string[];
    cursor_start: number;
    cursor_end: number;
    metadata: Record<string, unknown>;
  } {
    const pos = codePointToIndex(code, cursorPos);
    const info = this.#types().completions(code, pos);
    let start = pos;
    while (start > 0 && /[\w$]/.test(code[start - 1])) start--;
    let end = pos;
    const span = info?.optionalReplacementSpan;
    if (span && span.start <= pos && pos <= span.start + span.length) {
      start = span.start;
      end = span.start + span.length;
    }
    const prefix = code.slice(start, pos).toLowerCase();
    const entries = (info?.entries ?? []).filter((e) =>
      !e.name.startsWith(VIRTUAL_PREFIX) && !/^__c\d+$/.test(e.name) &&
      e.name.toLowerCase().startsWith(prefix)
    ).sort((a, b) => a.sortText.localeCompare(b.sortText) || a.name.localeCompare(b.name));
    const matches = [...new Set(entries.map((e) => e.name))];
    const cursor_start = indexToCodePoint(code, start);
    const cursor_end = indexToCodePoint(code, end);
    return {
      matches,
      cursor_start,
      cursor_end,
      metadata: {
        _jupyter_types_experimental: entries.map((e) => ({
          text: e.name,
          type: e.kind,
          start: cursor_start,
          end: cursor_end,
        })),
      },
    };
  }

  /** Signature and JSDoc of the symbol at (or just before) code-point offset `cursorPos`. */
  inspect(
    code: string,
    cursorPos: number,
    detailLevel: 0 | 1,
  ): { found: boolean; data: Record<string, string> } {
    const pos = codePointToIndex(code, cursorPos);
    const session = this.#types();
    const info = session.quickInfo(code, pos) ??
      (pos > 0 ? session.quickInfo(code, pos - 1) : undefined);
    // A name nothing declares comes back as `any` of kind "": not found, as for `noSuchName?`.
    if (!info || info.kind === ts.ScriptElementKind.unknown) return { found: false, data: {} };
    const signature = ts.displayPartsToString(info.displayParts)
      .split("\n").filter((l) => !/^(export )?import \S+ = /.test(l)).join("\n")
      .replace(/^\(alias\) /, "");
    const doc = ts.displayPartsToString(info.documentation);
    const tags = (info.tags ?? []).map((t) =>
      `@${t.name} ${ts.displayPartsToString(t.text)}`.trim()
    );
    const shownTags = detailLevel === 1 ? tags : tags.filter((t) => /^@(param|returns?)\b/.test(t));
    // Detail level 1 (`name??`, Shift+Tab twice) adds the declaration's source where it is known.
    const source = detailLevel === 1 ? session.definitionSource(code, pos) : undefined;
    const sourceName = source &&
      (path.basename(source.fileName).startsWith(`${VIRTUAL_PREFIX}cell_`)
        ? "an earlier cell"
        : source.fileName);
    const plain = [
      signature,
      doc,
      shownTags.join("\n"),
      source ? `Source (${sourceName}):\n${source.text}` : "",
    ].filter((s) => s !== "").join("\n\n");
    const markdown = [
      "```ts\n" + signature + "\n```",
      doc,
      shownTags.map((t) => `*${t}*`).join("  \n"),
      source ? `Source (${sourceName}):\n\n\`\`\`ts\n${source.text}\n\`\`\`` : "",
    ]
      .filter((s) => s !== "").join("\n\n");
    return { found: true, data: { "text/plain": plain, "text/markdown": markdown } };
  }

  /**
   * Loads the type checker (standard library, project types, the cell globals) ahead of the first
   * cell, so that cell does not pay for it. Changes no state a cell can observe; a no-op when
   * type-checking is off. `isCancelled` stops it too (quietly: the next check loads what is left).
   */
  warm(): void {
    if (!this.#typecheck) return;
    try {
      this.#types().diagnostics("");
    } catch (e) {
      if (!(e instanceof ts.OperationCanceledException)) throw e;
    }
  }

  /** Whether `code` can run as is, needs more lines, or is broken (TypeScript parser). */
  isComplete(code: string): IsCompleteResult {
    return isComplete(code);
  }

  #types(): TypeSession {
    if (!this.#session) {
      this.#session = new TypeSession(
        this.#cwd,
        this.#project,
        this.#globalsDts,
        this.#isCancelled,
      );
      for (const code of this.#pending.splice(0)) this.#session.commit(code);
    }
    return this.#session;
  }
}

function toCellDiagnostic(code: string, d: ts.Diagnostic, ename: string): CellDiagnostic {
  const { line, column } = lineColumn(code, d.start ?? 0);
  return {
    category: d.category === ts.DiagnosticCategory.Error ? "error" : "warning",
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
    line,
    column,
    code: d.code,
    ename,
  };
}
