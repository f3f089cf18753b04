/**
 * Turns a TypeScript cell into the body of an async function whose top-level declarations persist
 * on `globalThis`, whose imports are dynamic, whose loops and functions call the interrupt guard,
 * and which returns the value of its last expression statement.
 *
 * @module
 */

import ts from "typescript";
import { GUARD_NAME } from "./types.ts";
import { collectDeclarations } from "./declarations.ts";

/** Output of {@linkcode transpileCell}. */
export interface TranspiledCell {
  /** Body of an async function, or `undefined` when the cell has syntax errors. */
  js?: string;
  /** Source map (JSON) from `js` back to the cell. */
  sourceMap?: string;
  /** Syntax errors reported by the TypeScript parser. */
  diagnostics: readonly ts.Diagnostic[];
  /**
   * Whether the cell declares top-level names or has `declare global`/`declare module` blocks
   * (what a type-checking session's commit records; without them a commit changes nothing).
   */
  declares: boolean;
}

const SCOPE = "globalThis";

/**
 * The transformers that turn a cell into runnable code, for TypeScript's emitter (`transpileModule`
 * or a type-checking program's `emit`), and whether the cell declares anything (known once the
 * emitter ran them).
 *
 * Imports become dynamic imports `before` TypeScript's own transforms: a program that type-checks
 * the cell would otherwise drop the imports the cell itself does not use, which later cells use.
 * Everything else happens `after`, on plain JavaScript.
 */
export function cellTransformers(
  baseUrl: string,
): { transformers: ts.CustomTransformers; declares(): boolean } {
  let declares = false;
  const before: ts.TransformerFactory<ts.SourceFile> = (ctx) => (sf) => {
    // Reads the cell's own syntax tree (before TypeScript's transforms) instead of parsing it again.
    declares = collectDeclarations(sf).length > 0 || sf.statements.some(ts.isModuleDeclaration);
    return importsToDynamic(ctx.factory, sf, baseUrl);
  };
  return {
    transformers: { before: [before], after: [cellTransformer(baseUrl)] },
    declares: () => declares,
  };
}

/**
 * Compiles one cell without a type checker (each cell on its own, as `isolatedModules`). `baseUrl`
 * is the file URL relative specifiers resolve against (the notebook's directory, with a trailing
 * slash); `sourceUrl` names the code in stack traces.
 *
 * @example
 * ```ts
 * const out = transpileCell("const x = 1; x + 1", "file:///nb/", "teskd-cell-1.js");
 * // out.js: "use strict"; globalThis.x = 1; return x + 1; ...
 * ```
 */
export function transpileCell(code: string, baseUrl: string, sourceUrl: string): TranspiledCell {
  const { transformers, declares } = cellTransformers(baseUrl);
  const out = ts.transpileModule(code, {
    fileName: "cell.ts",
    reportDiagnostics: true,
    compilerOptions: {
      target: ts.ScriptTarget.ESNext,
      module: ts.ModuleKind.ESNext,
      moduleDetection: ts.ModuleDetectionKind.Force,
      sourceMap: true,
      removeComments: true,
      useDefineForClassFields: true,
      verbatimModuleSyntax: true,
    },
    transformers,
  });
  const diagnostics = (out.diagnostics ?? []).filter((d) =>
    d.category === ts.DiagnosticCategory.Error
  );
  if (diagnostics.length > 0) return { diagnostics, declares: declares() };
  return {
    ...cellOutput(out.outputText, out.sourceMapText, sourceUrl),
    diagnostics: [],
    declares: declares(),
  };
}

