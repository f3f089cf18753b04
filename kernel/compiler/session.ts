/**
 * The type-checking session: a TypeScript LanguageService over the cells committed so far, used to
 * check a new cell and to answer completion and inspection requests.
 *
 * Each committed cell is kept as a virtual module (its top-level declarations exported), and one
 * virtual "globals" module re-declares the latest binding of every name as a global. The cell being
 * checked is a module of its own, so it sees those globals and may re-declare any of them.
 *
 * @module
 */

import ts from "typescript";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  denoTypesFile,
  isDirectory,
  isFile,
  nodeTypesFile,
  type ProjectInfo,
  typescriptLibDir,
} from "./project.ts";
import { bindingIdentifiers, collectDeclarations, exportDeclarations } from "./declarations.ts";

interface VirtualFile {
  text: string;
  version: number;
  snapshot: ts.IScriptSnapshot;
}

/** Latest declaration of a top-level name, for the globals module. */
interface Binding {
  cell: number;
  kind: "let" | "const" | "var" | "alias";
}

/** Prefix of every virtual file name; also used to hide them from completions. */
export const VIRTUAL_PREFIX = "__teskd_";

/** Cell files the globals module imports ahead of use, per step (see TypeSession.commit). */
const CELL_SLOTS = 32;

/** Text of a cell file not (or no longer) holding a cell. */
const EMPTY_MODULE = "export {};\n";

/**
 * A LanguageService session for one notebook.
 *
 * @example
 * ```ts
 * const session = new TypeSession("/nb", readProject("/nb"));
 * session.commit("const a = [1, 2];");
 * session.diagnostics("a.foo"); // Property 'foo' does not exist…
 * ```
 */
export class TypeSession {
  readonly #files = new Map<string, VirtualFile>();
  readonly #disk = new Map<string, ts.IScriptSnapshot | undefined>();
  readonly #bindings = new Map<string, Binding>();
  readonly #roots: string[];
  readonly #options: ts.CompilerOptions;
  readonly #project: ProjectInfo;
  readonly #dir: string;
  readonly #current: string;
  readonly #globals: string;
  readonly #runtime: string;
  readonly #runtimeDts: string;
  readonly #ls: ts.LanguageService;
  readonly #libDir: string;
  /**
   * Kept across programs: every cell makes a new program, and without a cache TypeScript looks up
   * (stat, read, JSON-parse) the package.json scope of every file under node_modules, the lib
   * files included, for each one — most of a small cell's check time. Only package.json lookups
   * come from it (see #host); module resolution itself (#resolve) stays uncached so that user
   * modules created or moved during the session are found.
   */
  readonly #resolutionCache: ts.ModuleResolutionCache;
  #cells = 0;
  /** Cell files 1..#slots exist (empty until committed) and the globals module imports them. */
  #slots = 0;
  #nodeTypes = false;

  readonly #isCancelled: () => boolean;
  /** `isCancelled` as the checker asks it, for calls on the program itself. */
  readonly #cancellation: ts.CancellationToken;
  /** The program of the last {@linkcode diagnostics} call: {@linkcode emit} emits from it. */
  #checked: ts.Program | undefined;

