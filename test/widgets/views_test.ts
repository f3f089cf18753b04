/**
 * The analysis views' widgets: the progress view's Stop button and learning-rate override (with a
 * real Trainer: a click from the front end stops fit(), an edited rate is used from the next step),
 * and the ablation explorer (a dropdown change redraws the chart).
 */
import assert from "node:assert/strict";
import * as aq from "arquero";
import * as tf from "@tensorflow/tfjs";
import {
  ablationExplorer,
  type DisplayTransport,
  JUPYTER_DISPLAY,
  PLOTLY_MIME,
  ProgressView,
} from "../../lib/analysis/mod.ts";
import { initBackend } from "../../lib/backend/mod.ts";
import { customDistiller, type LossResult } from "../../lib/distill/custom.ts";
import { type EpochRecord, type StepInfo, Trainer } from "../../lib/train/trainer.ts";
import { WIDGET_VIEW_MIME } from "../../lib/widgets/mod.ts";
import { TinyNet, type TinyOutput, ToyData } from "../train/tiny_model.ts";
import { captureStderr, type RecordingTransport, withTransport } from "./recording_transport.ts";

await initBackend("cpu");

function tinyTrainer(
  onStep: (s: StepInfo) => void,
  onEpoch: (r: EpochRecord) => void = () => {},
): Trainer {
  return new Trainer({
    distiller: customDistiller({
      model: new TinyNet({ seed: 1, classes: 4, student: false }),
      loss: (out: TinyOutput, y: tf.Tensor1D): LossResult => {
        const l = tf.losses.softmaxCrossEntropy(tf.oneHot(y, 4), out.teacher.logits) as tf.Scalar;
        return { total: l, terms: { ce: l } };
      },
      heads: (out) => ({ teacher: out.teacher.logits }),
    }),
    data: new ToyData(32, 8, 4, 3),
    optimizer: { momentum: 0.9 },
    schedule: { kind: "multistep", baseLr: 0.05, epochs: 2, milestones: [] },
    onStep,
    onEpoch,
  });
}

/** A display transport recording what is shown: the MIME bundle of each display/update. */
function recordingDisplay() {
  const shown: { kind: string; bundle: Record<string, unknown> }[] = [];
  const bundle = (v: unknown) =>
    (v as Record<symbol, () => Record<string, unknown>>)[JUPYTER_DISPLAY]();
  const transport: DisplayTransport = {
    display: (v) => void shown.push({ kind: "display", bundle: bundle(v) }),
    update: (_id, v) => void shown.push({ kind: "update", bundle: bundle(v) }),
  };
  return { shown, transport };
}

const state = (t: RecordingTransport, id: string) =>
  t.comm(id).openData.state as Record<string, unknown>;

Deno.test("ProgressView.control: the controls show above the view; a front-end Stop click stops fit() after the step", async () => {
  await withTransport(async (t) => {
    const { shown, transport } = recordingDisplay();
    const view = new ProgressView({ epochs: 2, updateEveryMs: 0, transport });
    const trainer: Trainer = tinyTrainer((s) => {
      view.onStep(s);
      // The user clicks Stop during step 3; the click arrives while fit() awaits.
      if (s.globalStep === 3) {
        setTimeout(
          () => t.comm(c.stop.modelId).deliver({ method: "custom", content: { event: "click" } }),
          0,
        );
      }
    }, view.onEpoch);
    const c = view.control(trainer);
    assert.deepEqual(
      state(t, c.box.modelId).children,
      [c.stop, c.lr, c.override].map((w) => `IPY_MODEL_${w.modelId}`),
    );
    assert.equal(state(t, c.stop.modelId).button_style, "danger");
    assert.equal(state(t, c.lr.modelId).value, 0.05, "the rate before the first step");
    await trainer.fit();
    assert.equal(trainer.stopped, true);
    assert.equal(trainer.globalStep, 3);
    // The controls' box is displayed first, then the view (the same display, updated in place).
    assert.deepEqual(shown[0].bundle[WIDGET_VIEW_MIME], {
      model_id: c.box.modelId,
      version_major: 2,
      version_minor: 0,
    });
    assert.equal(shown[1].kind, "display");
    assert.ok(String(shown[1].bundle["text/html"]).includes("teskd-progress"));
    const stopComm = t.comm(c.stop.modelId);
    assert.deepEqual(stopComm.messages("update").map((m) => m.data.state), [
      { description: "Stopping…", disabled: true },
    ]);
    view.finish();
    assert.equal(c.stop.description, "Stopped");
    // fit() again: the button comes back, the run goes on to its end.
    await trainer.fit();
    assert.equal(trainer.stopped, false);
    assert.equal(trainer.globalStep, 8);
    assert.equal(c.stop.disabled, false);
    assert.equal(c.stop.description, "Stop");
    trainer.optimizer.dispose();
    trainer.model.dispose();
  });
});

