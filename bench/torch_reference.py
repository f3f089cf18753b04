"""PyTorch reference for bench/cpu.ts: the same models, batches and thread count on the CPU.

Usage: /usr/bin/python3 bench/torch_reference.py BATCH THREADS STEPS [MODE]
MODE is one of
  baseline  CIFAR ResNet-18 training step (CE loss) -- the default
  teskd     full TESKD training step: teacher + 3 students, TESKD loss, SGD step
  infer     teacher inference (eval mode, no grad) at BATCH
Prints one JSON line: {"torch": version, "mode": MODE, "batch": B, "threads": T, "ms_per_step": median}.

The models follow /work/shared/specs/teskd.md exactly: the CIFAR ResNet-18 (3x3 stem, no max-pool,
100 classes); students with laterals (1x1 conv-BN-ReLU), upsample (bilinear x2, align_corners=True,
then 1x1 conv-BN-ReLU), fuse_1/2/3 (1x1 conv 2W->W on concat[u + lateral, u]), downsample heads with
k = 2, 4, 8 (kxk stride-k conv with bias-BN-ReLU-1x1 conv with bias-BN-ReLU), global average pool,
fc_b1/2/3. Loss: 0.2 * sum CE + 0.8 * sum KL_T (T = 4, q = softmax(z_t/T) + 1e-7, teacher not
detached) + 1e-7 * sum FEA (sum of squares, g detached). SGD lr 0.1, momentum 0.9, Nesterov, weight
decay 5e-4. Training runs on fixed random NCHW data (the same shapes as NHWC 32x32x3).
"""
import json
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


class ResNet18(nn.Module):
    def __init__(self, num_classes=100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages, inp = [], 64
        for i, w in enumerate([64, 128, 256, 512]):
            blocks = []
            for b in range(2):
                blocks.append(BasicBlock(inp, w, 2 if (b == 0 and i > 0) else 1))
                inp = w
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(512, num_classes)

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
    """The teacher with the three students (W = 512)."""

    def __init__(self, num_classes=100, width=512):
        super().__init__()
        self.teacher = ResNet18(num_classes)
        chans = [64, 128, 256, 512]
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


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    mode = sys.argv[4] if len(sys.argv) > 4 else "baseline"
    if mode not in ("baseline", "teskd", "infer"):
        sys.exit(f"torch_reference.py: MODE must be baseline, teskd or infer, got {mode!r}")
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 100, (batch,))
    if mode == "infer":
        model = ResNet18().eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model = (ResNet18() if mode == "baseline" else Teskd()).train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                              weight_decay=5e-4)
        loss_fn = (lambda out: F.cross_entropy(out, y)) if mode == "baseline" else (
            lambda out: teskd_loss(out, y))

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x))
            loss.backward()
            loss.item()
            opt.step()
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        step()
        if i > 0:
            times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"torch": torch.__version__, "mode": mode, "batch": batch, "threads": threads,
                      "ms_per_step": statistics.median(times)}))


if __name__ == "__main__":
    main()
