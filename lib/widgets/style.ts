/**
 * Style models: the colors and widths a control's view applies (`@jupyter-widgets/controls`
 * `*StyleModel`, shown by the base module's StyleView). Each control refers to a fresh one of its
 * kind from its `style` property, as in ipywidgets 8: a button a ButtonStyle, a slider a
 * SliderStyle, a progress bar a ProgressStyle, a checkbox a CheckboxStyle, a text field a
 * TextStyle, an HTML label an HTMLStyle, the rest a DescriptionStyle.
 *
 * @example
 * ```ts
 * const s = new IntSlider({ style: new SliderStyle({ handleColor: "red", descriptionWidth: "120px" }) });
 * ```
 *
 * @module
 */
import { styleModel } from "./protocol.ts";
import { nullable, str, type TraitDef } from "./traits.ts";
import { widgetClass } from "./widget.ts";

const color = (): TraitDef<string | null> => nullable(str());

/** Properties of {@link DescriptionStyle}. */
export interface DescriptionStyleProps {
  /** Width of the description beside the control (CSS), "" for the default. */
  descriptionWidth: string;
}

/** Style of controls with a description (`DescriptionStyleModel`). */
export class DescriptionStyle extends widgetClass<DescriptionStyleProps>(
  styleModel("DescriptionStyle"),
  { descriptionWidth: str() },
) {}

/** Properties of {@link ButtonStyle} (null: the theme's). */
export interface ButtonStyleProps {
  /** Background color. */
  buttonColor: string | null;
  /** Font family of the label. */
  fontFamily: string | null;
  /** Font size of the label. */
  fontSize: string | null;
  /** Font style of the label. */
  fontStyle: string | null;
  /** Font variant of the label. */
  fontVariant: string | null;
  /** Font weight of the label. */
  fontWeight: string | null;
  /** Color of the label. */
  textColor: string | null;
  /** Text decoration of the label. */
  textDecoration: string | null;
}

/** Style of a {@link Button} (`ButtonStyleModel`). */
export class ButtonStyle extends widgetClass<ButtonStyleProps>(styleModel("ButtonStyle"), {
  buttonColor: color(),
  fontFamily: color(),
  fontSize: color(),
  fontStyle: color(),
  fontVariant: color(),
  fontWeight: color(),
  textColor: color(),
  textDecoration: color(),
}) {}

/** Properties of {@link SliderStyle}. */
export interface SliderStyleProps extends DescriptionStyleProps {
  /** Color of the handle (null: the theme's). */
  handleColor: string | null;
}

/** Style of a slider (`SliderStyleModel`). */
export class SliderStyle extends widgetClass<SliderStyleProps>(styleModel("SliderStyle"), {
  descriptionWidth: str(),
  handleColor: color(),
}) {}

/** Properties of {@link ProgressStyle}. */
export interface ProgressStyleProps extends DescriptionStyleProps {
  /** Color of the bar (null: from `barStyle`). */
  barColor: string | null;
}

/** Style of a progress bar (`ProgressStyleModel`). */
export class ProgressStyle extends widgetClass<ProgressStyleProps>(styleModel("ProgressStyle"), {
  descriptionWidth: str(),
  barColor: color(),
}) {}

/** Properties of {@link CheckboxStyle}. */
export interface CheckboxStyleProps extends DescriptionStyleProps {
  /** Background color (null: the theme's). */
  background: string | null;
}

/** Style of a checkbox (`CheckboxStyleModel`). */
export class CheckboxStyle extends widgetClass<CheckboxStyleProps>(styleModel("CheckboxStyle"), {
  descriptionWidth: str(),
  background: color(),
}) {}

/** Properties of {@link TextStyle} and {@link HTMLStyle} (null: the theme's). */
export interface TextStyleProps extends DescriptionStyleProps {
  /** Background color. */
  background: string | null;
  /** Font size. */
  fontSize: string | null;
  /** Text color. */
  textColor: string | null;
}

const TEXT_STYLE = {
  descriptionWidth: str(),
  background: color(),
  fontSize: color(),
  textColor: color(),
};

/** Style of a text field (`TextStyleModel`). */
export class TextStyle extends widgetClass<TextStyleProps>(styleModel("TextStyle"), TEXT_STYLE) {}

/** Style of an HTML label (`HTMLStyleModel`). */
export class HTMLStyle extends widgetClass<TextStyleProps>(styleModel("HTMLStyle"), TEXT_STYLE) {}
