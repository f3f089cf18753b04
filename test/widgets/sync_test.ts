/**
 * The two-way protocol: front-end updates (echo_update first, attributed to the update; values set;
 * observers called; what the kernel changes sent back), request_state, kernel-side sets (only the
 * changed keys), custom messages (Button clicks), binary buffers, the control comm, errors.
 */
import assert from "node:assert/strict";
import {
  Button,
  type Change,
  Dropdown,
  FloatSlider,
  HBox,
  Image,
  IntSlider,
  Text,
} from "../../lib/widgets/mod.ts";
import { captureStderr, withTransport } from "./recording_transport.ts";

Deno.test("sync: a front-end update sets the value, calls observers, and is echoed first", async () => {
  await withTransport((t) => {
    const s = new IntSlider({ value: 3, max: 10 });
    const comm = t.comm(s.modelId);
    const seen: Change<number>[] = [];
    const any: string[] = [];
    s.observe("value", (c) => seen.push(c));
    s.observe((c) => any.push(c.name));
    const msgId = comm.deliver({ method: "update", state: { value: 7 }, buffer_paths: [] });
    assert.equal(s.value, 7);
    assert.deepEqual(seen.map((c) => [c.name, c.old, c.new, c.owner === s]), [[
      "value",
      3,
      7,
      true,
    ]]);
    assert.deepEqual(any, ["value"]);
    assert.deepEqual(comm.sent.map((m) => m.data), [
      { method: "echo_update", state: { value: 7 }, buffer_paths: [] },
    ], "the echo, and no update of an unchanged-by-the-kernel value");
    assert.equal(comm.sent[0].parent, msgId, "the echo answers that update (its parent)");
  });
});

Deno.test("sync: what the kernel changes while applying a front-end update goes back after the echo", async () => {
  await withTransport((t) => {
    const s = new IntSlider({ value: 3, max: 10 });
    const label = new Text();
    s.observe("value", ({ new: v }) => {
      label.value = `k=${v}`;
      if (v === 9) s.value = 8; // an observer overriding the user
    });
    const comm = t.comm(s.modelId);
    // Out of range: clamped to max, and the clamped value is sent back.
    comm.deliver({ method: "update", state: { value: 50 }, buffer_paths: [] });
    assert.equal(s.value, 10);
    assert.deepEqual(comm.sent.map((m) => m.data), [
      { method: "echo_update", state: { value: 50 }, buffer_paths: [] },
      { method: "update", state: { value: 10 }, buffer_paths: [] },
    ]);
    assert.deepEqual(t.comm(label.modelId).sent.map((m) => m.data), [
      { method: "update", state: { value: "k=10" }, buffer_paths: [] },
    ]);
    const n = comm.sent.length;
    comm.deliver({ method: "update", state: { value: 9 }, buffer_paths: [] });
    assert.equal(s.value, 8);
    assert.deepEqual(comm.sent.slice(n).map((m) => m.data), [
      { method: "echo_update", state: { value: 9 }, buffer_paths: [] },
      { method: "update", state: { value: 8 }, buffer_paths: [] },
    ]);
  });
});

Deno.test("sync: kernel-side sets send only the changed keys; set() batches; no-ops send nothing", async () => {
  await withTransport((t) => {
    const s = new FloatSlider({ value: 1, max: 10, description: "T" });
    const comm = t.comm(s.modelId);
    const seen: string[] = [];
    s.observe((c) => seen.push(`${c.name}:${c.old}->${c.new}`));
    s.value = 2.5;
    s.value = 2.5; // unchanged: nothing
    s.set({ description: "temperature", step: 0.5 });
    s.max = 2; // moves the value down with it
    assert.deepEqual(comm.sent.map((m) => m.data), [
      { method: "update", state: { value: 2.5 }, buffer_paths: [] },
      { method: "update", state: { description: "temperature", step: 0.5 }, buffer_paths: [] },
      { method: "update", state: { max: 2, value: 2 }, buffer_paths: [] },
    ]);
    assert.ok(comm.sent.every((m) => m.parent === undefined));
    assert.deepEqual(seen, [
      "value:1->2.5",
      "description:T->temperature",
      "step:0.1->0.5",
      "max:10->2",
      "value:2.5->2",
    ]);
    assert.throws(() => (s.min = 5), /min \(5\) must not exceed max \(2\)/);
    assert.throws(() => s.set({ description: 3 as unknown as string }), /must be a string/);
    assert.equal(comm.sent.length, 3, "a refused set sends nothing");
    assert.equal(s.min, 0);
  });
});

