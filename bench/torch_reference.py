"""PyTorch reference for bench/cpu.ts and bench/gpu.ts: the same models and batches, on the CPU
(with the same thread count) or on a CUDA GPU.

Usage: /usr/bin/python3 bench/torch_reference.py BATCH THREADS STEPS [MODE]
         [--device cpu|cuda] [--amp] [--width W] [--warmup N]
MODE is one of
  baseline  CIFAR ResNet-18 training step (CE loss) -- the default
  teskd     full TESKD training step: teacher + 3 students, TESKD loss, SGD step
  infer     teacher inference (eval mode, no grad) at BATCH
--device cuda runs on the GPU, timing each step between torch.cuda.synchronize() calls; --amp adds
mixed precision as the official TESKD code does (torch.autocast float16 + GradScaler; CUDA only).
--width scales every channel count (round half up, at least 1, as lib/models' widthMultiplier).
--warmup is the number of untimed steps first (default 1).
Prints one JSON line: {"torch": version, "mode": MODE, "batch": B, "threads": T, "device": D,
"amp": bool, "width": W, "gpu": name or null, "ms_per_step": median}.
When CUDA is asked for but unavailable it exits with status 3 and says why on stderr.

The models follow /work/shared/specs/teskd.md exactly: the CIFAR ResNet-18 (3x3 stem, no max-pool,
100 classes); students with laterals (1x1 conv-BN-ReLU), upsample (bilinear x2, align_corners=True,
then 1x1 conv-BN-ReLU), fuse_1/2/3 (1x1 conv 2W->W on concat[u + lateral, u]), downsample heads with
k = 2, 4, 8 (kxk stride-k conv with bias-BN-ReLU-1x1 conv with bias-BN-ReLU), global average pool,
fc_b1/2/3. Loss: 0.2 * sum CE + 0.8 * sum KL_T (T = 4, q = softmax(z_t/T) + 1e-7, teacher not
detached) + 1e-7 * sum FEA (sum of squares, g detached). SGD lr 0.1, momentum 0.9, Nesterov, weight
decay 5e-4. Training runs on fixed random NCHW data (the same shapes as NHWC 32x32x3).
"""
import argparse
import contextlib
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or inp != planes:
            self.down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.down is None else self.down(x)))


def scaled(channels, width):
    """lib/models' rounding: Math.max(1, Math.round(c * w)) (round half up, unlike Python's round)."""
    return max(1, math.floor(channels * width + 0.5))


class ResNet18(nn.Module):
    def __init__(self, num_classes=100, width=1.0):
        super().__init__()
        chans = [scaled(c, width) for c in (64, 128, 256, 512)]
        self.conv1 = nn.Conv2d(3, chans[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(chans[0])
        stages, inp = [], chans[0]
        for i, w in enumerate(chans):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, w, 2 if (b == 0 and i > 0) else 1))
                inp = w
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(chans[3], num_classes)

    def stages(self, x):
        s1 = self.layer1(F.relu(self.bn1(self.conv1(x))))
        s2 = self.layer2(s1)
        s3 = self.layer3(s2)
        return s1, s2, s3, self.layer4(s3)

    def head(self, s4):
        g = torch.flatten(F.adaptive_avg_pool2d(s4, 1), 1)
        return self.fc(g), g

    def forward(self, x):
        return self.head(self.stages(x)[3])[0]


def conv_bn_relu(inp, out, k=1, stride=1, bias=False):
    return [nn.Conv2d(inp, out, k, stride, bias=bias), nn.BatchNorm2d(out), nn.ReLU(inplace=True)]


class Teskd(nn.Module):
    """The teacher with the three students (W = the teacher's last-stage channels, 512 at width 1)."""

    def __init__(self, num_classes=100, width_multiplier=1.0):
        super().__init__()
        self.teacher = ResNet18(num_classes, width_multiplier)
        chans = [scaled(c, width_multiplier) for c in (64, 128, 256, 512)]
        width = chans[3]
        self.laterals = nn.ModuleList([nn.Sequential(*conv_bn_relu(c, width)) for c in chans])
        self.upsample = nn.ModuleList([
            nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                          *conv_bn_relu(width, width))
            for _ in range(3)
        ])
        self.fuse_1 = nn.Sequential(*conv_bn_relu(2 * width, width))
        self.fuse_2 = nn.Sequential(*conv_bn_relu(2 * width, width))
        self.fuse_3 = nn.Sequential(*conv_bn_relu(2 * width, width))

        def down(k):
            return nn.Sequential(*conv_bn_relu(width, width, k, k, bias=True),
                                 *conv_bn_relu(width, width, 1, 1, bias=True))

        self.downsample3, self.downsample2, self.downsample1 = down(2), down(4), down(8)
        self.fc_b1 = nn.Linear(width, num_classes)
        self.fc_b2 = nn.Linear(width, num_classes)
        self.fc_b3 = nn.Linear(width, num_classes)

    def forward(self, x):
        s1, s2, s3, s4 = self.teacher.stages(x)
        logits, g = self.teacher.head(s4)
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
            f = torch.flatten(F.adaptive_avg_pool2d(dn(t), 1), 1)
            students.append((fc(f), f))
        return logits, g, students


def kd_loss(zs, zt, T=4.0):
    q = F.softmax(zt / T, dim=1) + 1e-7
    return T * T * (q * (q.log() - F.log_softmax(zs / T, dim=1))).sum() / zs.shape[0]


