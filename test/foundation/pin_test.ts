import assert from "node:assert/strict";
import { join } from "node:path";
import { CHECKOUT_DIR } from "../../kernel/install.ts";
import { DENO_VERSION } from "../../kernel/deno_version.ts";

const read = (path: string) => Deno.readTextFileSync(join(CHECKOUT_DIR, path));

Deno.test("Deno is pinned to one version in README, CI and the code", () => {
  const command = `npx -y deno@${DENO_VERSION}`;
  const readme = read("README.md");
  assert.ok(readme.includes(`${command} task lab`));
  assert.ok(readme.includes(`${command} task test`));
  const ci = read(".ci/run");
  assert.ok(ci.includes(`${command} task test`));
  for (const text of [readme, ci]) {
    for (const m of text.matchAll(/deno@([\w.-]+)/g)) assert.equal(m[1], DENO_VERSION, m[0]);
  }
});

Deno.test("every npm dependency is pinned to an exact version, flechette below 2.7", () => {
  const pkg = JSON.parse(read("package.json"));
  const deps: Record<string, string> = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const [name, version] of Object.entries(deps)) {
    assert.match(version, /^\d+\.\d+\.\d+$/, `${name}@${version} is not an exact version`);
  }
  assert.equal(deps["@tensorflow/tfjs"], "4.22.0");
  assert.match(deps["zeromq"], /^6\./);
  assert.match(deps["arquero"], /^8\./);
  const lock = JSON.parse(read("deno.lock"));
  const flechettes = Object.keys(lock.npm).filter((k) => k.startsWith("@uwdata/flechette@"));
  assert.ok(flechettes.length > 0);
  for (const key of flechettes) {
    const [major, minor] = key.split("@")[2].split(".").map(Number);
    assert.ok(major === 2 && minor < 7, `${key} must stay below 2.7`);
  }
});
