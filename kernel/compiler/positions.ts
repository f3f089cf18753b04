/**
 * Conversions between Jupyter positions (unicode code points) and TypeScript positions (UTF-16
 * code units), and 1-based line/column lookup.
 *
 * @module
 */

/**
 * Converts a code-point offset (Jupyter's `cursor_pos`) into a UTF-16 index into `text`.
 *
 * @example
 * ```ts
 * codePointToIndex("😀a", 1); // 2
 * ```
 */
export function codePointToIndex(text: string, codePoints: number): number {
  let index = 0;
  let seen = 0;
  while (seen < codePoints && index < text.length) {
    const c = text.charCodeAt(index);
    index += c >= 0xd800 && c <= 0xdbff && index + 1 < text.length ? 2 : 1;
    seen++;
  }
  return index;
}

/**
 * Converts a UTF-16 index into `text` into a code-point offset.
 *
 * @example
 * ```ts
 * indexToCodePoint("😀a", 2); // 1
 * ```
 */
export function indexToCodePoint(text: string, index: number): number {
  let seen = 0;
  for (let i = 0; i < index && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) i++;
    seen++;
  }
  return seen;
}

/**
 * 1-based line and code-point column of a UTF-16 index into `text`.
 *
 * @example
 * ```ts
 * lineColumn("a\nbc", 3); // { line: 2, column: 2 }
 * ```
 */
export function lineColumn(text: string, index: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(index, text.length)));
  const lineStart = before.lastIndexOf("\n") + 1;
  const line = before.split("\n").length;
  return { line, column: indexToCodePoint(before.slice(lineStart), index - lineStart) + 1 };
}
