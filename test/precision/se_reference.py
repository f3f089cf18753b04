"""Float64 (and float32) PyTorch reference of a TESKD SE-ResNet-18 fixture for any salt.

Usage: /usr/bin/python3 test/precision/se_reference.py SALT BATCH OUT.json [--float32] [--steps N]
Builds SE-ResNet-18 + the three TESKD students with the fixture weights (test/fixtures/teskd/README.md:
values are functions of salt + official name), runs N training steps (SGD lr 0.01, momentum 0.9,
Nesterov, wd 5e-4; T=4, ce 0.2, kd 0.8, fea 1e-7) and writes per step the loss terms and every
gradient's sum/sumsq, plus the raw gradients next to OUT (OUT.f64, in OUT's "grads" [offset, n]).
With the empty salt and batch 2 it reproduces seresnet18_c100_b2.json (checked by compare_reference).
"""
import json
import math
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

M32 = np.uint64(0xFFFFFFFF)


def fnv1a32(key):
    h = 0x811C9DC5
    for b in key.encode():
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def mix32(x):
    x = x.astype(np.uint64)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    return x


def u(key, n):
    h = np.uint64(fnv1a32(key))
    i = np.arange(n, dtype=np.uint64)
    return (mix32(h ^ mix32(i)).astype(np.float64) + 0.5) / 4294967296.0


def f32(v):
    return v.astype(np.float32).astype(np.float64)


class SEBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(inp, out, 3, stride, 1), nn.BatchNorm2d(out), nn.ReLU(),
            nn.Conv2d(out, out, 3, 1, 1), nn.BatchNorm2d(out), nn.ReLU())
        self.shortcut = nn.Sequential()
        if stride != 1 or inp != out:
            self.shortcut = nn.Sequential(nn.Conv2d(inp, out, 1, stride), nn.BatchNorm2d(out))
        self.excitation = nn.Sequential(
            nn.Linear(out, out // 16), nn.ReLU(), nn.Linear(out // 16, out), nn.Sigmoid())

    def forward(self, x):
        r = self.residual(x)
        g = self.excitation(r.mean((2, 3)))[:, :, None, None]
        return F.relu(r * g + self.shortcut(x))


def cbr(i, o, k=1, s=1, bias=False):
    return [nn.Conv2d(i, o, k, s, bias=bias), nn.BatchNorm2d(o), nn.ReLU()]


class Net(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.pre = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1), nn.BatchNorm2d(64), nn.ReLU())
        inp = 64
        for s, w in enumerate((64, 128, 256, 512)):
            blocks = []
            for b in range(2):
                blocks.append(SEBlock(inp, w, 2 if b == 0 and s > 0 else 1))
                inp = w
            setattr(self, f"stage{s + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(512, classes)
        W = 512
        self.laterals = nn.ModuleList([nn.Sequential(*cbr(c, W)) for c in (64, 128, 256, 512)])
        self.upsample = nn.ModuleList([
            nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True), *cbr(W, W))
            for _ in range(3)])
        self.fuse_1 = nn.Sequential(*cbr(2 * W, W))
        self.fuse_2 = nn.Sequential(*cbr(2 * W, W))
        self.fuse_3 = nn.Sequential(*cbr(2 * W, W))

        def down(k):
            return nn.Sequential(*cbr(W, W, k, k, True), *cbr(W, W, 1, 1, True))

        self.downsample3, self.downsample2, self.downsample1 = down(2), down(4), down(8)
        self.fc_b1 = nn.Linear(W, classes)
        self.fc_b2 = nn.Linear(W, classes)
        self.fc_b3 = nn.Linear(W, classes)

    def forward(self, x):
        s1 = self.stage1(self.pre(x))
        s2 = self.stage2(s1)
        s3 = self.stage3(s2)
        s4 = self.stage4(s3)
        g = s4.mean((2, 3))
        logits = self.linear(g)
        t4 = self.laterals[3](s4)
        u3 = self.upsample[2](t4)
        t3 = self.fuse_3(torch.cat([u3 + self.laterals[2](s3), u3], 1))
        u2 = self.upsample[1](t3)
        t2 = self.fuse_2(torch.cat([u2 + self.laterals[1](s2), u2], 1))
        u1 = self.upsample[0](t2)
        t1 = self.fuse_1(torch.cat([u1 + self.laterals[0](s1), u1], 1))
        students = []
        for t, dn, fc in ((t3, self.downsample3, self.fc_b3), (t2, self.downsample2, self.fc_b2),
                          (t1, self.downsample1, self.fc_b1)):
            f = dn(t).mean((2, 3))
            students.append((fc(f), f))
        return logits, g, students