Deno.test("ProgressView.control: an lr typed in the front end overrides the schedule from the next step", async () => {
  await withTransport(async (t) => {
    const { transport } = recordingDisplay();
    const view = new ProgressView({ epochs: 2, updateEveryMs: 0, transport });
    const lrs: number[] = [];
    const trainer = tinyTrainer((s) => {
      view.onStep(s);
      lrs.push(s.lr);
      if (s.globalStep === 2) {
        t.comm(c.lr.modelId).deliver({ method: "update", state: { value: 0.3 }, buffer_paths: [] });
      }
      if (s.globalStep === 5) {
        t.comm(c.override.modelId).deliver({
          method: "update",
          state: { value: false },
          buffer_paths: [],
        });
      }
    }, view.onEpoch);
    const c = view.control(trainer);
    await trainer.fit();
    assert.deepEqual(lrs, [0.05, 0.05, 0.3, 0.3, 0.3, 0.05, 0.05, 0.05]);
    // Typing a rate checked "override schedule" in the front end.
    assert.deepEqual(t.comm(c.override.modelId).messages("update")[0].data.state, { value: true });
    assert.equal(c.override.value, false);
    assert.equal(trainer.learningRateOverride, undefined);
    // A refused rate (negative) is reported and the schedule stays.
    const err = await captureStderr(() => {
      t.comm(c.lr.modelId).deliver({ method: "update", state: { value: -1 }, buffer_paths: [] });
    });
    assert.match(err, /setting the learning rate failed: RangeError/);
    assert.equal(c.override.value, false);
    assert.equal(trainer.learningRateOverride, undefined);
    trainer.optimizer.dispose();
    trainer.model.dispose();
  });
});

Deno.test("ProgressView.control headless: nothing shown or printed; the controls still drive the trainer", async () => {
  let trainer!: Trainer;
  const printed = await captureStderr(async () => {
    const view = new ProgressView({ epochs: 2, transport: "stderr", printEveryMs: 1e9 });
    trainer = tinyTrainer((s) => {
      view.onStep(s);
      if (s.globalStep === 2) c.stop.click();
    }, view.onEpoch);
    const c = view.control(trainer);
    assert.equal(c.box.isOpen, false);
    await trainer.fit();
  });
  const lines = printed.split("\n").filter((l) => l !== "");
  assert.equal(trainer.globalStep, 2);
  assert.equal(trainer.stopped, true);
  // Headless output is the view's own progress lines only (the first step line), as before.
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^epoch 1\/2 step 1\/4/);
  trainer.optimizer.dispose();
  trainer.model.dispose();
});

function ablationTableFixture() {
  return aq.table({
    id: ["a", "b", "c", "d"],
    "method.kd": [0, 0, 0.8, 0.8],
    "method.temperature": [2, 4, 2, 4],
    state: ["finished", "finished", "finished", "finished"],
    final_top1: [50, 52, 60, 64],
    best_top1: [51, 53, 61, 66],
  });
}

Deno.test("ablationExplorer: dropdowns of factors and metrics; a change redraws the chart in the Output widget", async () => {
  await withTransport((t) => {
    const table = ablationTableFixture();
    const ex = ablationExplorer(table);
    assert.deepEqual(ex.factor.options, ["method.kd", "method.temperature"]);
    assert.deepEqual(ex.metric.options, ["final_top1", "best_top1"]);
    const chartOf = () => {
      const out = ex.chart.outputs[0] as { data: Record<string, unknown> };
      return out.data[PLOTLY_MIME] as { data: { x: string[]; y: number[]; name: string }[] };
    };
    assert.deepEqual(chartOf().data[0].x, ["0", "0.8"]);
    assert.deepEqual(chartOf().data[0].y, [51, 62]);
    const chartComm = t.comm(ex.chart.modelId);
    // The user picks the other metric, then the other factor, then a series.
    t.comm(ex.metric.modelId).deliver({ method: "update", state: { index: 1 }, buffer_paths: [] });
    assert.deepEqual(chartOf().data[0].y, [52, 63.5]);
    t.comm(ex.factor.modelId).deliver({ method: "update", state: { index: 1 }, buffer_paths: [] });
    assert.deepEqual(chartOf().data[0].x, ["2", "4"]);
    assert.deepEqual(chartOf().data[0].y, [56, 59.5]);
    t.comm(ex.series.modelId).deliver({ method: "update", state: { index: 1 }, buffer_paths: [] });
    assert.deepEqual(chartOf().data.map((d) => d.name), ["method.kd=0", "method.kd=0.8"]);
    const updates = chartComm.messages("update");
    assert.equal(updates.length, 3, "one outputs update per change");
    assert.ok(updates.every((m) => Object.keys(m.data.state as object).join() === "outputs"));
    // Displayed: the VBox of the dropdowns' row and the chart.
    const bundle = ex[JUPYTER_DISPLAY]();
    assert.equal((bundle[WIDGET_VIEW_MIME] as { model_id: string }).model_id, ex.widget.modelId);
    const children = state(t, ex.widget.modelId).children as string[];
    assert.equal(children[1], `IPY_MODEL_${ex.chart.modelId}`);
    assert.throws(() => ablationExplorer(table, { metrics: ["nope"] }), /no column "nope"/);
  });
});

Deno.test("ablationExplorer headless: displays as the chart of the current selection", () => {
  const ex = ablationExplorer(ablationTableFixture(), { factor: "method.temperature" });
  const bundle = ex[JUPYTER_DISPLAY]();
  assert.equal(bundle[WIDGET_VIEW_MIME], undefined);
  const fig = bundle[PLOTLY_MIME] as { data: { x: string[] }[] };
  assert.deepEqual(fig.data[0].x, ["2", "4"]);
  ex.metric.value = "best_top1";
  assert.deepEqual(
    ((ex[JUPYTER_DISPLAY]()[PLOTLY_MIME]) as { data: { y: number[] }[] }).data[0].y,
    [56, 59.5],
  );
});
