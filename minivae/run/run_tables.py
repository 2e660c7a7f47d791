"""A run's two tables: metrics.csv, one row per finished epoch, and reconstructions.csv.

The columns of metrics.csv, all per image and in nats unless noted:

    train_loss, train_recon, train_kl   means over the epoch's steps, weighted by batch size
                                        (the PyTorch example's "Average loss")
    test_loss, test_recon, test_kl      the whole test set, one sample of z per image: the
                                        example's "Test set loss" (fixed noise, see evaluation.py)
    psnr (dB), ssim, mse                each test image against decode(mu(x)), averaged
    seconds                             the epoch's training steps plus its test evaluation
    train_beta                          --kl-warmup only: the KL weight at the epoch's last step
    train_kl_penalty                    --free-bits only: the KL the objective charged,
                                        beta sum_j max(lambda, KL_j) (docs/math.md §14)

latents.csv, one row per finished epoch of a VAE-type run: ``epoch``,
``active_units`` (the latent dimensions whose posterior mean moves with x,
Var_x E_q[z_j] > 0.01, Burda et al. 2015), ``kl`` (the test set's KL per
image) and ``kl_1`` ... ``kl_Z``, each dimension's share of it, in nats.

Both are replaced atomically, or appended and synced line by line
(minivae/run/runs.py says in which order a run writes them and why).
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from ..files.serialize import write_error, write_text

METRIC_COLUMNS = ("epoch", "train_loss", "train_recon", "train_kl", "test_loss", "test_recon",
                  "test_kl", "psnr", "ssim", "mse", "seconds")
IWAE_COLUMNS = ("train_ess", "test_iwae", "test_ess")   # then these, with --objective iwae
WARMUP_COLUMNS = ("train_beta",)                         # then this, with --kl-warmup
FREE_BITS_COLUMNS = ("train_kl_penalty",)                # and this, with --free-bits


def metric_columns(cfg) -> tuple:
    """The columns of a run's metrics.csv (cfg: its TrainConfig): an IWAE run adds its bound
    and ESS (docs/math.md §12)."""
    return (METRIC_COLUMNS + (IWAE_COLUMNS if cfg.objective == "iwae" else ())
            + (WARMUP_COLUMNS if cfg.kl_warmup else ())
            + (FREE_BITS_COLUMNS if cfg.free_bits else ()))


def _cell(value) -> str:
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    # repr gives the shortest text that reads back as the same float: the
    # resume test compares these strings exactly.
    return repr(float(value))


def append_metrics(run_dir: str, row: dict) -> None:
    """Add one epoch's row (a dict with every column) to metrics.csv."""
    line = ",".join(_cell(row[c]) for c in _columns(row)) + "\n"
    path = os.path.join(run_dir, "metrics.csv")
    try:
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise write_error(e, path) from None


def _columns(row) -> tuple:
    """The columns a row (or a header's names) has: METRIC_COLUMNS, then the optional groups
    (IWAE_COLUMNS, WARMUP_COLUMNS, FREE_BITS_COLUMNS) that are there."""
    optional = (IWAE_COLUMNS, WARMUP_COLUMNS, FREE_BITS_COLUMNS)
    return METRIC_COLUMNS + tuple(c for group in optional if group[0] in row for c in group)


def read_metrics(run_dir: str) -> list[dict]:
    """The rows of metrics.csv as dicts of floats ("epoch" as int); a torn last line is skipped."""
    path = os.path.join(run_dir, "metrics.csv")
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        for rec in csv.DictReader(f):
            try:
                row = {c: float(rec[c]) for c in _columns(rec)}
            except (TypeError, ValueError):   # a line cut short by a kill
                continue
            row["epoch"] = int(row["epoch"])
            rows.append(row)
    return rows


def truncate_metrics(run_dir: str, last_epoch: int, columns: tuple) -> int:
    """Keep the rows of epochs 1..last_epoch (a killed run may have written one more);
    return how many are kept.

    ``columns``: the run's (metric_columns), the header when no row is left,
    also when metrics.csv itself was deleted or emptied.
    """
    rows = [r for r in read_metrics(run_dir) if r["epoch"] <= last_epoch]
    columns = _columns(rows[0]) if rows else columns
    lines = [",".join(columns)] + [",".join(_cell(r[c]) for c in columns) for r in rows]
    write_text(os.path.join(run_dir, "metrics.csv"), "\n".join(lines) + "\n")
    return len(rows)


# -- latents.csv: posterior collapse, epoch by epoch -----------------------

LATENTS = "latents.csv"


def append_latents(run_dir: str, row: dict) -> None:
    """Add one epoch to latents.csv: row = {"epoch", "active_units", "kl", "kl_dims" (Z,)}.

    The header is written with the first row (Z is known then).
    """
    path = os.path.join(run_dir, LATENTS)
    kl_dims = [float(v) for v in row["kl_dims"]]
    names = ["epoch", "active_units", "kl"] + [f"kl_{j + 1}" for j in range(len(kl_dims))]
    header = "" if os.path.exists(path) and os.path.getsize(path) else ",".join(names) + "\n"
    line = ",".join([str(int(row["epoch"])), str(int(row["active_units"])), _cell(row["kl"])]
                    + [_cell(v) for v in kl_dims]) + "\n"
    try:
        with open(path, "a", encoding="utf-8", newline="") as f:
            f.write(header + line)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise write_error(e, path) from None


def read_latents(run_dir: str) -> list[dict]:
    """The rows of latents.csv: {"epoch", "active_units", "kl", "kl_dims" (list)}; [] if none."""
    path = os.path.join(run_dir, LATENTS)
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        for rec in reader:
            if header is None or len(rec) != len(header):
                continue                                  # a line cut short by a kill
            try:
                values = [float(v) for v in rec]
            except ValueError:
                continue
            rows.append({"epoch": int(values[0]), "active_units": int(values[1]),
                         "kl": values[2], "kl_dims": values[3:]})
    return rows


def truncate_latents(run_dir: str, last_epoch: int) -> None:
    """Keep the rows of epochs 1..last_epoch (a killed run may have written one more)."""
    path = os.path.join(run_dir, LATENTS)
    if not os.path.exists(path):
        return
    rows = [r for r in read_latents(run_dir) if r["epoch"] <= last_epoch]
    with open(path, encoding="utf-8") as f:
        header = f.readline()
    lines = [",".join([str(r["epoch"]), str(r["active_units"]), _cell(r["kl"])]
                      + [_cell(v) for v in r["kl_dims"]]) for r in rows]
    write_text(path, header + "".join(line + "\n" for line in lines) if rows else "")


# -- reconstructions.csv --------------------------------------------------

def write_reconstructions(run_dir: str, row_ids, originals, recons) -> None:
    """row_id,orig_px0,recon_px0,orig_px1,recon_px1,... for a few test images.

    row_ids: (n,) indices into the test set; originals, recons: (n, D) in [0, 1].
    """
    originals, recons = np.asarray(originals), np.asarray(recons)
    D = originals.shape[1]
    buf = io.StringIO()
    header = ["row_id"] + [f"{kind}_px{d}" for d in range(D) for kind in ("orig", "recon")]
    buf.write(",".join(header) + "\n")
    for i, o, r in zip(row_ids, originals, recons):
        pairs = np.stack([o, r], axis=1).reshape(-1)   # (D, 2) -> (2D,): orig0, recon0, orig1...
        buf.write(str(int(i)) + "," + ",".join(f"{v:.6g}" for v in pairs) + "\n")
    write_text(os.path.join(run_dir, "reconstructions.csv"), buf.getvalue())
