"""All figures of a run, and one self-contained HTML report that shows them.

:func:`make_all_figures` is what ``train.py`` calls when a run ends; it only
uses the public model API (encode, decode, latent_dim, xp, dtype) and works
for a VAE (encode -> (mu, logvar), has ``sample``) and for a plain
autoencoder (encode -> z, no prior to sample from: no samples, no manifold).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os

import numpy as np

from ..backend import get_array_module, to_numpy
from ..evaluation import pick_examples
from .curves import objective_name, plot_loss_curves, plot_quality
from .images import plot_interpolation, plot_reconstructions, plot_samples
from .latent import plot_latent_space, plot_manifold

CAPTIONS = {
    "loss_curves": "Loss per epoch, train and test: the negative ELBO (left) is the "
                   "reconstruction term (middle) plus beta times the KL term (right), "
                   "in nats per image.",
    "quality": "Quality of test reconstructions (posterior mean) per epoch: PSNR in dB "
               "and SSIM (Wang et al. 2004; 1 means identical).",
    "reconstructions": "Test images (top) and their reconstructions, decoded from the "
                       "posterior mean mu(x) (bottom).",
    "samples": "New images: the decoder's mean at z drawn from the prior N(0, I) "
               "(fixed seed).",
    "latent_space": "Posterior means of test images, coloured by label; first two "
                    "principal components when the latent space has more than two "
                    "dimensions.",
    "manifold": "What the decoder produces across the latent space: a grid over the "
                "prior's quantiles (2-D latent), or traversals of the most active "
                "latent dimensions.",
    "interpolation": "Decodings along the straight line between the posterior means of "
                     "two test images (shown at the ends).",
}
MAX_ENCODED = 5000  # test images encoded for the latent plots: enough, and fast
BATCH = 1000


def _cell(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"  # also prints inf and nan
    return html.escape(str(value))


def _table(header, rows) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(run_dir, config, metrics_rows, figures, captions=None) -> str:
    """Write ``run_dir/report.html``: config, metrics table and every figure.

    The PNGs are embedded as base64 data URIs, so the one file opens anywhere
    (mailed, moved, or viewed away from the run folder).

    Parameters
    ----------
    run_dir : path
    config : dict (or dataclass) of the run's settings
    metrics_rows : list of dicts, one per epoch
    figures : dict name -> PNG filename (relative to run_dir, or absolute)
    captions : dict name -> caption, replacing the default one in CAPTIONS
    """
    run_dir = os.fspath(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    config = dict(config or {})
    header = list(dict.fromkeys(k for row in metrics_rows for k in row))  # union, in order
    parts = ["<h2>Configuration</h2>", _table(["setting", "value"], config.items()),
             "<h2>Metrics per epoch</h2>",
             _table(header, [[row.get(k, "") for k in header] for row in metrics_rows])
             if metrics_rows else "<p>No epochs were recorded.</p>",
             "<h2>Figures</h2>"]
    for name, filename in figures.items():
        path = filename if os.path.isabs(filename) else os.path.join(run_dir, filename)
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        caption = html.escape({**CAPTIONS, **(captions or {})}.get(name, name))
        parts.append(f'<figure id="{html.escape(name)}"><img alt="{html.escape(name)}" '
                     f'src="data:image/png;base64,{data}"><figcaption><b>'
                     f"{html.escape(name)}</b>: {caption}</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px;margin-bottom:1em}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
             "th{background:#f0f0f0}figure{margin:1.5em 0}img{max-width:100%}"
             "figcaption{font-size:14px;color:#444}")
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>minivae run report</title><style>{style}</style></head><body>"
            f"<h1>minivae run report</h1><p>{html.escape(run_dir)}</p>"
            + "\n".join(parts) + "</body></html>\n")
    out = os.path.join(run_dir, "report.html")
    with open(out, "w", encoding="utf-8") as f:
        f.write(page)
    return out


def _to_model(model, batch):
    """A batch of test rows as a (B, D) array on the model's device and dtype."""
    if get_array_module(batch) is not model.xp:
        batch = to_numpy(batch)
    batch = model.xp.asarray(batch)
    if batch.dtype.kind in "ui":  # raw uint8 pixels -> [0, 1]
        batch = batch / 255.0
    return batch.reshape(batch.shape[0], -1).astype(model.dtype)  # (B, D)


