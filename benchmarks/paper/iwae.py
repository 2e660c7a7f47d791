"""Burda, Grosse & Salakhutdinov (2015), Table 1, at a budget a 2-core CPU affords.

    OPENBLAS_NUM_THREADS=1 python benchmarks/paper/iwae.py --impl minivae --passes 4   # 3 models
    OPENBLAS_NUM_THREADS=1 python benchmarks/paper/iwae.py --impl torch --passes 4     # the same in PyTorch
    python benchmarks/paper/iwae.py --report                   # table + figure from both result files

Three models on dynamically binarized MNIST, the paper's one-stochastic-layer
architecture (784-200-200-50 tanh, Bernoulli), Adam (beta2 0.999, eps 1e-4),
batch 20, and the first passes of the paper's schedule (3^i passes at lr
1e-3 * 10^(-i/7)): VAE k=1, VAE k=5 (the ELBO averaged over 5 samples) and
IWAE k=5. Each is measured on the fixed binarized test set: test NLL (the
importance-weighted estimate with 5000 samples, §9, on the first
--nll-images images), the test ELBO (one sample, analytic KL, all images)
and active units (Var_x mu_j(x) > 0.01). ``--impl torch`` trains the same
three with an independent PyTorch implementation (its own layers, init,
binarization noise, loss and autograd) at the same budget.

The paper's ordering (full schedule, 3280 passes): IWAE k=5 85.54 < VAE k=5
86.47 <= VAE k=1 86.76 nats. The report says which orderings hold here.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # common.py
from common import threads_from_argv  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))   # benchmarks/paper/

RUNS = (("VAE k=1", 1, "elbo"), ("VAE k=5", 5, "elbo"), ("IWAE k=5", 5, "iwae"))
PAPER = {"VAE k=1": 86.76, "VAE k=5": 86.47, "IWAE k=5": 85.54}   # Burda et al. Table 1, test NLL
OUT = os.path.join(HERE, "iwae")


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--impl", choices=("minivae", "torch"), default="minivae")
    p.add_argument("--passes", type=int, default=4, help="passes over the training set "
                   "(4 = the schedule's first two stages; the paper's full schedule is 3280)")
    p.add_argument("--nll-images", type=int, default=500, help="test images for the NLL")
    p.add_argument("--nll-k", type=int, default=5000, help="importance samples for the NLL")
    p.add_argument("--train-images", type=int, default=None, help="use the first N (tests)")
    p.add_argument("--test-images", type=int, default=None, help="use the first N (tests)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out-dir", default=OUT)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--report", action="store_true", help="only write the table and figure")
    p.add_argument("--time-steps", type=int, default=0, metavar="N", help="only time N steps "
                   "of each model (and IWAE k=50) and say what the full schedule would take")
    return p.parse_args(argv)


def load(args):
    """Train images (N, 784) in [0, 1] and the fixed binarized test set (N_test, 784), float32."""
    import numpy as np
    from minivae.data import load_mnist, to_unit_float
    from minivae.run.evaluation import binarize_test_set
    root = args.data_dir or os.environ.get("MINIVAE_DATA_DIR")
    train, _ = load_mnist("train", root=root, download=root is None)
    test, _ = load_mnist("test", root=root, download=root is None)
    train = to_unit_float(train)[: args.train_images]
    test = binarize_test_set(to_unit_float(test), args.seed)   # the test set a --binarize run uses
    test = test[: args.test_images]
    return np.ascontiguousarray(train), np.ascontiguousarray(test)


# -- minivae ---------------------------------------------------------------------

def train_minivae(name, k, objective, train, test, args):
    import numpy as np
    from minivae import IWAE, Adam
    from minivae.data import BatchIterator
    from minivae.run.evaluation import active_units, evaluate_elbo, iw_log_likelihood
    from minivae.run.schedule import burda_learning_rate
    model = IWAE(784, (200, 200), 50, "bernoulli", "tanh", seed=args.seed, k=k, objective=objective)
    opt = Adam(model.params, lr=1e-3, betas=(0.9, 0.999), eps=1e-4)
    batches = BatchIterator(train, 20, seed=args.seed, binarize=True)
    curve, start = [], time.perf_counter()
    for epoch in range(1, args.passes + 1):
        opt.lr = burda_learning_rate(epoch)
        sums = np.zeros(3)                                   # objective, ess, examples
        for x in batches:
            loss, parts = model.loss_and_grads(x)
            opt.step(model.grads)
            sums += (float(loss) * len(x), float(parts.get("ess", 1.0)) * len(x), len(x))
        curve.append({"epoch": epoch, "lr": opt.lr, "objective": sums[0] / sums[2],
                      "ess": sums[1] / sums[2], "seconds": time.perf_counter() - start})
        print(f"  {name} pass {epoch}: objective {curve[-1]['objective']:.3f}, ESS "
              f"{curve[-1]['ess']:.2f}, {curve[-1]['seconds']:.0f} s", flush=True)
    train_s = time.perf_counter() - start
    elbo = evaluate_elbo(model, test)["loss"]      # one sample, analytic KL, all images
    nll = -float(iw_log_likelihood(model, test[: args.nll_images], args.nll_k,
                                   batch_size=5, k_chunk=1000).mean())
    _, test_ess = iw_log_likelihood(model, test[: args.nll_images], 5, ess=True)   # (N,)
    active, variances = active_units(model, test)              # (Z,) Var_x mu_j(x)
    return {"name": name, "impl": "minivae", "k": k, "objective": objective, "curve": curve,
            "train_seconds": train_s, "test_nll": nll, "test_elbo": elbo,
            "test_ess5": float(test_ess.mean()), "active_units": active,
            "unit_variances": sorted(map(float, variances), reverse=True),
            "eval_seconds": time.perf_counter() - start - train_s}


# -- PyTorch, written independently ----------------------------------------------

def train_torch(name, k, objective, train, test, args):
    import numpy as np
    import torch
    from torch import nn
    from minivae.run.schedule import burda_learning_rate
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    enc = nn.Sequential(nn.Linear(784, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh())
    heads = nn.Linear(200, 100)                              # mu and log sigma^2, 50 each
    dec = nn.Sequential(nn.Linear(50, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh(),
                        nn.Linear(200, 784))
    params = [*enc.parameters(), *heads.parameters(), *dec.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-4)
    bce = nn.functional.binary_cross_entropy_with_logits

    def log_weights(x, kk):
        """log p(x|z) + log p(z) - log q(z|x), (kk, B); also mu, logvar."""
        mu, logvar = heads(enc(x)).chunk(2, dim=1)
        eps = torch.randn(kk, *mu.shape)
        z = mu + torch.exp(0.5 * logvar) * eps                              # (kk, B, 50)
        log_px = -bce(dec(z), x.expand(kk, *x.shape), reduction="none").sum(-1)
        log_pz = -0.5 * (z**2).sum(-1)
        log_qz = -0.5 * (eps**2 + logvar).sum(-1)
        return log_px + log_pz - log_qz, log_px, mu, logvar

    def elbo_loss(x, kk):
        _, log_px, mu, logvar = log_weights(x, kk)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1)
        return (-log_px.mean(0) + kl).mean()

    xtr = torch.from_numpy(train)
    xte = torch.from_numpy(test)
    curve, start = [], time.perf_counter()
    for epoch in range(1, args.passes + 1):
        for group in opt.param_groups:
            group["lr"] = burda_learning_rate(epoch)
        total = ess_total = 0.0
        for idx in torch.randperm(len(xtr)).split(20):
            x = torch.bernoulli(xtr[idx])                    # dynamic binarization
            if objective == "iwae":
                lw = log_weights(x, k)[0]
                loss = (math.log(k) - torch.logsumexp(lw, 0)).mean()
                wn = torch.softmax(lw.detach(), 0)
                ess_total += float((1 / (wn**2).sum(0)).sum())
            else:
                loss = elbo_loss(x, k)
                ess_total += len(x)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        curve.append({"epoch": epoch, "lr": burda_learning_rate(epoch),
                      "objective": total / len(xtr), "ess": ess_total / len(xtr),
                      "seconds": time.perf_counter() - start})
        print(f"  torch {name} pass {epoch}: objective {curve[-1]['objective']:.3f}, ESS "
              f"{curve[-1]['ess']:.2f}, {curve[-1]['seconds']:.0f} s", flush=True)
    train_s = time.perf_counter() - start
    with torch.no_grad():
        elbo = float(torch.cat([elbo_loss(xb, 1)[None] * len(xb) for xb in xte.split(1000)]).sum()
                     / len(xte))
        lls, esss = [], []
        for xb in xte[: args.nll_images].split(5):
            lw = torch.cat([log_weights(xb, min(1000, args.nll_k - s))[0].double()
                            for s in range(0, args.nll_k, 1000)])            # (nll_k, 5)
            lls.append(torch.logsumexp(lw, 0) - math.log(lw.shape[0]))
            wn = torch.softmax(log_weights(xb, 5)[0].double(), 0)
            esss.append(1 / (wn**2).sum(0))
        mus = torch.cat([heads(enc(xb)).chunk(2, dim=1)[0] for xb in xte.split(1000)]).double()
        variances = mus.var(0, unbiased=False)                  # (50,)
        active = int((variances > 0.01).sum())
    return {"name": name, "impl": "torch", "k": k, "objective": objective, "curve": curve,
            "train_seconds": train_s, "test_nll": -float(torch.cat(lls).mean()),
            "test_elbo": elbo, "test_ess5": float(torch.cat(esss).mean()),
            "active_units": active, "unit_variances": sorted(variances.tolist(), reverse=True),
            "eval_seconds": time.perf_counter() - start - train_s}


def time_full_schedule(args):
    """ms per step of each model on this CPU, and the hours 3280 passes of 3000 steps would take."""
    import numpy as np
    from minivae import IWAE, Adam
    from minivae.run.schedule import BURDA_PASSES
    x = (np.random.default_rng(0).random((20, 784)) < 0.13).astype(np.float32)   # (20, 784)
    lines = [f"{args.time_steps} steps of batch 20, {args.threads} thread(s):"]
    for name, k, objective in RUNS + (("IWAE k=50", 50, "iwae"),):
        model = IWAE(784, (200, 200), 50, "bernoulli", "tanh", k=k, objective=objective)
        opt = Adam(model.params, eps=1e-4)
        for i in range(args.time_steps + 10):          # 10 warm-up steps
            if i == 10:
                start = time.perf_counter()
            model.loss_and_grads(x)
            opt.step(model.grads)
        ms = (time.perf_counter() - start) / args.time_steps * 1e3
        hours = ms / 1e3 * 3000 * BURDA_PASSES / 3600
        lines.append(f"  {name}: {ms:.2f} ms/step, {ms * 3:.0f} s/pass, {hours:.1f} h for "
                     f"the full schedule ({BURDA_PASSES} passes)")
    print("\n".join(lines))


# -- report ----------------------------------------------------------------------

IMPLS = ("minivae", "torch")


def load_results(out_dir):
    """{seed: {impl: {model name: run}}} from out_dir/<impl>.json and out_dir/*/<impl>.json."""
    found = {}
    for folder in [out_dir] + sorted(glob.glob(os.path.join(out_dir, "*", ""))):
        for impl in IMPLS:
            path = os.path.join(folder, f"{impl}.json")
            if os.path.exists(path):
                with open(path) as f:
                    data = json.load(f)
                runs = {r["name"]: r for r in data["runs"]}
                found.setdefault(data["args"]["seed"], {})[impl] = runs
    return dict(sorted(found.items()))


def _mean(values):
    return sum(values) / len(values)


def _column(by_seed, impl, name, key):
    """One number of one model over the seeds that have it."""
    return [r[impl][name][key] for r in by_seed.values() if name in r.get(impl, {})]


def report(out_dir):
    """out_dir/results.md and out_dir/iwae.png from every result file found (all seeds)."""
    by_seed = load_results(out_dir)
    if not by_seed:
        sys.exit(f"no results in {out_dir}: run --impl minivae and/or --impl torch first")
    seeds = "/".join(map(str, by_seed))
    lines = [f"| model | impl | objective | test NLL, seeds {seeds} | mean NLL | mean test ELBO | "
             f"active units, seeds {seeds} | mean test ESS (k=5) | paper NLL |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, _, objective in RUNS:
        for impl in IMPLS:
            nll = _column(by_seed, impl, name, "test_nll")
            if nll:
                elbo, ess = (_column(by_seed, impl, name, key) for key in ("test_elbo", "test_ess5"))
                active = _column(by_seed, impl, name, "active_units")
                lines.append(f"| {name} | {impl} | {objective} | "
                             f"{' / '.join(f'{v:.2f}' for v in nll)} | {_mean(nll):.2f} | "
                             f"{_mean(elbo):.2f} | {' / '.join(map(str, active))} | "
                             f"{_mean(ess):.2f} | {PAPER[name]} |")
    lines += [""] + checks(by_seed)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write(text)
    figure(by_seed, os.path.join(out_dir, "iwae.png"))
    print(text)


def checks(by_seed):
    """The paper's ordering and minivae against PyTorch, per seed and on the seeds' means."""
    out = []
    for impl in IMPLS:
        complete = {s: r[impl] for s, r in by_seed.items()   # seeds with all three models
                    if all(n in r.get(impl, {}) for n, _, _ in RUNS)}
        rows = [(f"seed {s}", {n: runs[n]["test_nll"] for n, _, _ in RUNS})
                for s, runs in complete.items()]
        if len(rows) > 1:
            rows.append((f"mean of {len(rows)} seeds",
                         {n: _mean([v[n] for _, v in rows]) for n, _, _ in RUNS}))
        for label, v in rows:
            a, b = v["IWAE k=5"] < v["VAE k=5"], v["VAE k=5"] <= v["VAE k=1"]
            out.append(f"- {impl}, {label}: IWAE k=5 < VAE k=5 {'holds' if a else 'DOES NOT hold'}"
                       f" ({v['IWAE k=5']:.2f} vs {v['VAE k=5']:.2f}); VAE k=5 <= VAE k=1 "
                       f"{'holds' if b else 'DOES NOT hold'} ({v['VAE k=5']:.2f} vs "
                       f"{v['VAE k=1']:.2f})")
    for name, _, _ in RUNS:
        pairs = [(r["minivae"][name]["test_nll"], r["torch"][name]["test_nll"])
                 for r in by_seed.values() if name in r.get("minivae", {}) and name in r.get("torch", {})]
        if pairs:
            per_seed = ", ".join(f"{m - t:+.2f}" for m, t in pairs)
            d = _mean([m for m, _ in pairs]) - _mean([t for _, t in pairs])
            out.append(f"- {name}: minivae - torch, mean of {len(pairs)} seed(s): {d:+.2f} nats "
                       f"({'within' if abs(d) <= 0.5 else 'OUTSIDE'} 0.5); per seed {per_seed}")
    return out


def figure(by_seed, path):
    """Training objective and IWAE's ESS per pass (first seed), and the test NLL of every seed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(16, 4.2))
    first_seed, first = next(iter(by_seed.items()))
    for impl, runs in first.items():
        style = "-" if impl == "minivae" else "--"
        for j, (name, _, objective) in enumerate(RUNS):
            if name not in runs:
                continue
            curve = runs[name]["curve"]
            ep = [c["epoch"] for c in curve]
            ax.plot(ep, [c["objective"] for c in curve], style, color=f"C{j}", marker="o",
                    label=f"{name}, {impl} (objective {objective})")
            if objective == "iwae":
                bx.plot(ep, [c["ess"] for c in curve], style, color=f"C{j}", marker="o",
                        label=f"{name}, {impl}")
    for j, (name, _, _) in enumerate(RUNS):
        for shift, impl in ((-0.12, "minivae"), (0.12, "torch")):
            nll = _column(by_seed, impl, name, "test_nll")
            cx.plot([j + shift] * len(nll), nll, "o" if impl == "minivae" else "s",
                    color=f"C{j}", mfc="none" if impl == "torch" else None,
                    label=f"{name}, {impl}")
    ax.set(xlabel="pass over the training set", ylabel="nats per image (lower is better)",
           title=f"training objective: -ELBO (VAE k) or -L_5 (IWAE), seed {first_seed}")
    bx.set(xlabel="pass over the training set", ylabel="ESS (of 5)",
           title="IWAE k=5: ESS = 1 / sum_i wn_i^2 of the weights")
    cx.set(xticks=range(len(RUNS)), xticklabels=[n for n, _, _ in RUNS],
           ylabel="test NLL, nats (k=5000)",
           title=f"test NLL per seed ({'/'.join(map(str, by_seed))}): o minivae, [] torch")
    for a in (ax, bx, cx):
        a.grid(alpha=0.3)
    ax.legend(fontsize=7)
    bx.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _commit():
    import subprocess
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return None


def main(argv=None):
    threads_from_argv(argv, default=1)
    args = parse(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.report:
        return report(args.out_dir)
    if args.time_steps:
        return time_full_schedule(args)
    train, test = load(args)
    fn = train_minivae if args.impl == "minivae" else train_torch
    runs = []
    for name, k, objective in RUNS:
        runs.append(fn(name, k, objective, train, test, args))
        r = runs[-1]
        print(f"{args.impl} {name}: test NLL {r['test_nll']:.2f}, ELBO {r['test_elbo']:.2f}, "
              f"active {r['active_units']}, ESS {r['test_ess5']:.2f} "
              f"({r['train_seconds']:.0f} s training, {r['eval_seconds']:.0f} s evaluation)",
              flush=True)
        with open(os.path.join(args.out_dir, f"{args.impl}.json"), "w") as f:
            json.dump({"args": vars(args), "commit": _commit(), "runs": runs}, f, indent=1)
    return report(args.out_dir)


if __name__ == "__main__":
    main()
