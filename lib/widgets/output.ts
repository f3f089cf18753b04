/**
 * Output (`OutputModel`, `@jupyter-widgets/output`): an output area inside a widget, whose content
 * is its `outputs` property, a list of nbformat outputs (streams and display data) that the front
 * end renders, as ipywidgets' `append_stdout`, `append_display_data` and `clear_output` set it.
 *
 * ipywidgets' other mechanism, `msg_id` (the front end routes every output of that request into the
 * widget), needs the kernel's current request id, which the kernel contract does not publish;
 * {@link Output.capture} instead redirects `console` output into the widget while a function runs.
 *
 * @example
 * ```ts
 * const out = new Output();
 * out.appendStdout("starting\n");
 * out.appendDisplayData(lineChart({ loss: [2.3, 1.9] }));
 * out.capture(() => console.log("x")); // "x\n" in the widget
 * out.clear();
 * ```
 *
 * @module
 */
import { JUPYTER_DISPLAY } from "../jupyter.ts";
import { type DOMProps, domTraits } from "./dom.ts";
import { OUTPUT_MODULE, OUTPUT_VERSION } from "./protocol.ts";
import { objectList, str } from "./traits.ts";
import { widgetClass } from "./widget.ts";

/** A stream output (nbformat). */
export interface StreamOutput {
  /** "stream". */
  output_type: "stream";
  /** Which stream. */
  name: "stdout" | "stderr";
  /** The text. */
  text: string;
}

/** A display-data output (nbformat): a MIME bundle. */
export interface DisplayDataOutput {
  /** "display_data". */
  output_type: "display_data";
  /** MIME type → content. */
  data: Record<string, unknown>;
  /** Per-MIME metadata. */
  metadata: Record<string, unknown>;
}

/** One output of an {@link Output} (any nbformat output the front end sends back is kept). */
export type OutputItem = StreamOutput | DisplayDataOutput | Record<string, unknown>;

/** Properties of an {@link Output}. */
export interface OutputProps extends DOMProps {
  /** Parent message id whose outputs the front end captures ("" none; see the module docs). */
  msgId: string;
  /** The outputs shown. */
  outputs: readonly OutputItem[];
}

const CONSOLE_STREAMS = {
  log: "stdout",
  info: "stdout",
  debug: "stdout",
  warn: "stderr",
  error: "stderr",
} as const;

/** An output area; see the module docs. */
export class Output extends widgetClass<OutputProps>(
  {
    modelName: "OutputModel",
    modelModule: OUTPUT_MODULE,
    modelModuleVersion: OUTPUT_VERSION,
    viewName: "OutputView",
    viewModule: OUTPUT_MODULE,
    viewModuleVersion: OUTPUT_VERSION,
  },
  { ...domTraits(), msgId: str(), outputs: objectList<OutputItem>() },
) {
  /** Appends text to the stdout stream. */
  appendStdout(text: string): void {
    this.#append({ output_type: "stream", name: "stdout", text });
  }

  /** Appends text to the stderr stream. */
  appendStderr(text: string): void {
    this.#append({ output_type: "stream", name: "stderr", text });
  }

  /**
   * Appends a rich output: a value with a `[Symbol.for("Jupyter.display")]()` method (a figure, a
   * table, a widget) or a MIME bundle.
   */
  appendDisplayData(value: unknown): void {
    const show = (value as Record<symbol, unknown> | null)?.[JUPYTER_DISPLAY];
    const data = typeof show === "function" ? show.call(value) : value;
    if (typeof data !== "object" || data === null || data instanceof Promise) {
      throw new TypeError(
        "Output.appendDisplayData: expected a displayable value or a MIME bundle",
      );
    }
    this.#append({ output_type: "display_data", data: { ...data }, metadata: {} });
  }

  /** Removes every output. */
  clear(): void {
    this.outputs = [];
  }

  /**
   * Runs `fn` with `console.log/info/debug` (stdout) and `console.warn/error` (stderr) going into
   * this widget; for an async `fn`, until its promise settles (other code logging meanwhile is
   * captured too). An error thrown by `fn` is shown in the widget and thrown on.
   */
  capture<T>(fn: () => T, opts: { clear?: boolean } = {}): T {
    if (opts.clear) this.clear();
    const saved = new Map<string, unknown>();
    const con = console as unknown as Record<string, unknown>;
    for (const [method, stream] of Object.entries(CONSOLE_STREAMS)) {
      saved.set(method, con[method]);
      con[method] = (...args: unknown[]) => this.#append(streamOf(stream, args));
    }
    const restore = () => {
      for (const [method, f] of saved) con[method] = f;
    };
    const failed = (e: unknown) => {
      this.appendStderr(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      restore();
      failed(e);
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (v) => (restore(), v),
        (e) => {
          restore();
          failed(e);
          throw e;
        },
      ) as T;
    }
    restore();
    return result;
  }

  #append(item: OutputItem): void {
    this.outputs = [...this.outputs, item];
  }
}

function streamOf(name: "stdout" | "stderr", args: unknown[]): StreamOutput {
  const text = args.map((a) => (typeof a === "string" ? a : Deno.inspect(a, { colors: false })))
    .join(" ");
  return { output_type: "stream", name, text: `${text}\n` };
}