/** The emitter's output as runnable cell code: named `sourceUrl` in stack traces. */
export function cellOutput(
  js: string,
  sourceMap: string | undefined,
  sourceUrl: string,
): { js: string; sourceMap?: string } {
  // The emitter appends a sourceMappingURL comment for a file that does not exist: drop it.
  return {
    js: js.replace(/\n?\/\/# sourceMappingURL=.*\s*$/, "") + `\n//# sourceURL=${sourceUrl}`,
    sourceMap,
  };
}

/**
 * `import d, { a, b as c } from "m"` becomes `const __teskdModule0 = await import("m")` and
 * assignments of the bound names to `globalThis` (relative specifiers resolved against `baseUrl`).
 * The new statements keep the import as their original node: the cell transformer hoists them.
 */
function importsToDynamic(f: ts.NodeFactory, sf: ts.SourceFile, baseUrl: string): ts.SourceFile {
  if (!sf.statements.some(ts.isImportDeclaration)) return sf;
  let count = 0;
  const statements = sf.statements.flatMap((stmt): ts.Statement[] => {
    if (!ts.isImportDeclaration(stmt)) return [stmt];
    const clause = stmt.importClause;
    if (clause?.isTypeOnly) return [];
    const spec = resolveSpecifier((stmt.moduleSpecifier as ts.StringLiteral).text, baseUrl);
    const args: ts.Expression[] = [f.createStringLiteral(spec)];
    if (stmt.attributes) {
      args.push(f.createObjectLiteralExpression([
        f.createPropertyAssignment(
          "with",
          f.createObjectLiteralExpression(
            stmt.attributes.elements.map((a) =>
              f.createPropertyAssignment(
                ts.isIdentifier(a.name) ? a.name.text : f.createStringLiteral(a.name.text),
                a.value,
              )
            ),
          ),
        ),
      ]));
    }
    const load = f.createAwaitExpression(
      f.createCallExpression(
        f.createToken(ts.SyntaxKind.ImportKeyword) as ts.Expression,
        undefined,
        args,
      ),
    );
    const out: ts.Statement[] = [];
    const scoped = (name: string) =>
      f.createPropertyAccessExpression(f.createIdentifier(SCOPE), name);
    const assign = (name: string, value: ts.Expression) =>
      out.push(f.createExpressionStatement(f.createAssignment(scoped(name), value)));
    if (!clause) {
      out.push(f.createExpressionStatement(load));
    } else {
      const tmp = f.createIdentifier(`__teskdModule${count++}`);
      out.push(f.createVariableStatement(
        undefined,
        f.createVariableDeclarationList(
          [f.createVariableDeclaration(tmp, undefined, undefined, load)],
          ts.NodeFlags.Const,
        ),
      ));
      if (clause.name) assign(clause.name.text, f.createPropertyAccessExpression(tmp, "default"));
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) {
        assign(bindings.name.text, tmp);
      } else if (bindings) {
        for (const el of bindings.elements) {
          if (el.isTypeOnly) continue;
          const imported = el.propertyName ?? el.name;
          assign(
            el.name.text,
            f.createElementAccessExpression(tmp, f.createStringLiteral(imported.text)),
          );
        }
      }
    }
    return out.map((s) => ts.setOriginalNode(ts.setTextRange(s, stmt), stmt));
  });
  return f.updateSourceFile(sf, statements);
}

/** Relative and absolute paths resolve from the notebook's directory; other specifiers stay. */
function resolveSpecifier(spec: string, baseUrl: string): string {
  return /^\.{1,2}\//.test(spec) || spec.startsWith("/") ? new URL(spec, baseUrl).href : spec;
}

