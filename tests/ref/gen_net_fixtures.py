#!/usr/bin/python3
"""Reference fixtures for the net module (tests/net/test_torch.c).

Builds pycls AnyNet RegNetY networks (res_bottleneck_block with SE, res_stem_cifar or
simple_stem_in, AnyHead) in PyTorch with the module names of pycls, so that the state_dict
names and order are those the C net exposes. Runs one training-mode batch in float64 with
label-smoothing 0.1 cross entropy and writes logits, loss, every gradient and the updated BN
running statistics; then applies p -= 0.1 * grad and writes evaluation-mode logits of a second
batch. Run with Debian's python3-torch:  /usr/bin/python3 tests/ref/gen_net_fixtures.py

File format (little endian): b"EAHASNF1", u32 count, then count records of
  u32 name_len, name bytes, u32 ndim, u32 dims[ndim], f32 data[prod(dims)].
"""
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


class SE(nn.Module):
    def __init__(self, w_in, w_se):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.f_ex = nn.Sequential(nn.Conv2d(w_in, w_se, 1, bias=True), nn.ReLU(),
                                  nn.Conv2d(w_se, w_in, 1, bias=True), nn.Sigmoid())

    def forward(self, x):
        return x * self.f_ex(self.avg_pool(x))


class BottleneckTransform(nn.Module):
    def __init__(self, w_in, w_out, stride, gw, se):
        super().__init__()
        w_b = w_out
        groups = w_b // gw
        w_se = int(round(w_in * 0.25)) if se else 0
        self.a = nn.Conv2d(w_in, w_b, 1, bias=False)
        self.a_bn = nn.BatchNorm2d(w_b, eps=1e-5, momentum=0.1)
        self.a_af = nn.ReLU()
        self.b = nn.Conv2d(w_b, w_b, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.b_bn = nn.BatchNorm2d(w_b, eps=1e-5, momentum=0.1)
        self.b_af = nn.ReLU()
        self.se = SE(w_b, w_se) if w_se else None
        self.c = nn.Conv2d(w_b, w_out, 1, bias=False)
        self.c_bn = nn.BatchNorm2d(w_out, eps=1e-5, momentum=0.1)

    def forward(self, x):
        x = self.a_af(self.a_bn(self.a(x)))
        x = self.b_af(self.b_bn(self.b(x)))
        if self.se is not None:
            x = self.se(x)
        return self.c_bn(self.c(x))


class ResBottleneckBlock(nn.Module):
    def __init__(self, w_in, w_out, stride, gw, se):
        super().__init__()
        self.proj, self.bn = None, None
        if w_in != w_out or stride != 1:
            self.proj = nn.Conv2d(w_in, w_out, 1, stride=stride, bias=False)
            self.bn = nn.BatchNorm2d(w_out, eps=1e-5, momentum=0.1)
        self.f = BottleneckTransform(w_in, w_out, stride, gw, se)
        self.af = nn.ReLU()

    def forward(self, x):
        x_p = self.bn(self.proj(x)) if self.proj is not None else x
        return self.af(x_p + self.f(x))


class Stage(nn.Module):
    def __init__(self, w_in, w_out, stride, d, gw, se):
        super().__init__()
        for i in range(d):
            self.add_module("b{}".format(i + 1), ResBottleneckBlock(w_in, w_out, stride if i == 0 else 1, gw, se))
            w_in = w_out

    def forward(self, x):
        for b in self.children():
            x = b(x)
        return x


class Stem(nn.Module):
    def __init__(self, w_in, w_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(w_in, w_out, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(w_out, eps=1e-5, momentum=0.1)
        self.af = nn.ReLU()

    def forward(self, x):
        return self.af(self.bn(self.conv(x)))


class Head(nn.Module):
    def __init__(self, w_in, classes):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(w_in, classes, bias=True)

    def forward(self, x):
        return self.fc(torch.flatten(self.avg_pool(x), 1))


class AnyNet(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.stem = Stem(a["in_ch"], a["stem_w"], 2 if a["stem"] == 1 else 1)
        w_in = a["stem_w"]
        for i, (w, d, gw) in enumerate(zip(a["widths"], a["depths"], a["gws"])):
            self.add_module("s{}".format(i + 1), Stage(w_in, w, 2, d, gw, a["se"]))
            w_in = w
        self.head = Head(w_in, a["classes"])

    def forward(self, x):
        for m in self.children():
            x = m(x)
        return x


def init_weights(model, gen):
    """pycls init (conv fan_out normal, linear normal 0.01), then perturbations that make the
    comparison sensitive to every parameter: BN gamma/beta, biases, running statistics."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            m.weight.data.normal_(0.0, math.sqrt(2.0 / fan_out), generator=gen)
            if m.bias is not None:
                m.bias.data.normal_(0.0, 0.1, generator=gen)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.data.normal_(1.0, 0.2, generator=gen)
            m.bias.data.normal_(0.0, 0.1, generator=gen)
            m.running_mean.normal_(0.0, 0.1, generator=gen)
            m.running_var.uniform_(0.8, 1.2, generator=gen)
        elif isinstance(m, nn.Linear):
            m.weight.data.normal_(0.0, 0.1, generator=gen)
            m.bias.data.normal_(0.0, 0.1, generator=gen)


def write(path, recs):
    buf = bytearray(b"EAHASNF1")
    buf += struct.pack("<I", len(recs))
    for name, t in recs:
        t = t.detach().to(torch.float32).contiguous()
        nb = name.encode()
        buf += struct.pack("<I", len(nb)) + nb
        buf += struct.pack("<I", t.dim()) + struct.pack("<%dI" % t.dim(), *t.shape)
        buf += t.numpy().astype("<f4").tobytes()
    with open(path, "wb") as f:
        f.write(bytes(buf))
    return len(buf)


def make(name, a, n, seed):
    gen = torch.Generator().manual_seed(seed)
    model = AnyNet(a).double()
    init_weights(model, gen)
    sd0 = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.randn(n, a["in_ch"], a["im"], a["im"], generator=gen, dtype=torch.float64)
    labels = torch.randint(0, a["classes"], (n,), generator=gen)
    x2 = torch.randn(n, a["in_ch"], a["im"], a["im"], generator=gen, dtype=torch.float64)
    meta = [a["stem"], a["stem_w"], a["im"], a["in_ch"], a["classes"], int(a["se"]), len(a["widths"]), n]
    meta += a["widths"] + a["depths"] + a["gws"]
    recs = [("meta", torch.tensor(meta, dtype=torch.float64)), ("input", x), ("labels", labels.double()),
            ("input2", x2)]
    for k, v in sd0.items():
        if k.endswith("num_batches_tracked"):
            continue
        recs.append(("init/" + k, v))
    model.train()
    logits = model(x)
    loss = F.cross_entropy(logits, labels, label_smoothing=0.1)
    loss.backward()
    recs += [("logits", logits), ("loss", loss.reshape(1))]
    for k, p in model.named_parameters():
        recs.append(("grad/" + k, p.grad))
    for k, v in model.state_dict().items():
        if "running" in k:
            recs.append(("stats/" + k, v))
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    model.eval()
    with torch.no_grad():
        recs.append(("eval_logits", model(x2)))
    size = write(os.path.join(OUT, name), recs)
    print("%s: %d bytes, %d parameters" % (name, size, sum(p.numel() for p in model.parameters())))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    # res_stem_cifar, RGB, grouped convs with 3 and 2 groups, SE on
    make("net_cifar.bin", dict(stem=0, stem_w=16, im=8, in_ch=3, classes=10, se=True,
                               widths=[24, 32], depths=[1, 2], gws=[8, 16]), n=8, seed=1)
    # simple_stem_in, one channel, a depthwise stage (gw=1) and a 4-group stage, SE on
    make("net_simple.bin", dict(stem=1, stem_w=8, im=12, in_ch=1, classes=5, se=True,
                                widths=[16, 32], depths=[2, 1], gws=[1, 8]), n=6, seed=2)
    # RegNetX (no SE), one stage
    make("net_nose.bin", dict(stem=0, stem_w=8, im=6, in_ch=2, classes=3, se=False,
                              widths=[16], depths=[2], gws=[4]), n=4, seed=3)


if __name__ == "__main__":
    main()