def load_weights(net, salt):
    sd = net.state_dict()
    new = {}
    for name, t in sd.items():
        if name.endswith("num_batches_tracked"):
            new[name] = torch.zeros_like(t)
            continue
        owner, leaf = name.rsplit(".", 1)
        n = t.numel()
        x = u(salt + name, n)
        if leaf == "running_mean":
            v = 0.1 * (2 * x - 1)
        elif leaf == "running_var":
            v = 0.75 + 0.5 * x
        elif leaf == "weight" and t.dim() == 1:
            v = 0.5 + 0.5 * x
        elif leaf == "weight":
            v = (2 * x - 1) * math.sqrt(6 / (n // t.shape[0]))
        else:
            w = sd[owner + ".weight"]
            if w.dim() == 1:
                v = 0.1 * (2 * x - 1)
            else:
                v = (2 * x - 1) / math.sqrt(w.numel() // w.shape[0])
        new[name] = torch.from_numpy(f32(v)).reshape(t.shape).to(t.dtype)
    net.load_state_dict(new)


def main():
    args = sys.argv[1:]
    dtype = torch.float32 if "--float32" in args else torch.float64
    steps = 2
    if "--steps" in args:
        steps = int(args[args.index("--steps") + 1])
    salt, batch, out = args[0], int(args[1]), args[2]
    classes = 100
    torch.manual_seed(0)
    net = Net(classes).to(dtype)
    load_weights(net, salt)
    x = torch.from_numpy(f32(2 * u(salt + "input", batch * 3 * 32 * 32) - 1)).reshape(batch, 3, 32, 32)
    x = x.to(dtype)
    y = torch.from_numpy(np.floor(u(salt + "label", batch) * classes).astype(np.int64))
    T = 4.0
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    net.train()
    res = []
    chunks = []
    at = 0
    for _ in range(steps):
        opt.zero_grad()
        logits, g, students = net(x)
        ce = F.cross_entropy(logits, y)
        kd = 0.0
        fea = 0.0
        for zs, f in students:
            ce = ce + F.cross_entropy(zs, y)
            q = F.softmax(logits / T, 1) + 1e-7
            kd = kd + T * T * (q * (q.log() - F.log_softmax(zs / T, 1))).sum() / batch
            fea = fea + ((f - g.detach()) ** 2).sum()
        total = 0.2 * ce + 0.8 * kd + 1e-7 * fea
        total.backward()
        grads = {}
        for name, p in net.named_parameters():
            v = p.grad.detach().to(torch.float64).numpy().ravel().copy()
            grads[name] = {"sum": float(v.sum()), "sumsq": float((v * v).sum()), "at": [at, v.size]}
            chunks.append(v)
            at += v.size
        res.append({"loss": {"ce_sum": float(ce), "kd_sum": float(kd), "fea_sum": float(fea),
                             "total": float(total)}, "grads": grads})
        opt.step()
    json.dump({"salt": salt, "batch": batch, "dtype": str(dtype), "labels": y.tolist(), "steps": res},
              open(out, "w"))
    np.concatenate(chunks).astype(np.float64).tofile(out + ".f64")


if __name__ == "__main__":
    main()
