import assert from "node:assert/strict";
import { join } from "node:path";
import { installKernelSpec } from "../../kernel/install.ts";

/**
 * The path a researcher takes: the installed kernel spec, a notebook outside the checkout that imports
 * "teskd", executed top to bottom by nbclient (the engine of `jupyter nbconvert --execute`).
 */
Deno.test("an installed kernel runs a notebook outside the checkout that imports teskd", async () => {
  const prefix = await Deno.makeTempDir();
  const notebookDir = await Deno.makeTempDir();
  try {
    await installKernelSpec({ prefix });
    const cells = [
      'import { createTeskd, initBackend } from "teskd";\nconst info = await initBackend("cpu");\ninfo.name',
      'const model = createTeskd("cifarresnet18", { numClasses: 100 });\nmodel.parameterCount()',
      'console.log("teacher", model.teacher.parameterCount());',
    ];
    const script = `
import json, sys, nbformat
from nbclient import NotebookClient
nb = nbformat.v4.new_notebook()
nb.cells = [nbformat.v4.new_code_cell(src) for src in json.loads(sys.argv[1])]
NotebookClient(nb, kernel_name="teskd", timeout=120, resources={"metadata": {"path": sys.argv[2]}}).execute()
print(json.dumps([c.outputs for c in nb.cells]))
`;
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", script, JSON.stringify(cells), notebookDir],
      env: { JUPYTER_PATH: join(prefix, "share", "jupyter") },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const outputs = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(outputs[0][0].output_type, "execute_result");
    assert.equal(outputs[0][0].data["text/plain"], '"cpu"');
    assert.equal(outputs[1][0].data["text/plain"], "37050832");
    assert.deepEqual(outputs[2], [{
      output_type: "stream",
      name: "stdout",
      text: "teacher 11220132\n",
    }]);
  } finally {
    await Deno.remove(prefix, { recursive: true });
    await Deno.remove(notebookDir, { recursive: true });
  }
});
