/**
 * Execution history, persisted as JSON lines per user (default
 * `~/.local/share/teskd/history.jsonl`, or `$TESKD_HISTORY_FILE`), answering `history_request`.
 *
 * @example
 * ```ts
 * import { History } from "./history.ts";
 * const h = await History.open("/tmp/history.jsonl");
 * await h.append(1, "const x = 1;");
 * h.tail(10); // [[h.session, 1, "const x = 1;"]]
 * ```
 * @module
 */
import { dirname, join } from "node:path";

/** One stored input. */
export interface HistoryEntry {
  session: number;
  line: number;
  source: string;
}

/** A history row as sent in history_reply: [session, line, input]. */
export type HistoryRow = [number, number, string];

/** The default history file of the current user. */
export function defaultHistoryFile(): string {
  const env = Deno.env.get("TESKD_HISTORY_FILE");
  if (env) return env;
  const dataHome = Deno.env.get("XDG_DATA_HOME") ??
    join(Deno.env.get("HOME") ?? ".", ".local", "share");
  return join(dataHome, "teskd", "history.jsonl");
}

/** Glob (`*`, `?`) to an anchored regular expression, as IPython's history search uses. */
function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${escaped}$`);
}

/** The history of all sessions; this kernel process is one new session. */
export class History {
  readonly session: number;
  #entries: HistoryEntry[];
  #file: string;
  /** The file writes so far, chained so entries land in order. */
  #writing: Promise<void> = Promise.resolve();
  #dirMade = false;

  private constructor(file: string, entries: HistoryEntry[]) {
    this.#file = file;
    this.#entries = entries;
    this.session = entries.reduce((m, e) => Math.max(m, e.session), 0) + 1;
  }

  /** Loads the history file (missing file: empty history; broken lines are skipped). */
  static async open(file: string): Promise<History> {
    const entries: HistoryEntry[] = [];
    let text = "";
    try {
      text = await Deno.readTextFile(file);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        console.error(`teskd kernel: cannot read history ${file}: ${(e as Error).message}`);
      }
    }
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      try {
        const e = JSON.parse(line);
        if (
          typeof e.session === "number" && typeof e.line === "number" &&
          typeof e.source === "string"
        ) entries.push({ session: e.session, line: e.line, source: e.source });
      } catch {
        // A torn last line (crash mid-write) must not lose the rest of the history.
      }
    }
    return new History(file, entries);
  }

  /**
   * Records input `source` as line `line` of this session at once, and appends it to the file in
   * the background, in order; the promise settles when this entry is written (or failed to be,
   * reported on stderr). Callers need not wait for it: queries answer from memory.
   */
  append(line: number, source: string): Promise<void> {
    const entry = { session: this.session, line, source };
    this.#entries.push(entry);
    this.#writing = this.#writing.then(async () => {
      try {
        if (!this.#dirMade) {
          await Deno.mkdir(dirname(this.#file), { recursive: true });
          this.#dirMade = true;
        }
        await Deno.writeTextFile(this.#file, JSON.stringify(entry) + "\n", { append: true });
      } catch (e) {
        console.error(`teskd kernel: cannot write history ${this.#file}: ${(e as Error).message}`);
      }
    });
    return this.#writing;
  }

  /** Settles when every entry appended so far is written. */
  flush(): Promise<void> {
    return this.#writing;
  }

  /** The last `n` inputs over all sessions. */
  tail(n: number): HistoryRow[] {
    return this.#entries.slice(Math.max(0, this.#entries.length - n)).map(row);
  }

  /**
   * Inputs of one session with `start <= line < stop` (stop absent: to the end). Session 0 or
   * absent is this session, negative counts back from it.
   */
  range(session: number, start: number, stop?: number): HistoryRow[] {
    const s = session <= 0 ? this.session + session : session;
    return this.#entries.filter((e) =>
      e.session === s && e.line >= start && (stop === undefined || e.line < stop)
    ).map(row);
  }

  /** Inputs matching the glob `pattern`, the last `n` (all if absent), optionally unique. */
  search(pattern: string, n?: number, unique = false): HistoryRow[] {
    const re = globToRegExp(pattern);
    let hits = this.#entries.filter((e) => re.test(e.source));
    if (unique) {
      const seen = new Set<string>();
      const kept: HistoryEntry[] = [];
      for (let i = hits.length - 1; i >= 0; i--) {
        if (seen.has(hits[i].source)) continue;
        seen.add(hits[i].source);
        kept.push(hits[i]);
      }
      hits = kept.reverse();
    }
    if (n !== undefined && n > 0) hits = hits.slice(Math.max(0, hits.length - n));
    return hits.map(row);
  }
}

function row(e: HistoryEntry): HistoryRow {
  return [e.session, e.line, e.source];
}
