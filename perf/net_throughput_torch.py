#!/usr/bin/python3
"""PyTorch side of perf/net_throughput.c: the same RegNet (built with the module of
tests/ref/gen_net_fixtures.py), batch and threads, forward + label-smoothed CE + backward on
random data. Prints "images_per_s peak_rss_mb" (peak RSS of this process, torch import included)."""
import argparse
import importlib.util
import os
import resource
import time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "..", "tests", "ref", "gen_net_fixtures.py"))
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

ap = argparse.ArgumentParser()
ap.add_argument("--stages", required=True, help="w:d:gw,w:d:gw,...")
for name in ("stem", "stem-w", "im", "in-ch", "classes", "se", "batch", "threads", "iters"):
    ap.add_argument("--" + name, type=int, required=True)
a = ap.parse_args()
torch.set_num_threads(a.threads)
st = [tuple(int(v) for v in s.split(":")) for s in a.stages.split(",")]
arch = dict(stem=a.stem, stem_w=a.stem_w, im=a.im, in_ch=a.in_ch, classes=a.classes, se=bool(a.se),
            widths=[s[0] for s in st], depths=[s[1] for s in st], gws=[s[2] for s in st])
torch.manual_seed(0)
model = gen.AnyNet(arch)
model.train()
x = torch.randn(a.batch, a.in_ch, a.im, a.im)
y = torch.randint(0, a.classes, (a.batch,))
for it in range(a.iters + 2):
    if it == 2:
        t0 = time.perf_counter()
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
    loss.backward()
ips = a.iters * a.batch / (time.perf_counter() - t0)
print("%.2f %.1f" % (ips, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
