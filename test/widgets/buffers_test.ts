/** removeBuffers/putBuffers: ipywidgets' `_remove_buffers`/`_put_buffers` paths, both ways. */
import assert from "node:assert/strict";
import { putBuffers, removeBuffers } from "../../lib/widgets/mod.ts";

Deno.test("buffers: nested binary values leave by path (dict keys removed, list slots null) and come back", () => {
  const f32 = new Float32Array([1.5, -2]);
  const dv = new DataView(new Uint8Array([1, 2, 3, 4, 5]).buffer, 1, 3);
  const ab = new Uint8Array([9]).buffer;
  const input = { plain: [0, "text"], x: { ar: f32, keep: 1 }, y: [ab, { d: dv }], z: 3 };
  const { state, bufferPaths, buffers } = removeBuffers(input);
  assert.deepEqual(state, { plain: [0, "text"], x: { keep: 1 }, y: [null, {}], z: 3 });
  assert.deepEqual(bufferPaths, [["x", "ar"], ["y", 0], ["y", 1, "d"]]);
  assert.deepEqual(new Float32Array(buffers[0]), f32);
  assert.deepEqual(new Uint8Array(buffers[1]), new Uint8Array([9]));
  assert.notEqual(buffers[1], ab, "a copy: a transport may transfer what it sends");
  assert.deepEqual(new Uint8Array(buffers[2]), new Uint8Array([2, 3, 4]), "a view's bytes only");
  assert.equal(input.x.ar, f32, "the input is not modified");
  assert.equal(input.plain, state.plain, "containers without binary values are shared, not copied");
  const back = structuredClone(state);
  putBuffers(back, bufferPaths, buffers);
  assert.deepEqual(new Float32Array((back.x as unknown as { ar: ArrayBuffer }).ar), f32);
  assert.deepEqual(new Uint8Array((back.y as unknown as ArrayBuffer[])[0]), new Uint8Array([9]));
  assert.throws(() => putBuffers({}, [["a", "b"]], [new ArrayBuffer(1)]), /does not lead/);
  assert.throws(() => putBuffers({}, [["a"]], []), /has no buffer/);
});
