"""A training step on the GPU path never waits for the GPU, and launches a known number of kernels.

Waits: ``cupyx.allow_synchronize(False)`` is CuPy's own guard (anything that
makes the host wait for the device raises ``DeviceSynchronized``), so the
same test holds a step to zero waits on a real GPU and on the CPU stand-in
for CuPy (tests/cupy_standin), for every kind of model and for the epoch loop
of the train command.

Launches: the stand-in counts each CuPy call that would queue work on the GPU
(a kernel, a cuBLAS or cuRAND call, a copy on the device), with the line that
made it; a real CuPy counts nothing, so these tests always run on the
stand-in. A step is host-bound on a GPU at batch 128: CuPy spends several
microseconds of Python on each launch, so the count is the step's cost there.
Each budget is the count measured when it was written: a change that adds
launches fails here and shows, line by line, where they come from.
"""

import numpy as np
import pytest

from minivae import IWAE, VAE, Adam, Autoencoder, backend
from minivae.backend import Generator, get_xp

from conftest import REAL_GPU

TINY = dict(input_dim=12, hidden_dims=(8,), latent_dim=3, seed=0)
CONV = dict(arch="conv", image_shape=(1, 8, 8), channels=(4, 8), kernel_size=4, stride=2,
            padding=1, latent_dim=3, seed=0)
MODELS = {
    "vae": lambda **kw: VAE(**TINY, **kw),
    "vae-plain-forms": lambda **kw: VAE(**TINY, fast=False, **kw),
    "iwae-k5": lambda **kw: IWAE(k=5, **TINY, **kw),
    "elbo-k5": lambda **kw: IWAE(k=5, objective="elbo", **TINY, **kw),
    "vae-gaussian": lambda **kw: VAE(**TINY, likelihood="gaussian", **kw),
    "autoencoder": lambda **kw: Autoencoder(**TINY, **kw),
    "conv-vae": lambda **kw: VAE(**CONV, **kw),
    "conv-autoencoder": lambda **kw: Autoencoder(**{**CONV, "latent_dim": None}, hidden_dims=(),
                                                 **kw),
}
# Launches of one step (loss_and_grads, then Adam's step) on the stand-in, as counted when
# each budget was last set. A Dense layer is 4 (3 for a model's first), a ReLU 2
# (fast/cuda_kernels.py). A conv layer's im2col is three launches (the padding two, the
# copy one), its col2im one (a gather kernel; conv.py's adds once per tap: the conv VAE's
# step was 131 with it).
BUDGET = {"vae": 37, "vae-plain-forms": 85, "iwae-k5": 62, "elbo-k5": 43, "vae-gaussian": 48,
          "autoencoder": 24, "conv-vae": 83, "conv-autoencoder": 46}


def cupyx_module():
    """CuPy's cupyx, or the stand-in's, whichever backs "cuda" in this test."""
    import cupy_standin
    if backend.cupy_module() is cupy_standin:
        return cupy_standin._cupyx
    return pytest.importorskip("cupyx")


def batch(model, xp, b=4):
    x = np.random.default_rng(1).random((b, model.input_dim), dtype=np.float32)
    return xp.asarray(x)


@pytest.mark.cuda
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_a_training_step_never_waits_for_the_gpu(kind):
    model = MODELS[kind](device="cuda")
    opt, x = Adam(model.params), batch(model, get_xp("cuda"))
    model.loss_and_grads(x)                       # the first step builds the kernels
    opt.step(model.grads)
    with cupyx_module().allow_synchronize(False):
        for _ in range(2):
            loss, parts = model.loss_and_grads(x)
            opt.step(model.grads)
    assert np.isfinite(float(loss))


