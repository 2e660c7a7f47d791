"""The top of report.html in words: the result, the settings, the metrics table.

A reader opening the report first wants the outcome (final test loss, PSNR,
SSIM, how long, on what), then the settings as a person would say them, only
those that apply to this run, then the numbers per epoch at a sensible
precision. config.json keeps every setting exactly, for the machine.
"""

from __future__ import annotations

import html
import os
import platform

import numpy as np

from ..metrics import mse_scale

# (key, label, format) of each metrics.csv column shown in the table.
METRIC_FORMATS = {
    "epoch": ("epoch", "{:d}"), "train_loss": ("train loss", "{:.3f}"),
    "train_recon": ("train recon", "{:.3f}"), "train_kl": ("train KL", "{:.3f}"),
    "test_loss": ("test loss", "{:.3f}"), "test_recon": ("test recon", "{:.3f}"),
    "test_kl": ("test KL", "{:.3f}"), "psnr": ("PSNR (dB)", "{:.2f}"), "ssim": ("SSIM", "{:.4f}"),
    "mse": ("MSE per pixel", "{:.5f}"), "seconds": ("seconds", "{:.1f}"),
}
AE_HIDDEN = ("train_kl", "test_kl", "train_recon", "test_recon")   # 0, or equal to the loss


def _fmt(key, value) -> str:
    if value is None or value == "":
        return ""
    label, fmt = METRIC_FORMATS.get(key, (key, "{:.4g}"))
    try:
        return fmt.format(int(value) if fmt == "{:d}" else float(value))
    except (TypeError, ValueError):
        return html.escape(str(value))


def metrics_table(rows, is_vae: bool = True, pixel_range: str = "unit") -> tuple[list, list]:
    """(header, rows of text) for the metrics per epoch; an autoencoder has no KL columns.

    metrics.csv's values as they are; with pixel_range "symmetric" the headers say
    that the losses are on [-1, 1] and the MSE on [0, 1].
    """
    keys = [k for k in dict.fromkeys(k for row in rows for k in row)
            if is_vae or k not in AE_HIDDEN]
    header = [METRIC_FORMATS.get(k, (k,))[0] for k in keys]
    scale = mse_scale(pixel_range)[1]
    if not is_vae:   # its loss is the reconstruction loss alone, summed over pixels
        header = [h.replace("loss", f"loss (sum over pixels{scale})") for h in header]
    if scale:
        header = [h.replace("MSE per pixel", "MSE per pixel on [0, 1]") for h in header]
    return header, [[_fmt(k, row.get(k)) for k in keys] for row in rows]


def _widths(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def settings_rows(config: dict, is_vae: bool | None = None) -> list[tuple[str, str]]:
    """The settings that apply to this run, as (what, value) in words."""
    c = dict(config)
    is_vae = c.get("model", "vae") == "vae" if is_vae is None else is_vae
    likelihood = c.get("likelihood", "bernoulli")
    hidden = c.get("hidden", ())
    decoder = c.get("decoder_hidden") or list(reversed(list(hidden)))
    rows = [
        ("model", "variational autoencoder (VAE)" if is_vae else "deterministic autoencoder"),
        ("dataset", os.path.basename(str(c.get("dataset", "")))
         + (", dynamically binarized" if c.get("binarize") else ", grey levels in [0, 1]")),
        ("encoder hidden widths", _widths(hidden)),
        ("latent size Z" if is_vae else "code size Z", str(c.get("latent_dim", ""))),
        ("decoder hidden widths", _widths(decoder)),
        ("activation", str(c.get("activation", ""))),
        ("reconstruction loss", {"bernoulli": "Bernoulli (binary cross-entropy)",
                                 "gaussian": f"Gaussian, fixed std {c.get('gaussian_std', 1.0):g}",
                                 "mse": "squared error summed per image"}.get(likelihood,
                                                                              likelihood)),
    ]
    if is_vae:
        rows.append(("KL weight beta", f"{c.get('beta', 1.0):g}"))
    optimizer = c.get("optimizer", "adam")
    opt_text = f"{'Adam' if optimizer == 'adam' else 'SGD'}, learning rate {c.get('lr', 0):g}"
    if optimizer == "sgd" and c.get("momentum"):
        opt_text += f", momentum {c['momentum']:g}"
    rows += [("optimizer", opt_text),
             ("batch size", str(c.get("batch_size", ""))),
             ("epochs", str(c.get("epochs", ""))),
             ("seed", str(c.get("seed", ""))),
             ("precision", str(c.get("dtype", "")) + (", TF32 matrix products" if c.get("tf32")
                                                      else ""))]
    return [(k, v) for k, v in rows if v not in ("", "None")]


def summary_rows(rows, config: dict, device: str, is_vae: bool) -> list[tuple[str, str]]:
    """The headline numbers of the run: the last epoch's test metrics, time, device, versions."""
    out = []
    if rows:
        last = rows[-1]
        if is_vae and config.get("likelihood") == "mse":   # the labs' number, not in nats
            out.append(("final test loss", f"{float(last['test_loss']):.3f} per image: the "
                        "squared error summed over the pixels plus the KL, one sample of z (the "
                        "negative ELBO of p(x|z) = N(mean, 1/2) less its constant "
                        "0.5 D log(pi))"))
        elif is_vae:
            out.append(("final test loss", f"{float(last['test_loss']):.3f} nats per image "
                        "(negative ELBO, one sample of z)"))
        else:
            factor, scale = mse_scale(config.get("pixel_range", "unit"))   # the loss's scale
            out.append(("final test MSE", f"{float(last['mse']) * factor:.5f} per pixel{scale}"))
        out += [("PSNR / SSIM", f"{float(last['psnr']):.2f} dB / {float(last['ssim']):.4f}"),
                ("epochs", str(int(last["epoch"]))),
                ("duration", _duration(sum(float(r.get("seconds", 0)) for r in rows)))]
    out += [("device", f"{device}, {config.get('dtype', '')}"), ("versions", versions())]
    return out


def _duration(seconds: float) -> str:
    minutes, s = divmod(seconds, 60)
    return f"{int(minutes)} min {s:.0f} s" if minutes else f"{s:.1f} s"


def versions() -> str:
    from ... import __version__
    import matplotlib
    return (f"minivae {__version__}, Python {platform.python_version()}, NumPy {np.__version__}, "
            f"matplotlib {matplotlib.__version__}")
