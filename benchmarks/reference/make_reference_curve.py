"""Regenerate the reference learning curve of the PyTorch example VAE.

Trains benchmarks/reference/reference_torch.py once per seed on real MNIST and writes
    benchmarks/reference/reference_runs.csv    one row per (seed, epoch)
    benchmarks/reference/reference_curve.csv   one row per epoch: mean, min and max over the seeds
Both files start with '#' lines that record the command, the torch version and
the date; read them with e.g. pandas.read_csv(path, comment="#").

    python benchmarks/reference/make_reference_curve.py --data-dir ../shared/data/mnist --threads 2
"""

import argparse
import datetime
import os
import platform
import shlex
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_torch as ref  # noqa: E402  (sits next to this file)

HERE = os.path.dirname(os.path.abspath(__file__))


def summarize(rows):
    """Rows of every (seed, epoch) -> one row per epoch with mean/min/max over seeds."""
    curve = []
    for epoch in sorted({r["epoch"] for r in rows}):
        at = [r for r in rows if r["epoch"] == epoch]
        out = {"epoch": epoch}
        for split in ("train", "test"):
            vals = [r[f"{split}_loss"] for r in at]
            out[f"{split}_mean"] = sum(vals) / len(vals)
            out[f"{split}_min"] = min(vals)
            out[f"{split}_max"] = max(vals)
        for key in ("train_recon", "train_kl", "test_recon", "test_kl", "seconds"):
            out[f"{key}_mean"] = sum(r[key] for r in at) / len(at)
        curve.append(out)
    return curve


def write_csv(path, header_lines, fields, rows):
    with open(path, "w", newline="") as f:
        for line in header_lines:
            f.write(f"# {line}\n")
        f.write(",".join(fields) + "\n")
        for r in rows:
            f.write(",".join(f"{r[k]:.4f}" if isinstance(r[k], float) else str(r[k])
                             for k in fields) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    p.add_argument("--data-dir", default=os.environ.get("MINIVAE_DATA_DIR"),
                   help="directory with the MNIST IDX files (default: $MINIVAE_DATA_DIR)")
    p.add_argument("--out-dir", default=HERE, help="where the two CSV files go")
    args = p.parse_args(argv)
    if not args.data_dir:
        p.error("give --data-dir or set MINIVAE_DATA_DIR")
    seeds = [int(s) for s in args.seeds.split(",")]

    torch.set_num_threads(args.threads)
    x_train, x_test = ref.load_mnist_tensors(args.data_dir, "cpu")
    rows = []
    for seed in seeds:   # the example's settings: batch 128, Adam lr 1e-3
        rows += ref.run(x_train, x_test, seed=seed, epochs=args.epochs, batch_size=128, lr=1e-3)

    command = "python benchmarks/reference/make_reference_curve.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    header = [
        "Reference: pytorch/examples vae/main.py (784-400-20, ReLU, sigmoid, BCE sum + KL,",
        "Adam 1e-3, batch 128) reimplemented in benchmarks/reference/reference_torch.py; MNIST in [0, 1].",
        "Losses in nats per image; test = single-sample negative ELBO (z sampled, as the example);",
        "seconds = training time of the epoch (test pass excluded), noisy on a shared CPU.",
        f"regenerate: {command}",
        f"torch {torch.__version__}, {args.threads} threads, {platform.machine()}, "
        f"python {platform.python_version()}, {datetime.date.today().isoformat()}",
    ]
    curve_fields = ["epoch", "train_mean", "train_min", "train_max",
                    "test_mean", "test_min", "test_max",
                    "train_recon_mean", "train_kl_mean", "test_recon_mean", "test_kl_mean",
                    "seconds_mean"]
    write_csv(os.path.join(args.out_dir, "reference_runs.csv"), header, ref.FIELDS, rows)
    write_csv(os.path.join(args.out_dir, "reference_curve.csv"), header, curve_fields,
              summarize(rows))
    for r in summarize(rows):
        print(f"epoch {r['epoch']:2d}  train {r['train_mean']:.2f} "
              f"[{r['train_min']:.2f}, {r['train_max']:.2f}]  test {r['test_mean']:.2f} "
              f"[{r['test_min']:.2f}, {r['test_max']:.2f}]")


if __name__ == "__main__":
    main()
