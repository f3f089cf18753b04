/**
 * Two-way widgets for the teskd kernel, speaking the Jupyter widget protocol as ipywidgets 8 does
 * (protocol 2.1.0; models of `@jupyter-widgets/controls` 2.0.0, `@jupyter-widgets/base` 2.0.0,
 * `@jupyter-widgets/output` 1.0.0), so JupyterLab's and VS Code's own widget managers render them
 * and send the user's changes back: Button, IntSlider, FloatSlider, Dropdown, Checkbox, Text,
 * FloatText, IntProgress, FloatProgress, HTML, Image, Output, Box, HBox, VBox, with their Layout and
 * style models. Properties are typed and camelCase (`buttonStyle` is `button_style` on the wire).
 * Outside the kernel (no comm transport) widgets work in memory and show nothing.
 *
 * @example
 * ```ts
 * import { Button, IntSlider, VBox } from "teskd";
 * const b = new Button({ description: "Stop", buttonStyle: "danger" });
 * b.onClick(() => console.log("clicked"));
 * const s = new IntSlider({ value: 3, min: 0, max: 10, description: "k" });
 * s.observe("value", (change) => console.log(change.old, change.new));
 * new VBox({ children: [b, s] }); // last expression of a cell: the widgets show
 * ```
 *
 * @module
 */
export {
  type Change,
  type CustomHandler,
  type Observer,
  openWidgets,
  ref,
  refList,
  sameValue,
  Widget,
  widgetById,
  type WidgetClass,
  widgetClass,
} from "./widget.ts";
export { type TraitDef, type Traits } from "./traits.ts";
/** Trait builders for custom widget classes (`traits.int(0)`, `traits.str()`, …). */
export * as traits from "./traits.ts";
export {
  BASE_MODULE,
  BASE_VERSION,
  CONTROL_TARGET,
  CONTROLS_MODULE,
  CONTROLS_VERSION,
  controlsModel,
  MODEL_REF_PREFIX,
  type ModelSpec,
  OUTPUT_MODULE,
  OUTPUT_VERSION,
  PROTOCOL_VERSION,
  styleModel,
  WIDGET_TARGET,
  WIDGET_VIEW_MIME,
} from "./protocol.ts";
export { type BufferPath, putBuffers, removeBuffers } from "./buffers.ts";
export { Layout, type LayoutProps } from "./layout.ts";
export * from "./style.ts";
export { type DescriptionProps, descriptionTraits, type DOMProps, domTraits } from "./dom.ts";
export * from "./button.ts";
export * from "./slider.ts";
export * from "./progress.ts";
export * from "./dropdown.ts";
export * from "./checkbox.ts";
export { FloatText, type FloatTextProps, Text, type TextProps } from "./text.ts";
export * from "./html.ts";
export * from "./image.ts";
export * from "./output.ts";
export * from "./box.ts";
