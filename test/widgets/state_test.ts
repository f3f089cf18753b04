/**
 * The full state each widget opens its comm with, compared with ipywidgets 8's defaults
 * (fixtures/ipywidgets8_defaults.json, made from ipywidgets' own model spec), and the comm_open
 * message itself: target, protocol version, referenced models opened first, the display bundle.
 */
import assert from "node:assert/strict";
import {
  Box,
  Button,
  Checkbox,
  Dropdown,
  FloatProgress,
  FloatSlider,
  FloatText,
  HBox,
  HTML,
  Image,
  IntProgress,
  IntSlider,
  Layout,
  Output,
  Text,
  VBox,
  type Widget,
  WIDGET_VIEW_MIME,
} from "../../lib/widgets/mod.ts";
import { JUPYTER_DISPLAY } from "../../lib/jupyter.ts";
import {
  type RecordingComm,
  type RecordingTransport,
  withTransport,
} from "./recording_transport.ts";

const DEFAULTS: Record<string, Record<string, unknown>> = JSON.parse(
  Deno.readTextFileSync(new URL("./fixtures/ipywidgets8_defaults.json", import.meta.url)),
);

const WIDGETS: [string, () => Widget][] = [
  ["ButtonModel", () => new Button()],
  ["IntSliderModel", () => new IntSlider()],
  ["FloatSliderModel", () => new FloatSlider()],
  ["DropdownModel", () => new Dropdown()],
  ["CheckboxModel", () => new Checkbox()],
  ["TextModel", () => new Text()],
  ["FloatTextModel", () => new FloatText()],
  ["IntProgressModel", () => new IntProgress()],
  ["FloatProgressModel", () => new FloatProgress()],
  ["HTMLModel", () => new HTML()],
  ["OutputModel", () => new Output()],
  ["HBoxModel", () => new HBox()],
  ["VBoxModel", () => new VBox()],
  ["BoxModel", () => new Box()],
  ["ImageModel", () => new Image()],
  ["LayoutModel", () => new Layout()],
];

/** The comm_open state with its buffers put back, as the front end reads it. */
function openedState(c: RecordingComm): Record<string, unknown> {
  const state = structuredClone(c.openData.state) as Record<string, unknown>;
  const paths = c.openData.buffer_paths as (string | number)[][];
  paths.forEach((
    p,
    i,
  ) => (state[p[0] as string] = { $bytes: new TextDecoder().decode(c.openBuffers[i]) }));
  return state;
}

/** Checks a state against the fixture's model, following references to opened models. */
function assertDefaultState(t: RecordingTransport, model: string, state: Record<string, unknown>) {
  const expected = DEFAULTS[model];
  assert.ok(expected, `fixture has ${model}`);
  assert.deepEqual(Object.keys(state).sort(), Object.keys(expected).sort(), `${model} keys`);
  for (const [k, v] of Object.entries(expected)) {
    const ref = (v as { $ref?: string } | null)?.$ref;
    if (ref === undefined) {
      assert.deepEqual(state[k], v, `${model}.${k}`);
      continue;
    }
    const s = state[k];
    assert.ok(typeof s === "string" && s.startsWith("IPY_MODEL_"), `${model}.${k} is a reference`);
    const target = t.comm(s.slice("IPY_MODEL_".length));
    assertDefaultState(t, ref, openedState(target));
  }
}

Deno.test("widgets: every model opens with ipywidgets 8's full default state", async () => {
  await withTransport((t) => {
    for (const [model, make] of WIDGETS) {
      const before = t.opened.length;
      const w = make();
      const mine = t.opened.slice(before);
      const comm = mine.at(-1)!;
      assert.equal(comm.id, w.modelId, "model id is the comm id");
      assert.equal(comm.targetName, "jupyter.widget");
      assert.deepEqual(comm.openMetadata, { version: "2.1.0" });
      assertDefaultState(t, model, openedState(comm));
      // Referenced models (layout, style) are opened before the model that refers to them.
      const refs = Object.values(comm.openData.state as Record<string, unknown>)
        .filter((v): v is string => typeof v === "string" && v.startsWith("IPY_MODEL_"));
      assert.deepEqual(
        mine.slice(0, -1).map((c) => `IPY_MODEL_${c.id}`).sort(),
        refs.sort(),
        `${model}: its own layout/style are opened first, nothing else`,
      );
      assert.deepEqual(
        w.getState(),
        (() => {
          const s = structuredClone(comm.openData.state) as Record<string, unknown>;
          if (model === "ImageModel") s.value = new Uint8Array(0);
          return s;
        })(),
      );
    }
  });
});

