/**
 * The test page of the widget browser test: JupyterLab's own widget manager (`KernelWidgetManager`
 * from @jupyter-widgets/jupyterlab-manager, with @jupyter-widgets/base and controls registered as
 * JupyterLab's plugin registers them) over a @jupyterlab/services kernel connection to the server
 * that serves this page. bundle.ts bundles it for the browser; the test drives it through
 * `window.teskdPage`.
 *
 * @module
 */
import {
  type Kernel,
  KernelManager,
  type KernelMessage,
  ServerConnection,
} from "@jupyterlab/services";
import { RenderMimeRegistry, standardRendererFactories } from "@jupyterlab/rendermime";
import { KernelWidgetManager } from "@jupyter-widgets/jupyterlab-manager/lib/manager.js";
import * as base from "@jupyter-widgets/base";
import * as controls from "@jupyter-widgets/controls";
import { JUPYTER_CONTROLS_VERSION } from "@jupyter-widgets/controls/lib/version.js";
import { Widget } from "@lumino/widgets";
import "@jupyter-widgets/base/css/index.css";
import "@jupyter-widgets/controls/css/widgets.css";

/** The widget-view MIME type. */
const VIEW_MIME = "application/vnd.jupyter.widget-view+json";

/** One output of a cell, as the test sees it. */
export interface PageOutput {
  type: string;
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

/** What `runCell` returns. */
export interface CellResult {
  status: string;
  outputs: PageOutput[];
  /** Model ids of the widget views this cell rendered into the page, in order. */
  views: string[];
  /** Errors met while rendering the widget views. */
  viewErrors: string[];
}

let kernel: Kernel.IKernelConnection | undefined;
let manager: KernelWidgetManager | undefined;
const log: string[] = [];

function note(line: string): void {
  log.push(`${new Date().toISOString()} ${line}`);
}

/** Starts a kernel of `name` on the serving server and the widget manager over it. */
async function start(name: string, token: string): Promise<string> {
  const origin = location.origin;
  const serverSettings = ServerConnection.makeSettings({
    baseUrl: `${origin}/`,
    wsUrl: origin.replace(/^http/, "ws") + "/",
    token,
    appendToken: true,
  });
  const kernels = new KernelManager({ serverSettings });
  await kernels.ready;
  kernel = await kernels.startNew({ name });
  kernel.connectionStatusChanged.connect((_, s) => note(`connection ${s}`));
  kernel.statusChanged.connect((_, s) => note(`status ${s}`));
  const info = await kernel.info;
  const rendermime = new RenderMimeRegistry({ initialFactories: standardRendererFactories });
  manager = new KernelWidgetManager(kernel, rendermime);
  // As jupyterlab-manager's plugin registers the built-in modules.
  manager.register({
    name: "@jupyter-widgets/base",
    version: base.JUPYTER_WIDGETS_VERSION,
    exports: base as never,
  });
  manager.register({
    name: "@jupyter-widgets/controls",
    version: JUPYTER_CONTROLS_VERSION,
    exports: controls as never,
  });
  return `${kernel.id} ${info.implementation} ${info.protocol_version}`;
}

/** Renders the widget view of `modelId` into a new node at the end of the page. */
async function renderView(modelId: string): Promise<void> {
  const m = manager!;
  let model: base.WidgetModel | undefined;
  // The comm_open that makes the model comes before the display, but its model is created
  // asynchronously: wait for it a little, as JupyterLab's renderer waits for `restored`.
  for (let i = 0; i < 100 && !model; i++) {
    try {
      model = await m.get_model(modelId);
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!model) throw new Error(`widget model ${modelId} not found`);
  const view = await m.create_view(model as base.DOMWidgetModel);
  const host = document.createElement("div");
  host.className = "teskd-widget-host";
  host.dataset.modelId = modelId;
  document.getElementById("outputs")!.appendChild(host);
  Widget.attach(view.luminoWidget, host);
}

/**
 * Shows an HTML (else text) output in the page, for the screenshot; a display update replaces the
 * display's node. (Only widget views go through the widget manager; this is no rendermime.)
 */
function showHtml(data: Record<string, unknown>, displayId: string | undefined, update: boolean) {
  const outputs = document.getElementById("outputs")!;
  let node = displayId
    ? outputs.querySelector<HTMLElement>(`[data-display-id="${CSS.escape(displayId)}"]`)
    : null;
  if (update && !node) return;
  if (!node) {
    node = document.createElement("div");
    node.className = "teskd-output";
    if (displayId) node.dataset.displayId = displayId;
    outputs.appendChild(node);
  }
  const html = data["text/html"];
  if (typeof html === "string") node.innerHTML = html;
  else node.textContent = String(data["text/plain"] ?? "");
}

/** A cell in flight: what it output so far. */
interface LiveCell {
  result: CellResult;
  /** update_display_data messages received. */
  updates: number;
  /** Display id → the widget model ids rendered for it. */
  displays: Map<string, Set<string>>;
  done: Promise<CellResult>;
}

/** Executes `code` in the kernel; `done` resolves once the kernel replied and views rendered. */
function execute(code: string): LiveCell {
  const k = kernel!;
  const result: CellResult = { status: "running", outputs: [], views: [], viewErrors: [] };
  const renders: Promise<void>[] = [];
  const live = { result, updates: 0, displays: new Map() } as LiveCell;
  const render = (modelId: string) => {
    result.views.push(modelId);
    renders.push(
      renderView(modelId).catch((e) => {
        result.viewErrors.push(`${modelId}: ${(e as Error).stack ?? e}`);
      }),
    );
  };
  const future = k.requestExecute({ code, stop_on_error: true });
  future.onIOPub = (msg: KernelMessage.IIOPubMessage) => {
    const c = msg.content as Record<string, unknown>;
    const type = msg.header.msg_type;
    switch (type) {
      case "stream":
        result.outputs.push({ type, text: String(c.text) });
        break;
      case "execute_result":
      case "display_data":
      case "update_display_data": {
        const data = c.data as Record<string, unknown>;
        const text = typeof data["text/plain"] === "string" ? data["text/plain"] : undefined;
        const displayId = (c.transient as { display_id?: string } | undefined)?.display_id;
        if (type === "update_display_data") live.updates++;
        else result.outputs.push({ type, data, text });
        const ref = data[VIEW_MIME] as { model_id?: string } | undefined;
        if (!ref?.model_id) {
          showHtml(data, displayId, type === "update_display_data");
          break;
        }
        // A display updated in place shows a widget once, unless the update names another model.
        const shown = displayId ? live.displays.get(displayId) ?? new Set<string>() : undefined;
        if (shown?.has(ref.model_id)) break;
        if (displayId && shown) live.displays.set(displayId, shown.add(ref.model_id));
        render(ref.model_id);
        break;
      }
      case "error":
        result.outputs.push({
          type,
          ename: String(c.ename),
          evalue: String(c.evalue),
          traceback: c.traceback as string[],
        });
        break;
    }
  };
  live.done = (async () => {
    const reply = await future.done;
    // Views that start rendering while we wait are awaited too.
    for (let n = 0; n < renders.length; n = renders.length) await Promise.all(renders);
    result.status = String(reply.content.status);
    return result;
  })();
  return live;
}

/** Executes `code` in the kernel; returns its outputs once the kernel replied and views rendered. */
function runCell(code: string): Promise<CellResult> {
  return execute(code).done;
}

const started = new Map<string, LiveCell>();

function liveCell(key: string): LiveCell {
  const live = started.get(key);
  if (!live) throw new Error(`no cell started as ${key}`);
  return live;
}

/** Starts `code` without waiting for it (a long cell the page stops); `waitCell(key)` awaits it. */
function startCell(key: string, code: string): void {
  started.set(key, execute(code));
}

/** The outputs so far of the cell started as `key`, and how many display updates it sent. */
function peekCell(key: string): { result: CellResult; updates: number } {
  const live = liveCell(key);
  return { result: live.result, updates: live.updates };
}

/** The result of the cell started as `key`. */
function waitCell(key: string): Promise<CellResult> {
  return liveCell(key).done;
}

/**
 * Whether the widget model `modelId` has no state update in flight or held back: ipywidgets sends
 * one update at a time and holds the next until the kernel's idle status for the previous one.
 */
async function syncIdle(modelId: string): Promise<boolean> {
  const model = await manager!.get_model(modelId) as unknown as {
    _pending_msgs: number;
    _msg_buffer: unknown;
  };
  return model._pending_msgs === 0 && model._msg_buffer === null;
}

const api = {
  start,
  runCell,
  startCell,
  peekCell,
  waitCell,
  syncIdle,
  log,
  ready: true,
};
(globalThis as unknown as { teskdPage: typeof api }).teskdPage = api;
