"""PyTorch reference for bench/kd.ts: one training step of a teacher->student method on the CPU, with
the same networks, batch and thread count, as the SimKD toolbox runs it (train_student.py and
helper/loops.py): the teacher in eval mode under torch.no_grad(), the student and the method's module
in train mode, SGD lr 0.05, momentum 0.9, weight decay 5e-4 over the student (+ module).

Usage: /usr/bin/python3 bench/torch_kd_reference.py METHOD BATCH THREADS STEPS [--warmup N]
METHOD is kd or simkd (factor 2). Prints one JSON line: {"torch": version, "method": M, "batch": B,
"threads": T, "ms_per_step": median, "teacher_forward_ms": median of the teacher's no-grad forward
alone, "student_params": n, "teacher_params": n}.

The networks are the toolbox's CIFAR ResNets (post-activation BasicBlocks, 3x3 stem, three stages,
global average pool, fc): resnet32x4 (5 blocks per stage, widths 32/64/128/256) teaching resnet8x4
(1 block per stage, same widths), 100 classes; SimKD's projector is conv1x1-BN-ReLU, conv3x3-BN-ReLU,
conv1x1-BN-ReLU (no biases, hidden channels C_t/2) with the teacher's fc reused. Written for this
benchmark from the architecture description in shared/specs/kd-methods.md.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import BasicBlock  # noqa: E402  (the same post-activation block)


class CifarResNet(nn.Module):
    def __init__(self, blocks, widths=(32, 64, 128, 256), classes=100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        layers, inp = [], widths[0]
        for s, w in enumerate(widths[1:]):
            stage = []
            for b in range(blocks):
                stage.append(BasicBlock(inp, w, 2 if (b == 0 and s > 0) else 1))
                inp = w
            layers.append(nn.Sequential(*stage))
        self.layers = nn.ModuleList(layers)
        self.fc = nn.Linear(inp, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        for layer in self.layers:
            h = layer(h)
        last = h
        pooled = F.adaptive_avg_pool2d(h, 1).flatten(1)
        return last, self.fc(pooled)


def projector(cs, ct, factor=2):
    c = ct // factor
    return nn.Sequential(
        nn.Conv2d(cs, c, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
        nn.Conv2d(c, ct, 1, bias=False), nn.BatchNorm2d(ct), nn.ReLU(inplace=True))


def kl(zs, zt, T=4.0):
    return F.kl_div(F.log_softmax(zs / T, 1), F.softmax(zt / T, 1), reduction="batchmean") * T * T


def main():
    p = argparse.ArgumentParser(prog="torch_kd_reference.py")
    p.add_argument("method", choices=("kd", "simkd"))
    p.add_argument("batch", type=int)
    p.add_argument("threads", type=int)
    p.add_argument("steps", type=int)
    p.add_argument("--warmup", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    teacher = CifarResNet(5).eval()
    student = CifarResNet(1).train()
    trainable = list(student.parameters())
    proj = None
    if a.method == "simkd":
        proj = projector(256, 256).train()
        trainable += list(proj.parameters())
    opt = torch.optim.SGD(trainable, lr=0.05, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, 100, (a.batch,))

    def teacher_forward():
        with torch.no_grad():
            return teacher(x)

    def step():
        ft, zt = teacher_forward()
        fs, zs = student(x)
        if proj is None:
            loss = F.cross_entropy(zs, y) + kl(zs, zt)
        else:
            h = proj(fs)
            _ = teacher.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))
            loss = F.mse_loss(h, ft)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    teacher_times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        teacher_forward()
        teacher_times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({
        "torch": torch.__version__, "method": a.method, "batch": a.batch, "threads": a.threads,
        "ms_per_step": statistics.median(times), "teacher_forward_ms": statistics.median(teacher_times),
        "student_params": sum(q.numel() for q in student.parameters()),
        "teacher_params": sum(q.numel() for q in teacher.parameters()),
    }))


if __name__ == "__main__":
    main()