def teskd_loss(out, y):
    logits, g, students = out
    ce = F.cross_entropy(logits, y)
    kd = 0.0
    fea = 0.0
    for zs, f in students:
        ce = ce + F.cross_entropy(zs, y)
        kd = kd + kd_loss(zs, logits)
        fea = fea + ((f - g.detach()) ** 2).sum()
    return 0.2 * ce + 0.8 * kd + 1e-7 * fea


def parse_args(argv):
    p = argparse.ArgumentParser(prog="torch_reference.py", description=__doc__.split("\n")[0])
    p.add_argument("batch", nargs="?", type=int, default=32)
    p.add_argument("threads", nargs="?", type=int, default=2)
    p.add_argument("steps", nargs="?", type=int, default=5)
    p.add_argument("mode", nargs="?", default="baseline", choices=("baseline", "teskd", "infer"))
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--amp", action="store_true")
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--count-ops", action="store_true",
                   help="after timing, profile one more step and add the kernels it launches")
    a = p.parse_args(argv)
    for name in ("batch", "threads", "steps"):
        if getattr(a, name) < 1:
            p.error(f"{name.upper()} must be a positive integer, got {getattr(a, name)}")
    if a.warmup < 0 or not a.width > 0:
        p.error("--warmup must be >= 0 and --width > 0")
    if a.amp and a.device != "cuda":
        p.error("--amp needs --device cuda (float16 autocast + GradScaler, as the official code)")
    return a


def make_scaler():
    # torch >= 2.3 has torch.amp.GradScaler("cuda"); older releases only torch.cuda.amp.GradScaler.
    if hasattr(torch, "amp") and hasattr(torch.amp, "GradScaler"):
        return torch.amp.GradScaler("cuda")
    return torch.cuda.amp.GradScaler()


def main():
    a = parse_args(sys.argv[1:])
    if a.device == "cuda" and not torch.cuda.is_available():
        built = torch.version.cuda
        why = (f"this PyTorch {torch.__version__} is built without CUDA" if built is None else
               f"PyTorch {torch.__version__} (CUDA {built}) sees no CUDA device")
        print(f"torch_reference.py: CUDA unavailable: {why}", file=sys.stderr)
        sys.exit(3)
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.randn(a.batch, 3, 32, 32, device=dev)
    y = torch.randint(0, 100, (a.batch,), device=dev)
    autocast = (lambda: torch.autocast(device_type="cuda", dtype=torch.float16)) if a.amp else (
        lambda: contextlib.nullcontext())
    if a.mode == "infer":
        model = ResNet18(width=a.width).to(dev).eval()

        def step():
            with torch.no_grad(), autocast():
                model(x)
    else:
        model = (ResNet18(width=a.width) if a.mode == "baseline" else
                 Teskd(width_multiplier=a.width)).to(dev).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                              weight_decay=5e-4)
        loss_fn = (lambda out: F.cross_entropy(out, y)) if a.mode == "baseline" else (
            lambda out: teskd_loss(out, y))
        scaler = make_scaler() if a.amp else None

        def step():
            opt.zero_grad()
            with autocast():
                loss = loss_fn(model(x))
            if scaler is None:
                loss.backward()
                loss.item()
                opt.step()
            else:
                scaler.scale(loss).backward()
                loss.item()
                scaler.step(opt)
                scaler.update()
    sync = torch.cuda.synchronize if a.device == "cuda" else (lambda: None)
    times = []
    for i in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    result = {"torch": torch.__version__, "mode": a.mode, "batch": a.batch,
              "threads": a.threads, "device": a.device, "amp": a.amp, "width": a.width,
              "gpu": torch.cuda.get_device_name(0) if a.device == "cuda" else None,
              "ms_per_step": statistics.median(times)}
    if a.count_ops:
        result["kernels"] = count_kernels(step, a.device)
    print(json.dumps(result))


# Operators that only make views or read metadata: they launch no kernel.
NO_KERNEL = {"aten::view", "aten::_unsafe_view", "aten::as_strided", "aten::empty",
             "aten::empty_strided", "aten::empty_like", "aten::t", "aten::transpose",
             "aten::expand", "aten::reshape", "aten::unsqueeze", "aten::squeeze", "aten::detach",
             "aten::alias", "aten::resize_", "aten::select", "aten::slice", "aten::permute",
             "aten::numel", "aten::size", "aten::stride", "aten::is_nonzero", "detach",
             "aten::_reshape_alias", "aten::lift_fresh", "aten::result_type", "aten::flatten",
             "aten::as_strided_", "aten::resolve_conj", "aten::resolve_neg", "aten::contiguous",
             "aten::to", "aten::item"}


def count_kernels(step, device):
    """One profiled step: on CUDA the kernels launched; on the CPU the leaf operators that do work
    (the ones a GPU build would launch a kernel for; view and metadata operators left out)."""
    from torch.profiler import ProfilerActivity, profile
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    with profile(activities=acts) as prof:
        step()
        if device == "cuda":
            torch.cuda.synchronize()
    events = prof.events()
    if device == "cuda":
        return {"how": "CUDA kernels", "count": sum(1 for e in events
                                                    if e.device_type.name == "CUDA")}
    def works(e):
        return e.name.startswith("aten::") and e.name not in NO_KERNEL

    def does_work_below(e):
        return any(works(c) or does_work_below(c) for c in e.cpu_children)

    # an operator that does work and calls none that does: the innermost kernels
    kernels = [e for e in events if works(e) and not does_work_below(e)]
    return {"how": "CPU innermost operators doing work", "count": len(kernels)}


if __name__ == "__main__":
    main()
