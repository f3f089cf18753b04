/**
 * The properties every visible widget shares (ipywidgets' DOMWidget: `layout`, `_dom_classes`,
 * `tabbable`, `tooltip`) and those of controls with a description (DescriptionWidget:
 * `description`, `description_allow_html`, `style`), as trait tables the widget classes spread.
 *
 * @module
 */
import { Layout } from "./layout.ts";
import { bool, nullable, str, strList, type Traits } from "./traits.ts";
import { ref, type Widget } from "./widget.ts";

/** Properties of every visible widget. */
export interface DOMProps {
  /** The widget's {@link Layout} (its own widget). */
  layout: Layout;
  /** CSS classes added to the widget's element (`_dom_classes`). */
  domClasses: readonly string[];
  /** Whether the widget is reached with Tab (null: the browser's default). */
  tabbable: boolean | null;
  /** Tooltip (null: none). */
  tooltip: string | null;
}

/** The traits of {@link DOMProps}, with a fresh Layout by default. */
export function domTraits(): Traits<DOMProps> {
  return {
    layout: ref(Layout, () => new Layout()),
    domClasses: { ...strList(), wire: "_dom_classes" },
    tabbable: nullable(bool(false)),
    tooltip: nullable(str()),
  };
}

/** Properties of controls with a description, whose style is `S`. */
export interface DescriptionProps<S> extends DOMProps {
  /** Label beside the control. */
  description: string;
  /** Whether the description is HTML (else text). */
  descriptionAllowHtml: boolean;
  /** The control's style model (its own widget). */
  style: S;
}

/** The traits of {@link DescriptionProps}, with a fresh `make()` style by default. */
// deno-lint-ignore no-explicit-any
export function descriptionTraits<S extends Widget<any>>(
  // deno-lint-ignore no-explicit-any
  styleClass: abstract new (...args: any[]) => S,
  make: () => S,
): Traits<DescriptionProps<S>> {
  return {
    ...domTraits(),
    description: str(),
    descriptionAllowHtml: bool(false),
    style: ref(styleClass, make),
  };
}
