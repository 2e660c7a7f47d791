"""Training curves: loss per epoch (total, reconstruction, KL; ESS for IWAE) and image quality.

``metrics_rows`` is the per-epoch log written by training: a list of dicts
with keys epoch, train_loss, train_recon, train_kl, test_loss, test_recon,
test_kl, psnr, ssim, mse, seconds (and, for an IWAE run, train_ess, test_iwae,
test_ess). A missing key, or a None / NaN value, is
simply left out of the plot (e.g. a run without a test set).
"""

from __future__ import annotations

import math

from ..metrics import mse_scale
from ._common import new_figure, save_figure


def _series(rows, key):
    """(epochs, values) for one key, skipping rows where it is absent or NaN."""
    xs, ys = [], []
    for i, row in enumerate(rows):
        v = row.get(key)
        if v is None or not math.isfinite(float(v)):
            continue
        xs.append(row.get("epoch", i + 1))
        ys.append(float(v))
    return xs, ys


def _plot_series(ax, rows, key, label, **style):
    xs, ys = _series(rows, key)
    if xs:
        ax.plot(xs, ys, marker="o", markersize=3, label=label, **style)
    return bool(xs)


def _per_pixel(rows, pixels):
    """The loss columns divided by the number of pixels: Keras's unit for an autoencoder."""
    keys = ("train_loss", "test_loss")
    return [{**r, **{k: float(r[k]) / pixels for k in keys if r.get(k) is not None}}
            for r in rows]


def objective_name(objective="elbo", k=1) -> str:
    """How a run's training loss is named in figures: "negative ELBO" or "-L_5 (IWAE, k=5)"."""
    if objective == "iwae":
        return f"-L_{k} (IWAE bound, k={k})"
    return "negative ELBO" + (f" (averaged over k={k} samples)" if k > 1 else "")


def loss_curves_figure(metrics_rows, autoencoder=None, objective="elbo", k=1,
                       pixel_range="unit", likelihood=None):
    """The loss per epoch, train and test.

    For a VAE, three panels: the objective it trained on (``objective``, ``k``:
    docs/math.md §1, §12) per image, then the reconstruction and KL terms; the
    KL axis starts at 0, where a collapsed posterior would sit. The test loss
    is always the one-sample negative ELBO; an IWAE run also draws its test
    -L_k and a fourth panel, the effective sample size of its importance
    weights, between 1 and k. For a deterministic autoencoder, ``autoencoder``
    is ``(loss name, pixels per image)``: two panels, its loss per pixel and
    the test MSE per pixel, with no KL (it has none). With ``pixel_range``
    "symmetric" that MSE is drawn on [-1, 1], the scale of the loss beside it
    (metrics.mse_scale). A VAE with the mse ``likelihood`` is labelled as a
    squared error plus KL per image, not in nats.
    """
    iwae = any("train_ess" in row or "test_ess" in row for row in metrics_rows)
    if autoencoder is None:
        panels = [("loss", f"training objective: {objective_name(objective, k)}"),
                  ("recon", "reconstruction -log p(x|z)"),
                  ("kl", "KL(q(z|x) || p(z))")] + ([("ess", "")] if iwae else [])
        rows = metrics_rows
    else:
        name, pixels = autoencoder
        factor, scale = mse_scale(pixel_range)
        panels = [("loss", f"{name} per pixel{scale}"), ("mse", f"test MSE per pixel{scale}")]
        rows = [{**r, "mse": float(r["mse"]) * factor} if r.get("mse") is not None else r
                for r in _per_pixel(metrics_rows, pixels)]
    fig = new_figure(4 * len(panels), 3.9)
    axes = fig.subplots(1, len(panels))
    drawn = False
    for ax, (part, title) in zip(axes, panels):
        if part == "mse":
            drawn |= _plot_series(ax, rows, "mse", "test", color="C1")
        elif part == "ess":
            _plot_series(ax, rows, "train_ess", "train", color="C0")
            _plot_series(ax, rows, "test_ess", "test", color="C1")
            title = f"effective sample size 1 / sum wn^2 (of k={k})"
            ax.set_ylim(1, max(k, 1.05))
        else:
            drawn |= _plot_series(ax, rows, f"train_{part}", "train", color="C0")
            drawn |= _plot_series(ax, rows, f"test_{part}", "test", color="C1")
        if part == "loss" and iwae:
            _plot_series(ax, rows, "test_iwae", f"test -L_{k}", color="C3")
            ax.legend(fontsize=8)
        if part == "kl":
            ax.set_ylim(bottom=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    if drawn:   # one legend for all panels, above them: never over a curve
        handles, labels = axes[0 if not iwae else 1].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=2, fontsize=9)
    unit = "per pixel" if autoencoder is not None else "nats per image"
    if autoencoder is None and likelihood == "mse":   # a squared error plus the KL, not nats
        unit = "per image (squared error + KL)"
    axes[0].set_ylabel(unit)
    return fig


def quality_figure(metrics_rows):
    """Two panels: PSNR (dB) and SSIM of test reconstructions per epoch."""
    fig = new_figure(9, 3.6)
    axes = fig.subplots(1, 2)
    for ax, key, title, color, fmt in [
            (axes[0], "psnr", "PSNR (dB, higher is better)", "C2", ".2f"),
            (axes[1], "ssim", "SSIM (1 = identical)", "C3", ".4f")]:
        if _plot_series(ax, metrics_rows, key, key.upper(), color=color):
            xs, ys = _series(metrics_rows, key)  # label the last value
            ax.annotate(format(ys[-1], fmt), (xs[-1], ys[-1]), textcoords="offset points",
                        xytext=(-4, 6), ha="right", fontsize=8)
            ax.margins(y=0.12)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    return fig


def plot_loss_curves(metrics_rows, path, autoencoder=None, objective="elbo", k=1,
                     pixel_range="unit", likelihood=None) -> str:
    """Save :func:`loss_curves_figure` as a PNG at ``path``; return the path."""
    return save_figure(loss_curves_figure(metrics_rows, autoencoder, objective, k, pixel_range,
                                          likelihood), path)


def plot_quality(metrics_rows, path) -> str:
    """Save :func:`quality_figure` as a PNG at ``path``; return the path."""
    return save_figure(quality_figure(metrics_rows), path)