function cellTransformer(baseUrl: string): ts.TransformerFactory<ts.SourceFile> {
  return (ctx) => (sf) => {
    const f = ctx.factory;
    const guard = () =>
      f.createExpressionStatement(
        f.createCallExpression(f.createIdentifier(GUARD_NAME), undefined, []),
      );
    const scoped = (name: string) =>
      f.createPropertyAccessExpression(f.createIdentifier(SCOPE), name);

    const guardBody = (body: ts.Statement): ts.Block =>
      ts.isBlock(body)
        ? f.updateBlock(body, [guard(), ...body.statements])
        : f.createBlock([guard(), body], true);

    const guardFunctionBody = (body: ts.ConciseBody): ts.Block => {
      if (!ts.isBlock(body)) return f.createBlock([guard(), f.createReturnStatement(body)], true);
      // Prologue directives ("use strict") must stay first to keep their meaning.
      let i = 0;
      while (i < body.statements.length && isPrologueDirective(body.statements[i])) i++;
      return f.updateBlock(body, [
        ...body.statements.slice(0, i),
        guard(),
        ...body.statements.slice(i),
      ]);
    };

    const importMeta = () =>
      f.createObjectLiteralExpression([
        f.createPropertyAssignment("url", f.createStringLiteral(new URL("cell.ts", baseUrl).href)),
        f.createPropertyAssignment("main", f.createFalse()),
        f.createPropertyAssignment(
          "resolve",
          f.createArrowFunction(
            undefined,
            undefined,
            [f.createParameterDeclaration(undefined, undefined, "s")],
            undefined,
            undefined,
            f.createPropertyAccessExpression(
              f.createNewExpression(f.createIdentifier("URL"), undefined, [
                f.createIdentifier("s"),
                f.createStringLiteral(baseUrl),
              ]),
              "href",
            ),
          ),
        ),
      ]);

    const visit = (node: ts.Node): ts.Node => {
      const n = ts.visitEachChild(node, visit, ctx);
      if (ts.isForStatement(n)) {
        return f.updateForStatement(
          n,
          n.initializer,
          n.condition,
          n.incrementor,
          guardBody(n.statement),
        );
      }
      if (ts.isForOfStatement(n)) {
        return f.updateForOfStatement(
          n,
          n.awaitModifier,
          n.initializer,
          n.expression,
          guardBody(n.statement),
        );
      }
      if (ts.isForInStatement(n)) {
        return f.updateForInStatement(n, n.initializer, n.expression, guardBody(n.statement));
      }
      if (ts.isWhileStatement(n)) {
        return f.updateWhileStatement(n, n.expression, guardBody(n.statement));
      }
      if (ts.isDoStatement(n)) return f.updateDoStatement(n, guardBody(n.statement), n.expression);
      if (ts.isFunctionDeclaration(n) && n.body) {
        return f.updateFunctionDeclaration(
          n,
          n.modifiers,
          n.asteriskToken,
          n.name,
          n.typeParameters,
          n.parameters,
          n.type,
          guardFunctionBody(n.body),
        );
      }
      if (ts.isFunctionExpression(n)) {
        return f.updateFunctionExpression(
          n,
          n.modifiers,
          n.asteriskToken,
          n.name,
          n.typeParameters,
          n.parameters,
          n.type,
          guardFunctionBody(n.body),
        );
      }
      // Arrows are guarded only when they call themselves: an arrow's source is its identity to
      // libraries that parse it (Arquero's `d => op.mean(d.x)` rejects any unknown call), and a
      // non-recursive arrow cannot spin without a loop, which is guarded anyway.
      if (ts.isArrowFunction(n) && isSelfRecursiveArrow(node)) {
        return f.updateArrowFunction(
          n,
          n.modifiers,
          n.typeParameters,
          n.parameters,
          n.type,
          n.equalsGreaterThanToken,
          guardFunctionBody(n.body),
        );
      }
      if (ts.isMethodDeclaration(n) && n.body) {
        return f.updateMethodDeclaration(
          n,
          n.modifiers,
          n.asteriskToken,
          n.name,
          n.questionToken,
          n.typeParameters,
          n.parameters,
          n.type,
          guardFunctionBody(n.body),
        );
      }
      if (ts.isConstructorDeclaration(n) && n.body) {
        return f.updateConstructorDeclaration(
          n,
          n.modifiers,
          n.parameters,
          guardFunctionBody(n.body),
        );
      }
      if (ts.isGetAccessorDeclaration(n) && n.body) {
        return f.updateGetAccessorDeclaration(
          n,
          n.modifiers,
          n.name,
          n.parameters,
          n.type,
          guardFunctionBody(n.body),
        );
      }
      if (ts.isSetAccessorDeclaration(n) && n.body) {
        return f.updateSetAccessorDeclaration(
          n,
          n.modifiers,
          n.name,
          n.parameters,
          guardFunctionBody(n.body),
        );
      }
      // Dynamic imports in a cell resolve from the notebook's directory, not from the worker script.
      if (
        ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword &&
        n.arguments.length > 0 && ts.isStringLiteralLike(n.arguments[0])
      ) {
        const [first, ...rest] = n.arguments;
        return f.updateCallExpression(n, n.expression, n.typeArguments, [
          f.createStringLiteral(resolveSpecifier((first as ts.StringLiteralLike).text, baseUrl)),
          ...rest,
        ]);
      }
      // `import.meta` is a syntax error outside modules: substitute the notebook's equivalent.
      if (ts.isMetaProperty(n) && n.keywordToken === ts.SyntaxKind.ImportKeyword) {
        return importMeta();
      }
      return n;
    };

    const assign = (target: ts.Expression, value: ts.Expression, range: ts.Node) =>
      ts.setTextRange(f.createExpressionStatement(f.createAssignment(target, value)), range);

    // `const {a, b: [c]} = v` becomes `({a: globalThis.a, b: [globalThis.c]} = v)`.
    const toTarget = (name: ts.BindingName): ts.Expression => {
      if (ts.isIdentifier(name)) return scoped(name.text);
      if (ts.isObjectBindingPattern(name)) {
        return f.createObjectLiteralExpression(name.elements.map((el) => {
          const target = withDefault(toTarget(el.name), el.initializer);
          if (el.dotDotDotToken) return f.createSpreadAssignment(target);
          const key = el.propertyName ?? (el.name as ts.Identifier);
          return f.createPropertyAssignment(
            ts.isIdentifier(key) || ts.isComputedPropertyName(key) || ts.isStringLiteral(key) ||
              ts.isNumericLiteral(key) || ts.isPrivateIdentifier(key)
              ? key
              : f.createStringLiteral(String(key.text)),
            target,
          );
        }));
      }
      return f.createArrayLiteralExpression(name.elements.map((el) => {
        if (ts.isOmittedExpression(el)) return el;
        const target = withDefault(toTarget(el.name), el.initializer);
        return el.dotDotDotToken ? f.createSpreadElement(target) : target;
      }));
    };
    // `const f = () => {}` names the function "f"; assigning to `globalThis.f` would not, but a
    // property definition does: `({ f: () => {} }).f`.
    const keepName = (name: string, init: ts.Expression): ts.Expression => {
      const anonymous = ts.isArrowFunction(init) ||
        ((ts.isFunctionExpression(init) || ts.isClassExpression(init)) && !init.name);
      if (!anonymous) return init;
      return f.createPropertyAccessExpression(
        f.createParenthesizedExpression(
          f.createObjectLiteralExpression([f.createPropertyAssignment(name, init)]),
        ),
        name,
      );
    };
    const withDefault = (target: ts.Expression, init: ts.Expression | undefined) =>
      init ? f.createAssignment(target, init) : target;

    const statements = (ts.visitEachChild(sf, visit, ctx) as ts.SourceFile).statements;
    const hoisted: ts.Statement[] = [];
    const body: ts.Statement[] = [];
    const withoutExport = (mods: readonly ts.ModifierLike[] | undefined) =>
      mods?.filter((m) =>
        m.kind !== ts.SyntaxKind.ExportKeyword && m.kind !== ts.SyntaxKind.DefaultKeyword
      );

    // Whether the last statement pushed to `body` is a user expression statement (the cell's value).
    let lastIsValue = false;
    for (const stmt of statements) {
      // Imports (made dynamic before TypeScript's transforms) load before anything else runs.
      if (ts.isImportDeclaration(ts.getOriginalNode(stmt))) {
        hoisted.push(stmt);
        continue; // and keep the previous value, like `export {}`
      }
      // A cell exports nothing: `export {}` is noise (and keeps the previous value too).
      if (ts.isExportDeclaration(stmt)) continue;
      lastIsValue = false;
      if (ts.isExportAssignment(stmt)) {
        body.push(ts.setTextRange(f.createExpressionStatement(stmt.expression), stmt));
        lastIsValue = true;
        continue;
      }
      if (ts.isFunctionDeclaration(stmt) && stmt.body) {
        const fn = f.createFunctionExpression(
          withoutExport(stmt.modifiers) as ts.Modifier[] | undefined,
          stmt.asteriskToken,
          stmt.name,
          undefined,
          stmt.parameters,
          undefined,
          stmt.body,
        );
        ts.setTextRange(fn, stmt);
        // Function declarations are hoisted: assign them before anything else runs.
        if (stmt.name) hoisted.push(assign(scoped(stmt.name.text), fn, stmt));
        else body.push(ts.setTextRange(f.createExpressionStatement(fn), stmt));
        continue;
      }
      if (ts.isClassDeclaration(stmt)) {
        const cls = ts.setTextRange(
          f.createClassExpression(
            withoutExport(stmt.modifiers),
            stmt.name,
            undefined,
            stmt.heritageClauses,
            stmt.members,
          ),
          stmt,
        );
        body.push(
          stmt.name ? assign(scoped(stmt.name.text), cls, stmt) : f.createExpressionStatement(cls),
        );
        continue;
      }
      if (ts.isVariableStatement(stmt)) {
        const flags = stmt.declarationList.flags;
        // `using` declarations keep their block scope: disposal happens when the cell ends.
        if (flags & ts.NodeFlags.Using) {
          body.push(stmt);
          continue;
        }
        const isVar = (flags & ts.NodeFlags.BlockScoped) === 0;
        for (const decl of stmt.declarationList.declarations) {
          if (decl.initializer) {
            const target = toTarget(decl.name);
            const value = f.createAssignment(
              target,
              ts.isIdentifier(decl.name)
                ? keepName(decl.name.text, decl.initializer)
                : decl.initializer,
            );
            body.push(ts.setTextRange(
              f.createExpressionStatement(
                ts.isIdentifier(decl.name) ? value : f.createParenthesizedExpression(value),
              ),
              decl,
            ));
          } else if (ts.isIdentifier(decl.name)) {
            const name = decl.name.text;
            // `var x;` keeps an existing value (enums and namespaces rely on it); `let x;` resets.
            body.push(assign(scoped(name), isVar ? scoped(name) : f.createVoidZero(), decl));
          }
        }
        continue;
      }
      body.push(stmt);
      lastIsValue = ts.isExpressionStatement(stmt) &&
        ts.isExpressionStatement(ts.getOriginalNode(stmt));
      continue;
    }

    // The last expression statement of the cell is its value.
    const last = body[body.length - 1];
    if (lastIsValue && last && ts.isExpressionStatement(last)) {
      body[body.length - 1] = ts.setTextRange(f.createReturnStatement(last.expression), last);
    }
    const useStrict = f.createExpressionStatement(f.createStringLiteral("use strict"));
    return f.updateSourceFile(sf, [useStrict, ...hoisted, ...body]);
  };
}