  /**
   * Creates the session; `cwd` is the notebook's directory, where the virtual files live, and
   * `runtimeDts` declares the globals the runtime gives every cell. While `isCancelled()` is true,
   * the checker stops at its next cancellation point with `ts.OperationCanceledException`.
   */
  constructor(cwd: string, project: ProjectInfo, runtimeDts = "", isCancelled = () => false) {
    this.#isCancelled = isCancelled;
    this.#cancellation = {
      isCancellationRequested: isCancelled,
      throwIfCancellationRequested: () => {
        if (isCancelled()) throw new ts.OperationCanceledException();
      },
    };
    this.#runtimeDts = runtimeDts;
    this.#runtime = path.join(cwd, `${VIRTUAL_PREFIX}runtime.d.ts`);
    this.#project = project;
    this.#dir = cwd;
    this.#current = path.join(cwd, `${VIRTUAL_PREFIX}current.ts`);
    this.#globals = path.join(cwd, `${VIRTUAL_PREFIX}globals.ts`);
    this.#libDir = typescriptLibDir();
    this.#options = {
      target: ts.ScriptTarget.ESNext,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      moduleDetection: ts.ModuleDetectionKind.Force,
      lib: ["lib.esnext.d.ts"],
      types: [],
      // A checked cell is emitted from this program (see emit): noEmit stays off, and the next
      // two options shape only that output. allowImportingTsExtensions then earns an options
      // error (TS5096) that no file's diagnostics include; `.ts` specifiers are emitted as
      // written, which Deno loads.
      sourceMap: true,
      removeComments: true,
      // A const enum of one cell is used by later cells, also by unchecked ones.
      preserveConstEnums: true,
      allowImportingTsExtensions: true,
      resolveJsonModule: true,
      esModuleInterop: true,
      skipLibCheck: true,
      strict: true,
      ...project.flags,
    };
    this.#addSlots();
    this.#setFile(this.#globals, this.#globalsText());
    this.#setFile(this.#current, "");
    // Remote modules are fetched by Deno at run time; without their types they are `any`.
    const ambient = path.join(cwd, `${VIRTUAL_PREFIX}remote.d.ts`);
    this.#setFile(
      ambient,
      ["https", "http", "jsr", "data"].map((scheme) => `declare module "${scheme}:*";`).join("\n"),
    );
    this.#setFile(this.#runtime, runtimeDts);
    this.#roots = [denoTypesFile(), ambient, this.#runtime, this.#globals, this.#current];
    this.#resolutionCache = ts.createModuleResolutionCache(
      cwd,
      (f) => f,
      this.#options,
    );
    this.#ls = ts.createLanguageService(this.#host(), ts.createDocumentRegistry());
  }

  /**
   * Errors of `code` checked as the next cell, in TypeScript's terms (positions in `code`): its
   * syntax errors, or when it has none, its type errors.
   */
  diagnostics(code: string): ts.Diagnostic[] {
    this.#setCurrent(code);
    // Asked of the program directly: each LanguageService call first compares the version of
    // every file of the program (and the options), a good part of a small cell's time.
    const program = this.#ls.getProgram();
    const sf = program?.getSourceFile(this.#current);
    if (!program || !sf) throw new Error("the type checker has no program for the cell");
    this.#checked = program;
    const errors = (found: readonly ts.Diagnostic[]) =>
      found.filter((d) => d.category === ts.DiagnosticCategory.Error);
    const syntax = errors(program.getSyntacticDiagnostics(sf, this.#cancellation));
    return syntax.length > 0
      ? syntax
      : errors(program.getSemanticDiagnostics(sf, this.#cancellation));
  }

  /**
   * JavaScript of the cell last given to {@linkcode diagnostics}, through `transformers`, from the
   * program that checked it. That program's checker gives the emitter what it needs, where a
   * separate `transpileModule` would build a checker of its own (most of its time). `undefined`
   * when no cell was checked yet or TypeScript skipped the file.
   */
  emit(transformers: ts.CustomTransformers): { js: string; sourceMap?: string } | undefined {
    const sf = this.#checked?.getSourceFile(this.#current);
    if (!this.#checked || !sf) return undefined;
    let js: string | undefined;
    let sourceMap: string | undefined;
    const result = this.#checked.emit(
      sf,
      (name, text) => {
        if (name.endsWith(".map")) sourceMap = text;
        else js = text;
      },
      undefined,
      false,
      transformers,
    );
    return result.emitSkipped || js === undefined ? undefined : { js, sourceMap };
  }

  /** Completions at UTF-16 offset `pos` of `code` checked as the next cell. */
  completions(code: string, pos: number): ts.CompletionInfo | undefined {
    this.#setCurrent(code);
    return this.#ls.getCompletionsAtPosition(this.#current, pos, {
      includeCompletionsWithInsertText: true,
      includeExternalModuleExports: false,
      includeCompletionsForModuleExports: false,
      // Deno needs file extensions in relative imports.
      importModuleSpecifierEnding: "js",
    });
  }

  /** Quick info (signature, JSDoc) at UTF-16 offset `pos` of `code`. */
  quickInfo(code: string, pos: number): ts.QuickInfo | undefined {
    this.#setCurrent(code);
    const info = this.#ls.getQuickInfoAtPosition(this.#current, pos);
    if (info && info.kind !== ts.ScriptElementKind.alias) {
      return this.#withCellDocs(code, pos, info);
    }
    // Names of earlier cells are aliases in the globals module: describe what they point to.
    const target = this.#ls.getDefinitionAtPosition(this.#current, pos)?.[0];
    if (!target) return info;
    return this.#ls.getQuickInfoAtPosition(target.fileName, target.textSpan.start) ?? info;
  }

  /**
   * Variables of earlier cells are redeclared in the globals module (`const x: typeof __c1.x`), whose
   * declaration has no JSDoc: take the documentation from the cell that declared them.
   */
  #withCellDocs(code: string, pos: number, info: ts.QuickInfo): ts.QuickInfo {
    if ((info.documentation?.length ?? 0) > 0) return info;
    // Only a name that resolves to the globals module (not one this cell declares itself).
    const definition = this.#ls.getDefinitionAtPosition(this.#current, pos)?.[0];
    if (definition?.fileName !== this.#globals) return info;
    const name = code.slice(info.textSpan.start, info.textSpan.start + info.textSpan.length);
    const binding = this.#bindings.get(name);
    if (binding === undefined || binding.kind === "alias") return info;
    const file = this.#cellFile(binding.cell);
    const sf = this.#ls.getProgram()?.getSourceFile(file);
    const at = sf === undefined ? undefined : declarationNameStart(sf, name);
    if (at === undefined) return info;
    const own = this.#ls.getQuickInfoAtPosition(file, at);
    if (!own?.documentation?.length && !own?.tags?.length) return info;
    return { ...info, documentation: own.documentation, tags: own.tags };
  }

  /**
   * The source text of the declaration of the name at UTF-16 offset `pos` of `code` (for `name??`),
   * with the file it is in: an earlier cell's declaration for its names, a library's (from its
   * `.ts`, or its `.d.ts` when that is all there is) otherwise. Undefined when nothing declares it.
   */
  definitionSource(code: string, pos: number): { fileName: string; text: string } | undefined {
    this.#setCurrent(code);
    let target = this.#ls.getDefinitionAtPosition(this.#current, pos)?.[0];
    if (!target) return undefined;
    if (target.fileName === this.#globals) {
      // An earlier cell's name: its declaration is in that cell's file.
      const name = code.slice(
        ...(() => {
          const span = this.#ls.getQuickInfoAtPosition(this.#current, pos)?.textSpan;
          return span ? [span.start, span.start + span.length] : [pos, pos];
        })(),
      );
      const binding = this.#bindings.get(name);
      if (binding === undefined) return undefined;
      const file = this.#cellFile(binding.cell);
      const sf = this.#ls.getProgram()?.getSourceFile(file);
      const at = sf === undefined ? undefined : declarationNameStart(sf, name);
      if (at === undefined) return undefined;
      target = this.#ls.getDefinitionAtPosition(file, at)?.[0];
      if (!target) return undefined;
    }
    const sf = this.#ls.getProgram()?.getSourceFile(target.fileName);
    if (!sf) return undefined;
    const span = target.contextSpan ?? target.textSpan;
    return { fileName: target.fileName, text: sf.text.slice(span.start, span.start + span.length) };
  }

  /** Records `code` as a cell that ran: its declarations become visible to later cells. */
  commit(code: string): void {
    const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.ESNext, true, ts.ScriptKind.TS);
    const declared = collectDeclarations(sf);
    // `declare global` / `declare module` blocks declare no names but still matter to later cells.
    const ambient = sf.statements.some(ts.isModuleDeclaration);
    if (declared.length === 0 && !ambient) return;
    const cell = ++this.#cells;
    if (cell > this.#slots) this.#addSlots();
    this.#loadNodeTypesFor(code);
    this.#setFile(this.#cellFile(cell), exportDeclarations(sf, declared));
    for (const d of declared) this.#bindings.set(d.name, { cell, kind: d.kind });
    this.#updateGlobals();
  }

  /** Forgets every committed cell (the runtime lost its state); libraries stay loaded. */
  reset(): void {
    for (let cell = 1; cell <= this.#cells; cell++) {
      if (this.#files.get(this.#cellFile(cell))?.text !== EMPTY_MODULE) {
        this.#setFile(this.#cellFile(cell), EMPTY_MODULE);
      }
    }
    this.#bindings.clear();
    this.#updateGlobals();
  }

  #cellFile(cell: number): string {
    return path.join(this.#dir, `${VIRTUAL_PREFIX}cell_${cell}.ts`);
  }

  #updateGlobals(): void {
    this.#setFile(this.#globals, this.#globalsText());
    // A cell's own declaration replaces a runtime global of the same name (it does at run time).
    const runtime = this.#runtimeDts.split("\n").filter((line) => {
      const m = /^declare (?:function|var|let|const) ([\w$]+)/.exec(line);
      return !m || !this.#bindings.has(m[1]);
    }).join("\n");
    if (runtime !== this.#files.get(this.#runtime)?.text) this.#setFile(this.#runtime, runtime);
  }

  /**
   * Adds CELL_SLOTS empty cell files for the globals module to import. Why ahead of use: a program
   * whose files keep their imports is reused "completely" by the next one (TypeScript then only
   * swaps the changed files), while one import more makes TypeScript walk and re-sort the whole
   * file graph (lib files included) — that walk was most of the check time of a cell after one
   * that declared something. A committed cell only changes the text of its slot and of the
   * globals module.
   */
  #addSlots(): void {
    for (let i = 0; i < CELL_SLOTS; i++) this.#setFile(this.#cellFile(++this.#slots), EMPTY_MODULE);
  }

  #globalsText(): string {
    // Every slot, used or not (names all redeclared later, reset, not yet committed), so the
    // imports change only when slots are added; an unused one declares nothing global.
    const lines = Array.from(
      { length: this.#slots },
      (_, i) => `import * as __c${i + 1} from "./${VIRTUAL_PREFIX}cell_${i + 1}.ts";`,
    );
    lines.push("declare global {");
    for (const [name, { cell, kind }] of this.#bindings) {
      // Variables keep their own let/const/var so assignment rules carry over; everything else is
      // an alias, which carries value, type and namespace meanings (and JSDoc) at once.
      lines.push(
        kind === "alias"
          ? `  export import ${name} = __c${cell}.${name};`
          : `  ${kind} ${name}: typeof __c${cell}.${name};`,
      );
    }
    lines.push("}", "export {};", "");
    return lines.join("\n");
  }

  /** @types/node is big: load it only once a cell uses a node: builtin. */
  #loadNodeTypesFor(code: string): void {
    if (this.#nodeTypes || !code.includes("node:")) return;
    const file = nodeTypesFile(this.#project.root);
    if (file) this.#roots.unshift(file);
    this.#nodeTypes = true;
  }

  #setCurrent(code: string): void {
    this.#loadNodeTypesFor(code);
    const existing = this.#files.get(this.#current);
    if (existing?.text !== code) this.#setFile(this.#current, code);
  }

  #setFile(name: string, text: string): void {
    const version = (this.#files.get(name)?.version ?? 0) + 1;
    this.#files.set(name, { text, version, snapshot: ts.ScriptSnapshot.fromString(text) });
  }

  /** Virtual files count their edits; user modules on disk change with their mtime. */
  #version(name: string): string {
    const virtual = this.#files.get(name);
    if (virtual) return String(virtual.version);
    if (this.#isLibrary(name)) return "0";
    try {
      return String(Deno.statSync(name).mtime?.getTime() ?? 0);
    } catch {
      return "missing";
    }
  }

  #isLibrary(name: string): boolean {
    return name.includes("/node_modules/") || name.startsWith(this.#libDir) ||
      name.endsWith(".d.ts");
  }

  #readDisk(name: string): ts.IScriptSnapshot | undefined {
    if (this.#disk.has(name)) return this.#disk.get(name);
    let snapshot: ts.IScriptSnapshot | undefined;
    try {
      snapshot = ts.ScriptSnapshot.fromString(Deno.readTextFileSync(name));
    } catch {
      snapshot = undefined;
    }
    // Library files never change during a session; user modules might, so only cache libraries.
    if (this.#isLibrary(name)) this.#disk.set(name, snapshot);
    return snapshot;
  }

  #resolve(specifier: string, containingFile: string): ts.ResolvedModuleFull | undefined {
    let spec = specifier;
    // The program may name a package file by its node_modules symlink; its own dependencies are
    // found only next to its real location (Deno's node_modules/.deno layout).
    let from = this.#files.has(containingFile) ? containingFile : realPath(containingFile);
    const npm = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@[^/]*)?(\/.*)?$/.exec(spec);
    if (npm) spec = npm[1] + (npm[2] ?? "");
    if (spec.startsWith("node:") || /^(https?|jsr|data|blob):/.test(spec)) return undefined;
    const mapped = this.#mapImport(spec);
    if (mapped) spec = mapped;
    if (!spec.startsWith(".") && !spec.startsWith("/") && !from.includes("/node_modules/")) {
      // Bare names in cells come from the project's node_modules, wherever the notebook lives;
      // packages resolve their own dependencies from where they are.
      from = path.join(this.#project.root, "__resolve.ts");
    }
    if (spec.startsWith("file://")) spec = fileURLToPath(spec);
    return ts.resolveModuleName(spec, from, this.#options, this.#resolutionHost()).resolvedModule;
  }

  #mapImport(spec: string): string | undefined {
    const exact = this.#project.imports.get(spec);
    if (exact) return exact;
    for (const [key, target] of this.#project.imports) {
      if (key.endsWith("/") && spec.startsWith(key)) return target + spec.slice(key.length);
    }
    return undefined;
  }

  #resolutionHost(): ts.ModuleResolutionHost {
    return {
      fileExists: (f) => this.#files.has(f) || isFile(f),
      readFile: (f) => this.#files.get(f)?.text ?? this.#readText(f),
      directoryExists: (d) => isDirectory(d),
      realpath: realPath,
      getCurrentDirectory: () => this.#dir,
    };
  }

  #readText(f: string): string | undefined {
    return this.#readDisk(f)?.getText(0, this.#readDisk(f)?.getLength() ?? 0);
  }

  /**
   * The LanguageService passes `getModuleResolutionCache` on to the programs it makes, although
   * TypeScript's public LanguageServiceHost type does not list it (CompilerHost's does).
   */
  #host(): ts.LanguageServiceHost & Pick<ts.CompilerHost, "getModuleResolutionCache"> {
    const resolution = this.#resolutionHost();
    return {
      fileExists: resolution.fileExists,
      readFile: resolution.readFile,
      directoryExists: resolution.directoryExists,
      realpath: resolution.realpath,
      getCurrentDirectory: () => this.#dir,
      getCancellationToken: () => ({ isCancellationRequested: this.#isCancelled }),
      getCompilationSettings: () => this.#options,
      getModuleResolutionCache: () => this.#resolutionCache,
      getScriptFileNames: () => this.#roots,
      getScriptVersion: (f) => this.#version(f),
      getScriptSnapshot: (f) => this.#files.get(f)?.snapshot ?? this.#readDisk(f),
      getDefaultLibFileName: () => path.join(this.#libDir, "lib.esnext.d.ts"),
      getDirectories: (d) => {
        try {
          return [...Deno.readDirSync(d)].filter((e) => e.isDirectory).map((e) => e.name);
        } catch {
          return [];
        }
      },
      readDirectory: (d, extensions, exclude, include, depth) =>
        ts.sys.readDirectory(d, extensions, exclude, include, depth).filter((f) =>
          !path.basename(f).startsWith(VIRTUAL_PREFIX)
        ),
      resolveModuleNameLiterals: (literals, containingFile) =>
        literals.map((lit) => ({ resolvedModule: this.#resolve(lit.text, containingFile) })),
    };
  }
}

function realPath(p: string): string {
  try {
    return Deno.realPathSync(p);
  } catch {
    return p;
  }
}

/** Position of the top-level variable declaration of `name` in `sf` (its last one), if any. */
function declarationNameStart(sf: ts.SourceFile, name: string): number | undefined {
  let at: number | undefined;
  for (const stmt of sf.statements) {
    if (!ts.isVariableStatement(stmt)) continue;
    for (const decl of stmt.declarationList.declarations) {
      for (const id of bindingIdentifiers(decl.name)) if (id.text === name) at = id.getStart(sf);
    }
  }
  return at;
}
