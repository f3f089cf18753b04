/**
 * Decides whether a cell is ready to run, for Jupyter's `is_complete_request`.
 *
 * @module
 */

import ts from "typescript";

/** Answer of {@linkcode isComplete}. */
export interface IsCompleteResult {
  /** `complete`: run it; `incomplete`: wait for more lines; `invalid`: an error more lines won't fix. */
  status: "complete" | "incomplete" | "invalid";
  /** Indent for the next line when `incomplete`. */
  indent?: string;
}

// Errors that more text can still fix: an unterminated template or comment.
const OPEN_AT_EOF = new Set([1160, 1010]);
const UNTERMINATED_STRING = 1002;

/**
 * Classifies `code` with the TypeScript parser: errors at the very end of the text (an unclosed
 * brace, a dangling operator) mean `incomplete`; errors elsewhere mean `invalid`.
 *
 * @example
 * ```ts
 * isComplete("function f() {"); // { status: "incomplete", indent: "  " }
 * isComplete("1 +* 2");          // { status: "invalid" }
 * ```
 */
export function isComplete(code: string): IsCompleteResult {
  if (code.trim() === "") return { status: "complete" };
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.ESNext, false, ts.ScriptKind.TS);
  const parseDiagnostics = (sf as unknown as { parseDiagnostics?: readonly ts.Diagnostic[] })
    .parseDiagnostics ?? [];
  if (parseDiagnostics.length === 0) return { status: "complete" };
  const end = code.trimEnd().length;
  const first = parseDiagnostics[0];
  // A string literal cannot continue on the next line (unless the line ends in a backslash).
  if (first.code === UNTERMINATED_STRING && !code.trimEnd().endsWith("\\")) {
    return { status: "invalid" };
  }
  const atEnd = (first.start ?? 0) >= end || OPEN_AT_EOF.has(first.code);
  if (!atEnd) return { status: "invalid" };
  return { status: "incomplete", indent: "  ".repeat(Math.max(1, openDepth(code))) };
}

/** Number of brackets left open at the end of `code`, ignoring strings and comments. */
function openDepth(code: string): number {
  const scanner = ts.createScanner(ts.ScriptTarget.ESNext, true, ts.LanguageVariant.Standard, code);
  let depth = 0;
  for (let t = scanner.scan(); t !== ts.SyntaxKind.EndOfFileToken; t = scanner.scan()) {
    if (
      t === ts.SyntaxKind.OpenBraceToken || t === ts.SyntaxKind.OpenParenToken ||
      t === ts.SyntaxKind.OpenBracketToken || t === ts.SyntaxKind.TemplateHead
    ) depth++;
    if (
      t === ts.SyntaxKind.CloseBraceToken || t === ts.SyntaxKind.CloseParenToken ||
      t === ts.SyntaxKind.CloseBracketToken
    ) depth = Math.max(0, depth - 1);
  }
  return depth;
}
