"""What sample and evaluate will hold, added up from their options before it is allocated.

The two commands that read a trained model, checked against the one memory
budget and, on a GPU, its free memory (budget.py's ``check_both``), each
naming the option that lowers it:

    check_sample(model, n)                -n images: decoded, then drawn
    check_evaluation(model, n, iw,        the test set, its batches, --iw's samples,
                     batch, sweep_images, --iw-sweep's log-weights, --per-image's
                     per_image)           scores

A batch's work is budget.py's ``step_bytes``, as in training.
tests/run/test_budget_commands.py measures a sweep's batch and the scores
against these estimates.
"""

from __future__ import annotations

from ..files import budget
from .budget import EVAL_ROWS, SSIM_COPIES, check_both, row_terms, step_bytes
from .importance import iw_k_chunk
from .sweep import SWEEP_KS

FIGURE_BYTES = 400 << 10   # one image drawn into sample's PNG (0.6 inch at 100 dpi): 336 KiB
                           # measured (sample -n 1024 against -n 4096, peak RSS)
SWEEP_COPIES = 3           # --iw-sweep's (K, B) float64 log-weights: the chunks then joined,
                           # or the joined and importance.log_sums' one array (measured 2.0 to
                           # 2.1: tracemalloc's peak of a batch of 50 to 400 images)
SWEEP_RESULTS = 4          # its L_K and ESS of each image and K: float64, batches then joined


def check_sample(model, n: int) -> None:
    """Refuse ``-n`` images whose decoding and drawing exceed the budget."""
    _, dec = (sum(column) for column in zip(*row_terms(model).values()))
    per_image = model.dtype.itemsize * dec + FIGURE_BYTES
    check_both(model, n * per_image, f"-n {n:,}", "lower -n",
               per=f" ({budget.size(per_image)} an image, decoded then drawn)",
               on_device=n * model.dtype.itemsize * dec)


def check_evaluation(model, n_test: int, iw: int | None, batch_size: int,
                     sweep_images: int | None = None, per_image: bool = False) -> None:
    """Refuse an evaluation whose test set and largest piece of work exceed the budget
    (before converting).

    The ELBO and the reconstructions take EVAL_ROWS images at a time (so do
    --predictions, written that many rows at a time); --iw runs the decoder on
    --batch-size images times the samples of a chunk (about iw_k_chunk's rows,
    or --batch-size when it is larger); --iw-sweep on ``sweep_images`` images
    also holds every log-weight of a batch (:func:`_sweep_work`); --per-image
    (``per_image``) holds each test image's scores (:func:`_per_image_work`).
    Each piece of work is (bytes, rows at a time, what was asked, what lowers
    it, what the bytes are for); None asked: the model's own batches, where the
    test set or the model is large.
    """
    as_floats = n_test * model.input_dim * model.dtype.itemsize
    held = as_floats + n_test * model.input_dim                   # the file's uint8, and as floats
    rows = min(EVAL_ROWS, n_test)
    batch = step_bytes(model, rows)
    work = [(batch + SSIM_COPIES * 8 * rows * model.input_dim, rows, None, None, "per batch")]
    if iw:
        work.append(_iw_work(model, min(batch_size, n_test), iw, batch_size))
    if sweep_images is not None:
        work.append(_sweep_work(model, min(sweep_images, n_test), batch_size))
    if per_image:
        work.append(_per_image_work(model, n_test, batch))
    need, rows, asked, lower, what = max(work, key=lambda w: w[0])
    if asked is None and held > need:
        asked, lower = f"the {n_test:,} test images", "evaluate on fewer images (--dataset FILE)"
    elif asked is None:
        asked, lower = f"this model on {rows:,} test images at a time", \
            "evaluate it where the budget is larger"
    check_both(model, held + need, asked, lower,
               per=f" ({budget.size(need)} {what}, beside {budget.size(held)} of images)",
               on_device=as_floats + need,       # on a GPU: the floats; the file's stay here
               per_device=f" ({budget.size(need)} {what}, beside {budget.size(as_floats)} "
                          "of images)")


def _iw_work(model, b: int, iw: int, batch_size: int) -> tuple:
    """--iw K on batches of b images: the decoder on samples x images rows at a time."""
    most = iw_k_chunk(model, 1)                      # rows a decoder call takes (more on a GPU)
    rows = b * iw_k_chunk(model, b)
    if b <= most:                                    # about that many rows, whatever the batch
        return step_bytes(model, rows), rows, None, None, "per batch"
    return (step_bytes(model, rows), rows, f"--iw {iw} with --batch-size {batch_size}",
            f"lower --batch-size (to {most} or less)", "per batch")


def _sweep_work(model, n: int, batch_size: int) -> tuple:
    """--iw-sweep on n images: --iw's decoder, all K = max(SWEEP_KS) log-weights of a batch
    of b images, (K, b) float64 (sweep.iw_sweep), and L_K and ESS of every image and K."""
    b, K = min(batch_size, n), max(SWEEP_KS)
    rows = b * iw_k_chunk(model, b)
    weights = SWEEP_COPIES * 8 * K * b
    results = SWEEP_RESULTS * 8 * 2 * len(SWEEP_KS) * n
    return (step_bytes(model, rows) + weights + results, rows,
            f"--iw-sweep ({K:,} samples of each image) with --batch-size {batch_size}",
            "lower --batch-size" + (" or --sweep-images" if results > weights else ""),
            f"per batch of {b:,} images with their {K * b:,} log-weights")


def _per_image_work(model, n_test: int, batch: int) -> tuple:
    """--per-image: the four scores of every test image (anomaly.per_image_scores), made
    in the ELBO's batches. The training labels it reads (data.load_labels, not the
    images) are not counted: an integer per training image, MNIST's a 60 KB file."""
    scores = 4 * n_test * (2 * model.dtype.itemsize + 8)   # batches, joined, then as float64
    return (batch + scores, n_test, f"--per-image ({n_test:,} test images scored)",
            "leave it out, or evaluate on fewer images (--dataset FILE)",
            "for the scores and a batch")
