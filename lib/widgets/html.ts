/**
 * HTML (`HTMLModel`): a piece of HTML the front end renders (sanitized by it), e.g. a status line
 * that code updates in place.
 *
 * @example
 * ```ts
 * const status = new HTML({ value: "<b>idle</b>" });
 * status.value = "<b>training</b>";
 * ```
 *
 * @module
 */
import { type DescriptionProps, descriptionTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { HTMLStyle } from "./style.ts";
import { str } from "./traits.ts";
import { widgetClass } from "./widget.ts";
import { ZERO_WIDTH_SPACE } from "./text.ts";

/** Properties of an {@link HTML}. */
export interface HTMLProps extends DescriptionProps<HTMLStyle> {
  /** The HTML. */
  value: string;
  /** Shown while empty. */
  placeholder: string;
}

/** An HTML label; see the module docs. */
export class HTML extends widgetClass<HTMLProps>(controlsModel("HTML"), {
  ...descriptionTraits(HTMLStyle, () => new HTMLStyle()),
  value: str(),
  placeholder: str(ZERO_WIDTH_SPACE),
}) {}
