"""Executes one notebook top to bottom with nbclient, for notebooks_test.ts and browser_test.ts.

Usage: /usr/bin/python3 test/notebooks/execute_notebook.py NOTEBOOK WORKDIR [OUT.ipynb]
The kernel spec "teskd" is found through JUPYTER_PATH. Prints one JSON object:
{"seconds", "cells": [{"cell_type", "execution_count", "outputs"}], "updates": {display_id: count}}
(nbclient folds update_display_data into the output that has that display id; the counts say how
many updates each display received). Writes the executed notebook to OUT.ipynb when given.
"""
import json
import sys
import time

import nbformat
from nbclient import NotebookClient


class CountingClient(NotebookClient):
    """Counts update_display_data messages per display id, then lets nbclient apply them."""

    updates = {}

    def _update_display_id(self, display_id, msg):
        self.updates[display_id] = self.updates.get(display_id, 0) + 1
        return super()._update_display_id(display_id, msg)


def main():
    path, workdir = sys.argv[1], sys.argv[2]
    nb = nbformat.read(path, as_version=4)
    client = CountingClient(nb, kernel_name="teskd", timeout=600,
                            resources={"metadata": {"path": workdir}})
    client.updates = {}
    started = time.time()
    error = None
    try:
        client.execute()
    except Exception as e:  # the outputs say which cell failed; report both
        error = f"{type(e).__name__}: {e}"[:4000]
    seconds = time.time() - started
    if len(sys.argv) > 3:
        nbformat.write(nb, sys.argv[3])
    cells = [{"cell_type": c.cell_type, "execution_count": c.get("execution_count"),
              "outputs": c.get("outputs", [])} for c in nb.cells]
    print(json.dumps({"seconds": seconds, "error": error, "cells": cells, "updates": client.updates}))


main()
