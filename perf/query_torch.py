#!/usr/bin/env python3
"""The original EA-HAS-Bench query path, in PyTorch, on the same models and configs as
perf/query_bench.c (not a test).

The original answers a query in Python: encode the config, run each ensemble member's BSC MLP
(torch, one config at a time; per curve kind, or one network shared by the kinds as our default
fit makes them), average the control points, and decode the Bezier curve by
evaluating it on a dense parameter grid and interpolating at the integer epochs. This script does
exactly that with the weights exported by `query_bench FILE --export DIR`, for every curve kind
the file models, and reports queries per second on one thread. Tree models (time, energy) are
not included: python3-xgboost is not installed here, so the PyTorch side is timed without them
(which flatters it). It also checks that its curves agree with the C library's.

usage: python3 perf/query_torch.py DIR [--seconds S]
"""
import json
import sys
import time

import torch

torch.set_num_threads(1)


def build(params, hidden, n_out):
    """Flat input-major float array (eahas_mlp layout) -> list of (W, b) as torch tensors."""
    sizes = [(5, hidden), (21, hidden), (2 * hidden, hidden), (hidden, hidden), (hidden, hidden), (hidden, n_out)]
    p = torch.tensor(params, dtype=torch.float32)
    layers, off = [], 0
    for nin, nout in sizes:
        w = p[off:off + nin * nout].reshape(nin, nout)
        off += nin * nout
        b = p[off:off + nout]
        off += nout
        lin = torch.nn.Linear(nin, nout)
        with torch.no_grad():
            lin.weight.copy_(w.t())
            lin.bias.copy_(b)
        layers.append(lin)
    assert off == len(params)
    return layers


class BSC(torch.nn.Module):
    def __init__(self, layers, n_sigmoid=2):
        super().__init__()
        self.arch, self.hp, self.l1, self.l2, self.l3, self.head = layers
        self.n_sigmoid = n_sigmoid

    def forward(self, x):
        a = torch.relu(self.arch(x[..., :5]))
        h = torch.relu(self.hp(x[..., 5:]))
        z = torch.relu(self.l1(torch.cat([a, h], -1)))
        z = torch.relu(self.l2(z))
        z = torch.relu(self.l3(z))
        o = self.head(z)
        return torch.cat([torch.sigmoid(o[..., :self.n_sigmoid]), o[..., self.n_sigmoid:]], -1)


def bernstein(n, t):
    k = torch.arange(n + 1, dtype=torch.float64)
    binom = torch.exp(torch.lgamma(torch.tensor(n + 1.0)) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1))
    return binom * t[:, None] ** k * (1 - t[:, None]) ** (n - k)


def monotone(u):
    """The least-squares non-decreasing fit of the inner control x (pool adjacent violators, as
    eahas_bezier_make_monotone), clamped to [0, 1]; the endpoints stay 0 and 1."""
    blocks = []  # [mean, count]
    for v in u[1:-1].tolist():
        blocks.append([v, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (a, m), (b, k) = blocks[-2], blocks.pop()
            blocks[-1] = [(a * m + b * k) / (m + k), m + k]
    inner = [min(max(v, 0.0), 1.0) for v, k in blocks for _ in range(k)]
    return torch.tensor([0.0] + inner + [1.0], dtype=torch.float64)


def decode(out, n, L, B):
    """Control points (layout [y0, yn, u1..u(n-1), y1..y(n-1)]) -> L values at x = 1..L."""
    out = out.double()
    u = torch.cat([torch.zeros(1, dtype=torch.float64), out[2:n + 1], torch.ones(1, dtype=torch.float64)])
    y = torch.cat([out[0:1], out[n + 1:2 * n], out[1:2]]) * 100
    u = monotone(u)
    cu, cy = B @ u, B @ y
    s = torch.linspace(0, 1, L, dtype=torch.float64)
    i = torch.searchsorted(cu, s).clamp(1, len(cu) - 1)
    w = (s - cu[i - 1]) / (cu[i] - cu[i - 1]).clamp_min(1e-12)
    return (cy[i - 1] + w * (cy[i] - cy[i - 1])).clamp(0, 100)


def main():
    d = sys.argv[1]
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 5.0
    model = json.load(open(f"{d}/model.json"))
    configs = json.load(open(f"{d}/configs.json"))
    n, h, nk = model["degree"], model["hidden"], len(model["kinds"])
    shared = model.get("shared", False)
    if shared:  # one network per member, a head per kind: starts and ends first, then inner values
        nets = [BSC(build(p, h, 2 * n * nk), 2 * nk).eval() for p in model["shared_members"]]
    else:
        kinds = [[BSC(build(p, h, 2 * n)).eval() for p in k["members"]] for k in model["kinds"]]
    B = bernstein(n, torch.linspace(0, 1, 1001, dtype=torch.float64))
    xs = [torch.tensor(c["x"], dtype=torch.float32) for c in configs]

    def query(i):
        res = []
        if shared:
            o = torch.stack([m(xs[i]) for m in nets]).mean(0)
            for j in range(nk):
                inner = 2 * nk + (2 * n - 2) * j
                oj = torch.cat([o[2 * j:2 * j + 2], o[inner:inner + 2 * n - 2]])
                res.append(decode(oj, n, configs[i]["epochs"], B))
            return res
        for members in kinds:
            o = torch.stack([m(xs[i]) for m in members]).mean(0)
            res.append(decode(o, n, configs[i]["epochs"], B))
        return res

    with torch.no_grad():
        worst = 0.0
        for i in range(min(len(configs), 200)):
            c = torch.tensor(configs[i]["test_acc"], dtype=torch.float64)
            worst = max(worst, float((query(i)[0] - c).abs().max()))
        done, t0, c0 = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - t0 < seconds:
            for i in range(len(configs)):
                query(i)
            done += len(configs)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"configs": len(configs), "kinds": nk, "members": model["members"], "shared": shared,
                      "torch_queries_per_s_1thread": round(done / dt, 1),
                      "torch_queries_per_cpu_s": round(done / dc, 1),
                      "max_abs_diff_vs_c_test_acc": worst, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
