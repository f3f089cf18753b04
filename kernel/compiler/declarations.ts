/**
 * Finds the top-level names a cell declares and rewrites the cell so that all of them are
 * exported, which lets the type-checking session refer to them from later cells.
 *
 * @module
 */

import ts from "typescript";

/** One top-level name declared by a cell. */
export interface Declared {
  name: string;
  /** `let`/`const`/`var` for variables; `alias` for functions, classes, types, enums, imports. */
  kind: "let" | "const" | "var" | "alias";
  /** Whether the name comes from an import (exported by an `export {}` list, not a modifier). */
  imported: boolean;
}

/**
 * Top-level names declared in `sf` (the last kind wins when a name repeats).
 *
 * @example
 * ```ts
 * const sf = ts.createSourceFile("c.ts", "let a = 1; function f() {}", ts.ScriptTarget.ESNext, true);
 * collectDeclarations(sf); // [{ name: "a", kind: "let" }, { name: "f", kind: "alias" }]
 * ```
 */
export function collectDeclarations(sf: ts.SourceFile): Declared[] {
  const out = new Map<string, Declared>();
  const add = (name: string, kind: Declared["kind"], imported = false) =>
    out.set(name, { name, kind, imported });
  for (const stmt of sf.statements) {
    if (ts.isVariableStatement(stmt)) {
      const flags = stmt.declarationList.flags;
      if (flags & ts.NodeFlags.Using) continue;
      const kind = flags & ts.NodeFlags.Const ? "const" : flags & ts.NodeFlags.Let ? "let" : "var";
      for (const decl of stmt.declarationList.declarations) {
        for (const id of bindingIdentifiers(decl.name)) add(id.text, kind);
      }
    } else if (
      (ts.isFunctionDeclaration(stmt) || ts.isClassDeclaration(stmt)) && stmt.name &&
      !hasModifier(stmt, ts.SyntaxKind.DefaultKeyword)
    ) {
      add(stmt.name.text, "alias");
    } else if (
      ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt) ||
      ts.isEnumDeclaration(stmt)
    ) {
      add(stmt.name.text, "alias");
    } else if (
      ts.isModuleDeclaration(stmt) && ts.isIdentifier(stmt.name) && stmt.name.text !== "global"
    ) {
      add(stmt.name.text, "alias");
    } else if (ts.isImportDeclaration(stmt) && stmt.importClause) {
      const clause = stmt.importClause;
      if (clause.name) add(clause.name.text, "alias", true);
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) add(bindings.name.text, "alias", true);
      else if (bindings) { for (const el of bindings.elements) add(el.name.text, "alias", true); }
    }
  }
  return [...out.values()];
}

/**
 * Text of `sf` with `export` added to every top-level declaration in `declared` and an
 * `export { … }` list for imported names.
 */
export function exportDeclarations(sf: ts.SourceFile, declared: readonly Declared[]): string {
  const text = sf.text;
  const inserts: number[] = [];
  for (const stmt of sf.statements) {
    const exportable = ts.isVariableStatement(stmt) ||
      ((ts.isFunctionDeclaration(stmt) || ts.isClassDeclaration(stmt)) && stmt.name) ||
      ts.isInterfaceDeclaration(stmt) || ts.isTypeAliasDeclaration(stmt) ||
      ts.isEnumDeclaration(stmt) ||
      (ts.isModuleDeclaration(stmt) && ts.isIdentifier(stmt.name) && stmt.name.text !== "global");
    if (!exportable || hasModifier(stmt, ts.SyntaxKind.ExportKeyword)) continue;
    if (ts.isVariableStatement(stmt) && stmt.declarationList.flags & ts.NodeFlags.Using) continue;
    // Decorators come before `export` only in the legacy syntax; insert after them to be safe.
    const decorators = ts.canHaveDecorators(stmt) ? ts.getDecorators(stmt) ?? [] : [];
    inserts.push(decorators.length > 0 ? decorators[decorators.length - 1].end : stmt.getStart(sf));
  }
  let result = text;
  for (const at of inserts.sort((a, b) => b - a)) {
    result = result.slice(0, at) + (at > 0 && !/\s/.test(result[at - 1]) ? " " : "") + "export " +
      result.slice(at);
  }
  const imported = declared.filter((d) => d.imported).map((d) => d.name);
  if (imported.length > 0) result += `\n;export { ${imported.join(", ")} };\n`;
  return result;
}

function hasModifier(node: ts.Node, kind: ts.SyntaxKind): boolean {
  return ts.canHaveModifiers(node) &&
    (ts.getModifiers(node)?.some((m) => m.kind === kind) ?? false);
}

/** The identifiers a binding name declares (`a`, or each name of `{ a, b: [c] }`). */
export function bindingIdentifiers(name: ts.BindingName): ts.Identifier[] {
  if (ts.isIdentifier(name)) return [name];
  const ids: ts.Identifier[] = [];
  for (const el of name.elements) {
    if (!ts.isOmittedExpression(el)) ids.push(...bindingIdentifiers(el.name));
  }
  return ids;
}
