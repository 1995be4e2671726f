#!/usr/bin/python3
"""Reference fixtures for the train module, computed with PyTorch (Debian python3-torch 1.13).

Not needed to run the tests: the fixtures are committed. Regenerate with
    /usr/bin/python3 tests/ref/gen_train_fixtures.py
Writes tests/ref/fixtures/train_optim.txt: three steps of torch.optim SGD (momentum 0.9,
Nesterov, dampening 0), Adam and AdamW (betas 0.9/0.999, eps 1e-8), weight decay 5e-4 and 0 on
BN tensors (pycls param groups), for each lr policy (cos, exp, lin with the pycls 5-epoch
warm-up, REFERENCE.md section 4), on small tensors with fixed gradients.

File format: one line per array, "<key> <n> <v1> ... <vn>", floats printed with 9 significant
digits. Keys: "tensor.<i> <n> <is_bn>" descriptors, "init.<i>", "grad.<step>.<i>",
"epochs <k> e1..ek", "max_epoch 1 E", "base.<opt>", "lr.<opt>.<sched>", "final.<opt>.<sched>.<i>".

Also writes tests/ref/fixtures/train_net_steps.bin: a tiny pycls RegNetY (the network classes of
tests/ref/gen_net_fixtures.py, imported, not copied) trained 3 real steps (training-mode forward
on three fixed batches, label-smoothed cross entropy, backward, optimizer step with the lr of the
schedule) for each optimizer and lr policy; the format of gen_net_fixtures.py with records
"meta", "init/<name>", "x.<s>", "y.<s>", "lr.<opt>.<sched>" and "final.<opt>.<sched>/<name>".
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_net_fixtures as netfx  # noqa: E402  (the pycls network definitions)

MIN_LR = 1e-6
WARMUP_EPOCHS = 5
WARMUP_FACTOR = 0.1
WD = 5e-4
EPOCHS = [2, 7, 40]   # one step per listed epoch: warm-up, after warm-up, late
MAX_EPOCH = 50
BASE = {"sgd": 0.5, "adam": 0.1, "adamw": 1.0}


def lr_at(policy, base, e, E):
    """pycls lr policies with MIN_LR relative to the base lr, then the linear warm-up."""
    if policy == "cos":
        lr = base * (MIN_LR + (1 - MIN_LR) * 0.5 * (1 + math.cos(math.pi * e / E)))
    elif policy == "exp":
        lr = base * MIN_LR ** (e / E)
    else:
        lr = base * (MIN_LR + (1 - MIN_LR) * (1 - e / E))
    if e < WARMUP_EPOCHS:
        a = e / WARMUP_EPOCHS
        lr *= WARMUP_FACTOR * (1 - a) + a
    return lr


def make_tensors(gen):
    """Tensor 2 is a non-BN twin of BN tensor 1 (same data and gradients): the difference of
    their results is the weight decay, which must be absent on the BN one. Base lrs are large
    (0.5, 0.1, 1.0) so that the decay moves the twins apart far beyond float rounding."""
    conv = torch.randn(4, 3, 3, 3, generator=gen) * 0.5
    bn = torch.randn(8, generator=gen)
    fc = torch.randn(5, generator=gen)
    return [("conv.weight", conv, 0), ("bn.weight", bn, 1), ("bn_twin.weight", bn.clone(), 0), ("fc.bias", fc, 0)]


def fmt(key, values):
    vals = [float(v) for v in values]
    return "%s %d %s\n" % (key, len(vals), " ".join("%.9g" % v for v in vals))


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20230501)
    tensors = make_tensors(gen)
    grads = []
    for _ in EPOCHS:
        g = [torch.randn(t.shape, generator=gen) * 0.01 for _, t, _ in tensors]
        g[1] = g[1] * 0.01  # twins: gradients small next to the decay term 5e-4 * p
        g[2] = g[1].clone()
        grads.append(g)
    out = []
    for i, (name, t, is_bn) in enumerate(tensors):
        out.append("tensor.%d %s %d %d\n" % (i, name, t.numel(), is_bn))
        out.append(fmt("init.%d" % i, t.flatten().tolist()))
    for s, g in enumerate(grads):
        for i, gi in enumerate(g):
            out.append(fmt("grad.%d.%d" % (s, i), gi.flatten().tolist()))
    out.append(fmt("epochs", EPOCHS))
    out.append(fmt("max_epoch", [MAX_EPOCH]))
    for opt in ("sgd", "adam", "adamw"):
        out.append(fmt("base." + opt, [BASE[opt]]))
        for sched in ("cos", "exp", "lin"):
            params = [torch.nn.Parameter(t.clone()) for _, t, _ in tensors]
            decay = [p for p, (_, _, bn) in zip(params, tensors) if not bn]
            no_decay = [p for p, (_, _, bn) in zip(params, tensors) if bn]
            groups = [{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}]
            if opt == "sgd":
                o = torch.optim.SGD(groups, lr=BASE[opt], momentum=0.9, dampening=0.0, nesterov=True)
            elif opt == "adam":
                o = torch.optim.Adam(groups, lr=BASE[opt], betas=(0.9, 0.999), eps=1e-8)
            else:
                o = torch.optim.AdamW(groups, lr=BASE[opt], betas=(0.9, 0.999), eps=1e-8)
            lrs = []
            for s, e in enumerate(EPOCHS):
                lr = lr_at(sched, BASE[opt], e, MAX_EPOCH)
                lrs.append(lr)
                for grp in o.param_groups:
                    grp["lr"] = lr
                for p, g in zip(params, grads[s]):
                    p.grad = g.clone()
                o.step()
            out.append(fmt("lr.%s.%s" % (opt, sched), lrs))
            for i, p in enumerate(params):
                out.append(fmt("final.%s.%s.%d" % (opt, sched, i), p.detach().flatten().tolist()))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "train_optim.txt")
    with open(path, "w") as f:
        f.write("# generated by tests/ref/gen_train_fixtures.py with torch %s\n" % torch.__version__)
        f.writelines(out)
    print("wrote", path, os.path.getsize(path), "bytes")
    net_steps()


NET_BASE = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01}


def net_steps():
    """3 real steps of a tiny network per optimizer and policy, in float64."""
    torch.use_deterministic_algorithms(True)
    a = dict(stem=0, stem_w=8, im=6, in_ch=1, classes=4, se=True, widths=[8, 16], depths=[1, 1], gws=[4, 8])
    n = 8
    gen = torch.Generator().manual_seed(20230502)
    model = netfx.AnyNet(a).double()
    netfx.init_weights(model, gen)
    sd0 = {k: v.clone() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    xs = [torch.randn(n, a["in_ch"], a["im"], a["im"], generator=gen, dtype=torch.float64) for _ in EPOCHS]
    ys = [torch.randint(0, a["classes"], (n,), generator=gen) for _ in EPOCHS]
    meta = [a["stem"], a["stem_w"], a["im"], a["in_ch"], a["classes"], int(a["se"]), len(a["widths"]), n]
    meta += a["widths"] + a["depths"] + a["gws"]
    recs = [("meta", torch.tensor(meta, dtype=torch.float64)),
            ("epochs", torch.tensor(EPOCHS + [MAX_EPOCH], dtype=torch.float64))]
    recs += [("init/" + k, v) for k, v in sd0.items()]
    for s, (x, y) in enumerate(zip(xs, ys)):
        recs += [("x.%d" % s, x), ("y.%d" % s, y.double())]
    for opt in ("sgd", "adam", "adamw"):
        recs.append(("base." + opt, torch.tensor([NET_BASE[opt]], dtype=torch.float64)))
        for sched in ("cos", "exp", "lin"):
            model.load_state_dict(sd0, strict=False)
            model.train()
            bn = [p for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters()]
            ids = {id(p) for p in bn}
            rest = [p for p in model.parameters() if id(p) not in ids]
            groups = [{"params": rest, "weight_decay": WD}, {"params": bn, "weight_decay": 0.0}]
            base = NET_BASE[opt]
            if opt == "sgd":
                o = torch.optim.SGD(groups, lr=base, momentum=0.9, dampening=0.0, nesterov=True)
            elif opt == "adam":
                o = torch.optim.Adam(groups, lr=base, betas=(0.9, 0.999), eps=1e-8)
            else:
                o = torch.optim.AdamW(groups, lr=base, betas=(0.9, 0.999), eps=1e-8)
            lrs = []
            for s, e in enumerate(EPOCHS):
                lr = lr_at(sched, base, e, MAX_EPOCH)
                lrs.append(lr)
                for grp in o.param_groups:
                    grp["lr"] = lr
                o.zero_grad()
                loss = F.cross_entropy(model(xs[s]), ys[s], label_smoothing=0.1)
                loss.backward()
                o.step()
            recs.append(("lr.%s.%s" % (opt, sched), torch.tensor(lrs, dtype=torch.float64)))
            for k, v in model.state_dict().items():
                if not k.endswith("num_batches_tracked"):
                    recs.append(("final.%s.%s/%s" % (opt, sched, k), v.clone()))  # live storage otherwise
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "train_net_steps.bin")
    size = netfx.write(path, recs)
    print("wrote", path, size, "bytes,", sum(p.numel() for p in model.parameters()), "parameters")


if __name__ == "__main__":
    main()
