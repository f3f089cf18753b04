/**
 * Packs what `deno task device-check` needs on a GPU machine that has no network and takes at most
 * 64 MiB with the working tree: `deno task device-pack [--out .device] [--skip-deno]` writes
 *
 * - `deno.xz`: this Deno binary (the pinned 2.9.6), xz-compressed (about 31 MB);
 * - `node_modules.tar.xz`: the npm dependencies the library needs at run time, pruned (only what
 *   package.json's `dependencies` need, less the TypeScript compiler and the kernel's ZeroMQ; no
 *   source maps, type declarations or bundles but the one Deno loads): about 2.5 MB packed;
 * - `libvulkan1_*.deb`: the Vulkan loader (Debian's), which GPU images built for CUDA often lack;
 *   `run.sh` unpacks it (`--no-vulkan` leaves it out);
 * - `run.sh`: the command to run there, from the repository root:
 *   `bash .device/run.sh` (unpacks Deno and node_modules, finds PyTorch's python3, runs the check,
 *   writes `$OUT/device_check.json`).
 *
 * The folder is git-ignored; name it in the device run's `carry`.
 *
 * @module
 */
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { CHECKOUT_DIR } from "../kernel/install.ts";

/** Runtime dependencies the library does not load (the kernel's compiler and transport). */
const NOT_NEEDED = ["typescript", "zeromq", "cmake-ts", "core-js"];

/**
 * The npm package an entry of node_modules/.deno holds (`@scope+name@1.2.3` → `@scope/name`), or
 * undefined for Deno's own entries (its `node_modules` of hoisted links, its caches).
 */
function packageOf(entry: string): string | undefined {
  if (!/^(@[^+@]+\+)?[^@+]+@\d/.test(entry)) return undefined;
  return entry.replace(/@[^@]*$/, "").replace("+", "/");
}

/**
 * The packages package.json's `dependencies` need, transitively (devDependencies, such as the
 * compilers and the browser tests' front-end packages, are not among them).
 */
async function runtimePackages(nm: string): Promise<Set<string>> {
  const entries = new Map<string, string[]>();
  for await (const e of Deno.readDir(join(nm, ".deno"))) {
    const name = packageOf(e.name);
    if (!e.isDirectory || name === undefined) continue;
    entries.set(name, [...(entries.get(name) ?? []), e.name]);
  }
  const root = JSON.parse(await Deno.readTextFile(join(CHECKOUT_DIR, "package.json")));
  const queue = Object.keys(root.dependencies ?? {});
  const seen = new Set<string>();
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const entry of entries.get(name) ?? []) {
      const manifest = join(nm, ".deno", entry, "node_modules", name, "package.json");
      const pkg = JSON.parse(await Deno.readTextFile(manifest).catch(() => "{}"));
      queue.push(
        ...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys(pkg.optionalDependencies ?? {}),
      );
    }
  }
  return seen;
}

/** The command run on the GPU machine. */
const RUN_SH = `#!/bin/bash
# The one-shot GPU check on a machine without network: unpack Deno and the npm dependencies that
# travelled in .device/, then run bench/device_check.ts (report in $OUT/device_check.json).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p /tmp/teskd-device
if [ -f .device/deno.xz ]; then xz -dc .device/deno.xz >/tmp/teskd-device/deno; chmod +x /tmp/teskd-device/deno; fi
DENO=\${DENO:-/tmp/teskd-device/deno}
rm -rf node_modules && tar -xJf .device/node_modules.tar.xz
# The carried Vulkan loader, only where the machine has none.
if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  for f in .device/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
  ldconfig 2>/dev/null || true
fi
# NVIDIA's Vulkan driver where the loader may not look for it on such machines.
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -z "\${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; fi
export TESKD_PYTHON="\${TESKD_PYTHON:-$(command -v python3)}"
"$DENO" run --allow-all bench/device_check.ts --out "\${OUT:-.}/device_check.json" "$@"
`;

