/**
 * Checkbox (`CheckboxModel`): a boolean.
 *
 * @example
 * ```ts
 * const c = new Checkbox({ value: true, description: "augment" });
 * ```
 *
 * @module
 */
import { type DescriptionProps, descriptionTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { CheckboxStyle } from "./style.ts";
import { bool } from "./traits.ts";
import { widgetClass } from "./widget.ts";

/** Properties of a {@link Checkbox}. */
export interface CheckboxProps extends DescriptionProps<CheckboxStyle> {
  /** Checked or not. */
  value: boolean;
  /** Whether the user can change it. */
  disabled: boolean;
  /** Whether the box is indented to line up with described controls. */
  indent: boolean;
}

/** A checkbox; see the module docs. */
export class Checkbox extends widgetClass<CheckboxProps>(controlsModel("Checkbox"), {
  ...descriptionTraits(CheckboxStyle, () => new CheckboxStyle()),
  value: bool(false),
  disabled: bool(false),
  indent: bool(true),
}) {}
