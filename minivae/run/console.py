"""What the training command prints: its header, one line per epoch, and the end.

Every line fits 100 columns, so nothing wraps on a 120-column terminal and a
log stays one epoch per line. The words follow the model:

* a VAE reports its loss per image in nats, the negative ELBO, split into the
  reconstruction term and the KL term;
* an IWAE run (--objective iwae) trains on the bound -L_k, not on the
  -ELBO: its line shows both, for the training and the test set, and the
  test set's effective sample size of the k importance weights (the recon and
  KL terms of the -ELBO are in metrics.csv);
* a deterministic autoencoder has no KL and no ELBO: it reports its loss per
  pixel, as Keras prints ``loss`` and ``val_loss``, and the test MSE per pixel.

    epoch   1 | train  163.67 (recon 148.15, KL 15.52) | test  126.89 | PSNR 17.60 SSIM 0.736 | 2.8 s
    epoch   1 | train -L_5 156.16, -ELBO 173.96 | test -L_5 128.46, -ELBO 135.72 | ESS 1.36/5 | 11.1 s
    epoch   1 | train MSE 0.0373 | test MSE 0.0241 | PSNR 16.50 SSIM 0.653 | 2.3 s

A model trained on [-1, 1] (pixel_range "symmetric", the labs' range) has its
losses on that scale; every MSE printed beside them is too, and says so
("(both on [-1, 1])"), while metrics.csv's ``mse`` stays on [0, 1] images.
"""

from __future__ import annotations

import math
import os
import sys

from ..architecture import conv_sizes
from ..summary import layer_rows
from .metrics import mse_scale

# The reconstruction loss by likelihood, as a learner calls it.
LOSS_NAMES = {"bernoulli": "BCE", "gaussian": "NLL", "mse": "MSE"}


def flush_every_line() -> None:
    """Make print() reach a pipe or a file at once, as it does on a terminal.

    Python buffers stdout in blocks of 8 KiB when it is not a terminal, so
    ``python -m minivae.train | tee log`` (or nohup, or CI) would show nothing
    until the run ends. Line buffering writes each line when it is printed.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)   # absent on a replaced stream
        if reconfigure is not None:
            reconfigure(line_buffering=True)


def describe_model(cfg, model) -> str:
    """ "VAE 784-400-20-400-784 (relu, bernoulli, beta 1)" or "autoencoder 784-...". """
    dims = "-".join(map(str, (model.input_dim, *model.hidden_dims, model.latent_dim,
                              *model.decoder_hidden_dims, model.input_dim)))
    if getattr(model, "arch", "dense") == "conv":   # "conv 1x28x28 32,64 k4 s2 p1, dense 3136-..."
        maps = conv_sizes(model.image_shape, model.channels, model.kernel_size, model.stride,
                          model.padding)[-1]               # (C, h, w): the last feature map
        flat = math.prod(maps)                             # F, where the Dense layers begin
        code = f"code {'x'.join(map(str, maps))}" if model.code_is_feature_map else \
            "dense " + "-".join(map(str, (flat, *model.hidden_dims, model.latent_dim,
                                          *model.decoder_hidden_dims, flat)))
        dims = (f"conv {'x'.join(map(str, model.image_shape))} "
                f"{','.join(map(str, model.channels))} k{model.kernel_size} s{model.stride} "
                f"p{model.padding}, {code}")
    if cfg.model in ("vae", "cvae"):
        goal = f"beta {cfg.beta:g}" if cfg.k == 1 and cfg.objective == "elbo" else \
            f"objective {cfg.objective} k={cfg.k}"
        goal += f", {model.num_classes} classes" if cfg.model == "cvae" else ""
        return f"{cfg.model.upper()} {dims} ({cfg.activation}, {cfg.likelihood} likelihood, {goal})"
    return f"autoencoder {dims} ({LOSS_NAMES[cfg.likelihood]} per pixel, as in Keras)"


ACTIVATION_NAMES = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "Tanh": "tanh",
                    "Sigmoid": "sigmoid"}


def layers_line(model) -> str:
    """The encoder/decoder parameter split the labs print (Keras: two models, two summaries),
    and each part's activations in order, e.g.
    "  layers: encoder 127,640 parameters (relu,relu,tanh), decoder 127,064 (tanh,tanh,sigmoid)".
    The encoder counts its heads (mu and logvar, or the code), as Keras's encoder model does.
    """
    rows = layer_rows(model)                               # (part, text, shape, parameters)

    def part(names):
        count = sum(n for p, _, _, n in rows if p in names)
        acts = [ACTIVATION_NAMES[w] for p, text, _, _ in rows if p in names
                for w in text.split(" + ") if w in ACTIVATION_NAMES]   # "code (Dense ..) + Tanh"
        return count, f" ({','.join(acts)})" if acts else ""

    (enc, enc_acts), (dec, dec_acts) = part(("encoder", "heads")), part(("decoder",))
    return f"  layers: encoder {enc:,} parameters{enc_acts}, decoder {dec:,}{dec_acts}"


def plural(n: int, word: str) -> str:
    """ "1 epoch", "10 epochs": a count and its noun, agreeing."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def fit(line: str, width: int = 100) -> list[str]:
    """``line`` as it is, or broken after its last ", " within ``width`` columns and outside
    parentheses (the rest indented): every line of the header fits 100 columns, whatever the
    model's name."""
    depth, cut = 0, -1
    for i, ch in enumerate(line[:width - 1]):
        depth += (ch == "(") - (ch == ")")
        if depth == 0 and line.startswith(", ", i):
            cut = i
    if len(line) <= width or cut < 0:
        return [line]
    return [line[:cut + 1]] + fit("  " + line[cut + 2:], width)