function isPrologueDirective(stmt: ts.Statement): boolean {
  return ts.isExpressionStatement(stmt) && ts.isStringLiteral(stmt.expression);
}

/**
 * Whether an arrow function (a parse-tree node) is bound to a name its own body mentions:
 * `const fib = (n) => n < 2 ? n : fib(n - 1) + fib(n - 2)`, or `fib = (n) => …`. Only such an arrow
 * can run long without a loop; it keeps the function guard so an interrupt stops it.
 */
function isSelfRecursiveArrow(node: ts.Node): boolean {
  const arrow = ts.getOriginalNode(node);
  if (!ts.isArrowFunction(arrow)) return false;
  // The arrow may be wrapped: `(n => …) as F`, `(n => …) satisfies F`, `(n => …)`.
  let holder: ts.Node = arrow;
  while (
    holder.parent && (ts.isParenthesizedExpression(holder.parent) ||
      ts.isAsExpression(holder.parent) || ts.isSatisfiesExpression(holder.parent) ||
      ts.isTypeAssertionExpression(holder.parent) || ts.isNonNullExpression(holder.parent))
  ) holder = holder.parent;
  const parent = holder.parent;
  let name: string | undefined;
  if (parent && ts.isVariableDeclaration(parent) && ts.isIdentifier(parent.name)) {
    name = parent.name.text;
  } else if (
    parent && ts.isBinaryExpression(parent) && parent.right === holder &&
    parent.operatorToken.kind === ts.SyntaxKind.EqualsToken && ts.isIdentifier(parent.left)
  ) {
    name = parent.left.text;
  }
  if (name === undefined) return false;
  const mentions = (n: ts.Node): boolean =>
    (ts.isIdentifier(n) && n.text === name) || (ts.forEachChild(n, mentions) ?? false);
  return mentions(arrow.body);
}
