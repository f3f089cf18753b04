"""Drives the teskd kernel (through test/kernel/client.py's helpers) for kernel_display_test.ts.

Usage: /usr/bin/python3 test/analysis/kernel_display_client.py TMPDIR
Prints one JSON object: scenario name -> {"reply", "iopub"} of the cell run.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernel"))
from client import Kernel, run  # noqa: E402

TRANSPORT = '''
type T = { display(v: unknown, o?: { id?: string }): void; update(id: string, v: unknown): void };
const t = (globalThis as unknown as Record<symbol, T>)[Symbol.for("teskd.kernel.display")];
t.display({ [Symbol.for("Jupyter.display")]() { return { "text/html": "<b>one</b>" }; } }, { id: "lib-1" });
t.update("lib-1", "two");
t.display(3);
'''

PROGRESS = '''
import { ProgressView } from "./lib/analysis/progress.ts";
import { makeHistory, makeStep } from "./test/analysis/fixture.ts";
const view = new ProgressView({ epochs: 2, updateEveryMs: 0, title: "kernel run" });
const hist = makeHistory(2);
for (let e = 0; e < 2; e++) {
  for (let s = 0; s < 3; s++) view.onStep(makeStep(e, s, 3));
  view.onEpoch(hist[e]);
}
view.id
'''

FIGURES = '''
import { lineChart } from "./lib/analysis/figure.ts";
display(lineChart({ a: [1, 2] }));
display(lineChart({ b: [3, 4] }));
lineChart({ c: [5] })
'''


def main():
    k = Kernel(sys.argv[1], "analysis")
    try:
        result = {"transport": run(k.kc, TRANSPORT), "progress": run(k.kc, PROGRESS),
                  "figures": run(k.kc, FIGURES)}
        result["_stderr"] = k.stderr_text()
    finally:
        k.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
