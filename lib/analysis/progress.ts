/**
 * A live training view that follows the trainer's callbacks, for any method. In the teskd kernel it
 * shows ONE display and updates it in place (through the kernel's display transport, see
 * display.ts): epoch and step, each loss term, the accuracy of every head (the deployed one marked:
 * TESKD's teacher, a KD student, the baseline's model), learning rate, images/s, time left and small
 * loss/accuracy curves. Headless (no kernel), it prints the same progress lines to stderr.
 *
 * With {@link ProgressView.control}, the view also shows live controls of the trainer above it
 * (progress_controls.ts): a Stop button and a learning-rate override, as widgets.
 *
 * @example
 * ```ts
 * const view = new ProgressView({ epochs: 200 });
 * const trainer = new Trainer({ ...opts, onStep: view.onStep, onEpoch: view.onEpoch });
 * view.control(trainer);
 * await trainer.fit(); // Stop: returns after the current step; fit() again continues
 * view.finish();
 * ```
 *
 * @module
 */
import type { EpochRecord, StepInfo } from "../train/trainer.ts";
import {
  asciiHtml,
  type DisplayTransport,
  escapeXml,
  formatDuration,
  formatNumber,
  JUPYTER_DISPLAY,
  kernelDisplay,
  type MimeBundle,
} from "./display.ts";
import { BoundedSeries, sparkline } from "./sparkline.ts";
import { type ControllableTrainer, ProgressControls } from "./progress_controls.ts";

/** Options of {@link ProgressView}. */
export interface ProgressViewOptions {
  /** Epochs the run will have in all (for "epoch 3/200" and the time left). */
  epochs?: number;
  /** Title shown above the view. Default "training". */
  title?: string;
  /** Least time between two in-place updates of the display, ms (epoch ends always update). Default 250. */
  updateEveryMs?: number;
  /** Least time between two step lines on stderr when headless, ms (epoch lines always print). Default 10000. */
  printEveryMs?: number;
  /** Display id to use. Default a fresh one. */
  id?: string;
  /** Where the view goes; default the kernel's transport when there is one, else stderr. */
  transport?: DisplayTransport | "stderr";
}

let viewCounter = 0;

/** Follows a trainer's `onStep`/`onEpoch` and shows the run's progress; see the module docs. */
export class ProgressView {
  /** The display id this view updates. */
  readonly id: string;
  /** Pass as the trainer's `onStep`. */
  readonly onStep: (info: StepInfo) => void;
  /** Pass as the trainer's `onEpoch`. */
  readonly onEpoch: (record: EpochRecord) => void;
  readonly #opts: ProgressViewOptions;
  #transport: DisplayTransport | "stderr" | undefined;
  #shown = false;
  #lastUpdate = -Infinity;
  #lastPrint = -Infinity;
  #start: number | undefined;
  #stepsSeen = 0;
  #step: StepInfo | undefined;
  #records: EpochRecord[] = [];
  readonly #loss = new BoundedSeries(256);
  #controls: ProgressControls | undefined;

  /**
   * A view with nothing shown yet: the first step or epoch shows it.
   *
   * @param opts total epochs, title, update rates, transport
   */
  constructor(opts: ProgressViewOptions = {}) {
    if (opts.epochs !== undefined && (!Number.isInteger(opts.epochs) || opts.epochs < 1)) {
      throw new RangeError(`ProgressView: epochs must be a positive integer, got ${opts.epochs}`);
    }
    this.#opts = opts;
    this.id = opts.id ?? `teskd-progress-${++viewCounter}-${crypto.randomUUID()}`;
    this.#transport = opts.transport;
    this.onStep = (info) => this.#onStep(info);
    this.onEpoch = (record) => this.#onEpoch(record);
  }

  /** The epoch records seen so far. */
  get records(): readonly EpochRecord[] {
    return this.#records;
  }

  /** The live controls, once {@link control} made them. */
  get controls(): ProgressControls | undefined {
    return this.#controls;
  }

