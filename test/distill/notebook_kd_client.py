"""A researcher's notebook session through the real kernel (test/kernel/client.py's helpers): load a
PyTorch-written teacher, distill a small student with kd on generated data, export the deployed
network, load the export back and score it. Used by notebook_kd_test.ts.

Usage: /usr/bin/python3 test/distill/notebook_kd_client.py TMPDIR
TMPDIR holds teacher.json + teacher.bin (a trained teacher's state dict, written by the Deno test);
this script saves it with torch.save({"model": state_dict, ...}) as the official toolbox does, then
runs the cells. Prints one JSON object: cell name -> {"reply", "iopub"}.
"""
import collections
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "kernel"))
from client import Kernel, run  # noqa: E402


def write_teacher_pth(tmp):
    manifest = json.load(open(os.path.join(tmp, "teacher.json")))
    raw = open(os.path.join(tmp, "teacher.bin"), "rb").read()
    sd = collections.OrderedDict()
    for e in manifest:
        dtype = np.int32 if e["dtype"] == "int32" else np.float32
        a = np.frombuffer(raw, dtype=dtype, count=e["numel"], offset=e["offset"]).reshape(e["shape"])
        t = torch.from_numpy(a.copy())
        sd[e["name"]] = t.long() if e["name"].endswith("num_batches_tracked") else t
    path = os.path.join(tmp, "resnet8_best.pth")
    torch.save({"model": sd, "epoch": 8, "best_acc": 0.0}, path)
    return path


DATA = ('data: { dataset: "synthetic", synthetic: { size: 8, classes: 4, train: 64, test: 32 }, '
        'batchSize: 16, evalBatchSize: 16, workers: 0 }')


def main():
    tmp = sys.argv[1]
    pth = write_teacher_pth(tmp)
    out = os.path.join(tmp, "deployed.safetensors")
    k = Kernel(tmp, "kd-notebook")
    try:
        cells = collections.OrderedDict()
        cells["load"] = run(k.kc, f'''
import {{ accuracy, createExperiment, createNetwork, exportDeployed, initBackend, loadStateDictFile,
  loadTeacher, Trainer, type TrainConfigInput }} from "teskd";
await initBackend("cpu");
const teacher = await loadTeacher("resnet8", {json.dumps(pth)});
({{ frozen: teacher.frozen, classes: teacher.numClasses, params: teacher.parameterCount() }})
''', timeout=120)
        cells["teacher"] = run(k.kc, f'''
const base: TrainConfigInput = {{ {DATA}, seed: 5 }};
const probe = await createExperiment({{ ...base, method: "baseline", model: {{ network: "resnet8" }} }});
const teacherTop1 = (await accuracy(teacher, probe.evalData)).top1;
probe.close();
teacherTop1
''', timeout=120)
        cells["distill"] = run(k.kc, f'''
const run = await createExperiment({{ ...base, method: "kd", student: "resnet8", teacher,
  schedule: {{ epochs: 2, milestones: [] }}, optim: {{ lr: 0.05 }} }});
const trainer = new Trainer(run.trainerOptions());
await trainer.fit();
const last = trainer.history.at(-1)!;
({{ head: last.deployedHead, top1: last.eval[last.deployedHead].top1, terms: Object.keys(last.terms) }})
''', timeout=300)
        cells["export"] = run(k.kc, f'''
await exportDeployed({json.dumps(out)}, run.distiller);
const back = createNetwork("resnet8", {{ numClasses: 4 }});
back.loadStateDict(await loadStateDictFile({json.dumps(out)}));
const again = await accuracy(back, run.evalData);
const original = await accuracy(run.distiller.deployed(), run.evalData);
({{ back: again.top1, original: original.top1, trained: last.eval.student.top1, n: again.n }})
''', timeout=120)
        result = dict(cells)
        result["_stderr"] = k.stderr_text()
    finally:
        k.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