def header_lines(cfg, model, data, device: str, run_dir: str, resumed: bool) -> list[str]:
    """The model; the data (and the directory MNIST or Fashion-MNIST was read from); where it
    runs; which forms of the maths run (plain or fast, minivae/fast/); where it writes."""
    optimizer = f"{cfg.optimizer} lr {cfg.lr:g}" + (
        f" momentum {cfg.momentum:g}" if cfg.optimizer == "sgd" else "")
    what = describe_model(cfg, model)
    labels = getattr(cfg, "train_labels", None)           # the normal class only (anomaly.py)
    kept = f" (labels {','.join(map(str, labels))})" if labels is not None else ""
    return [
        *fit(f"{'Resuming' if resumed else 'Training'} {'an' if what[0] in 'aeiou' else 'a'} "
             f"{what}, {model.num_params:,} parameters"),
        layers_line(model),
        f"  data:   {_short_name(cfg.dataset)}, {len(data.batches.data)} train{kept} / "
        f"{plural(len(data.x_test), 'test image')}, {plural(len(data.batches), 'step')} of "
        f"{cfg.batch_size}",
        *([f"  from:   {data.source}"] if getattr(data, "source", None) else []),  # MNIST's files
        f"  device: {device} {cfg.dtype}, {optimizer}, {plural(cfg.epochs, 'epoch')}",
        *kl_line(cfg),
        f"  forms:  {model.ops.describe(model)}",
        f"  output: {run_dir}",
    ]


def kl_line(cfg) -> list[str]:
    """The KL warm-up and free bits of a run, as a header line; none without them."""
    parts = []
    if getattr(cfg, "kl_warmup", 0):
        parts.append(f"beta 0 -> {cfg.beta:g} over {plural(cfg.kl_warmup, 'epoch')} (--kl-warmup)")
    if getattr(cfg, "free_bits", 0):
        parts.append(f"{cfg.free_bits:g} nats free per dimension (--free-bits)")
    return [f"  KL:     {'; '.join(parts)}"] if parts else []


def _short_name(dataset: str) -> str:
    """A dataset file by its name only (its full path is in config.json)."""
    return os.path.basename(dataset) if os.sep in dataset else dataset


def per_pixel(value: float, input_dim: int) -> float:
    """A loss summed over the D pixels of an image -> its mean per pixel (Keras's unit)."""
    return value / input_dim


