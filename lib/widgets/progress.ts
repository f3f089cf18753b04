/**
 * Progress bars: IntProgress and FloatProgress (`IntProgressModel`, `FloatProgressModel`), a value
 * within `[min, max]` shown as a bar.
 *
 * @example
 * ```ts
 * const bar = new IntProgress({ max: 200, description: "epochs" });
 * bar.value += 1;
 * ```
 *
 * @module
 */
import { clampBounded } from "./bounded.ts";
import { type DescriptionProps, descriptionTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { ProgressStyle } from "./style.ts";
import { float, int, nullable, oneOf, type TraitDef } from "./traits.ts";
import { widgetClass } from "./widget.ts";

/** Predefined looks of a progress bar ("" plain). */
export type BarStyleName = "success" | "info" | "warning" | "danger" | "";

/** Properties of the progress bars. */
export interface ProgressProps<Bar> extends DescriptionProps<ProgressStyle> {
  /** The value, within `[min, max]` (clamped). */
  value: number;
  /** Least value. */
  min: number;
  /** Greatest value. */
  max: number;
  /** "horizontal" or "vertical". */
  orientation: "horizontal" | "vertical";
  /** Predefined look. */
  barStyle: Bar;
}

/** Properties of an {@link IntProgress}. */
export type IntProgressProps = ProgressProps<BarStyleName>;
/** Properties of a {@link FloatProgress} (its bar style may be null, as in ipywidgets). */
export type FloatProgressProps = ProgressProps<BarStyleName | null>;

const BAR_STYLES: BarStyleName[] = ["success", "info", "warning", "danger", ""];

function progressTraits() {
  return {
    ...descriptionTraits(ProgressStyle, () => new ProgressStyle()),
    orientation: oneOf(["horizontal", "vertical"], "horizontal"),
  };
}

/** An integer progress bar; see the module docs. */
export class IntProgress extends widgetClass<IntProgressProps>(
  controlsModel("IntProgress", "Progress"),
  {
    ...progressTraits(),
    value: int(0),
    min: int(0),
    max: int(100),
    barStyle: oneOf(BAR_STYLES, ""),
  },
) {
  protected override validate(p: Partial<IntProgressProps>): Partial<IntProgressProps> {
    return clampBounded(p, {
      value: this.get("value"),
      min: this.get("min"),
      max: this.get("max"),
    });
  }
}

/** A float progress bar; see the module docs. */
export class FloatProgress extends widgetClass<FloatProgressProps>(
  controlsModel("FloatProgress", "Progress"),
  {
    ...progressTraits(),
    value: float(0),
    min: float(0),
    max: float(100),
    barStyle: nullable(oneOf(BAR_STYLES, ""), "") as TraitDef<BarStyleName | null>,
  },
) {
  protected override validate(p: Partial<FloatProgressProps>): Partial<FloatProgressProps> {
    return clampBounded(p, {
      value: this.get("value"),
      min: this.get("min"),
      max: this.get("max"),
    });
  }
}
