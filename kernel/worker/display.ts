/**
 * Display (ipykernel's displayhook and display publisher): a value's MIME bundle, `display` /
 * `updateDisplay` / `clearOutput`, and the helpers that wrap source or bytes as displayable values
 * (`html`, `markdown`, `svg`, `png`, `jpeg`, `json`).
 * @module
 */
import { encodeBase64 } from "../base64.ts";
import { DISPLAY_SYMBOL } from "../runtime_contract.ts";
import { post, write } from "./output.ts";
import { state } from "./state.ts";

/** A MIME bundle: MIME type → data. */
export type Bundle = Record<string, unknown>;

/** Plain text of a value, as a cell's result shows it (a string quoted, so its type is visible). */
export function inspect(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  return Deno.inspect(value, { colors: false });
}

/**
 * A value's MIME bundle: its `[Symbol.for("Jupyter.display")]()` result, or plain text.
 * Synchronous when the display method is, so displays keep their order with other output.
 */
export function toBundle(value: unknown): Bundle | Promise<Bundle> {
  const method = (value !== null && (typeof value === "object" || typeof value === "function"))
    ? (value as Record<symbol, unknown>)[Symbol.for(DISPLAY_SYMBOL)]
    : undefined;
  if (typeof method !== "function") return { "text/plain": inspect(value) };
  const bundle = method.call(value);
  const check = (b: unknown): Bundle =>
    typeof b === "object" && b !== null ? b as Bundle : { "text/plain": inspect(value) };
  return bundle instanceof Promise ? bundle.then(check) : check(bundle);
}

/** Calls `send` with the bundle of `value`, at once when it is available synchronously. */
function withBundle(value: unknown, send: (b: Bundle) => void): void {
  // A failing display method is the displayed value's fault: reported, never thrown at the caller.
  try {
    const b = toBundle(value);
    if (b instanceof Promise) {
      b.then(send, (e) => write("stderr", `display failed: ${(e as Error).message}\n`));
    } else send(b);
  } catch (e) {
    write("stderr", `display failed: ${(e as Error).message}\n`);
  }
}

function mimeValue(bundle: Bundle): Record<symbol, () => Bundle> {
  return { [Symbol.for(DISPLAY_SYMBOL)]: () => bundle };
}

let displayCounter = 0;

/**
 * Shows a value (`display_data`); `options.id` names the display so that it can be updated in
 * place, `options.raw` takes `value` as the MIME bundle itself. Returns a handle for updates.
 */
/** Handles `display()` returned: a cell ending in `display(x)` shows `x` once, not the handle too. */
const displayHandles = new WeakSet<object>();

/** Whether `value` is a handle `display()` returned (a cell's result that shows nothing). */
export function isDisplayHandle(value: unknown): boolean {
  return typeof value === "object" && value !== null && displayHandles.has(value);
}

export function display(
  value: unknown,
  options: { id?: string; raw?: boolean } = {},
): { id: string; update(v: unknown): void } {
  const id = options.id ?? `teskd-display-${++displayCounter}-${crypto.randomUUID()}`;
  // The request that displayed it, also for later updates (they may run after the cell ended).
  const parent = state.currentParent;
  const emit = (msgType: string, v: unknown) => {
    const send = (data: Bundle) =>
      post({
        type: "iopub",
        msgType,
        content: { data, metadata: {}, transient: { display_id: id } },
        parent,
      });
    if (options.raw) send(v as Bundle);
    else withBundle(v, send);
  };
  emit("display_data", value);
  const handle = { id, update: (v: unknown) => emit("update_display_data", v) };
  displayHandles.add(handle);
  return handle;
}

/** Replaces what the display named `id` shows (`update_display_data`). */
export function updateDisplay(id: string, value: unknown): void {
  const parent = state.currentParent;
  withBundle(value, (data) =>
    post({
      type: "iopub",
      msgType: "update_display_data",
      content: { data, metadata: {}, transient: { display_id: id } },
      parent,
    }));
}

/** Clears the cell's output, at once or (`wait`) when the next output arrives. */
export function clearOutput(options: { wait?: boolean } = {}): void {
  post({
    type: "iopub",
    msgType: "clear_output",
    content: { wait: options.wait ?? false },
    parent: state.currentParent,
  });
}

/** Values that display as the given source or bytes (globals of the cells and `kernel.*`). */
export const helpers = {
  html: (source: string) => mimeValue({ "text/html": source, "text/plain": source }),
  markdown: (source: string) => mimeValue({ "text/markdown": source, "text/plain": source }),
  svg: (source: string) => mimeValue({ "image/svg+xml": source, "text/plain": "<svg image>" }),
  png: (bytes: Uint8Array) =>
    mimeValue({ "image/png": encodeBase64(bytes), "text/plain": "<png image>" }),
  jpeg: (bytes: Uint8Array) =>
    mimeValue({ "image/jpeg": encodeBase64(bytes), "text/plain": "<jpeg image>" }),
  json: (value: unknown) =>
    mimeValue({ "application/json": value, "text/plain": JSON.stringify(value, null, 2) }),
};
