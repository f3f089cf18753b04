/**
 * A small Chrome DevTools Protocol client over Deno's WebSocket, for the widget browser test:
 * starts headless Chromium with remote debugging, attaches to its page, evaluates script, and sends
 * real input events (mouse clicks, keys) and screenshots.
 *
 * @module
 */
import { join } from "node:path";
import { CHROMIUM_FLAGS } from "../notebooks/notebook_server.ts";

/** A CDP error reply or a protocol failure. */
export class CdpError extends Error {}

interface Pending {
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  method: string;
}

/** A CDP session on one page target. */
export class CdpPage {
  #ws: WebSocket;
  #seq = 0;
  #pending = new Map<number, Pending>();
  #listeners = new Set<(method: string, params: Record<string, unknown>) => void>();
  /** Console messages and uncaught exceptions of the page, for failure messages. */
  readonly console: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data));
      if (typeof msg.id === "number") {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        if (msg.error) p.reject(new CdpError(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else if (typeof msg.method === "string") {
        for (const l of this.#listeners) l(msg.method, msg.params ?? {});
      }
    };
    ws.onclose = () => {
      for (const p of this.#pending.values()) p.reject(new CdpError(`${p.method}: socket closed`));
      this.#pending.clear();
    };
    this.#listeners.add((method, params) => {
      if (method === "Runtime.consoleAPICalled") {
        const args = (params.args as { value?: unknown; description?: string }[] ?? [])
          .map((a) => a.value ?? a.description ?? "").join(" ");
        this.console.push(`console.${params.type}: ${args}`);
      } else if (method === "Runtime.exceptionThrown") {
        const d = params.exceptionDetails as {
          text?: string;
          exception?: { description?: string };
        };
        this.console.push(`exception: ${d.exception?.description ?? d.text}`);
      }
    });
  }

  /** Connects to a page target's debugger URL. */
  static async connect(url: string): Promise<CdpPage> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) =>
        reject(new CdpError(`CDP connect to ${url}: ${(e as ErrorEvent).message}`));
    });
    const page = new CdpPage(ws);
    await page.send("Runtime.enable");
    await page.send("Page.enable");
    return page;
  }

  /** Sends a CDP command; resolves with its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#seq;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      this.#ws.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Resolves with the params of the next event `method` that satisfies `pred`. */
  waitEvent(
    method: string,
    timeoutMs: number,
    pred: (p: Record<string, unknown>) => boolean = () => true,
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#listeners.delete(l);
        reject(new CdpError(`no ${method} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const l = (m: string, p: Record<string, unknown>) => {
        if (m !== method || !pred(p)) return;
        clearTimeout(timer);
        this.#listeners.delete(l);
        resolve(p);
      };
      this.#listeners.add(l);
    });
  }

  /** Navigates and waits for the load event. */
  async navigate(url: string, timeoutMs = 20_000): Promise<void> {
    const loaded = this.waitEvent("Page.loadEventFired", timeoutMs);
    const r = await this.send("Page.navigate", { url });
    if (r.errorText) throw new CdpError(`navigate ${url}: ${r.errorText}`);
    await loaded;
  }

  /**
   * Evaluates `expression` in the page (awaiting a promise it returns) and returns its value as
   * JSON. A thrown exception becomes a CdpError with the page's description of it.
   */
  async evaluate<T = unknown>(expression: string, timeoutMs = 60_000): Promise<T> {
    const r = await this.send("Runtime.evaluate", {
      expression,
      awaitPromise: true,
      returnByValue: true,
      timeout: timeoutMs,
    });
    const ex = r.exceptionDetails as
      | { text?: string; exception?: { description?: string } }
      | undefined;
    if (ex) throw new CdpError(`page: ${ex.exception?.description ?? ex.text}`);
    return (r.result as { value?: T }).value as T;
  }

  /** Polls `expression` until it is truthy; returns its value, or throws `message` on timeout. */
  async waitFor<T>(expression: string, timeoutMs: number, message: string): Promise<T> {
    const end = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < end) {
      last = await this.evaluate<T>(expression);
      if (last) return last as T;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new CdpError(`${message} (waited ${timeoutMs} ms; last value ${JSON.stringify(last)})`);
  }

  /** The centre of the first element matching `selector`, in CSS pixels, scrolled into view. */
  async center(selector: string): Promise<{ x: number; y: number }> {
    const sel = JSON.stringify(selector);
    const c = await this.evaluate<{ x: number; y: number } | null>(`(() => {
      const el = document.querySelector(${sel});
      if (!el) return null;
      el.scrollIntoView({ block: "center" });
      const r = el.getBoundingClientRect();
      return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
    })()`);
    if (!c) throw new CdpError(`no element matches ${selector}`);
    return c;
  }

  /** A real left click (press and release) at the centre of `selector`. */
  async click(selector: string): Promise<void> {
    const { x, y } = await this.center(selector);
    await this.send("Input.dispatchMouseEvent", { type: "mouseMoved", x, y });
    for (const type of ["mousePressed", "mouseReleased"]) {
      await this.send("Input.dispatchMouseEvent", {
        type,
        x,
        y,
        button: "left",
        buttons: type === "mousePressed" ? 1 : 0,
        clickCount: 1,
      });
    }
  }

  /** A real key press (keyDown + keyUp) of a non-text key such as "ArrowRight". */
  async key(key: string, code: string, keyCode: number): Promise<void> {
    for (const type of ["rawKeyDown", "keyUp"]) {
      await this.send("Input.dispatchKeyEvent", {
        type,
        key,
        code,
        windowsVirtualKeyCode: keyCode,
        nativeVirtualKeyCode: keyCode,
      });
    }
  }

  /** A PNG screenshot of the page. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", {
      format: "png",
      captureBeyondViewport: true,
    });
    return Uint8Array.from(atob(String(r.data)), (ch) => ch.charCodeAt(0));
  }

  /** Closes the session's socket. */
  close(): void {
    try {
      this.#ws.close();
    } catch {
      // already closed
    }
  }
}

/** A headless Chromium with remote debugging, and its process. */
export interface Browser {
  child: Deno.ChildProcess;
  page: CdpPage;
}

/** Starts headless Chromium (a fresh profile under `profileDir`) and attaches to its blank page. */
export async function launchChromium(
  profileDir: string,
  env: Record<string, string> = {},
): Promise<Browser> {
  const child = new Deno.Command("/usr/bin/chromium", {
    args: [
      ...CHROMIUM_FLAGS,
      `--user-data-dir=${join(profileDir)}`,
      "--window-size=1000,800",
      "--remote-debugging-port=0",
      "about:blank",
    ],
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..." on stderr.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  let port: number | undefined;
  const deadline = setTimeout(() => reader.cancel(), 20_000);
  while (port === undefined) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
    const m = text.match(/DevTools listening on ws:\/\/[^:]+:(\d+)\//);
    if (m) port = Number(m[1]);
  }
  clearTimeout(deadline);
  // Keep draining stderr so Chromium never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch {
      // cancelled
    }
  })();
  if (port === undefined) {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    throw new CdpError(`Chromium did not start its DevTools server:\n${text}`);
  }
  let wsUrl: string | undefined;
  for (let i = 0; i < 50 && !wsUrl; i++) {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    wsUrl = targets.find((t) => t.type === "page")?.webSocketDebuggerUrl;
    if (!wsUrl) await new Promise((r) => setTimeout(r, 100));
  }
  if (!wsUrl) throw new CdpError("Chromium has no page target");
  return { child, page: await CdpPage.connect(wsUrl) };
}