Deno.test("sync: request_state answers the full state; the front end's unknown keys are ignored", async () => {
  await withTransport((t) => {
    const s = new IntSlider({ value: 4 });
    const comm = t.comm(s.modelId);
    const id = comm.deliver({ method: "request_state" });
    assert.equal(comm.sent.length, 1);
    assert.deepEqual(comm.sent[0].data, {
      method: "update",
      state: comm.openData.state,
      buffer_paths: [],
    });
    assert.equal(comm.sent[0].parent, id);
    comm.deliver({ method: "update", state: { value: 5, bogus: 1 }, buffer_paths: [] });
    assert.equal(s.value, 5);
    assert.deepEqual(comm.sent[1].data.state, { value: 5 }, "only keys of the model are echoed");
  });
});

Deno.test("sync: Button's custom click calls onClick handlers; handlers can be removed", async () => {
  await withTransport((t) => {
    const b = new Button({ description: "Stop" });
    const clicks: string[] = [];
    const off = b.onClick((btn) => clicks.push(`a:${btn.description}`));
    b.onClick(() => clicks.push("b"));
    const custom: unknown[] = [];
    b.onCustom((c) => custom.push(c));
    t.comm(b.modelId).deliver({ method: "custom", content: { event: "click" } });
    assert.deepEqual(clicks, ["a:Stop", "b"]);
    assert.deepEqual(custom, [{ event: "click" }]);
    off();
    t.comm(b.modelId).deliver({ method: "custom", content: { event: "hover" } });
    t.comm(b.modelId).deliver({ method: "custom", content: { event: "click" } });
    assert.deepEqual(clicks, ["a:Stop", "b", "b"]);
    assert.equal(t.comm(b.modelId).sent.length, 0, "a click sends nothing back");
  });
});

Deno.test("sync: Dropdown index, value and label follow each other, from the kernel and the front end", async () => {
  await withTransport((t) => {
    const d = new Dropdown<number>({ options: [["small", 1], ["large", 10]], description: "size" });
    const comm = t.comm(d.modelId);
    assert.deepEqual([d.index, d.value, d.label], [0, 1, "small"]);
    assert.deepEqual(d.optionsLabels, ["small", "large"]);
    const values: (number | null)[] = [];
    d.observe("value", (c) => values.push(c.new as number));
    d.value = 10;
    assert.deepEqual([d.index, d.label], [1, "large"]);
    assert.deepEqual(comm.sent.map((m) => m.data), [
      { method: "update", state: { index: 1 }, buffer_paths: [] },
    ], "value and label are kernel-only: only index is synced");
    comm.deliver({ method: "update", state: { index: 0 }, buffer_paths: [] });
    assert.deepEqual([d.index, d.value, d.label], [0, 1, "small"]);
    assert.deepEqual(values, [10, 1]);
    d.label = "large";
    assert.equal(d.value, 10);
    assert.throws(() => (d.value = 5), /not an option/);
    assert.throws(() => (d.index = 2), /out of range/);
    assert.throws(() => d.set({ optionsLabels: ["x"] }), /read-only/);
    const n = comm.sent.length;
    d.options = [["a", 2], ["b", 3], ["c", 4]];
    assert.deepEqual([d.index, d.value, d.label], [0, 2, "a"], "new options select the first");
    assert.deepEqual(comm.sent.slice(n).map((m) => m.data), [
      { method: "update", state: { _options_labels: ["a", "b", "c"], index: 0 }, buffer_paths: [] },
    ]);
    const strings = new Dropdown({ options: ["x", "y"], value: "y" });
    assert.deepEqual([strings.index, strings.label, strings.value], [1, "y", "y"]);
    const none = new Dropdown({ options: [] });
    assert.deepEqual([none.index, none.value, none.label], [null, null, null]);
  });
});