Deno.test("widgets: the right style model per control, snake_case options on the wire", async () => {
  await withTransport((t) => {
    const styleOf = (w: Widget) => {
      const ref = w.getState().style as string;
      return (t.comm(ref.slice(10)).openData.state as Record<string, unknown>)._model_name;
    };
    assert.equal(styleOf(new Button()), "ButtonStyleModel");
    assert.equal(styleOf(new IntSlider()), "SliderStyleModel");
    assert.equal(styleOf(new FloatSlider()), "SliderStyleModel");
    assert.equal(styleOf(new IntProgress()), "ProgressStyleModel");
    assert.equal(styleOf(new Checkbox()), "CheckboxStyleModel");
    assert.equal(styleOf(new Text()), "TextStyleModel");
    assert.equal(styleOf(new HTML()), "HTMLStyleModel");
    assert.equal(styleOf(new Dropdown()), "DescriptionStyleModel");
    assert.equal(styleOf(new FloatText()), "DescriptionStyleModel");

    const b = new Button({
      description: "Stop",
      buttonStyle: "danger",
      icon: "fa-stop",
      domClasses: ["x"],
      tooltip: "stops",
    });
    const s = t.comm(b.modelId).openData.state as Record<string, unknown>;
    assert.equal(s.button_style, "danger");
    assert.equal(s.description, "Stop");
    assert.equal(s.icon, "stop", "ipywidgets 8 strips 'fa-'");
    assert.deepEqual(s._dom_classes, ["x"]);
    assert.equal(s.tooltip, "stops");
    const d = new Dropdown({ options: ["a", "b"] });
    const ds = t.comm(d.modelId).openData.state as Record<string, unknown>;
    assert.deepEqual(ds._options_labels, ["a", "b"]);
    assert.equal(ds.index, 0, "the first option is selected");
  });
});

Deno.test("widgets: a box's children are references to models opened before it; display bundle", async () => {
  await withTransport((t) => {
    const b = new Button({ description: "x" });
    const s = new IntSlider({ value: 3, max: 10 });
    const box = new VBox({ children: [b, s] });
    const comm = t.comm(box.modelId);
    assert.deepEqual((comm.openData.state as Record<string, unknown>).children, [
      `IPY_MODEL_${b.modelId}`,
      `IPY_MODEL_${s.modelId}`,
    ]);
    assert.ok(t.opened.indexOf(t.comm(b.modelId)) < t.opened.indexOf(comm));
    const bundle = box[JUPYTER_DISPLAY]();
    assert.deepEqual(bundle[WIDGET_VIEW_MIME], {
      model_id: box.modelId,
      version_major: 2,
      version_minor: 0,
    });
    assert.equal(typeof bundle["text/plain"], "string");
    assert.equal(s.toString(), "IntSlider(value=3, max=10)");
  });
});

Deno.test("widgets: a widget made headless opens (children first) when displayed with a kernel", async () => {
  const child = new Button({ description: "late" });
  const box = new HBox({ children: [child] });
  assert.equal(box.isOpen, false);
  assert.equal(box[JUPYTER_DISPLAY]()[WIDGET_VIEW_MIME], undefined, "headless: text only");
  await withTransport((t) => {
    const bundle = box[JUPYTER_DISPLAY]();
    assert.equal(box.isOpen, true);
    assert.equal(child.isOpen, true);
    const comm = t.comm(box.modelId);
    assert.equal(t.opened.at(-1), comm, "the box's comm is opened last");
    assert.deepEqual((comm.openData.state as Record<string, unknown>).children, [
      `IPY_MODEL_${child.modelId}`,
    ]);
    assert.equal((bundle[WIDGET_VIEW_MIME] as { model_id: string }).model_id, box.modelId);
  });
});
