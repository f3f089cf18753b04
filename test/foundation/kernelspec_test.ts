import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CHECKOUT_DIR,
  DISPLAY_NAME,
  installKernelSpec,
  kernelsDir,
  type KernelSpec,
} from "../../kernel/install.ts";
import { DENO_VERSION } from "../../kernel/deno_version.ts";

const PYTHON = "/usr/bin/python3";

Deno.test("kernel-install writes a spec that runs the pinned Deno on kernel/main.ts", async () => {
  const prefix = await Deno.makeTempDir();
  try {
    const dir = await installKernelSpec({ prefix });
    assert.equal(dir, join(prefix, "share", "jupyter", "kernels", "teskd"));
    const spec: KernelSpec = JSON.parse(await Deno.readTextFile(join(dir, "kernel.json")));
    assert.equal(spec.display_name, DISPLAY_NAME);
    assert.equal(spec.language, "typescript");
    assert.equal(spec.interrupt_mode, "message");
    assert.equal(spec.argv[0], Deno.execPath());
    assert.equal(Deno.version.deno, DENO_VERSION);
    assert.ok(spec.argv.includes(join(CHECKOUT_DIR, "kernel", "main.ts")));
    assert.ok(spec.argv.includes(join(CHECKOUT_DIR, "deno.json")));
    assert.equal(spec.argv.at(-1), "{connection_file}");
    for (const logo of ["logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]) {
      assert.ok((await Deno.stat(join(dir, logo))).size > 0, logo);
    }
    // Idempotent: a second install gives byte-identical files.
    const first = await Deno.readFile(join(dir, "kernel.json"));
    await installKernelSpec({ prefix });
    assert.deepEqual(await Deno.readFile(join(dir, "kernel.json")), first);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("jupyter_client finds and parses the installed spec", async () => {
  const prefix = await Deno.makeTempDir();
  try {
    await installKernelSpec({ prefix });
    const script = [
      "import json, sys",
      "from jupyter_client.kernelspec import KernelSpecManager",
      "m = KernelSpecManager()",
      "s = m.get_kernel_spec('teskd')",
      "print(json.dumps({'dir': s.resource_dir, 'name': s.display_name, 'lang': s.language,",
      "  'mode': s.interrupt_mode, 'argv': s.argv}))",
    ].join("\n");
    const out = await new Deno.Command(PYTHON, {
      args: ["-c", script],
      env: { JUPYTER_PATH: join(prefix, "share", "jupyter") },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const seen = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(seen.dir, join(prefix, "share", "jupyter", "kernels", "teskd"));
    assert.equal(seen.name, "TypeScript (teskd)");
    assert.equal(seen.lang, "typescript");
    assert.equal(seen.mode, "message");
    assert.equal(seen.argv[0], Deno.execPath());
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("kernel-install refuses a Deno other than the pinned one and writes nothing", async () => {
  const prefix = await Deno.makeTempDir();
  try {
    await assert.rejects(
      installKernelSpec({ prefix, denoVersion: "2.0.0" }),
      /must run on Deno 2\.9\.6, but this is Deno 2\.0\.0; run `npx -y deno@2\.9\.6 task kernel-install`/,
    );
    assert.deepEqual([...Deno.readDirSync(prefix)], []);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});

Deno.test("kernel specs go to the user's Jupyter data dir, per platform", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  assert.equal(
    kernelsDir({ os: "linux", env: env({ HOME: "/home/a" }) }),
    "/home/a/.local/share/jupyter/kernels",
  );
  assert.equal(
    kernelsDir({ os: "linux", env: env({ HOME: "/home/a", XDG_DATA_HOME: "/x" }) }),
    "/x/jupyter/kernels",
  );
  assert.equal(
    kernelsDir({ os: "darwin", env: env({ HOME: "/Users/a" }) }),
    "/Users/a/Library/Jupyter/kernels",
  );
  assert.equal(
    kernelsDir({ os: "linux", env: env({ HOME: "/home/a", JUPYTER_DATA_DIR: "/j" }) }),
    "/j/kernels",
  );
  assert.throws(() => kernelsDir({ os: "linux", env: env({}) }), /HOME is not set/);
});

Deno.test("the kernel-install command line installs under --prefix and rejects unknown flags", async () => {
  const prefix = await Deno.makeTempDir();
  try {
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", join(CHECKOUT_DIR, "kernel", "install.ts"), ...args],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const ok = await run(["--prefix", prefix, "--name", "teskd-test"]);
    assert.ok(ok.success);
    await Deno.stat(join(prefix, "share", "jupyter", "kernels", "teskd-test", "kernel.json"));
    const bad = await run(["--frobnicate"]);
    assert.equal(bad.code, 1);
    assert.match(new TextDecoder().decode(bad.stderr), /unknown option --frobnicate/);
  } finally {
    await Deno.remove(prefix, { recursive: true });
  }
});
