/**
 * The live controls of a training progress view: a Stop button (the run stops after the current
 * step and `fit()` can continue it) and a learning-rate field with an "override" checkbox (the rate
 * is used from the next step on instead of the schedule's; unchecked, the field follows the
 * schedule). They are widgets (lib/widgets), so the front end sends the user's clicks and edits
 * back to the kernel, which handles them while `fit()` awaits between steps.
 *
 * @example
 * ```ts
 * const view = new ProgressView({ epochs: 200 });
 * const trainer = new Trainer({ ...opts, onStep: view.onStep, onEpoch: view.onEpoch });
 * view.control(trainer); // Stop and lr controls above the view
 * await trainer.fit();
 * ```
 *
 * @module
 */
import { Button, Checkbox, FloatText, HBox, Layout } from "../widgets/mod.ts";
import { reportError } from "../widgets/report.ts";

/** What the controls drive: the {@link Trainer}'s live controls (any object with them). */
export interface ControllableTrainer {
  /** Asks the running fit() to stop after the current step; false when not running. */
  requestStop(): boolean;
  /** Overrides the learning rate from the next step on (undefined: the schedule's). */
  setLearningRate(lr: number | undefined): void;
  /** Whether fit() is running. */
  readonly running: boolean;
  /** Whether a stop was requested and not yet honoured. */
  readonly stopRequested: boolean;
  /** The override, if any. */
  readonly learningRateOverride: number | undefined;
  /** The optimizer, whose `lr` is the rate of the last step (the base rate before any). */
  readonly optimizer: { readonly lr: number };
}

/** The widgets of a progress view's controls; see the module docs. */
export class ProgressControls {
  /** Stops the run after the current step. */
  readonly stop: Button;
  /** The learning rate: the schedule's, or the override. */
  readonly lr: FloatText;
  /** Whether `lr` overrides the schedule. */
  readonly override: Checkbox;
  /** The three in a row: what the view displays. */
  readonly box: HBox;
  readonly #trainer: ControllableTrainer;
  /** True while the view itself writes `lr` (the schedule's rate), so it is not taken as an edit. */
  #following = false;

  /** Controls wired to `trainer`. */
  constructor(trainer: ControllableTrainer) {
    this.#trainer = trainer;
    const override = trainer.learningRateOverride;
    this.stop = new Button({
      description: "Stop",
      buttonStyle: "danger",
      icon: "stop",
      tooltip: "Stop after the current step; fit() again continues the run",
    });
    this.lr = new FloatText({
      value: override ?? trainer.optimizer.lr,
      description: "lr",
      layout: new Layout({ width: "180px" }),
    });
    this.override = new Checkbox({
      value: override !== undefined,
      description: "override schedule",
      indent: false,
    });
    this.box = new HBox({ children: [this.stop, this.lr, this.override] });
    this.stop.onClick(() => this.#onStop());
    this.lr.observe("value", ({ new: v }) => this.#onLr(v));
    this.override.observe("value", ({ new: on }) => this.#onOverride(on));
  }

  /**
   * Follows a step of the run: shows the schedule's rate while not overriding, and re-enables the
   * Stop button once a new `fit()` runs after a stop.
   */
  step(lr: number): void {
    if (!this.override.value && this.lr.value !== lr) {
      this.#following = true;
      try {
        this.lr.value = lr;
      } finally {
        this.#following = false;
      }
    }
    if (this.stop.disabled && this.#trainer.running && !this.#trainer.stopRequested) {
      this.stop.set({ disabled: false, description: "Stop" });
    }
  }

  /** Marks the run as ended (after `fit()` returned). */
  finish(): void {
    if (this.stop.disabled) this.stop.description = "Stopped";
  }

  #onStop(): void {
    if (this.#trainer.requestStop()) {
      this.stop.set({ disabled: true, description: "Stopping…" });
    }
  }

  #onLr(v: number): void {
    if (this.#following) return;
    if (!this.override.value) {
      this.override.value = true; // typing a rate means using it; the checkbox's observer applies it
      return;
    }
    this.#apply(v);
  }

  #onOverride(on: boolean): void {
    if (on) this.#apply(this.lr.value);
    else this.#trainer.setLearningRate(undefined);
  }

  #apply(v: number): void {
    try {
      this.#trainer.setLearningRate(v);
    } catch (e) {
      reportError("setting the learning rate", e);
      this.override.value = false; // the schedule goes on; the checkbox says so
    }
  }
}
