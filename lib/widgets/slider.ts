/**
 * Sliders: IntSlider and FloatSlider (`IntSliderModel`, `FloatSliderModel`), a number dragged within
 * `[min, max]` in steps of `step`.
 *
 * @example
 * ```ts
 * const k = new IntSlider({ value: 3, min: 1, max: 10, description: "k" });
 * k.observe("value", ({ new: v }) => console.log("k =", v));
 * const t = new FloatSlider({ value: 4, min: 1, max: 20, step: 0.5, description: "T" });
 * ```
 *
 * @module
 */
import { clampBounded } from "./bounded.ts";
import { type DescriptionProps, descriptionTraits } from "./dom.ts";
import { controlsModel } from "./protocol.ts";
import { SliderStyle } from "./style.ts";
import { bool, float, int, nullable, oneOf, str } from "./traits.ts";
import { widgetClass } from "./widget.ts";

/** How a slider's handle responds to the pointer. */
export type SliderBehavior = "drag-tap" | "drag-snap" | "tap" | "drag" | "snap";

/** Properties shared by the sliders. */
export interface SliderProps<Step> extends DescriptionProps<SliderStyle> {
  /** The value, within `[min, max]` (clamped). */
  value: number;
  /** Least value. */
  min: number;
  /** Greatest value. */
  max: number;
  /** Step of the handle. */
  step: Step;
  /** "horizontal" or "vertical". */
  orientation: "horizontal" | "vertical";
  /** Whether the value is shown beside the slider. */
  readout: boolean;
  /** d3-format of the readout ("d" for integers, ".2f" for floats by default). */
  readoutFormat: string;
  /** Whether the value is sent while dragging (else on release). */
  continuousUpdate: boolean;
  /** Whether the user can change the value. */
  disabled: boolean;
  /** How the handle responds to the pointer. */
  behavior: SliderBehavior;
}

/** Properties of an {@link IntSlider}. */
export type IntSliderProps = SliderProps<number>;
/** Properties of a {@link FloatSlider} (step null: any value). */
export type FloatSliderProps = SliderProps<number | null>;

function sliderTraits() {
  return {
    ...descriptionTraits(SliderStyle, () => new SliderStyle()),
    orientation: oneOf(["horizontal", "vertical"], "horizontal"),
    readout: bool(true),
    continuousUpdate: bool(true),
    disabled: bool(false),
    behavior: oneOf(["drag-tap", "drag-snap", "tap", "drag", "snap"], "drag-tap"),
  };
}

/** An integer slider; see the module docs. */
export class IntSlider extends widgetClass<IntSliderProps>(controlsModel("IntSlider"), {
  ...sliderTraits(),
  value: int(0),
  min: int(0),
  max: int(100),
  step: int(1),
  readoutFormat: str("d"),
}) {
  protected override validate(p: Partial<IntSliderProps>): Partial<IntSliderProps> {
    return clampBounded(p, {
      value: this.get("value"),
      min: this.get("min"),
      max: this.get("max"),
    });
  }
}

/** A float slider; see the module docs. */
export class FloatSlider extends widgetClass<FloatSliderProps>(controlsModel("FloatSlider"), {
  ...sliderTraits(),
  value: float(0),
  min: float(0),
  max: float(100),
  step: nullable(float(0.1), 0.1),
  readoutFormat: str(".2f"),
}) {
  protected override validate(p: Partial<FloatSliderProps>): Partial<FloatSliderProps> {
    return clampBounded(p, {
      value: this.get("value"),
      min: this.get("min"),
      max: this.get("max"),
    });
  }
}
