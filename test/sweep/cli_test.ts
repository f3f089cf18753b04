// `deno task sweep`: a grid file on the local launcher, its status, and clear errors for bad input.
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../lib/sweep/cli.ts";
import { TINY_RUN } from "../train/tiny_run.ts";

Deno.test("sweep CLI: trains a grid file locally, prints every run, then its status", async () => {
  const dir = await Deno.makeTempDir();
  const grid = join(dir, "grid.json");
  await Deno.writeTextFile(
    grid,
    JSON.stringify({ base: TINY_RUN, factors: { seed: [1, 2] }, dir: join(dir, "runs") }),
  );
  const out: string[] = [];
  assert.equal(await main(["--config", grid], (l) => out.push(l)), 0);
  const table = out.at(-1)!.split("\n");
  assert.match(table[0], /^\|id\|seed\|state\|method\|/);
  assert.equal(
    table.filter((l) => /^\|seed=\d-[0-9a-f]{8}\|\d\|finished\|teskd\|/.test(l)).length,
    2,
  );
  const status: string[] = [];
  assert.equal(await main(["--config", grid, "--status"], (l) => status.push(l)), 0);
  assert.match(status.join("\n"), /\|job\|detail\|$/m);
  const cancel: string[] = [];
  assert.equal(await main(["--config", grid, "--cancel"], (l) => cancel.push(l)), 0);
  assert.match(cancel.join("\n"), /nothing of .* is queued or running on the local launcher/);
});

Deno.test("sweep CLI: bad arguments and grid files fail with a clear message", async () => {
  const dir = await Deno.makeTempDir();
  const grid = join(dir, "grid.json");
  await Deno.writeTextFile(
    grid,
    JSON.stringify({ factors: { seed: [1] }, dir: join(dir, "runs") }),
  );
  const bad = join(dir, "bad.json");
  await Deno.writeTextFile(bad, "{ not json");
  const cases: [string[], RegExp][] = [
    [[], /--config is required\nusage: deno task sweep/],
    [["--config", grid, "--frobnicate"], /Unknown option '--frobnicate'[\s\S]*usage:/],
    [["--config", grid, "--launcher", "ssh"], /--launcher is local or slurm/],
    [["--config", grid, "--detach"], /--detach needs the slurm launcher/],
    [["--config", bad], /cannot read the grid .*bad\.json/],
    [["--config", join(dir, "missing.json")], /cannot read the grid .*missing\.json/],
  ];
  for (const [args, message] of cases) {
    const lines: string[] = [];
    assert.equal(await main(args, (l) => lines.push(l)), 1, args.join(" "));
    assert.match(lines.join("\n"), message);
  }
  // a grid without "dir"
  await Deno.writeTextFile(grid, JSON.stringify({ factors: { seed: [1] } }));
  const lines: string[] = [];
  assert.equal(await main(["--config", grid], (l) => lines.push(l)), 1);
  assert.match(lines.join("\n"), /the grid needs a "dir" \(or --dir\)/);
});
