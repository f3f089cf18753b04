import assert from "node:assert/strict";
import { join } from "node:path";
import { CHECKOUT_DIR } from "../../kernel/install.ts";
import { findFrontEnd, INSTALL_ADVICE } from "../../tools/lab.ts";

const LAB = join(CHECKOUT_DIR, "tools", "lab.ts");
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("lab refuses without a Jupyter front end, says what to install, installs nothing", async () => {
  const home = await Deno.makeTempDir();
  const emptyPath = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", LAB],
      env: { PATH: emptyPath, HOME: home, JUPYTER_DATA_DIR: join(home, "jupyter") },
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 1);
    const stderr = decode(out.stderr);
    assert.ok(stderr.includes(INSTALL_ADVICE), stderr);
    assert.match(stderr, /pip install jupyterlab/);
    await assert.rejects(Deno.stat(join(home, "jupyter")), Deno.errors.NotFound, "no kernel spec");
  } finally {
    await Deno.remove(home, { recursive: true });
    await Deno.remove(emptyPath, { recursive: true });
  }
});

Deno.test("lab registers the kernel and serves notebooks/ with the installed front end", async () => {
  const frontEnd = await findFrontEnd();
  assert.ok(frontEnd, "CI installs Debian's jupyter-notebook");
  const home = await Deno.makeTempDir();
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", LAB, "--no-browser", `--port=${port}`, "--ip=127.0.0.1"],
    env: { HOME: home, JUPYTER_DATA_DIR: join(home, "jupyter"), JUPYTER_TOKEN: "t0k" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs = Promise.all([child.stdout, child.stderr].map((s) => new Response(s).text()));
  let ok = false;
  try {
    const specs = await poll(`http://127.0.0.1:${port}/api/kernelspecs?token=t0k`, 60_000);
    assert.equal(specs.kernelspecs.teskd.spec.display_name, "TypeScript (teskd)");
    const root = await poll(`http://127.0.0.1:${port}/api/contents?token=t0k`, 5_000);
    assert.ok(root.content.some((e: { name: string }) => e.name === "README.md"));
    ok = true;
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // already exited: its logs below say why
    }
    await child.status;
    const [stdout, stderr] = await logs;
    if (!ok) console.error(`lab's output:\n${stdout}\n${stderr}`);
    await Deno.remove(home, { recursive: true });
  }
});

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

// deno-lint-ignore no-explicit-any
async function poll(url: string, timeoutMs: number): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return await res.json();
      last = `HTTP ${res.status}`;
      await res.body?.cancel();
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${last}`);
}