async function sh(cmd: string, args: string[], cwd?: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "inherit", stderr: "inherit" })
    .output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${out.code})`);
}

/** Keeps, in a copy of node_modules, only what Deno loads (see the module doc). */
async function prune(nm: string): Promise<void> {
  const needed = await runtimePackages(nm);
  const drop = (name: string) => !needed.has(name) || NOT_NEEDED.includes(name);
  for await (const e of Deno.readDir(join(nm, ".deno"))) {
    const name = packageOf(e.name);
    if (e.isDirectory && name !== undefined && drop(name)) {
      await Deno.remove(join(nm, ".deno", e.name), { recursive: true });
    }
  }
  // The top-level links (node_modules/name, node_modules/@scope/name) of what was dropped.
  for await (const e of Deno.readDir(nm)) {
    if (e.name === ".deno" || e.name.startsWith(".")) continue;
    const names = e.name.startsWith("@")
      ? (await Array.fromAsync(Deno.readDir(join(nm, e.name)))).map((s) => `${e.name}/${s.name}`)
      : [e.name];
    for (const name of names) {
      if (drop(name)) await Deno.remove(join(nm, name), { recursive: true }).catch(() => {});
    }
  }
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isSymlink) continue;
      if (e.isDirectory) await walk(path);
      else if (/\.(map|d\.ts|d\.mts|d\.cts)$/.test(e.name)) await Deno.remove(path);
    }
  };
  await walk(nm);
  // A tfjs package is loaded through its "main" (the CommonJS node bundle): drop everything else.
  const tf = join(nm, ".deno");
  for await (const e of Deno.readDir(tf)) {
    if (!e.name.startsWith("@tensorflow+")) continue;
    const pkgName = packageOf(e.name)!;
    const dir = join(tf, e.name, "node_modules", pkgName);
    const main = JSON.parse(await Deno.readTextFile(join(dir, "package.json"))).main as string;
    const keep = await Deno.readFile(join(dir, main));
    for (const sub of ["dist", "src", "scripts", "miniprogram", "tools"]) {
      await Deno.remove(join(dir, sub), { recursive: true }).catch(() => {});
    }
    await Deno.mkdir(join(dir, main, ".."), { recursive: true });
    await Deno.writeFile(join(dir, main), keep);
  }
}

/** Builds the folder (see the module doc); returns its files and sizes. */
export async function devicePack(
  out: string,
  opts: { skipDeno?: boolean; noVulkan?: boolean } = {},
): Promise<Record<string, number>> {
  await Deno.mkdir(out, { recursive: true });
  const work = await Deno.makeTempDir({ prefix: "teskd-device-pack-" });
  try {
    await sh("cp", ["-a", join(CHECKOUT_DIR, "node_modules"), work]);
    await prune(join(work, "node_modules"));
    await sh("tar", ["-cJf", join(out, "node_modules.tar.xz"), "-C", work, "node_modules"]);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
  if (!opts.skipDeno) {
    const deno = await Deno.realPath(Deno.execPath());
    const xz = await new Deno.Command("xz", { args: ["-9", "-T0", "-c", deno], stdout: "piped" })
      .output();
    if (!xz.success) throw new Error("xz failed on the Deno binary");
    await Deno.writeFile(join(out, "deno.xz"), xz.stdout);
  }
  if (!opts.noVulkan) await sh("apt-get", ["download", "-qq", "libvulkan1"], out);
  await Deno.writeTextFile(join(out, "run.sh"), RUN_SH, { mode: 0o755 });
  const sizes: Record<string, number> = {};
  for await (const e of Deno.readDir(out)) {
    sizes[e.name] = (await Deno.stat(join(out, e.name))).size;
  }
  return sizes;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    strict: true,
    options: {
      out: { type: "string" },
      "skip-deno": { type: "boolean", default: false },
      "no-vulkan": { type: "boolean", default: false },
    },
  });
  const out = values.out ?? join(CHECKOUT_DIR, ".device");
  const sizes = await devicePack(out, {
    skipDeno: values["skip-deno"],
    noVulkan: values["no-vulkan"],
  });
  for (const [name, size] of Object.entries(sizes)) {
    console.log(`${relative(CHECKOUT_DIR, join(out, name))}: ${(size / 2 ** 20).toFixed(1)} MiB`);
  }
  console.log('carry ".device" and run: bash .device/run.sh');
}