Deno.test("sync: binary values travel as buffers with buffer_paths, both ways", async () => {
  await withTransport((t) => {
    const png = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
    const img = new Image({ value: png, width: "64px" });
    const comm = t.comm(img.modelId);
    assert.deepEqual(comm.openData.buffer_paths, [["value"]]);
    assert.ok(!("value" in (comm.openData.state as Record<string, unknown>)));
    assert.deepEqual(new Uint8Array(comm.openBuffers[0]), png);
    // A typed array viewing part of a larger buffer sends its own bytes only.
    const big = new Uint8Array([9, 9, 5, 6, 7, 9]);
    img.value = big.subarray(2, 5);
    assert.deepEqual(comm.sent[0].data, { method: "update", state: {}, buffer_paths: [["value"]] });
    assert.deepEqual(new Uint8Array(comm.sent[0].buffers[0]), new Uint8Array([5, 6, 7]));
    // From the front end: the buffer is put back at its path, echoed as a buffer, and stored.
    const incoming = new Uint8Array([1, 2, 3, 4]).buffer;
    comm.deliver({ method: "update", state: {}, buffer_paths: [["value"]] }, [incoming]);
    assert.deepEqual(img.value, new Uint8Array([1, 2, 3, 4]));
    const echo = comm.sent[1];
    assert.deepEqual(echo.data, { method: "echo_update", state: {}, buffer_paths: [["value"]] });
    assert.deepEqual(new Uint8Array(echo.buffers[0]), new Uint8Array([1, 2, 3, 4]));
    assert.equal(comm.sent.length, 2, "the same bytes are not sent back as an update");
    comm.deliver({ method: "request_state" });
    assert.deepEqual(comm.sent[2].data.buffer_paths, [["value"]]);
    assert.deepEqual(new Uint8Array(comm.sent[2].buffers[0]), new Uint8Array([1, 2, 3, 4]));
  });
});

Deno.test("sync: callback errors go to stderr; the comm and the other callbacks keep working", async () => {
  await withTransport(async (t) => {
    const s = new IntSlider();
    const b = new Button();
    const comm = t.comm(s.modelId);
    const seen: number[] = [];
    s.observe("value", () => {
      throw new Error("observer boom");
    });
    s.observe("value", (c) => seen.push(c.new));
    b.onClick(() => {
      throw new Error("click boom");
    });
    let clicked = 0;
    b.onClick(() => clicked++);
    const err = await captureStderr(() => {
      comm.deliver({ method: "update", state: { value: 4 }, buffer_paths: [] });
      comm.deliver({ method: "update", state: { value: 5 }, buffer_paths: [] });
      t.comm(b.modelId).deliver({ method: "custom", content: { event: "click" } });
      s.value = 6; // kernel-side: the observer's error is reported, not thrown at the caller
      comm.deliver({ method: "no_such_method" });
      comm.deliver("not an object");
    });
    assert.deepEqual(seen, [4, 5, 6]);
    assert.equal(clicked, 1);
    assert.equal((err.match(/observer boom/g) ?? []).length, 3);
    assert.match(err, /observer of IntSlider\.value failed: Error: observer boom/);
    assert.match(err, /Button click handler failed: Error: click boom/);
    assert.match(err, /unknown front-end to kernel widget message method "no_such_method"/);
    assert.match(err, /not an object/);
    assert.deepEqual(comm.messages("echo_update").map((m) => m.data.state), [{ value: 4 }, {
      value: 5,
    }]);
  });
});

