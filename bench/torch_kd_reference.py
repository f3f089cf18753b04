"""PyTorch reference for bench/kd.ts: one training step of a teacher->student method on the CPU, with
the same networks, batch and thread count, as the SimKD toolbox runs it (train_student.py and
helper/loops.py; ATSC from its own copy of them): the teacher in eval mode under torch.no_grad(), the
student and the method's modules in train mode, SGD lr 0.05, momentum 0.9, weight decay 5e-4 over the
student plus the method's modules. ATSC instead runs the teacher in train mode with grad, trains it
too (anchored to its initial weights W0), then runs a second teacher forward whose CE moves only the
classifier bias through a second optimizer.

Usage: /usr/bin/python3 bench/torch_kd_reference.py METHOD[,METHOD...] BATCH THREADS STEPS
         [--warmup N] [--serve]
METHOD is one of kd, fitnet, at, sp, vid, crd, srrl, semckd, simkd, atsc, or "all". Prints one JSON
line per method: {"torch": version, "method": M, "batch": B, "threads": T, "ms_per_step": median,
"teacher_forward_ms": median of the teacher's no-grad eval forward alone, "student_params": n,
"teacher_params": n, "module_params": n (the method's own trainable parameters), "loss": the last
step's loss}. A method that fails prints {"method": M, "error": message} and the rest still run; the
exit status is then 1. With --serve (one method), it times steps when asked on stdin instead, so that
bench/kd.ts can alternate them with its own and a busy machine slows both alike (see serve()).

The networks are the toolbox's CIFAR ResNets (post-activation BasicBlocks, 3x3 stem, three stages,
global average pool, fc): resnet32x4 (5 blocks per stage, widths 32/64/128/256) teaching resnet8x4
(1 block per stage, same widths), 100 classes. Their features are the toolbox's is_feat list:
f0 (stem), f1, f2, f3 (stage outputs), f4 (pooled vector). Each method's modules and loss follow
shared/specs/kd-methods.md section 4 (weights from the toolbox's run_distill.sh); the code is written
for this benchmark from that description.

CRD's data loader yields each sample's index and its K + 1 contrast indices (the sample itself, then
K negatives of other classes drawn without replacement); as there, they are drawn before the step,
outside the timed region. The memory bank has N = 50,000 rows (CIFAR-100's training set, labels
i % 100), and the batch's samples are taken with labels matching the batch's labels.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ left in the repository by the import below
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import BasicBlock  # noqa: E402  (the same post-activation block)

METHODS = ("kd", "fitnet", "at", "sp", "vid", "crd", "srrl", "semckd", "simkd", "atsc")
CLASSES = 100
TRAIN_SIZE = 50000


class CifarResNet(nn.Module):
    """The toolbox's CIFAR ResNet; forward gives ([f0, f1, f2, f3, pooled], logits)."""

    def __init__(self, blocks, widths=(32, 64, 128, 256), classes=CLASSES):
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
        self.fc = nn.Linear(inp, classes)  # registered last: fc.bias is the last parameter (ATSC)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        feats = [h]
        for layer in self.layers:
            h = layer(h)
            feats.append(h)
        pooled = F.adaptive_avg_pool2d(h, 1).flatten(1)
        feats.append(pooled)
        return feats, self.fc(pooled)


# ---------------------------------------------------------------------------------------------
# Shared pieces


def kl_div(zs, zt, T):
    """T^2 * KL(softmax(zt/T) || softmax(zs/T)), batch mean (the toolbox's DistillKL)."""
    return F.kl_div(F.log_softmax(zs / T, 1), F.softmax(zt / T, 1), reduction="batchmean") * T * T


def unit_rows(x):
    """Each row divided by its L2 norm (the toolbox's Normalize(2), no epsilon)."""
    return x / x.pow(2).sum(1, keepdim=True).sqrt()


def pool_to(x, h):
    return F.adaptive_avg_pool2d(x, (h, h))


def align_spatial(fs, ft):
    """Pools the larger of two maps down to the smaller one's size (AT, VID, SimKD)."""
    hs, ht = fs.shape[2], ft.shape[2]
    if hs > ht:
        return pool_to(fs, ht), ft
    if hs < ht:
        return fs, pool_to(ft, hs)
    return fs, ft


