"""What a command will hold, added up from its options before it is allocated.

The one memory budget is files/budget.py's (half the machine's memory, or
``$MINIVAE_MAX_DATA_BYTES``). The loaders check a file against it, the
model (params.py) its layers and parameters; this file adds what only the
commands know, the sizes of a step and the check against a GPU's free memory
(:func:`check_both`), and names the option that lowers it. Training's checks
are here, sample's and evaluate's in trained_budget.py:

    check_data_file(cfg, error)           a .npy/.npz before it is loaded: its arrays, and
                                          the float copy training makes of its pixels
    check_steps(cfg, data, held)          a step and a test batch, from the options alone,
                                          before the model is built
    in_option_words(e, cfg)               a model refused by params.py, in the options' words
    check_training(cfg, model, data)      data + parameters, gradients, optimizer state + a step

A step holds, per example, every layer's output and its gradient (B rows in
the encoder, K B in the decoder of an IWAE); :func:`row_terms` counts them.
tests/run/test_budget_commands.py measures real steps against the estimate.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np

from ..architecture import conv_sizes
from ..backend import device_memory
from ..files import budget
from ..files.npyfile import check_npy, check_npz
from .importance import iw_k_chunk
from .rundir import RunError

STEP_COPIES = 2            # each value and its gradient (measured: 1.5 to 3 times below this)
EVAL_ROWS = 1000           # evaluation.py's batches of test images
SSIM_COPIES = 4            # metrics.py's SSIM: a few float64 maps per image (measured ~1.6)


def row_terms(m) -> dict:
    """{what sets it: (encoder numbers, decoder numbers)} one example writes in a forward pass.

    ``m``: a model, or :func:`plan`'s stand-in. Encoder: each hidden layer's
    pre-activation and output, the heads (mu and logvar). Decoder, per sample
    of z: z, eps and the std, each layer's two values, the output's logits,
    mean and gradient and the repeated x. A conv layer also writes im2col's
    columns, C k k numbers per output pixel.
    """
    D, Z = m.input_dim, m.latent_dim
    terms = {"image": (D, 4 * D), "hidden": (2 * sum(m.hidden_dims), 0),
             "decoder_hidden": (0, 2 * sum(m.decoder_hidden_dims)), "latent_dim": (2 * Z, 3 * Z)}
    if m.arch == "conv":
        k = m.kernel_size
        shapes = conv_sizes(m.image_shape, m.channels, k, m.stride, m.padding)
        enc = dec = math.prod(shapes[-1])                   # the flattened last map
        for (c0, h0, w0), (c1, h1, w1) in zip(shapes[:-1], shapes[1:]):
            columns = c0 * k * k * h1 * w1                  # Conv2d's im2col; ConvT's GEMM
            enc += 2 * c1 * h1 * w1 + columns
            dec += 2 * c0 * h0 * w0 + columns
        terms["channels"] = (enc, dec)
    return terms


def step_bytes(m, batch: int, samples: int = 1, terms=None) -> int:
    """Bytes one training step of ``batch`` examples holds (``samples`` z per example)."""
    terms = row_terms(m) if terms is None else terms
    enc, dec = (sum(column) for column in zip(*terms.values()))
    return STEP_COPIES * m.dtype.itemsize * batch * (enc + samples * dec)


def plan(cfg, input_dim: int, image_shape) -> SimpleNamespace | None:
    """The sizes the model of ``cfg`` will have, without building it (None if they cannot
    be worked out: build_model then names what does not fit)."""
    try:
        hidden = tuple(cfg.hidden)
        p = SimpleNamespace(input_dim=input_dim, latent_dim=cfg.latent_dim, hidden_dims=hidden,
                            decoder_hidden_dims=tuple(cfg.decoder_hidden or reversed(hidden)),
                            arch=cfg.arch, kernel_size=cfg.kernel_size, stride=cfg.stride,
                            padding=cfg.padding, channels=tuple(cfg.channels),
                            dtype=np.dtype(cfg.dtype))
        if cfg.arch == "conv":
            H, W, C = (*(image_shape or (input_dim, 1)), 1)[:3]     # the loaders' (H, W[, C])
            p.image_shape = (C, H, W)
            if not cfg.latent_dim:                                   # the code is the last map
                p.latent_dim = math.prod(conv_sizes(p.image_shape, p.channels, p.kernel_size,
                                                    p.stride, p.padding)[-1])
        row_terms(p)
        return p
    except (ValueError, TypeError):
        return None


OPTIONS = {"hidden": "--hidden", "decoder_hidden": "--decoder-hidden",
           "latent_dim": "--latent-dim", "channels": "--channels"}


def _shown(values) -> str:
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    text = ",".join(map(str, values[:6])) + (",..." if len(values) > 6 else "")
    return text + (f" ({len(values):,} layers)" if len(values) > 6 else "")


def _option(key: str, cfg) -> str:
    """"--hidden 512,256": the option of a term of row_terms, with its value."""
    if key == "decoder_hidden" and cfg.decoder_hidden is None:
        key = "hidden"                                     # the decoder mirrors --hidden
    if key == "image":
        return "the image size"
    return f"{OPTIONS[key]} {_shown(getattr(cfg, key))}"


def _lower(key: str, cfg) -> str:
    """What lowers a term of row_terms: "lower --latent-dim", "use fewer layers in --hidden"."""
    if key == "image":
        return "use smaller images"
    if key == "decoder_hidden" and cfg.decoder_hidden is None:
        key = "hidden"                                     # the decoder mirrors --hidden
    values = getattr(cfg, key)
    many = isinstance(values, (list, tuple)) and len(values) > 6
    return f"use fewer layers in {OPTIONS[key]}" if many else f"lower {OPTIONS[key]}"


def _levers(cfg, terms, rows: int, eval_rows: int) -> tuple[str, str]:
    """(what was asked, what lowers it) for a step too large: the batch, k, the widest term."""
    key = max(terms, key=lambda k: sum(terms[k]))
    widest = _option(key, cfg)
    if rows < eval_rows:       # the test set's batches of 1000 weigh more than the step
        return f"{widest}, on {eval_rows:,} test images at a time,", _lower(key, cfg)
    batch = f"--k {cfg.k} with --batch-size {cfg.batch_size}" if cfg.k > 1 else \
        f"--batch-size {cfg.batch_size}"
    if key == "image" or rows > 100 * eval_rows:
        return batch, "lower one of them" if cfg.k > 1 else "lower it"
    return f"{batch} and {widest}", "lower one of them"


def check_steps(cfg, data, held: int) -> None:
    """Refuse, before the model is built, options whose step or test batch cannot fit beside
    ``held`` bytes (the data set): --k 10000 --batch-size 1000, --latent-dim 10000000."""
    p = plan(cfg, data.x_test.shape[1], data.image_shape)
    if p is None:
        return
    terms = row_terms(p)
    rows, eval_rows = cfg.batch_size * cfg.k, min(EVAL_ROWS, len(data.x_test))
    step = max(step_bytes(p, cfg.batch_size, cfg.k, terms), step_bytes(p, eval_rows, 1, terms))
    asked, lower = _levers(cfg, terms, rows, eval_rows)
    budget.check(held + step, asked, lower, error=RunError,
                 per=f" ({budget.size(step)} per step or test batch, beside "
                     f"{budget.size(held)} of data)")


def check_data_file(cfg, error) -> None:
    """Refuse a .npy/.npz whose arrays, with the float copy training makes, exceed the budget.

    Read from the headers only. Training holds the file's arrays (both
    splits are read, so up to twice) and every pixel as a float of --dtype.
    """
    path = cfg.dataset
    if not path.endswith((".npy", ".npz")):
        return                                   # MNIST and Fashion-MNIST: 55 MB
    cap = budget.memory_budget()
    arrays = (check_npz if path.endswith(".npz") else check_npy)(path, cap, error)
    raw = _array_bytes(arrays)
    pixels = sum(math.prod(shape) for shape, _ in arrays.values())
    itemsize = np.dtype(cfg.dtype).itemsize
    smaller = " or --dtype float32" if itemsize > 4 else ""
    budget.check(2 * raw + pixels * itemsize,
                 f"{path} ({pixels:,} pixels, trained on as {cfg.dtype})",
                 f"train on fewer or smaller images{smaller}", error=error, budget=cap)


def _array_bytes(arrays: dict) -> int:
    """The bytes of the arrays a .npy/.npz header declares: {name: (shape, dtype)}."""
    return sum(math.prod(shape) * dtype.itemsize for shape, dtype in arrays.values())


def held_bytes(arrays) -> int:
    """The bytes of the arrays a run holds (None entries skipped)."""
    return sum(int(a.nbytes) for a in arrays if a is not None)


def in_option_words(e: budget.OverBudget, cfg) -> budget.OverBudget:
    """A model refused by params.py, with the option that lowers it."""
    if "layers" in e.asked:
        longest = max(("hidden", "decoder_hidden", "channels"),
                      key=lambda k: len(getattr(cfg, k) or ()))
        return e.reworded(lower=f"use fewer layers in {_option(longest, cfg)}")
    layer = e.asked.split("the largest, ")[-1].split(".")[0].rstrip("0123456789")
    key = {"mu": "latent_dim", "logvar": "latent_dim", "code": "latent_dim", "enc": "hidden",
           "conv": "channels", "deconv": "channels"}.get(layer, "decoder_hidden")
    if layer == "out" and cfg.arch == "conv":
        key = "channels"
    return e.reworded(lower=f"lower {_option(key, cfg)}")


def check_training(cfg, model, data) -> None:
    """Refuse a run whose data, model, optimizer state and one step exceed the budget."""
    itemsize = model.dtype.itemsize
    state = 2 if cfg.optimizer == "adam" else (1 if cfg.momentum else 0)
    held = held_bytes([data.batches.data, data.x_test])
    weights = (2 + state) * model.num_params * itemsize     # parameters, gradients, m and v
    terms = row_terms(model)
    rows = min(EVAL_ROWS, len(data.x_test))
    step = max(step_bytes(model, cfg.batch_size, getattr(model, "k", 1), terms),
               step_bytes(model, rows, 1, terms) + SSIM_COPIES * 8 * rows * model.input_dim)
    if getattr(model, "objective", None) == "iwae":       # the test set's bound: 100 images
        step = max(step, step_bytes(model, 100, min(model.k, iw_k_chunk(model, 100)), terms))
    asked, lower = _levers(cfg, terms, cfg.batch_size * cfg.k, rows)
    if weights > step:
        asked, lower = (f"the model's {model.num_params:,} parameters with their gradients "
                        f"and {cfg.optimizer}'s state"), "make its layers smaller"
    parts = (f"{budget.size(step)} per step or test batch, beside {budget.size(held)} of data "
             f"and {budget.size(weights)} of model and optimizer state")
    # On a GPU the data, the parameters and their gradients are there already (the GPU's free
    # memory no longer counts them): what is still to come is the optimizer's state and a step.
    to_come = state * model.num_params * itemsize + step
    check_both(model, held + weights + step, asked, lower, per=f" ({parts})", error=RunError,
               on_device=to_come, per_device=f" ({budget.size(step)} per step or test batch "
               f"and {budget.size(to_come - step)} of optimizer state, beside the data and "
               "model already on the GPU)")


def check_both(model, need: int, asked: str, lower: str, per: str = "", error=None,
               on_device: int | None = None, per_device: str | None = None) -> None:
    """budget.check against the machine's budget and, for a model on a GPU, ``on_device``
    bytes (default ``need``: what a GPU run holds lives on the GPU; ``per_device`` says
    what they are, default ``per``) against the GPU's free memory: CuPy would otherwise
    fail mid-run with its OutOfMemoryError."""
    budget.check(need, asked, lower, per=per, error=error)
    memory = device_memory(model.xp)
    if memory is not None:
        free, total = memory
        budget.check(need if on_device is None else on_device, asked,
                     f"{lower}, or run on the CPU (--device cpu)",
                     per=per if per_device is None else per_device, error=error,
                     budget=free, where=f"the {budget.size(free)} free on the GPU (of its "
                                        f"{budget.size(total)})")
