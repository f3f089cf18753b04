/**
 * IPython's help syntax in a cell: `name?` shows what inspection shows, `name??` adds the source
 * where it is known. The answer is a `page` payload of the execute reply, which front ends show in
 * their pager (JupyterLab's and Notebook's bottom panel, or inline), as ipykernel does.
 *
 * @example
 * ```ts
 * import { parseHelpRequest } from "./pager.ts";
 * parseHelpRequest("Trainer.prototype.fit??"); // { name: "Trainer.prototype.fit", detailLevel: 1 }
 * parseHelpRequest("x ? 1 : 2");               // null: code, not a help request
 * ```
 * @module
 */

/** A help request: the (dotted) name asked about, and how much to show. */
export interface HelpRequest {
  name: string;
  /** 0 for `name?` (signature and docs), 1 for `name??` (also the source). */
  detailLevel: 0 | 1;
}

const IDENT = String.raw`[A-Za-z_$][\w$]*`;
/** `name?`, `name??`, `?name` or `??name` alone in the cell; the name may be dotted. */
const HELP = new RegExp(
  String.raw`^\s*(?:(\?\??)\s*(${IDENT}(?:\.${IDENT})*)|(${IDENT}(?:\.${IDENT})*)\s*(\?\??))\s*$`,
);

/** The help request a cell's code is, or null when it is ordinary code. */
export function parseHelpRequest(code: string): HelpRequest | null {
  const m = HELP.exec(code);
  if (!m) return null;
  const marks = m[1] ?? m[4];
  return { name: m[2] ?? m[3], detailLevel: marks === "??" ? 1 : 0 };
}

/** The execute reply's payload that opens the pager with `data` (a MIME bundle). */
export function pagePayload(data: Record<string, string>): Record<string, unknown> {
  return { source: "page", data, start: 0 };
}
