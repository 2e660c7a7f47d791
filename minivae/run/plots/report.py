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

from ...backend import get_array_module, to_numpy
from ..console import LOSS_NAMES
from ..evaluation import pick_examples
from ...files.serialize import atomic_write
from .curves import objective_name, plot_loss_curves, plot_quality
from .images import plot_class_grid, plot_interpolation, plot_reconstructions, plot_samples
from .explorer import explorer_section
from .latent import plot_latent_kl, plot_latent_space, plot_manifold
from .summary import metrics_table, settings_rows, summary_rows

# Each figure's title and caption, in words; an autoencoder's differ where its words do.
TITLES = {"loss_curves": "Loss per epoch", "quality": "Quality of the reconstructions",
          "reconstructions": "Reconstructions", "samples": "Samples from the prior",
          "latent_space": "The latent space", "manifold": "What the decoder makes",
          "interpolation": "Interpolation", "class_grid": "Every class in one style",
          "latent_kl": "Each latent dimension's KL: posterior collapse"}
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
    "latent_space": "Posterior means of test images, coloured by label, each label written "
                    "at the middle of its points; first two principal components when the "
                    "latent space has more than two dimensions.",
    "manifold": "What the decoder produces across the latent space: a grid over the "
                "prior's quantiles (2-D latent), or traversals of the most active "
                "latent dimensions, one per row (its label: Var, how much the posterior "
                "mean moves across test images; sd, the posterior's average spread).",
    "interpolation": "Decodings along the straight line between the posterior means of "
                     "two test images (shown at the ends).",
    "class_grid": "A conditional VAE's samples: row c is decode(z, y = c), and each column "
                  "one z drawn from the prior N(0, I), the same in every row. Down a column "
                  "only the label changes: what stays (slant, width, stroke) is what z holds "
                  "(Kingma et al. 2014, Fig. 1).",
    "latent_kl": "Top: the KL of each latent dimension on the test set, in nats per image, "
                 "epoch by epoch (latents.csv). A dimension that fades to 0 has collapsed to "
                 "the prior and carries nothing about x. Bottom: the active units, dimensions "
                 "whose posterior mean moves with x (Var_x E_q[z_j] > 0.01, Burda et al. 2015), "
                 "and the total KL.",
}
AE_CAPTIONS = {
    "loss_curves": "Loss per epoch, train and test, per pixel (as Keras prints it), and the "
                   "test reconstructions' mean squared error per pixel.",
    "quality": "Quality of test reconstructions per epoch: PSNR in dB and SSIM "
               "(Wang et al. 2004; 1 means identical).",
    "reconstructions": "Test images (top) and their reconstructions decode(encode(x)) (bottom).",
    "latent_space": "The codes z = encode(x) of test images, coloured by label, each label "
                    "written at the middle of its points; first two principal components when "
                    "the code has more than two dimensions.",
    "interpolation": "Decodings along the straight line between the codes of two test "
                     "images (shown at the ends).",
}
MAX_ENCODED = 5000  # test images encoded for the latent plots: enough, and fast
BATCH = 1000
STYLE = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 2em;"
         "color:#222;line-height:1.4}"
         "table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}"
         "td,th{border:1px solid #ccc;padding:3px 10px;text-align:right}"
         "th{background:#f0f0f0}table.kv td:first-child{text-align:left;color:#555}"
         "table.kv td{text-align:left}figure{margin:2em 0}img{max-width:100%}"
         "figcaption{font-size:14px;color:#444;max-width:75ch}"
         ".summary{background:#f6f8fa;border:1px solid #ddd;padding:0.5em 1.5em;"
         "border-radius:6px}")


def _table(header, rows, cls="") -> str:
    """An HTML table of already formatted (or plain) cells."""
    head = ("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
            + "</tr></thead>") if header else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f'<table class="{cls}">{head}<tbody>{body}</tbody></table>'


