/**
 * The constants of the Jupyter widget protocol as ipywidgets 8 speaks it (protocol 2.1.0): the comm
 * targets, the protocol versions, the model modules and their versions, and the view MIME type. The
 * front ends' widget managers (JupyterLab, VS Code) check these, so they are exactly ipywidgets'.
 *
 * @module
 */

/** Version sent in every widget comm_open's metadata (`{version}`); 2.1 adds `echo_update`. */
export const PROTOCOL_VERSION = "2.1.0";

/** Comm target of widget models. */
export const WIDGET_TARGET = "jupyter.widget";

/** Comm target a front end opens to fetch every model's state at once (after a page reload). */
export const CONTROL_TARGET = "jupyter.widget.control";

/** MIME type of a widget view in a display bundle. */
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** Prefix of a widget reference inside another model's state ("IPY_MODEL_<model id>"). */
export const MODEL_REF_PREFIX = "IPY_MODEL_";

/** Where a model and its view live in the front end: module names and protocol versions. */
export interface ModelSpec {
  /** `_model_name`, e.g. "IntSliderModel". */
  readonly modelName: string;
  /** `_model_module`, e.g. "@jupyter-widgets/controls". */
  readonly modelModule: string;
  /** `_model_module_version` (the module's protocol version, not its npm version). */
  readonly modelModuleVersion: string;
  /** `_view_name`, e.g. "IntSliderView". */
  readonly viewName: string;
  /** `_view_module`. */
  readonly viewModule: string;
  /** `_view_module_version`. */
  readonly viewModuleVersion: string;
}

/** `@jupyter-widgets/base`: Layout and the style view. */
export const BASE_MODULE = "@jupyter-widgets/base";
/** Protocol version of `@jupyter-widgets/base` in ipywidgets 8. */
export const BASE_VERSION = "2.0.0";
/** `@jupyter-widgets/controls`: the controls and their style models. */
export const CONTROLS_MODULE = "@jupyter-widgets/controls";
/** Protocol version of `@jupyter-widgets/controls` in ipywidgets 8. */
export const CONTROLS_VERSION = "2.0.0";
/** `@jupyter-widgets/output`: the Output widget. */
export const OUTPUT_MODULE = "@jupyter-widgets/output";
/** Protocol version of `@jupyter-widgets/output` in ipywidgets 8. */
export const OUTPUT_VERSION = "1.0.0";

/** A controls model shown by a controls view (`<name>Model` / `<view>View`). */
export function controlsModel(name: string, view: string = name): ModelSpec {
  return {
    modelName: `${name}Model`,
    modelModule: CONTROLS_MODULE,
    modelModuleVersion: CONTROLS_VERSION,
    viewName: `${view}View`,
    viewModule: CONTROLS_MODULE,
    viewModuleVersion: CONTROLS_VERSION,
  };
}

/** A controls style model, shown by the base module's StyleView. */
export function styleModel(name: string): ModelSpec {
  return {
    modelName: `${name}Model`,
    modelModule: CONTROLS_MODULE,
    modelModuleVersion: CONTROLS_VERSION,
    viewName: "StyleView",
    viewModule: BASE_MODULE,
    viewModuleVersion: BASE_VERSION,
  };
}