def conv1x1(cin, cout):
    return nn.Conv2d(cin, cout, 1, bias=False)


def conv3x3(cin, cout):
    return nn.Conv2d(cin, cout, 3, 1, 1, bias=False)


class Method:
    """A method's trainable modules, loss weights and distillation term."""

    cls, div, beta = 1.0, 1.0, 0.0
    T = 4.0

    def __init__(self):
        self.modules = nn.ModuleList()

    def term(self, fs, zs, ft, zt, extra):
        """The method-specific loss L_method (beta-weighted by the caller); 0 for plain KD."""
        return zs.new_zeros(())

    def penalty(self):
        """A loss on the parameters themselves, added unweighted (ATSC's anchor); none by default."""
        return 0.0


# ---------------------------------------------------------------------------------------------
# The methods (section 4 of the spec)


class KD(Method):
    beta = 0.0


class ConvRegressor(nn.Module):
    """FitNet's regressor: conv (chosen by the two spatial sizes, with bias), BN, ReLU."""

    def __init__(self, s_shape, t_shape):
        super().__init__()
        _, sc, sh, sw = s_shape
        _, tc, th, tw = t_shape
        self.pool_teacher_to = None
        if sh == 2 * th:
            self.conv = nn.Conv2d(sc, tc, 3, 2, 1)
        elif 2 * sh == th:
            self.conv = nn.ConvTranspose2d(sc, tc, 4, 2, 1)
        elif sh >= th:
            self.conv = nn.Conv2d(sc, tc, (1 + sh - th, 1 + sw - tw))
        else:
            self.conv = nn.Conv2d(sc, tc, 3, 1, 1)
            self.pool_teacher_to = sh
        self.bn = nn.BatchNorm2d(tc)

    def forward(self, fs, ft):
        out = F.relu(self.bn(self.conv(fs)))
        return out, (ft if self.pool_teacher_to is None else pool_to(ft, self.pool_teacher_to))


class FitNet(Method):
    beta = 100.0
    hint_layer = 1

    def __init__(self, shapes_s, shapes_t):
        super().__init__()
        self.reg = ConvRegressor(shapes_s[self.hint_layer], shapes_t[self.hint_layer])
        self.modules.append(self.reg)

    def term(self, fs, zs, ft, zt, extra):
        out, target = self.reg(fs[self.hint_layer], ft[self.hint_layer])
        return F.mse_loss(out, target)


def attention_map(f):
    """Row-normalised channel mean of f^2, B x (H*W)."""
    return F.normalize(f.pow(2).mean(1).flatten(1))


class AT(Method):
    beta = 1000.0

    def term(self, fs, zs, ft, zt, extra):
        total = 0
        for a, b in zip(fs[1:-1], ft[1:-1]):
            a, b = align_spatial(a, b)
            total = total + (attention_map(a) - attention_map(b)).pow(2).mean()
        return total


class SP(Method):
    beta = 3000.0

    def term(self, fs, zs, ft, zt, extra):
        a, b = fs[-2].flatten(1), ft[-2].flatten(1)
        gs = F.normalize(a @ a.t(), dim=1)
        gt = F.normalize(b @ b.t(), dim=1)
        n = a.shape[0]
        return (gt - gs).pow(2).sum() / (n * n)


class VIDPair(nn.Module):
    """One VID regressor (three 1x1 convs, no bias, no BN) with its per-channel log-scale."""

    def __init__(self, cin, cmid, cout, init_var=5.0, eps=1e-5):
        super().__init__()
        self.regressor = nn.Sequential(conv1x1(cin, cmid), nn.ReLU(), conv1x1(cmid, cmid), nn.ReLU(),
                                       conv1x1(cmid, cout))
        self.log_scale = nn.Parameter(torch.full((cout,), math.log(math.exp(init_var - eps) - 1.0)))
        self.eps = eps

    def forward(self, fs, ft):
        fs, ft = align_spatial(fs, ft)
        mean = self.regressor(fs)
        var = (F.softplus(self.log_scale) + self.eps).view(1, -1, 1, 1)
        return (0.5 * ((mean - ft).pow(2) / var + var.log())).mean()