@pytest.mark.cuda
@pytest.mark.parametrize("kind", sorted(MODELS))
def test_launches_per_step_stay_within_budget(standin, kind):
    from cupy_standin._ledger import LEDGER
    model = MODELS[kind](device="cuda")
    opt, x = Adam(model.params), batch(model, standin)
    model.loss_and_grads(x)
    opt.step(model.grads)
    with LEDGER.window() as step:
        model.loss_and_grads(x)
        opt.step(model.grads)
    assert not step.waits and not step.uploads, step.table("wait") + step.table("upload")
    n = len(step.launches)
    assert n <= BUDGET[kind], (f"{kind}: {n} launches a step, over its budget of {BUDGET[kind]}; "
                               f"by line:\n{step.table()}")
    print(f"{kind}: {n} launches a step")


@pytest.mark.cuda
def test_a_training_epoch_reads_the_gpu_once(standin):
    """The train command's epoch loop: each step records its loss on the device; the epoch
    reads them back once, at its end, and the progress bar's readings never wait."""
    from types import SimpleNamespace

    from cupy_standin._ledger import LEDGER
    from minivae.data import BatchIterator
    from minivae.run import epoch
    from minivae.run.config import TrainConfig
    model = VAE(**TINY, device="cuda")
    opt = Adam(model.params)
    data = standin.asarray(np.random.default_rng(0).random((120, 12), dtype=np.float32))
    batches = BatchIterator(data, 4, seed=0)                        # 30 steps
    with LEDGER.window() as w:
        stats = epoch.train_epoch(model, opt, batches, 1, TrainConfig(epochs=1, quiet=True),
                                  SimpleNamespace(requested=False))
    assert len(w.waits) == 1 and w.waits[0].where.endswith(
        f"epoch.py:{_line_of(epoch, 'values = to_numpy(per_step[:done])')}"), w.table("wait")
    assert not w.uploads and np.isfinite(stats["loss"])
    assert len(w.of("download")) == 1                               # the bar's one HostCopy


def _line_of(module, text):
    """The line number of the line of ``module`` that holds ``text``."""
    with open(module.__file__) as f:
        return next(i for i, line in enumerate(f, 1) if text in line)


# -- the measurements: chunked for a GPU, not for a CPU's cache ------------------------------

@pytest.mark.cuda
def test_evaluate_iw_on_the_gpu_takes_a_fiftieth_of_the_cpu_chunkings_launches(standin):
    """K = 1000 samples of 100 images: on the CPU 5 samples per decoder call (the cache), on
    a GPU 500; the launches of evaluate --iw K=5000 on the test set drop from 4.6 million
    to 47,000 (469 per 100 images, counted on the stand-in)."""
    from cupy_standin._ledger import LEDGER
    from minivae.run import evaluation, importance
    model = VAE(**TINY, device="cuda")
    x = batch(model, standin, b=100)

    def launches(k_chunk):
        with LEDGER.window() as w:
            evaluation.iw_log_likelihood(model, x, 1000, rng=Generator(standin, 0),
                                         batch_size=100, k_chunk=k_chunk)
        return len(w.launches)

    cpu_chunk = max(1, importance.IW_CHUNK_ROWS // 100)
    assert importance.iw_k_chunk(model, 100) == 500 and cpu_chunk == 5
    on_gpu, cpu_chunking = launches(None), launches(cpu_chunk)
    assert on_gpu * 50 <= cpu_chunking, (on_gpu, cpu_chunking)


@pytest.mark.cuda
def test_ssim_of_a_batch_on_the_gpu_is_one_chunk(standin, monkeypatch):
    from cupy_standin._ledger import LEDGER
    from minivae.run import metrics
    x = standin.asarray(np.random.default_rng(0).random((1000, 28, 28)))

    def launches():
        with LEDGER.window() as w:
            metrics.ssim(x, x * 0.9)
        return len(w.launches)

    whole = launches()
    monkeypatch.setattr(metrics, "SSIM_CHUNK_PIXELS_GPU", metrics.SSIM_CHUNK_PIXELS)
    assert whole <= 45 and launches() >= 20 * whole      # 42 against 1,026, counted
