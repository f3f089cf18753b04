/** Run by progress_test.ts as a separate process: a ProgressView outside the kernel. */
import { ProgressView } from "../../lib/analysis/progress.ts";
import { makeHistory, makeStep } from "./fixture.ts";

const view = new ProgressView({ epochs: 2, printEveryMs: 0 });
const history = makeHistory(2);
for (let e = 0; e < 2; e++) {
  for (let s = 0; s < 3; s++) view.onStep(makeStep(e, s, 3));
  view.onEpoch(history[e]);
}
console.log("stdout untouched");