def epoch_line(cfg, row: dict, input_dim: int) -> str:
    """One epoch, under 100 columns, in the model's own words."""
    quality = f"PSNR {row['psnr']:.2f} SSIM {row['ssim']:.3f}"
    time = f"{row['seconds']:.1f} s"
    if "test_iwae" in row:   # trains on -L_k: each side's bound, and its -ELBO (recon + KL)
        bound = f"-L_{cfg.k}"
        return (f"epoch {row['epoch']:3d} | train {bound} {row['train_loss']:.2f}, -ELBO "
                f"{row['train_recon'] + row['train_kl']:.2f} | test {bound} "
                f"{row['test_iwae']:.2f}, -ELBO {row['test_loss']:.2f} | ESS "
                f"{row['test_ess']:.2f}/{cfg.k} | {time}")
    if "train_beta" in row:  # a warm-up: the KL's weight at the epoch's end, before PSNR
        quality = f"beta {row['train_beta']:.2f}, PSNR {row['psnr']:.2f}"
    if cfg.model != "ae":
        return (f"epoch {row['epoch']:3d} | train {row['train_loss']:7.2f} (recon "
                f"{row['train_recon']:.2f}, KL {row['train_kl']:.2f}) | test "
                f"{row['test_loss']:7.2f} | {quality} | {time}")
    name = LOSS_NAMES[cfg.likelihood]
    train = per_pixel(row["train_loss"], input_dim)
    factor, scale = mse_scale(cfg.pixel_range)          # the training loss's scale, named
    test = f"test MSE {row['mse'] * factor:.4f}" + (f" (both{scale})" if scale else "")
    if cfg.likelihood != "mse":   # the training loss is not the MSE: show both
        test = (f"test {name} {per_pixel(row['test_loss'], input_dim):.4f}, "
                f"MSE {row['mse'] * factor:.4f}{scale}")
    return f"epoch {row['epoch']:3d} | train {name} {train:.4f} | {test} | {quality} | {time}"


def final_line(cfg, last: dict, input_dim: int) -> str:
    """The summary after the last epoch."""
    quality = f"PSNR {last['psnr']:.2f} dB, SSIM {last['ssim']:.4f}"
    if "test_iwae" in last:   # the bound it trained on, then the test set's -ELBO
        return (f"Done after epoch {last['epoch']}: test -L_{cfg.k} {last['test_iwae']:.3f} "
                f"nats/image (train {last['train_loss']:.3f}), test -ELBO "
                f"{last['test_loss']:.3f}.")
    if cfg.model != "ae" and cfg.likelihood == "mse":   # a squared error, not nats
        return (f"Done after epoch {last['epoch']}: test squared error + KL "
                f"{last['test_loss']:.3f} (train {last['train_loss']:.3f}), {quality}.")
    if cfg.model != "ae":
        return (f"Done after epoch {last['epoch']}: test loss {last['test_loss']:.3f} nats/image "
                f"(train {last['train_loss']:.3f}), {quality}.")
    name = LOSS_NAMES[cfg.likelihood]
    factor, scale = mse_scale(cfg.pixel_range)
    train = f"{per_pixel(last['train_loss'], input_dim):.4f}"
    train = train if cfg.likelihood == "mse" else f"{name} {train}"   # "NLL 0.5849"
    return (f"Done after epoch {last['epoch']}: test MSE {last['mse'] * factor:.4f} per pixel"
            f"{scale} (train {train}), {quality}.")


COLLAPSE_KL = 0.1       # nats per image: below this the code carries almost nothing
COLLAPSE_EPOCHS = 3     # ... for this many epochs in a row


def collapse_warning(latent_rows) -> list[str]:
    """Lines warning of posterior collapse after the last of ``latent_rows`` (latents.csv), or [].

    Said once, at the epoch where it begins: no active unit left (Burda et al.
    2015: Var_x E_q[z_j] > 0.01), or a test KL under 0.1 nats per image for 3
    epochs in a row. Each line fits 100 columns.
    """
    def collapsed(upto):
        rows = latent_rows[:upto]
        low = len(rows) >= COLLAPSE_EPOCHS and all(r["kl"] < COLLAPSE_KL
                                                   for r in rows[-COLLAPSE_EPOCHS:])
        return bool(rows) and (rows[-1]["active_units"] == 0 or low)

    n = len(latent_rows)
    if not collapsed(n) or collapsed(n - 1):
        return []
    last = latent_rows[-1]
    return [f"warning: posterior collapse at epoch {last['epoch']}: {last['active_units']} of "
            f"{len(last['kl_dims'])} latent dimensions active, KL {last['kl']:.3f} nats/image;",
            "  z carries (almost) nothing the decoder uses. Try --kl-warmup 10 (beta from 0), "
            "--free-bits 0.5,",
            "  a lower --beta, or a smaller decoder (--decoder-hidden); latents.csv has each "
            "dimension's KL"]
