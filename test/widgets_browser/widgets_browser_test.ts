/**
 * Two-way Jupyter widgets in a real browser: headless Chromium runs JupyterLab's own widget manager
 * (@jupyter-widgets/jupyterlab-manager's `KernelWidgetManager` over @jupyterlab/services, see
 * page.ts) against a teskd kernel started through the classic Notebook server. Real clicks and key
 * presses (DevTools protocol input events) drive the widgets; cells read their effect in the
 * kernel, and kernel-side changes must show in the page. A screenshot is saved in the test's
 * temporary folder (set TESKD_KEEP_SCREENSHOT=FILE to keep a copy).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type CellResult, describe, type Harness, startHarness } from "./harness.ts";

/** The widget library, imported in the kernel. */
const IMPORTS = `import { Button, IntSlider } from "teskd";
"widgets imported"`;

/** Epochs of the training run that the Stop button stops (far more than it gets through). */
const EPOCHS = 1000;

/** A tiny TESKD run (as test/notebooks/browser_test.ts's), too long to finish unless stopped. */
const TRAINING_SETUP =
  `import { createExperiment, initBackend, ProgressView, Trainer } from "teskd";
await initBackend("cpu");
const run = await createExperiment({
  method: "teskd",
  data: { dataset: "synthetic", synthetic: { train: 64, test: 32 }, batchSize: 32, workers: 0 },
  model: { network: "cifarresnet18", widthMultiplier: 0.0625 },
  schedule: { epochs: ${EPOCHS}, milestones: [] },
});
"run ready"`;

/** Trains with the progress view's live controls (its Stop button). */
const TRAINING_RUN =
  `const view = new ProgressView({ epochs: ${EPOCHS}, title: "widgets run", updateEveryMs: 100 });
const trainer = new Trainer({ ...run.trainerOptions(), onStep: view.onStep, onEpoch: view.onEpoch });
view.control(trainer);
await trainer.fit();
view.finish();`;

/** The host node of the cell's (only) widget view. */
function hostOf(r: CellResult): string {
  assert.equal(
    r.views.length,
    1,
    `the cell displayed one widget view: ${JSON.stringify(r.outputs)}`,
  );
  return `.teskd-widget-host[data-model-id="${r.views[0]}"]`;
}

/** Waits until `selector` is in the page; fails with the page's state when the widget never renders. */
async function rendered(h: Harness, selector: string, what: string, r: CellResult): Promise<void> {
  await h.page.waitFor(
    `!!document.querySelector(${JSON.stringify(selector)})`,
    10_000,
    `the ${what} widget never rendered in the page (no ${selector})\n${describe(r, h.page)}\n` +
      `page text: ${await h.page.evaluate<string>(
        "document.getElementById('outputs').innerText.slice(-2000)",
      )}`,
  );
}