Deno.test("sync: an invalid front-end value is refused on stderr and the kernel's value sent back", async () => {
  await withTransport(async (t) => {
    const d = new Dropdown({ options: ["a", "b"] });
    const comm = t.comm(d.modelId);
    const err = await captureStderr(() => {
      comm.deliver({ method: "update", state: { index: 7 }, buffer_paths: [] });
      comm.deliver({ method: "update", state: { disabled: "yes" }, buffer_paths: [] });
    });
    assert.match(err, /out of range/);
    assert.match(err, /must be a boolean/);
    assert.equal(d.index, 0);
    assert.deepEqual(comm.sent.map((m) => m.data), [
      { method: "echo_update", state: { index: 7 }, buffer_paths: [] },
      { method: "update", state: { index: 0 }, buffer_paths: [] },
      { method: "echo_update", state: { disabled: "yes" }, buffer_paths: [] },
      { method: "update", state: { disabled: false }, buffer_paths: [] },
    ]);
    // Children set from the front end resolve to the live widgets.
    const a = new Button(), b = new Button();
    const box = new HBox({ children: [a] });
    t.comm(box.modelId).deliver({
      method: "update",
      state: { children: [`IPY_MODEL_${b.modelId}`, `IPY_MODEL_${a.modelId}`] },
      buffer_paths: [],
    });
    assert.deepEqual(box.children, [b, a]);
  });
});

Deno.test("sync: headless widgets work in memory: values, validation, observers, clicks", async () => {
  const err = await captureStderr(() => {
    const s = new IntSlider({ value: 3, max: 10 });
    const seen: number[] = [];
    s.observe("value", (c) => seen.push(c.new));
    s.value = 20;
    assert.equal(s.value, 10);
    assert.deepEqual(seen, [10]);
    assert.equal(s.isOpen, false);
    assert.match(s.modelId, /^[0-9a-f]{32}$/);
    const b = new Button();
    let n = 0;
    b.onClick(() => n++);
    b.click();
    assert.equal(n, 1);
    assert.deepEqual(Object.keys(s.getState()).includes("layout"), true);
    s.close();
    s.value = 4; // a closed widget keeps working in memory
    assert.equal(s.value, 4);
  });
  assert.equal(err, "", "headless widgets print nothing");
});

Deno.test("sync: close() closes the comm; a front-end close leaves the widget headless", async () => {
  await withTransport((t) => {
    const s = new IntSlider();
    const comm = t.comm(s.modelId);
    s.close();
    assert.equal(comm.closed, true);
    assert.equal(s.closed, true);
    s.value = 3;
    assert.equal(comm.sent.length, 0);
    const s2 = new IntSlider();
    const c2 = t.comm(s2.modelId);
    c2.closeFromFrontEnd();
    s2.value = 4;
    assert.equal(s2.value, 4);
    assert.equal(c2.sent.length, 0);
    assert.equal(s2.isOpen, false);
  });
});

Deno.test("sync: the control comm answers request_states with every live widget", async () => {
  await withTransport((t) => {
    const s = new IntSlider({ value: 2 });
    const img = new Image({ value: new Uint8Array([7, 8]) });
    const control = t.openFromFrontEnd("jupyter.widget.control");
    const id = control.deliver({ method: "request_states" });
    assert.equal(control.sent.length, 1);
    const reply = control.sent[0];
    assert.equal(reply.parent, id);
    assert.equal(reply.data.method, "update_states");
    const states = reply.data.states as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(states).sort(), t.opened.map((c) => c.id).sort());
    assert.deepEqual(states[s.modelId], {
      model_name: "IntSliderModel",
      model_module: "@jupyter-widgets/controls",
      model_module_version: "2.0.0",
      state: t.comm(s.modelId).openData.state,
    });
    assert.deepEqual(reply.data.buffer_paths, [[img.modelId, "state", "value"]]);
    assert.deepEqual(new Uint8Array(reply.buffers[0]), new Uint8Array([7, 8]));
  });
});