def write_report(run_dir, config, metrics_rows, figures, device: str = "cpu",
                 is_vae: bool = True, explorer_html: str = "", captions=None) -> str:
    """Write ``run_dir/report.html``: summary, settings, metrics, figures, latent explorer.

    The PNGs are embedded as base64 data URIs, so the one file opens anywhere
    (mailed, moved, or viewed away from the run folder).

    Parameters
    ----------
    run_dir : path
    config : dict (or dataclass) of the run's settings
    metrics_rows : list of dicts, one per epoch
    figures : dict name -> PNG filename (relative to run_dir, or absolute)
    device : where the model ran, for the summary
    is_vae : False for a deterministic autoencoder (its own words, no KL)
    explorer_html : the latent explorer's section (see explorer.py), or ""
    captions : dict name -> caption, replacing the default one in CAPTIONS
    """
    run_dir = os.fspath(run_dir)
    os.makedirs(run_dir, exist_ok=True)
    if dataclasses.is_dataclass(config):
        config = dataclasses.asdict(config)
    config = dict(config or {})
    captions = {**CAPTIONS, **({} if is_vae else AE_CAPTIONS), **(captions or {})}
    header, cells = metrics_table(metrics_rows, is_vae, config.get("pixel_range", "unit"))
    parts = ['<div class="summary"><h2>Summary</h2>',
             _table(None, summary_rows(metrics_rows, config, device, is_vae), "kv"), "</div>",
             "<h2>Settings</h2>", _table(None, settings_rows(config, is_vae), "kv"),
             "<h2>Metrics per epoch</h2>",
             _table(header, cells) if metrics_rows else "<p>No epochs were recorded.</p>",
             "<h2>Figures</h2>"]
    for name, filename in figures.items():
        path = filename if os.path.isabs(filename) else os.path.join(run_dir, filename)
        with open(path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        title = html.escape(TITLES.get(name, name))
        caption = html.escape(captions.get(name, ""))
        parts.append(f'<figure id="{html.escape(name)}"><img alt="{title}" '
                     f'src="data:image/png;base64,{data}"><figcaption><b>{title}.</b> '
                     f"{caption}</figcaption></figure>")
    parts.append(explorer_html)
    page = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>minivae run report</title><style>{STYLE}</style></head><body>"
            f"<h1>minivae run report</h1><p>{html.escape(run_dir)}</p>"
            + "\n".join(parts) + "</body></html>\n")
    # Atomically: a full disk leaves the previous report, never a truncated one.
    return atomic_write(os.path.join(run_dir, "report.html"), page.encode("utf-8"))


def _to_model(model, batch):
    """A batch of test rows as a (B, D) array on the model's device and dtype."""
    if get_array_module(batch) is not model.xp:
        batch = to_numpy(batch)
    batch = model.xp.asarray(batch)
    if batch.dtype.kind in "ui":  # raw uint8 pixels -> [0, 1]
        batch = batch / 255.0
    return batch.reshape(batch.shape[0], -1).astype(model.dtype)  # (B, D)


def _labels_of(model, test_labels, start, count):
    """(y,) for a CVAE's batch of test rows start..start+count, as NumPy integers; () else."""
    if getattr(model, "kind", None) != "cvae":
        return ()
    if test_labels is None:
        raise ValueError("a CVAE's figures need the test labels")
    return (to_numpy(test_labels)[start:start + count].reshape(-1).astype(np.int64),)


