/**
 * Boxes: Box, HBox and VBox (`BoxModel`, `HBoxModel`, `VBoxModel`) lay out their children (other
 * widgets, referred to as "IPY_MODEL_<id>") in a flex box, in a row for HBox, a column for VBox.
 *
 * @example
 * ```ts
 * const row = new HBox({ children: [stopButton, lrField] });
 * row.children = [...row.children, new HTML({ value: "…" })];
 * ```
 *
 * @module
 */
import { type DOMProps, domTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { oneOf } from "./traits.ts";
import { refList, type Widget, widgetClass } from "./widget.ts";

/** Predefined looks of a box ("" plain). */
export type BoxStyleName = "success" | "info" | "warning" | "danger" | "";

/** Properties of the boxes. */
export interface BoxProps extends DOMProps {
  /** The widgets in the box, in order. */
  children: readonly Widget[];
  /** Predefined look. */
  boxStyle: BoxStyleName;
}

function boxTraits() {
  return {
    ...domTraits(),
    children: refList(),
    boxStyle: oneOf<BoxStyleName>(["success", "info", "warning", "danger", ""], ""),
  };
}

/** A flex box of widgets; see the module docs. */
export class Box extends widgetClass<BoxProps>(controlsModel("Box"), boxTraits()) {}

/** Widgets in a row; see the module docs. */
export class HBox extends widgetClass<BoxProps>(controlsModel("HBox"), boxTraits()) {}

/** Widgets in a column; see the module docs. */
export class VBox extends widgetClass<BoxProps>(controlsModel("VBox"), boxTraits()) {}
