/**
 * Button (`ButtonModel`): a label the user clicks; the front end sends `{method: "custom",
 * content: {event: "click"}}` and the kernel calls the click handlers.
 *
 * @example
 * ```ts
 * const stop = new Button({ description: "Stop", buttonStyle: "danger", icon: "stop" });
 * stop.onClick(() => trainer.requestStop());
 * ```
 *
 * @module
 */
import { type DOMProps, domTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { reportError } from "./report.ts";
import { ButtonStyle } from "./style.ts";
import { bool, oneOf, str, type TraitDef } from "./traits.ts";
import { ref, widgetClass } from "./widget.ts";

/** Predefined looks of buttons and boxes ("" plain). */
export type ButtonStyleName = "primary" | "success" | "info" | "warning" | "danger" | "";

/** Properties of a {@link Button}. */
export interface ButtonProps extends DOMProps {
  /** The label. */
  description: string;
  /** Whether clicks are disabled. */
  disabled: boolean;
  /** Font Awesome icon name without "fa-" (e.g. "stop", "check"), "" for none. */
  icon: string;
  /** Predefined look. */
  buttonStyle: ButtonStyleName;
  /** The style model. */
  style: ButtonStyle;
}

/** A name without ipywidgets 7's "fa-" prefixes (ipywidgets 8 strips them, as here). */
function icon(): TraitDef<string> {
  const s = str();
  return { ...s, coerce: (v, name) => s.coerce(v, name).replaceAll("fa-", "") };
}

/** A clickable button; see the module docs. */
export class Button extends widgetClass<ButtonProps>(controlsModel("Button"), {
  ...domTraits(),
  description: str(),
  disabled: bool(false),
  icon: icon(),
  buttonStyle: oneOf(["primary", "success", "info", "warning", "danger", ""], ""),
  style: ref(ButtonStyle, () => new ButtonStyle()),
}) {
  readonly #clickHandlers = new Set<(b: Button) => void>();

  /** Calls `fn` on each click; returns a function that stops that. */
  onClick(fn: (button: Button) => void): () => void {
    const wrapped = (b: Button) => fn(b); // the same function added twice is called twice
    this.#clickHandlers.add(wrapped);
    return () => void this.#clickHandlers.delete(wrapped);
  }

  /** Calls the click handlers, as a click in the front end does (errors go to stderr). */
  click(): void {
    for (const fn of [...this.#clickHandlers]) {
      try {
        fn(this);
      } catch (e) {
        reportError("Button click handler", e);
      }
    }
  }

  protected override handleCustom(content: unknown): void {
    if ((content as { event?: unknown } | null)?.event === "click") this.click();
  }
}
