// An explicit CPU request starts no GPU probe: nothing of WebGPU/Vulkan runs, so a machine without a
// display session prints nothing (it used to print "XDG_RUNTIME_DIR is invalid or not set" twice).
import assert from "node:assert/strict";

Deno.test("initBackend('cpu') probes no GPU and prints nothing", async () => {
  const mod = new URL("../../lib/backend/mod.ts", import.meta.url).href;
  const script = `import { initBackend } from "${mod}";
const info = await initBackend("cpu");
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
  assert.deepEqual(JSON.parse(new TextDecoder().decode(r.stdout)), { name: "cpu", adapter: null });
  assert.equal(stderr, "", "nothing on stderr");
});