Deno.test({
  name: "widgets: JupyterLab's widget manager in Chromium drives teskd widgets both ways",
  fn: async (t) => {
    const t0 = performance.now();
    const h = await startHarness();
    try {
      assert.equal(await h.value(IMPORTS), '"widgets imported"');

      await t.step("a real click on a Button runs its kernel-side callback", async () => {
        const r = await h.cell(`let clicks = 0;
const button = new Button({ description: "go" });
button.onClick(() => clicks++);
button`);
        const sel = `${hostOf(r)} button.widget-button`;
        await rendered(h, sel, "Button", r);
        assert.equal(
          await h.page.evaluate(
            `document.querySelector(${JSON.stringify(sel)}).textContent.trim()`,
          ),
          "go",
        );
        await h.page.click(sel);
        assert.equal(await h.value("clicks"), "1", "the kernel saw one click");
      });

      let sliderHost = "";
      await t.step("arrow keys on the IntSlider's handle change the kernel's value", async () => {
        const r = await h.cell(
          `const slider = new IntSlider({ value: 3, min: 0, max: 10, description: "n" });
const observed: number[] = [];
slider.observe("value", (change) => observed.push(Number(change.new)));
slider`,
        );
        sliderHost = hostOf(r);
        const handle = `${sliderHost} .noUi-handle`;
        await rendered(h, handle, "IntSlider", r);
        assert.equal(await readout(h, sliderHost), "3");
        await h.page.click(handle);
        for (let i = 0; i < 2; i++) await h.page.key("ArrowRight", "ArrowRight", 39);
        await h.page.waitFor(
          `document.querySelector(${
            JSON.stringify(`${sliderHost} .widget-readout`)
          })?.textContent.trim() === "5"`,
          5_000,
          "the slider's readout shows 5 after two right arrows",
        );
        await synced(h, r.views[0], "the slider's updates");
        assert.deepEqual(
          await h.json("{ value: slider.value, observed }"),
          { value: 5, observed: [4, 5] },
          "the kernel has the slider's new value, and its observer saw each change",
        );
      });

      await t.step("a kernel-side value change updates the rendered slider", async () => {
        assert.ok(sliderHost, "the slider step ran");
        await h.cell("slider.value = 7;");
        await h.page.waitFor(
          `document.querySelector(${
            JSON.stringify(`${sliderHost} .widget-readout`)
          })?.textContent.trim() === "7"`,
          5_000,
          "the slider's readout shows the kernel's new value 7",
        );
      });

      await t.step("the Stop button stops a training run, which keeps its state", async () => {
        await h.value(TRAINING_SETUP, 120_000);
        await h.page.evaluate(`teskdPage.startCell("train", ${JSON.stringify(TRAINING_RUN)})`);
        // Running: the Stop button is in the page and the progress view has been updated in place.
        const live = await h.page.waitFor<{ updates: number; views: string[] }>(
          `(() => { const c = teskdPage.peekCell("train");
            return c.updates >= 2 && c.result.views.length > 0 &&
              { updates: c.updates, views: c.result.views }; })()`,
          30_000,
          "the training cell showed the progress view's controls and updated the view",
        );
        const stop = `.teskd-widget-host[data-model-id="${live.views[0]}"] button.widget-button`;
        const peek = await h.page.evaluate<CellResult>(`teskdPage.peekCell("train").result`);
        await rendered(h, stop, "progress view's Stop button", peek);
        assert.equal(
          await h.page.evaluate(
            `document.querySelector(${JSON.stringify(stop)}).textContent.trim()`,
          ),
          "Stop",
        );
        await h.page.click(stop);
        const r = await h.page.evaluate<CellResult>(`teskdPage.waitCell("train")`, 30_000);
        assert.equal(
          r.status,
          "ok",
          `the stopped cell ends without an error:\n${describe(r, h.page)}`,
        );
        await h.page.waitFor(
          `(() => { const b = document.querySelector(${JSON.stringify(stop)});
            return b.disabled && b.textContent.trim() === "Stopped"; })()`,
          5_000,
          "the page's Stop button shows the kernel's final state (disabled, 'Stopped')",
        );
        const after = await h.json<{ stopped: boolean; step: number; epoch: number }>(
          "{ stopped: trainer.stopped, step: trainer.globalStep, epoch: trainer.epoch }",
        );
        assert.ok(
          after.stopped,
          `fit() ended because of the Stop button: ${JSON.stringify(after)}`,
        );
        assert.ok(after.step > 0, `the trainer kept its steps: ${JSON.stringify(after)}`);
        assert.ok(after.epoch < EPOCHS, `the run stopped early: ${JSON.stringify(after)}`);
        // A second fit() continues from there (to the end of the epoch in progress).
        await h.cell("const resumed = await trainer.fit({ epochs: trainer.epoch + 1 });", 60_000);
        const again = await h.json<{ step: number; epoch: number }>(
          "{ step: trainer.globalStep, epoch: trainer.epoch }",
        );
        assert.equal(again.epoch, after.epoch + 1, "the second fit() completed the next epoch");
        assert.ok(
          again.step > after.step,
          `the second fit() went on: ${JSON.stringify(again)}`,
        );
      });

      const png = await h.page.screenshot();
      const shot = join(h.tmp, "widgets.png");
      await Deno.writeFile(shot, png);
      assert.ok(png.length > 5_000, `screenshot ${shot} is ${png.length} bytes`);
      if (Deno.env.get("TESKD_KEEP_SCREENSHOT")) {
        await Deno.copyFile(shot, Deno.env.get("TESKD_KEEP_SCREENSHOT") as string);
      }
      console.log(
        `widgets browser test: setup ${JSON.stringify(h.timings)}, total ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s`,
      );
    } finally {
      await h.close();
    }
  },
});

/**
 * Waits until the widget's state updates all reached the kernel: ipywidgets holds each update back
 * until the kernel's idle status for the previous one (parented to that comm_msg) arrives.
 */
async function synced(h: Harness, modelId: string, what: string): Promise<void> {
  await h.page.waitFor(
    `teskdPage.syncIdle(${JSON.stringify(modelId)})`,
    5_000,
    `${what} were all acknowledged by the kernel (ipywidgets sends the next state update only ` +
      `after the kernel's status idle whose parent is the previous comm_msg)`,
  );
}

/** The slider's readout text. */
function readout(h: Harness, host: string): Promise<string> {
  return h.page.evaluate<string>(
    `document.querySelector(${JSON.stringify(`${host} .widget-readout`)})?.textContent.trim()`,
  );
}

Deno.test("widgets: a slider moved while a cell runs reaches the running cell", async () => {
  const h = await startHarness();
  try {
    await h.value(IMPORTS);
    const r = await h.cell(
      `const slider = new IntSlider({ value: 3, min: 0, max: 10, description: "live" });
const seen: number[] = [];
slider.observe("value", (change) => seen.push(Number(change.new)));
slider`,
    );
    const host = hostOf(r);
    await rendered(h, `${host} .noUi-handle`, "IntSlider", r);
    // A cell that waits (yielding to the event loop) until the slider reaches 7, as a training
    // loop would read a widget between steps.
    await h.page.evaluate(
      `teskdPage.startCell("wait", ${
        JSON.stringify(`for (let i = 0; i < 100 && seen.at(-1) !== 7; i++) {
  await new Promise((r) => setTimeout(r, 50));
}
console.log("seen " + JSON.stringify(seen));`)
      })`,
    );
    await h.page.click(`${host} .noUi-handle`);
    for (let i = 0; i < 4; i++) {
      await h.page.key("ArrowRight", "ArrowRight", 39);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await readout(h, host), "7", "the page's slider is at 7");
    const done = await h.page.evaluate<CellResult>(`teskdPage.waitCell("wait")`, 20_000);
    const text = done.outputs.filter((o) => o.type === "stream").map((o) => o.text).join("");
    assert.match(
      text,
      /seen \[.*7\]/,
      `the running cell received the slider's updates up to 7 (${text.trim()}); ipywidgets sends ` +
        "a model's next update only after the kernel's status idle parented to the previous " +
        "comm_msg, so the kernel must publish busy/idle for comm messages even while a cell runs",
    );
    await synced(h, r.views[0], "the slider's updates");
  } finally {
    await h.close();
  }
});