class VID(Method):
    beta = 1.0

    def __init__(self, shapes_s, shapes_t):
        super().__init__()
        for s, t in zip(shapes_s[1:-1], shapes_t[1:-1]):
            self.modules.append(VIDPair(s[1], t[1], t[1]))

    def term(self, fs, zs, ft, zt, extra):
        return sum(pair(a, b) for a, b, pair in zip(fs[1:-1], ft[1:-1], self.modules))


class Embedding(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Linear(cin, cout)

    def forward(self, x):
        return unit_rows(self.linear(x.flatten(1)))


class CRD(Method):
    beta = 0.8

    def __init__(self, shapes_s, shapes_t, n_data, dim=128, k=16384, tau=0.07, momentum=0.5):
        super().__init__()
        self.embed_s = Embedding(shapes_s[-1][1], dim)
        self.embed_t = Embedding(shapes_t[-1][1], dim)
        self.modules.extend([self.embed_s, self.embed_t])
        bound = 1.0 / math.sqrt(dim / 3)
        self.memory_v1 = torch.rand(n_data, dim) * (2 * bound) - bound  # student side
        self.memory_v2 = torch.rand(n_data, dim) * (2 * bound) - bound  # teacher side
        self.n, self.k, self.tau, self.m = n_data, k, tau, momentum
        self.z_v1 = self.z_v2 = None  # set by the first step, then fixed

    def nce(self, p):
        """NCE loss of B x (K+1) normalised scores, column 0 the positive."""
        mpn = self.k / self.n
        eps = 1e-7
        log_d1 = (p[:, 0] / (p[:, 0] + mpn + eps)).log()
        log_d0 = (mpn / (p[:, 1:] + mpn + eps)).log()
        return -(log_d1.sum() + log_d0.sum()) / p.shape[0]

    def term(self, fs, zs, ft, zt, extra):
        index, contrast = extra["index"], extra["contrast_idx"]
        v1 = self.embed_s(fs[-1])
        v2 = self.embed_t(ft[-1])
        b, d = v1.shape
        rows = contrast.reshape(-1)
        w1 = self.memory_v1.index_select(0, rows).view(b, self.k + 1, d)
        out_v2 = torch.exp(torch.bmm(w1, v2.view(b, d, 1)) / self.tau)
        w2 = self.memory_v2.index_select(0, rows).view(b, self.k + 1, d)
        out_v1 = torch.exp(torch.bmm(w2, v1.view(b, d, 1)) / self.tau)
        if self.z_v1 is None:
            self.z_v1 = out_v1.mean().item() * self.n
            self.z_v2 = out_v2.mean().item() * self.n
        p_s = (out_v1 / self.z_v1).squeeze(2)
        p_t = (out_v2 / self.z_v2).squeeze(2)
        with torch.no_grad():
            for memory, v in ((self.memory_v1, v1), (self.memory_v2, v2)):
                moved = memory.index_select(0, index) * self.m + v * (1 - self.m)
                memory.index_copy_(0, index, unit_rows(moved))
        return self.nce(p_s) + self.nce(p_t)


class SRRL(Method):
    beta = 1.0

    def __init__(self, shapes_s, shapes_t, teacher):
        super().__init__()
        cs, ct = shapes_s[-1][1], shapes_t[-1][1]
        self.transfer = nn.Sequential(conv1x1(cs, ct), nn.BatchNorm2d(ct), nn.ReLU(inplace=True))
        self.modules.append(self.transfer)
        self.cls_t = teacher.fc  # not trained, but differentiable

    def term(self, fs, zs, ft, zt, extra):
        h = self.transfer(fs[-1][:, :, None, None]).flatten(1)
        return F.mse_loss(h, ft[-1]) + F.mse_loss(self.cls_t(h), zt)


class AttentionEmbed(nn.Module):
    """SemCKD's query/key MLP: Linear(B, B/2)-ReLU-Linear(B/2, B/4), rows L2-normalised. The
    official module also builds an unused second MLP; its parameters get no gradient, so SGD never
    touches them, but they are kept here for the same parameter count."""

    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.linear1 = nn.Linear(dim_in, 2 * dim_out)
        self.linear2 = nn.Linear(2 * dim_out, dim_out)
        self.unused = nn.Sequential(nn.Linear(dim_in, 2 * dim_out), nn.Linear(2 * dim_out, dim_out))

    def forward(self, x):
        return unit_rows(self.linear2(F.relu(self.linear1(x.flatten(1)))))


def semckd_projection(cs, ct):
    mid = 2 * ct
    return nn.Sequential(conv1x1(cs, mid), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         conv3x3(mid, mid), nn.BatchNorm2d(mid), nn.ReLU(inplace=True),
                         conv1x1(mid, ct))


class SemCKD(Method):
    beta = 400.0
    soft = 1.0

    def __init__(self, shapes_s, shapes_t, batch):
        super().__init__()
        cs = [s[1] for s in shapes_s[1:-1]]
        ct = [t[1] for t in shapes_t[1:-1]]
        self.queries = nn.ModuleList(AttentionEmbed(batch, batch // 4) for _ in cs)
        self.keys = nn.ModuleList(AttentionEmbed(batch, batch // 4) for _ in ct)
        self.proj = nn.ModuleList(nn.ModuleList(semckd_projection(a, b) for b in ct) for a in cs)
        self.modules.extend([self.queries, self.keys, self.proj])

    @staticmethod
    def gram(f):
        flat = f.reshape(f.shape[0], -1)
        return flat @ flat.t()

    def term(self, fs, zs, ft, zt, extra):
        gs, gt = fs[1:-1], ft[1:-1]
        q = torch.stack([emb(self.gram(f)) for emb, f in zip(self.queries, gs)], 1)  # B x s x d
        k = torch.stack([emb(self.gram(f)) for emb, f in zip(self.keys, gt)], 2)  # B x d x t
        alpha = F.softmax(torch.bmm(q, k) / self.soft, -1)  # B x s x t, not detached
        per_sample = []
        for i, a in enumerate(gs):
            row = []
            for j, b in enumerate(gt):
                hs, ht = a.shape[2], b.shape[2]
                src, tgt = (pool_to(a, ht), b) if hs > ht else (a, pool_to(b, hs))
                row.append((self.proj[i][j](src) - tgt).pow(2).flatten(1).mean(1))
            per_sample.append(torch.stack(row, 1))
        ind = torch.stack(per_sample, 1)  # B x s x t
        return (alpha * ind).sum() / (alpha.shape[0] * alpha.shape[1])


def simkd_projector(cs, ct, factor):
    c = ct // factor
    return nn.Sequential(conv1x1(cs, c), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                         conv3x3(c, c), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                         conv1x1(c, ct), nn.BatchNorm2d(ct), nn.ReLU(inplace=True))


class SimKD(Method):
    cls, div, beta = 0.0, 0.0, 1.0
    factor = 2

    def __init__(self, shapes_s, shapes_t, teacher):
        super().__init__()
        self.proj = simkd_projector(shapes_s[-2][1], shapes_t[-2][1], self.factor)
        self.modules.append(self.proj)
        self.cls_t = teacher.fc

    def term(self, fs, zs, ft, zt, extra):
        src, tgt = align_spatial(fs[-2], ft[-2])
        h = self.proj(src)
        # The reused teacher classifier gives the logits scored as the student's (not in the loss).
        self.logits = self.cls_t(F.adaptive_avg_pool2d(h, 1).flatten(1))
        return F.mse_loss(h, tgt)


class ATSC(SimKD):
    """SimKD's projector and loss with a teacher that trains: its weights (every parameter but the
    last with ndim > 1) are anchored to their initial values W0 by w * sum ||W - W0||^2."""

    w = 1.0

    def __init__(self, shapes_s, shapes_t, teacher):
        super().__init__(shapes_s, shapes_t, teacher)
        params = list(teacher.named_parameters())[:-1]
        self.anchored = [p for _, p in params if p.requires_grad and p.ndim > 1]
        self.w0 = [p.detach().clone() for p in self.anchored]

    def penalty(self):
        return self.w * sum((p - p0).pow(2).sum() for p, p0 in zip(self.anchored, self.w0))


# ---------------------------------------------------------------------------------------------
# The benchmark


def build(method, shapes_s, shapes_t, teacher, batch):
    if method == "kd":
        return KD()
    if method == "fitnet":
        return FitNet(shapes_s, shapes_t)
    if method == "at":
        return AT()
    if method == "sp":
        return SP()
    if method == "vid":
        return VID(shapes_s, shapes_t)
    if method == "crd":
        return CRD(shapes_s, shapes_t, TRAIN_SIZE)
    if method == "srrl":
        return SRRL(shapes_s, shapes_t, teacher)
    if method == "semckd":
        return SemCKD(shapes_s, shapes_t, batch)
    if method == "simkd":
        return SimKD(shapes_s, shapes_t, teacher)
    if method == "atsc":
        return ATSC(shapes_s, shapes_t, teacher)
    raise ValueError(f"unknown method {method}")


def feature_shapes(net):
    """Shapes of the is_feat list, from a dry forward of 2 images in eval mode (as the toolbox)."""
    was = net.training
    net.eval()
    with torch.no_grad():
        feats, _ = net(torch.randn(2, 3, 32, 32))
    net.train(was)
    return [tuple(f.shape) for f in feats]


def contrast_indices(index, labels, k, rng):
    """Per sample: itself, then K other-class samples without replacement (the CRD loader)."""
    rows = np.empty((len(index), k + 1), dtype=np.int64)
    for b, i in enumerate(index):
        others = np.flatnonzero(labels != labels[i])
        rows[b, 0] = i
        rows[b, 1:] = rng.choice(others, k, replace=False)
    return torch.from_numpy(rows)


class Session:
    """One method's networks, modules and optimizers, ready to time steps one at a time."""

    def __init__(self, method, batch, contrast_draws):
        torch.manual_seed(0)
        self.method = method
        self.teacher = CifarResNet(5)
        self.student = CifarResNet(1).train()
        shapes_s, shapes_t = feature_shapes(self.student), feature_shapes(self.teacher)
        self.m = build(method, shapes_s, shapes_t, self.teacher, batch)
        self.m.modules.train()
        self.adaptive = method == "atsc"
        self.teacher.train(self.adaptive)
        trainable = list(self.student.parameters()) + list(self.m.modules.parameters())
        if self.adaptive:
            trainable += list(self.teacher.parameters())
        sgd = dict(lr=0.05, momentum=0.9, weight_decay=5e-4)
        self.opt = torch.optim.SGD(trainable, **sgd)
        self.opt_last = (torch.optim.SGD([list(self.teacher.parameters())[-1]], **sgd)
                         if self.adaptive else None)
        self.x = torch.randn(batch, 3, 32, 32)
        y_list = [(i * 37) % CLASSES for i in range(batch)]
        self.y = torch.tensor(y_list)
        self.extras = [{}]
        if method == "crd":
            labels = np.arange(TRAIN_SIZE) % CLASSES
            index = np.array([c + CLASSES * i for i, c in enumerate(y_list)])  # labels[index] == y
            rng = np.random.default_rng(0)
            # The data loader's work, done before any timed step.
            self.extras = [{"index": torch.from_numpy(index),
                            "contrast_idx": contrast_indices(index, labels, self.m.k, rng)}
                           for _ in range(contrast_draws)]
        self.steps_done = 0
        self.loss = float("nan")

    def teacher_forward(self):
        with torch.no_grad():
            return self.teacher(self.x)

    def step(self):
        """One training step; returns its milliseconds."""
        m, x, y = self.m, self.x, self.y
        extra = self.extras[self.steps_done % len(self.extras)]
        t0 = time.perf_counter()
        ft, zt = self.teacher(x) if self.adaptive else self.teacher_forward()
        fs, zs = self.student(x)
        loss = m.cls * F.cross_entropy(zs, y) + m.div * kl_div(zs, zt, m.T)
        if m.beta:
            loss = loss + m.beta * m.term(fs, zs, ft, zt, extra)
        loss = loss + m.penalty()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        if self.adaptive:
            # The second teacher forward: CE of its own logits, stepping only the classifier bias.
            loss_last = F.cross_entropy(self.teacher(x)[1], y)
            self.opt_last.zero_grad()
            loss_last.backward(retain_graph=True)
            self.opt_last.step()
        self.loss = loss.item()
        ms = (time.perf_counter() - t0) * 1000
        self.steps_done += 1
        return ms

    def teacher_ms(self):
        """The teacher's forward alone, in eval mode under no_grad (inference); milliseconds."""
        self.teacher.eval()
        t0 = time.perf_counter()
        self.teacher_forward()
        return (time.perf_counter() - t0) * 1000

    def summary(self, a, step_times, teacher_times):
        return {
            "torch": torch.__version__, "method": self.method, "batch": a.batch,
            "threads": a.threads, "ms_per_step": statistics.median(step_times),
            "teacher_forward_ms": statistics.median(teacher_times),
            "student_params": sum(q.numel() for q in self.student.parameters()),
            "teacher_params": sum(q.numel() for q in self.teacher.parameters()),
            "module_params": sum(q.numel() for q in self.m.modules.parameters()),
            "loss": self.loss,
        }


def run(method, a):
    s = Session(method, a.batch, a.warmup + a.steps)
    for _ in range(a.warmup):
        s.step()
    times = [s.step() for _ in range(a.steps)]
    return s.summary(a, times, [s.teacher_ms() for _ in range(a.steps)])


def serve(method, a):
    """Steps on request, so that a caller can interleave them with its own: reads lines "step" (one
    training step) and "teacher" (the teacher's forward alone; afterwards the teacher is in eval
    mode) from stdin and answers each with {"ms": milliseconds}; first prints {"ready": true} (or
    {"error": message} and exits 1); at "quit" or end of input prints the summary over the steps
    after the first --warmup and exits."""
    def say(obj):
        print(json.dumps(obj), flush=True)

    try:
        s = Session(method, a.batch, a.warmup + a.steps)
    except Exception as e:
        say({"method": method, "error": f"{type(e).__name__}: {e}"})
        sys.exit(1)
    say({"ready": True, "method": method})
    steps, teacher = [], []
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == "step":
                steps.append(s.step())
                say({"ms": steps[-1]})
            elif cmd == "teacher":
                teacher.append(s.teacher_ms())
                say({"ms": teacher[-1]})
            elif cmd == "quit":
                break
            else:
                say({"error": f"unknown command {cmd!r}"})
        except Exception as e:
            say({"method": method, "error": f"{type(e).__name__}: {e}"})
            sys.exit(1)
    timed = steps[a.warmup:] or steps
    if timed and teacher:
        say(s.summary(a, timed, teacher))


def main():
    p = argparse.ArgumentParser(prog="torch_kd_reference.py", description=__doc__.split("\n")[0])
    p.add_argument("methods", help="comma-separated methods, or 'all' (one method with --serve)")
    p.add_argument("batch", type=int)
    p.add_argument("threads", type=int)
    p.add_argument("steps", type=int)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--serve", action="store_true",
                   help="time steps on request from stdin (see serve())")
    a = p.parse_args()
    methods = list(METHODS) if a.methods == "all" else [s for s in a.methods.split(",") if s]
    unknown = [s for s in methods if s not in METHODS]
    if unknown:
        p.error(f"unknown method(s) {', '.join(unknown)}; known: {', '.join(METHODS)}")
    if min(a.batch, a.threads, a.steps) < 1 or a.warmup < 0:
        p.error("BATCH, THREADS and STEPS must be >= 1 and --warmup >= 0")
    if a.serve and len(methods) != 1:
        p.error("--serve takes exactly one method")
    torch.set_num_threads(a.threads)
    if a.serve:
        serve(methods[0], a)
        return
    failed = False
    for method in methods:
        try:
            out = run(method, a)
        except Exception as e:  # report it and go on with the other methods
            failed = True
            out = {"method": method, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
