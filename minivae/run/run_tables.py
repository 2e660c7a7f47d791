"""A run's two tables: metrics.csv, one row per finished epoch, and reconstructions.csv.

The columns of metrics.csv, all per image and in nats unless noted:

    train_loss, train_recon, train_kl   means over the epoch's steps, weighted by batch size
                                        (the PyTorch example's "Average loss")
    test_loss, test_recon, test_kl      the whole test set, one sample of z per image: the
                                        example's "Test set loss" (fixed noise, see evaluation.py)
    psnr (dB), ssim, mse                each test image against decode(mu(x)), averaged
    seconds                             the epoch's training steps plus its test evaluation

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


def metric_columns(cfg) -> tuple:
    """The columns of a run's metrics.csv (cfg: its TrainConfig): an IWAE run adds its bound
    and ESS (docs/math.md §12)."""
    return METRIC_COLUMNS + (IWAE_COLUMNS if cfg.objective == "iwae" else ())


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
    """The columns a row (or a header's names) has: METRIC_COLUMNS, then IWAE_COLUMNS if there."""
    return METRIC_COLUMNS + (IWAE_COLUMNS if IWAE_COLUMNS[0] in row else ())


def _header(run_dir: str) -> list:
    with open(os.path.join(run_dir, "metrics.csv"), encoding="utf-8") as f:
        return f.readline().strip().split(",")


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


def truncate_metrics(run_dir: str, last_epoch: int) -> None:
    """Keep the rows of epochs 1..last_epoch (a killed run may have written one more)."""
    rows = [r for r in read_metrics(run_dir) if r["epoch"] <= last_epoch]
    columns = _columns(rows[0]) if rows else _columns(_header(run_dir))
    lines = [",".join(columns)] + [",".join(_cell(r[c]) for c in columns) for r in rows]
    write_text(os.path.join(run_dir, "metrics.csv"), "\n".join(lines) + "\n")


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
