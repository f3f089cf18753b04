// An explicit CPU request starts no GPU probe: nothing of WebGPU/Vulkan runs, so a machine without a
// display session prints nothing (it used to print "XDG_RUNTIME_DIR is invalid or not set" twice).
// The automatic choice does probe the GPU, and prints nothing either.
import assert from "node:assert/strict";

/** Runs `initBackend(request)` in a fresh process without XDG_RUNTIME_DIR: its stdout and stderr. */
async function initIn(request: string): Promise<{ info: unknown; stderr: string }> {
  const mod = new URL("../../lib/backend/mod.ts", import.meta.url).href;
  const script = `import { initBackend } from "${mod}";
const info = await initBackend(${request});
console.log(JSON.stringify({ name: info.name, adapter: info.adapter ?? null }));`;
  const env = { ...Deno.env.toObject() };
  delete env.XDG_RUNTIME_DIR;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env,
    clearEnv: true,
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(script));
  await w.close();
  const r = await out.output();
  const stderr = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, stderr);
  return { info: JSON.parse(new TextDecoder().decode(r.stdout)), stderr };
}

Deno.test("initBackend('cpu') probes no GPU and prints nothing", async () => {
  const { info, stderr } = await initIn(`"cpu"`);
  assert.deepEqual(info, { name: "cpu", adapter: null });
  assert.equal(stderr, "", "nothing on stderr");
});

Deno.test("initBackend() probes the GPU without a word on a machine with no login session", async () => {
  const { info, stderr } = await initIn(`undefined, { env: () => undefined }`);
  // Mesa's software adapter here (CI installs mesa-vulkan-drivers): seen, and not used by default
  const { name, adapter } = info as { name: string; adapter: { software: boolean } | null };
  assert.equal(name, "cpu");
  assert.ok(adapter?.software, "the probe reached the adapter");
  assert.equal(stderr, "", "nothing on stderr");
});
