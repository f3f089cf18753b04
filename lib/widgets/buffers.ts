/**
 * Binary values in widget state: on the wire, a model's state is JSON plus a list of binary buffers,
 * each put at a `buffer_path` (a list of keys and indices into the state). `removeBuffers` takes the
 * binary values out for sending (as ipywidgets' `_remove_buffers` does: a dict loses the key, a list
 * keeps `null` in the slot), `putBuffers` puts received ones back.
 *
 * @example
 * ```ts
 * const { state, bufferPaths, buffers } = removeBuffers({ value: new Uint8Array([1, 2]) });
 * // state {}, bufferPaths [["value"]], buffers [ArrayBuffer(2)]
 * ```
 *
 * @module
 */

/** A key or index into a state. */
export type BufferPath = (string | number)[];

/** Whether `v` is sent as a binary buffer: an ArrayBuffer, a typed array or a DataView. */
export function isBinary(v: unknown): v is ArrayBuffer | ArrayBufferView {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

/**
 * A copy of the bytes of a binary value (a view's bytes only, not its whole buffer): a transport may
 * transfer the buffers it sends, which must not detach the widget's own value.
 */
export function toArrayBuffer(v: ArrayBuffer | ArrayBufferView): ArrayBuffer {
  if (v instanceof ArrayBuffer) return v.slice(0);
  const out = new ArrayBuffer(v.byteLength);
  new Uint8Array(out).set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return out;
}

/**
 * The state without its binary values, their paths and their bytes. The input is not modified:
 * containers on a path to a binary value are copied.
 */
export function removeBuffers(
  state: Record<string, unknown>,
): { state: Record<string, unknown>; bufferPaths: BufferPath[]; buffers: ArrayBuffer[] } {
  const bufferPaths: BufferPath[] = [];
  const buffers: ArrayBuffer[] = [];
  const walk = (v: unknown, path: BufferPath): unknown => {
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      v.forEach((x, i) => {
        if (isBinary(x)) {
          out ??= [...v];
          out[i] = null; // lists keep the slot, so the front end puts the buffer back by index
          bufferPaths.push([...path, i]);
          buffers.push(toArrayBuffer(x));
        } else if (isContainer(x)) {
          const y = walk(x, [...path, i]);
          if (y !== x) (out ??= [...v])[i] = y;
        }
      });
      return out ?? v;
    }
    if (isContainer(v)) {
      let out: Record<string, unknown> | undefined;
      for (const [k, x] of Object.entries(v)) {
        if (isBinary(x)) {
          out ??= { ...v };
          delete out[k];
          bufferPaths.push([...path, k]);
          buffers.push(toArrayBuffer(x));
        } else if (isContainer(x)) {
          const y = walk(x, [...path, k]);
          if (y !== x) (out ??= { ...v })[k] = y;
        }
      }
      return out ?? v;
    }
    return v;
  };
  return { state: walk(state, []) as Record<string, unknown>, bufferPaths, buffers };
}

/**
 * Puts received buffers into `state` at their paths (modifying it: it comes from the wire). Throws
 * when a path does not lead into the state.
 */
export function putBuffers(
  state: Record<string, unknown>,
  bufferPaths: readonly BufferPath[],
  buffers: readonly ArrayBuffer[],
): void {
  bufferPaths.forEach((path, i) => {
    if (!Array.isArray(path) || path.length === 0) {
      throw new TypeError(`buffer_paths[${i}] is not a non-empty path`);
    }
    if (i >= buffers.length) throw new RangeError(`buffer_paths[${i}] has no buffer`);
    let obj: unknown = state;
    for (const key of path.slice(0, -1)) {
      obj = (obj as Record<string | number, unknown>)?.[key];
      if (typeof obj !== "object" || obj === null) {
        throw new TypeError(`buffer path ${JSON.stringify(path)} does not lead into the state`);
      }
    }
    if (typeof obj !== "object" || obj === null) {
      throw new TypeError(`buffer path ${JSON.stringify(path)} does not lead into the state`);
    }
    (obj as Record<string | number, unknown>)[path[path.length - 1]] = buffers[i];
  });
}

/** A plain object or array (not binary, not null). */
function isContainer(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !isBinary(v);
}
