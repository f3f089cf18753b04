/**
 * Text fields: Text (`TextModel`, a string) and FloatText (`FloatTextModel`, a number typed in,
 * sent when the user presses Enter or leaves the field).
 *
 * @example
 * ```ts
 * const name = new Text({ placeholder: "run name", description: "name" });
 * const lr = new FloatText({ value: 0.1, description: "lr" });
 * ```
 *
 * @module
 */
import { type DescriptionProps, descriptionTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { DescriptionStyle, TextStyle } from "./style.ts";
import { bool, float, nullable, str } from "./traits.ts";
import { widgetClass } from "./widget.ts";

/** ipywidgets' placeholder default: a zero-width space (an empty one collapses the field). */
const ZERO_WIDTH_SPACE = "\u200b";

/** Properties of a {@link Text}. */
export interface TextProps extends DescriptionProps<TextStyle> {
  /** The text. */
  value: string;
  /** Shown while empty. */
  placeholder: string;
  /** Whether each keystroke is sent (else on Enter or leaving the field). */
  continuousUpdate: boolean;
  /** Whether the user can change it. */
  disabled: boolean;
}

/** A one-line text field; see the module docs. */
export class Text extends widgetClass<TextProps>(controlsModel("Text"), {
  ...descriptionTraits(TextStyle, () => new TextStyle()),
  value: str(),
  placeholder: str(ZERO_WIDTH_SPACE),
  continuousUpdate: bool(true),
  disabled: bool(false),
}) {}

/** Properties of a {@link FloatText}. */
export interface FloatTextProps extends DescriptionProps<DescriptionStyle> {
  /** The number. */
  value: number;
  /** Step of the arrows (null: any). */
  step: number | null;
  /** Whether each keystroke is sent (else on Enter or leaving the field). */
  continuousUpdate: boolean;
  /** Whether the user can change it. */
  disabled: boolean;
}

/** A number field; see the module docs. */
export class FloatText extends widgetClass<FloatTextProps>(controlsModel("FloatText"), {
  ...descriptionTraits(DescriptionStyle, () => new DescriptionStyle()),
  value: float(0),
  step: nullable(float(0)),
  continuousUpdate: bool(false),
  disabled: bool(false),
}) {}

export { ZERO_WIDTH_SPACE };
