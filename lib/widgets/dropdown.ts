/**
 * Dropdown (`DropdownModel`): one of a list of options. As in ipywidgets 8, only the selected
 * `index` and the labels (`_options_labels`) are synced; `options`, `value` and `label` live in
 * the kernel and follow `index` (and it them): setting any of the three sets the others, and a
 * selection in the front end sets all three. Options are values (labelled by their text) or
 * `[label, value]` pairs; a new list of options selects its first (none if empty, or if nothing was
 * selected).
 *
 * @example
 * ```ts
 * const metric = new Dropdown({ options: ["final_top1", "best_top1"], description: "metric" });
 * metric.observe("value", ({ new: m }) => redraw(m));
 * const lr = new Dropdown<number>({ options: [["0.1", 0.1], ["0.01", 0.01]], value: 0.01 });
 * lr.index; // 1
 * ```
 *
 * @module
 */
import { type DescriptionProps, descriptionTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { DescriptionStyle } from "./style.ts";
import { any, bool, int, nullable, str, strList, type TraitDef } from "./traits.ts";
import { sameValue, widgetClass } from "./widget.ts";

/** An option: a value (labelled by its text) or a `[label, value]` pair. */
export type DropdownOption<V> = V | readonly [label: string, value: V];

/** Properties of a {@link Dropdown} with values of type `V`. */
export interface DropdownProps<V = unknown> extends DescriptionProps<DescriptionStyle> {
  /** The options (kernel-only). */
  options: readonly DropdownOption<V>[];
  /** The selected value, null when none (kernel-only). */
  value: V | null;
  /** The selected label, null when none (kernel-only). */
  label: string | null;
  /** The selected index, null when none (synced as `index`). */
  index: number | null;
  /** The labels of the options (synced as `_options_labels`; set through `options`). */
  readonly optionsLabels: readonly string[];
  /** Whether the user can change the selection. */
  disabled: boolean;
}

/** Labels and values of a list of options (all pairs, or else all values), as ipywidgets reads it. */
export function optionPairs<V>(options: readonly DropdownOption<V>[]): [string, V][] {
  const pairs = options.length > 0 &&
    options.every((o) => Array.isArray(o) && o.length === 2);
  return options.map((o) =>
    pairs ? [String((o as [string, V])[0]), (o as [string, V])[1]] : [String(o), o as V]
  );
}

const optionsTrait: TraitDef<readonly DropdownOption<unknown>[]> = {
  default: () => Object.freeze([]),
  coerce: (v, name) => {
    if (!Array.isArray(v)) throw new TypeError(`${name} must be a list of options`);
    return Object.freeze([...v]);
  },
  wire: null,
  repr: true,
};

// One base for every value type: the traits are the same, only the accessors' types differ.
const DropdownBase = widgetClass<DropdownProps<unknown>>(controlsModel("Dropdown"), {
  ...descriptionTraits(DescriptionStyle, () => new DescriptionStyle()),
  options: optionsTrait,
  value: any<unknown>(null),
  label: { ...nullable(str()), wire: null },
  index: nullable(int(0)),
  optionsLabels: { ...strList(), wire: "_options_labels", readOnly: true },
  disabled: bool(false),
});

/** Options of a {@link Dropdown}'s constructor. */
export type DropdownOptions<V> = Partial<Omit<DropdownProps<V>, "optionsLabels">>;

/** A dropdown list; see the module docs. */
export class Dropdown<V = string> extends DropdownBase {
  /** The options (kernel-only). */
  declare options: readonly DropdownOption<V>[];
  /** The selected value, null when none. */
  declare value: V | null;

  /** A dropdown; without `index`, `value` or `label` the first option is selected. */
  constructor(opts: DropdownOptions<V> = {}) {
    const chosen = opts.index !== undefined || opts.value !== undefined ||
      opts.label !== undefined;
    super(
      chosen || !opts.options
        ? opts as DropdownOptions<unknown>
        : { ...opts, index: opts.options.length > 0 ? 0 : null } as DropdownOptions<unknown>,
    );
  }

  protected override validate(
    p: Partial<DropdownProps<unknown>>,
  ): Partial<DropdownProps<unknown>> {
    const touched = ["options", "index", "value", "label"].some((k) => k in p);
    if (!touched) return p;
    const pairs = optionPairs(p.options ?? this.get("options"));
    const labels = pairs.map(([l]) => l);
    const current = this.get("index");
    let index: number | null;
    if (p.index !== undefined) {
      index = p.index;
      if (index !== null && !(index >= 0 && index < pairs.length)) {
        throw new RangeError(`Dropdown: index ${index} is out of range (${pairs.length} options)`);
      }
    } else if (p.value !== undefined) {
      index = p.value === null ? null : pairs.findIndex(([, v]) => sameValue(v, p.value));
      if (index === -1) throw new RangeError(`Dropdown: value ${String(p.value)} is not an option`);
    } else if (p.label !== undefined) {
      index = p.label === null ? null : labels.indexOf(p.label);
      if (index === -1) throw new RangeError(`Dropdown: label "${p.label}" is not an option`);
    } else {
      // New options: the first is selected, unless nothing was.
      index = current === null || pairs.length === 0 ? null : 0;
    }
    return {
      ...p,
      ...(p.options !== undefined ? { optionsLabels: Object.freeze(labels) } : {}),
      index,
      value: index === null ? null : pairs[index][1],
      label: index === null ? null : pairs[index][0],
    };
  }
}
