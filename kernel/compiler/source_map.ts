/**
 * Minimal source-map (v3) decoding: enough to map a generated line/column back to the cell.
 *
 * @module
 */

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** One decoded mapping: 0-based generated column to 0-based original line/column. */
interface Segment {
  genColumn: number;
  line: number;
  column: number;
}

/**
 * Decoded `mappings` of a source map, indexed by 0-based generated line.
 *
 * @example
 * ```ts
 * const map = new LineMap('{"version":3,"mappings":"AAAA;AACA","sources":["a.ts"],"names":[]}');
 * map.original(2, 1); // { line: 2, column: 1 }
 * ```
 */
export class LineMap {
  readonly #lines: Segment[][] = [];

  /** Parses the JSON text of a source map. */
  constructor(sourceMapJson: string) {
    const parsed: unknown = JSON.parse(sourceMapJson);
    if (typeof parsed !== "object" || parsed === null || !("mappings" in parsed)) {
      throw new Error("source map: missing 'mappings'");
    }
    const mappings = String((parsed as { mappings: unknown }).mappings);
    let line = 0;
    let column = 0;
    for (const lineText of mappings.split(";")) {
      const segments: Segment[] = [];
      let genColumn = 0;
      for (const segmentText of lineText.split(",")) {
        if (segmentText === "") continue;
        const fields = decodeVlq(segmentText);
        genColumn += fields[0];
        if (fields.length >= 4) {
          line += fields[2];
          column += fields[3];
          segments.push({ genColumn, line, column });
        }
      }
      this.#lines.push(segments);
    }
  }

  /**
   * Maps a 1-based generated line/column to the 1-based original line/column (the nearest mapping
   * at or before the column on that line), or `undefined` when the line has no mapping.
   */
  original(line: number, column: number): { line: number; column: number } | undefined {
    const segments = this.#lines[line - 1];
    if (!segments || segments.length === 0) return undefined;
    let best = segments[0];
    for (const s of segments) {
      if (s.genColumn <= column - 1) best = s;
      else break;
    }
    // Within one segment generated and original text are the same token, so offsets carry over.
    return {
      line: best.line + 1,
      column: best.column + 1 + Math.max(0, column - 1 - best.genColumn),
    };
  }
}

function decodeVlq(text: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of text) {
    const digit = BASE64.indexOf(ch);
    if (digit < 0) throw new Error(`source map: bad base64 digit '${ch}'`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      values.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return values;
}