def make_all_figures(model, test_x, test_labels, metrics_rows, out_dir, image_shape,
                     config, latent_rows=None) -> dict:
    """Write every figure and report.html into ``out_dir``; return name -> path.

    Encodes at most 5000 test images (in batches of 1000); random draws use a
    fixed seed, so two calls give the same pictures. A CVAE reads the test
    labels with the images, and draws its class grid; ``latent_rows`` (the rows
    of latents.csv) adds the figure of each latent dimension's KL.
    """
    out_dir = os.fspath(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    n = min(MAX_ENCODED, test_x.shape[0])
    means, logvars, rows = [], [], []
    for start in range(0, n, BATCH):
        xb = _to_model(model, test_x[start:min(start + BATCH, n)])  # (B, D)
        given = _labels_of(model, test_labels, start, xb.shape[0])   # a CVAE's (y,), else ()
        code = model.encode(xb, *given)  # VAE: (mu, logvar), each (B, Z); autoencoder: z (B, Z)
        is_tuple = isinstance(code, tuple)
        means.append(to_numpy(code[0] if is_tuple else code))
        if is_tuple:
            logvars.append(to_numpy(code[1]))
        rows.append(to_numpy(xb))
    means = np.concatenate(means)  # (n, Z)
    logvars = np.concatenate(logvars) if logvars else None  # (n, Z) or None
    x = np.concatenate(rows).astype(np.float64)  # (n, D)
    labels = None if test_labels is None else to_numpy(test_labels)[:n].reshape(-1)

    cvae = getattr(model, "kind", None) == "cvae"
    y0 = int(labels[0]) if cvae else None   # the class a CVAE's manifold and interpolation draw

    def decode_fn(z, y=None):  # NumPy (M, Z) -> NumPy (M, D), in batches on the model's device
        given = () if not cvae else (np.broadcast_to(y0 if y is None else y, (len(z),)),)
        out = [to_numpy(model.decode(model.xp.asarray(z[i:i + BATCH], dtype=model.dtype),
                                     *(g[i:i + BATCH] for g in given)))
               for i in range(0, z.shape[0], BATCH)]
        return np.concatenate(out).astype(np.float64)

    is_vae = hasattr(model, "sample") and logvars is not None
    config = dict(dataclasses.asdict(config) if dataclasses.is_dataclass(config) else config or {})
    likelihood = config.get("likelihood", getattr(model, "likelihood", "bernoulli"))
    autoencoder = None if is_vae else (LOSS_NAMES.get(likelihood, "loss"), model.input_dim)
    path = lambda name: os.path.join(out_dir, f"{name}.png")  # noqa: E731
    done, captions = {}, {}
    settings = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config or {})
    objective, k = settings.get("objective", "elbo"), settings.get("k", 1)
    if metrics_rows:
        done["loss_curves"] = plot_loss_curves(metrics_rows, path("loss_curves"), autoencoder,
                                               objective, k, settings.get("pixel_range", "unit"),
                                               likelihood)
        if is_vae and likelihood == "mse":
            captions["loss_curves"] = (
                "Loss per epoch, train and test, per image: the squared error summed over the "
                "pixels (middle) plus beta times the KL term (right, in nats). It is the "
                "negative ELBO of a Gaussian p(x|z) with variance 1/2 less that Gaussian's "
                "constant 0.5 D log(pi).")
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
        x[pick], decode_fn(means[pick], labels[pick] if cvae else None), path("reconstructions"),
        image_shape,
        "reconstruction: mean of p(x | z = mu(x))" if is_vae else "reconstruction: decode(encode(x))")
    if is_vae and cvae:   # one row per class, the same z down each column
        z = np.random.default_rng(0).standard_normal((8, model.latent_dim))   # (8, Z)
        grid = np.concatenate([decode_fn(z, c) for c in range(model.num_classes)])
        done["class_grid"] = plot_class_grid(grid, model.num_classes, path("class_grid"),
                                             image_shape)
    elif is_vae:
        rng = np.random.default_rng(0)
        z = rng.standard_normal((64, model.latent_dim))  # (64, Z) from the prior
        done["samples"] = plot_samples(decode_fn(z), path("samples"), image_shape)
    done["latent_space"] = plot_latent_space(
        means, labels, path("latent_space"),
        "posterior means mu(x)" if is_vae else "codes z = encode(x)")
    if is_vae:
        done["manifold"] = plot_manifold(decode_fn, model.latent_dim, path("manifold"),
                                         image_shape, means=means, logvars=logvars)
    if cvae:   # z changes, the label stays: two test images of class y0
        pick = np.flatnonzero(labels == y0)[:2]
        captions.update(manifold=CAPTIONS["manifold"] + f" Decoded as class {y0}.",
                        interpolation=CAPTIONS["interpolation"] + f" Both of class {y0}, "
                        "decoded as it.")
    if len(pick) >= 2:
        a, b = pick[0], pick[1]
        done["interpolation"] = plot_interpolation(
            decode_fn, means[a], means[b], path("interpolation"), image_shape,
            endpoints=x[[a, b]], title="linear interpolation between two "
            + ("posterior means" if is_vae else "codes"))
    if latent_rows:
        done["latent_kl"] = plot_latent_kl(latent_rows, path("latent_kl"))
    explorer = explorer_section(model, means, labels, image_shape)
    done["report"] = write_report(out_dir, config, metrics_rows,
                                  {name: os.path.basename(v) for name, v in done.items()},
                                  device=getattr(model, "device", "cpu"), is_vae=is_vae,
                                  explorer_html=explorer, captions=captions)
    return done