  /**
   * Adds live controls of `trainer` (a Stop button, a learning-rate override; see
   * progress_controls.ts), shown above the view in the kernel when called before the first step
   * (after it, below the view, at once). Headless they are made and wired but nothing is shown or
   * printed.
   *
   * @returns the controls (their widgets, e.g. to display them elsewhere)
   */
  control(trainer: ControllableTrainer): ProgressControls {
    if (this.#controls) throw new Error("ProgressView.control: the view already has controls");
    const controls = new ProgressControls(trainer);
    this.#controls = controls;
    const t = this.#sink();
    if (this.#shown && t !== "stderr") t.display(controls.box);
    return controls;
  }

  #now(): number {
    return performance.now();
  }

  #onStep(info: StepInfo): void {
    this.#start ??= this.#now();
    this.#stepsSeen++;
    this.#step = info;
    this.#loss.push(info.loss);
    const now = this.#now();
    if (this.#sink() === "stderr") {
      if (now - this.#lastPrint >= (this.#opts.printEveryMs ?? 10_000)) {
        this.#lastPrint = now;
        this.#print(this.stepLine());
      }
    } else if (now - this.#lastUpdate >= (this.#opts.updateEveryMs ?? 250)) {
      this.#show();
    }
  }

  #onEpoch(record: EpochRecord): void {
    this.#start ??= this.#now();
    this.#records.push(record);
    if (this.#sink() === "stderr") this.#print(this.epochLine(record));
    else this.#show();
  }

  /** Shows the final state now (e.g. after `fit()` returns or is interrupted). */
  finish(): void {
    this.#controls?.finish();
    if (this.#sink() === "stderr") {
      const last = this.#records.at(-1);
      this.#print(last ? this.epochLine(last) : this.stepLine());
    } else this.#show();
  }

