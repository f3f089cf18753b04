/**
 * Layout: the CSS properties of a widget's outer element (`@jupyter-widgets/base` LayoutModel),
 * itself a widget that every DOM widget refers to from its `layout` property. Every property is
 * a CSS value or null (unset), as in ipywidgets 8; names are camelCase here (`borderTop` is
 * `border_top` on the wire).
 *
 * @example
 * ```ts
 * const b = new Button({ description: "wide", layout: new Layout({ width: "300px" }) });
 * b.layout.margin = "0 0 0 8px";
 * ```
 *
 * @module
 */
import { BASE_MODULE, BASE_VERSION } from "./protocol.ts";
import { nullable, oneOf, str, type TraitDef, type Traits } from "./traits.ts";
import { widgetClass } from "./widget.ts";

const GLOBAL = ["inherit", "initial", "unset"] as const;

/** The properties of a {@link Layout} (null: unset). */
export interface LayoutProps {
  /** `align-content`. */
  alignContent: string | null;
  /** `align-items`. */
  alignItems: string | null;
  /** `align-self`. */
  alignSelf: string | null;
  /** `border-bottom`. */
  borderBottom: string | null;
  /** `border-left`. */
  borderLeft: string | null;
  /** `border-right`. */
  borderRight: string | null;
  /** `border-top`. */
  borderTop: string | null;
  /** `bottom`. */
  bottom: string | null;
  /** `display`. */
  display: string | null;
  /** `flex`. */
  flex: string | null;
  /** `flex-flow`. */
  flexFlow: string | null;
  /** `grid-area`. */
  gridArea: string | null;
  /** `grid-auto-columns`. */
  gridAutoColumns: string | null;
  /** `grid-auto-flow`. */
  gridAutoFlow: string | null;
  /** `grid-auto-rows`. */
  gridAutoRows: string | null;
  /** `grid-column`. */
  gridColumn: string | null;
  /** `grid-gap`. */
  gridGap: string | null;
  /** `grid-row`. */
  gridRow: string | null;
  /** `grid-template-areas`. */
  gridTemplateAreas: string | null;
  /** `grid-template-columns`. */
  gridTemplateColumns: string | null;
  /** `grid-template-rows`. */
  gridTemplateRows: string | null;
  /** `height`. */
  height: string | null;
  /** `justify-content`. */
  justifyContent: string | null;
  /** `justify-items`. */
  justifyItems: string | null;
  /** `left`. */
  left: string | null;
  /** `margin`. */
  margin: string | null;
  /** `max-height`. */
  maxHeight: string | null;
  /** `max-width`. */
  maxWidth: string | null;
  /** `min-height`. */
  minHeight: string | null;
  /** `min-width`. */
  minWidth: string | null;
  /** `object-fit`. */
  objectFit: string | null;
  /** `object-position`. */
  objectPosition: string | null;
  /** `order`. */
  order: string | null;
  /** `overflow`. */
  overflow: string | null;
  /** `padding`. */
  padding: string | null;
  /** `right`. */
  right: string | null;
  /** `top`. */
  top: string | null;
  /** `visibility`. */
  visibility: string | null;
  /** `width`. */
  width: string | null;
}

/** A nullable CSS keyword among `values` (ipywidgets' CaselessStrEnum with allow_none). */
function keyword(values: readonly string[]): TraitDef<string | null> {
  return nullable(oneOf(values, values[0])) as TraitDef<string | null>;
}

const css = (): TraitDef<string | null> => nullable(str());
const flexAlign = ["flex-start", "flex-end", "center"] as const;

const LAYOUT_TRAITS: Traits<LayoutProps> = {
  alignContent: keyword([
    ...flexAlign,
    "space-between",
    "space-around",
    "space-evenly",
    "stretch",
    ...GLOBAL,
  ]),
  alignItems: keyword([...flexAlign, "baseline", "stretch", ...GLOBAL]),
  alignSelf: keyword(["auto", ...flexAlign, "baseline", "stretch", ...GLOBAL]),
  borderBottom: css(),
  borderLeft: css(),
  borderRight: css(),
  borderTop: css(),
  bottom: css(),
  display: css(),
  flex: css(),
  flexFlow: css(),
  gridArea: css(),
  gridAutoColumns: css(),
  gridAutoFlow: keyword(["column", "row", "row dense", "column dense", ...GLOBAL]),
  gridAutoRows: css(),
  gridColumn: css(),
  gridGap: css(),
  gridRow: css(),
  gridTemplateAreas: css(),
  gridTemplateColumns: css(),
  gridTemplateRows: css(),
  height: css(),
  justifyContent: keyword([...flexAlign, "space-between", "space-around", ...GLOBAL]),
  justifyItems: keyword([...flexAlign, ...GLOBAL]),
  left: css(),
  margin: css(),
  maxHeight: css(),
  maxWidth: css(),
  minHeight: css(),
  minWidth: css(),
  objectFit: keyword(["contain", "cover", "fill", "scale-down", "none"]),
  objectPosition: css(),
  order: css(),
  overflow: css(),
  padding: css(),
  right: css(),
  top: css(),
  visibility: keyword(["visible", "hidden", ...GLOBAL]),
  width: css(),
};

/** A widget's layout (`LayoutModel`); see the module docs. */
export class Layout extends widgetClass<LayoutProps>(
  {
    modelName: "LayoutModel",
    modelModule: BASE_MODULE,
    modelModuleVersion: BASE_VERSION,
    viewName: "LayoutView",
    viewModule: BASE_MODULE,
    viewModuleVersion: BASE_VERSION,
  },
  LAYOUT_TRAITS,
) {}