def make_all_figures(model, test_x, test_labels, metrics_rows, out_dir, image_shape,
                     config) -> dict:
    """Write every figure and report.html into ``out_dir``; return name -> path.

    Encodes at most 5000 test images (in batches of 1000); random draws use a
    fixed seed, so two calls give the same pictures.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    n = min(MAX_ENCODED, test_x.shape[0])
    means, logvars, rows = [], [], []
    for start in range(0, n, BATCH):
        xb = _to_model(model, test_x[start:min(start + BATCH, n)])  # (B, D)
        code = model.encode(xb)  # VAE: (mu, logvar), each (B, Z); autoencoder: z (B, Z)
        is_tuple = isinstance(code, tuple)
        means.append(to_numpy(code[0] if is_tuple else code))
        if is_tuple:
            logvars.append(to_numpy(code[1]))
        rows.append(to_numpy(xb))
    means = np.concatenate(means)  # (n, Z)
    logvars = np.concatenate(logvars) if logvars else None  # (n, Z) or None
    x = np.concatenate(rows).astype(np.float64)  # (n, D)
    labels = None if test_labels is None else to_numpy(test_labels)[:n].reshape(-1)

    def decode_fn(z):  # NumPy (M, Z) -> NumPy (M, D), in batches on the model's device
        out = [to_numpy(model.decode(model.xp.asarray(z[i:i + BATCH], dtype=model.dtype)))
               for i in range(0, z.shape[0], BATCH)]
        return np.concatenate(out).astype(np.float64)

    is_vae = hasattr(model, "sample") and logvars is not None
    path = lambda name: os.path.join(out_dir, f"{name}.png")  # noqa: E731
    done, captions = {}, {}
    settings = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    objective, k = settings.get("objective", "elbo"), settings.get("k", 1)
    if metrics_rows:
        done["loss_curves"] = plot_loss_curves(metrics_rows, path("loss_curves"), objective, k)
        if objective == "iwae" or k > 1:
            captions["loss_curves"] = (
                f"Loss per epoch. Training objective: {objective_name(objective, k)} "
                "(docs/math.md §12); the test loss is the one-sample negative ELBO"
                + (f", beside the test -L_{k}. Right: the effective sample size of the "
                   f"normalised importance weights, between 1 and {k}." if objective == "iwae"
                   else ".") + " Reconstruction and KL terms in nats per image.")
        done["quality"] = plot_quality(metrics_rows, path("quality"))
    pick = pick_examples(labels, n)  # (k,) one image per class
    done["reconstructions"] = plot_reconstructions(
        x[pick], decode_fn(means[pick]), path("reconstructions"), image_shape)
    if is_vae:
        rng = np.random.default_rng(0)
        z = rng.standard_normal((64, model.latent_dim))  # (64, Z) from the prior
        done["samples"] = plot_samples(decode_fn(z), path("samples"), image_shape)
    done["latent_space"] = plot_latent_space(means, labels, path("latent_space"))
    if is_vae:
        done["manifold"] = plot_manifold(decode_fn, model.latent_dim, path("manifold"),
                                         image_shape, means=means, logvars=logvars)
    if len(pick) >= 2:
        a, b = pick[0], pick[1]
        done["interpolation"] = plot_interpolation(
            decode_fn, means[a], means[b], path("interpolation"), image_shape,
            endpoints=x[[a, b]])
    done["report"] = write_report(out_dir, config, metrics_rows,
                                  {name: os.path.basename(v) for name, v in done.items()}, captions)
    return done