  #sink(): DisplayTransport | "stderr" {
    this.#transport ??= kernelDisplay() ?? "stderr";
    return this.#transport;
  }

  #show(): void {
    const t = this.#sink();
    if (t === "stderr") return;
    this.#lastUpdate = this.#now();
    // The controls follow the run at the display's rate (a per-step schedule changes lr each step).
    if (this.#controls && this.#step) this.#controls.step(this.#step.lr);
    if (this.#shown) t.update(this.id, this);
    else {
      this.#shown = true;
      if (this.#controls) t.display(this.#controls.box);
      t.display(this, { id: this.id });
    }
  }

  #print(line: string): void {
    Deno.stderr.writeSync(new TextEncoder().encode(`${line}\n`));
  }

  /** "epoch 3/200" (1-based). */
  #epochText(epoch: number): string {
    return `epoch ${epoch + 1}${this.#opts.epochs ? `/${this.#opts.epochs}` : ""}`;
  }

  /** Estimated seconds left, when the total number of epochs is known. */
  timeLeft(): number | undefined {
    const epochs = this.#opts.epochs;
    if (!epochs || this.#start === undefined) return undefined;
    const recs = this.#records;
    const s = this.#step;
    const bpe = s?.batchesPerEpoch;
    const doneEpochs = recs.length ? recs[recs.length - 1].epoch + 1 : 0;
    const evalPer = recs.length ? recs.reduce((a, r) => a + r.evalSeconds, 0) / recs.length : 0;
    if (recs.length) {
      const per = recs.reduce((a, r) => a + r.trainSeconds + r.evalSeconds, 0) / recs.length;
      let left = (epochs - doneEpochs) * per;
      if (s && s.epoch >= doneEpochs && bpe) left -= ((s.step + 1) / bpe) * (per - evalPer);
      return Math.max(0, left);
    }
    if (!s || !bpe) return undefined;
    const elapsed = (this.#now() - this.#start) / 1000;
    const perStep = elapsed / this.#stepsSeen;
    return Math.max(0, ((epochs - s.epoch) * bpe - (s.step + 1)) * perStep);
  }

  /** The headless line of the latest step. */
  stepLine(): string {
    const s = this.#step;
    if (!s) return "no step yet";
    const terms = Object.entries(s.terms).map(([k, v]) => `${k} ${formatNumber(v)}`).join(", ");
    const left = this.timeLeft();
    return `${this.#epochText(s.epoch)} step ${s.step + 1}${
      s.batchesPerEpoch ? `/${s.batchesPerEpoch}` : ""
    } loss ${formatNumber(s.loss)}${terms ? ` (${terms})` : ""} lr ${formatNumber(s.lr)} ` +
      `${Math.round(s.imagesPerSecond)} img/s${
        left !== undefined ? ` left ${formatDuration(left)}` : ""
      }`;
  }

  /** The headless line of an epoch record. */
  epochLine(r: EpochRecord): string {
    const terms = Object.entries(r.terms).map(([k, v]) => `${k} ${formatNumber(v)}`).join(", ");
    const acc = Object.entries(r.eval).map(([h, a]) => `${h} ${a.top1.toFixed(2)}`).join(", ");
    const left = this.timeLeft();
    return `${this.#epochText(r.epoch)} done: loss ${formatNumber(r.loss)}${
      terms ? ` (${terms})` : ""
    }${acc ? ` top-1 ${acc}` : ""} lr ${formatNumber(r.lr)} ${
      Math.round(r.imagesPerSecond)
    } img/s ` +
      `time ${formatDuration(r.trainSeconds + r.evalSeconds)}${
        left !== undefined ? ` left ${formatDuration(left)}` : ""
      }`;
  }

  /** The progress as text (the lines printed headless). */
  toString(): string {
    const last = this.#records.at(-1);
    const lines = [this.#opts.title ?? "training"];
    if (this.#step) lines.push(this.stepLine());
    if (last) lines.push(this.epochLine(last));
    return lines.join("\n");
  }

  /** HTML of the view: summary table, accuracy per head, progress bar and curves. */
  toHtml(): string {
    const s = this.#step;
    const last = this.#records.at(-1);
    const epochs = this.#opts.epochs;
    const cell = (k: string, v: string) =>
      `<tr><th style="text-align:left;padding-right:12px">${escapeXml(k)}</th>` +
      `<td style="text-align:right">${escapeXml(v)}</td></tr>`;
    const rows: string[] = [];
    if (s) {
      rows.push(
        cell(
          "epoch / step",
          `${s.epoch + 1}${epochs ? `/${epochs}` : ""} · ${s.step + 1}${
            s.batchesPerEpoch ? `/${s.batchesPerEpoch}` : ""
          }`,
        ),
      );
      rows.push(cell("loss (step)", formatNumber(s.loss)));
      for (const [k, v] of Object.entries(s.terms)) rows.push(cell(`  ${k}`, formatNumber(v)));
      rows.push(cell("lr", formatNumber(s.lr)));
      rows.push(cell("images/s", String(Math.round(s.imagesPerSecond))));
    }
    if (last) rows.push(cell("loss (last epoch)", formatNumber(last.loss)));
    if (this.#start !== undefined) {
      rows.push(cell("elapsed", formatDuration((this.#now() - this.#start) / 1000)));
    }
    const left = this.timeLeft();
    if (left !== undefined) rows.push(cell("time left", formatDuration(left)));
    const heads = last ? Object.keys(last.eval) : [];
    const deployed = last?.deployedHead;
    const acc = heads.length
      ? `<table><tr><th>head</th><th>top-1</th><th>top-5</th><th>best top-1</th></tr>${
        heads.map((h) => {
          const best = Math.max(...this.#records.map((r) => r.eval[h]?.top1 ?? -Infinity));
          const name = h === deployed
            ? `<b>${escapeXml(h)}</b> <span class="teskd-deployed">(deployed)</span>`
            : escapeXml(h);
          return `<tr><td>${name}</td><td>${last!.eval[h].top1.toFixed(2)}</td><td>${
            last!.eval[h].top5.toFixed(2)
          }</td><td>${best.toFixed(2)}</td></tr>`;
        }).join("")
      }</table>`
      : "";
    const done = epochs && s?.batchesPerEpoch
      ? Math.min(1, (s.epoch + (s.step + 1) / s.batchesPerEpoch) / epochs)
      : epochs && last
      ? Math.min(1, (last.epoch + 1) / epochs)
      : undefined;
    const bar = done !== undefined
      ? `<div style="width:300px;height:8px;background:#eee;border-radius:4px;margin:4px 0">` +
        `<div style="width:${(done * 100).toFixed(1)}%;height:8px;background:#3367d6;` +
        `border-radius:4px"></div></div>`
      : "";
    const accSeries: Record<string, number[]> = {};
    for (const h of heads) accSeries[h] = this.#records.map((r) => r.eval[h]?.top1 ?? NaN);
    const curves = [
      sparkline({ loss: this.#loss.values() }, { label: "training loss (steps)" }),
      ...(this.#records.length > 0 && heads.length
        ? [sparkline(accSeries, { label: "eval top-1 (epochs)" })]
        : []),
    ].join(" ");
    return asciiHtml(
      `<div class="teskd-progress" style="font-family:sans-serif;font-size:12px">` +
        `<b>${escapeXml(this.#opts.title ?? "training")}</b>${bar}` +
        `<div style="display:flex;gap:16px;align-items:flex-start"><table>${
          rows.join("")
        }</table>` +
        `${acc}</div><div>${curves}</div></div>`,
    );
  }

  /** The display bundle: HTML and text. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return { "text/html": this.toHtml(), "text/plain": this.toString() };
  }
}
