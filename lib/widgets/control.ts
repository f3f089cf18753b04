/**
 * The widget control comm ("jupyter.widget.control", protocol 1.0.0): after a page reload, a front
 * end's widget manager opens it and asks `{method: "request_states"}`; the kernel answers
 * `{method: "update_states", states: {<model id>: {model_name, model_module,
 * model_module_version, state}}, buffer_paths}` with every live widget, as ipywidgets does, so
 * the widgets of the reloaded page show again. Without it the manager falls back to asking each
 * comm it knows of.
 *
 * @module
 */
import type { CommTransport } from "../jupyter.ts";
import { removeBuffers } from "./buffers.ts";
import { CONTROL_TARGET } from "./protocol.ts";
import { reportError } from "./report.ts";

const registered = new WeakSet<CommTransport>();

/**
 * Registers the control target on `transport` (once per transport); `states` gives the full state
 * of every live widget, by model id.
 */
export function registerControlTarget(
  transport: CommTransport,
  states: () => Record<string, unknown>,
): void {
  if (registered.has(transport)) return;
  registered.add(transport);
  try {
    transport.registerTarget(CONTROL_TARGET, (comm) => {
      comm.onMsg((data) => {
        try {
          const method = typeof data === "object" && data !== null
            ? (data as Record<string, unknown>).method
            : undefined;
          if (method !== "request_states") {
            throw new Error(`unknown widget control message method "${method}"`);
          }
          const split = removeBuffers(states());
          comm.send(
            { method: "update_states", states: split.state, buffer_paths: split.bufferPaths },
            {},
            split.buffers,
          );
        } catch (e) {
          reportError("widget control message", e);
        }
      });
    });
  } catch (e) {
    reportError("registering the widget control target", e);
  }
}
