"""The conditional VAE, warm-up and free bits on the GPU path: a step never waits for the GPU,
an epoch of the train command reads it once, and the measurements run on device labels.

On a real GPU with CuPy, or on the CPU stand-in for CuPy (tests/cupy_standin), which refuses
what CuPy refuses (a device array turned into a NumPy one without asking) and counts waits.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from minivae import CVAE, VAE, Adam
from minivae.backend import get_xp

TINY = dict(input_dim=12, hidden_dims=(8,), latent_dim=3, seed=0)
CONV = dict(arch="conv", image_shape=(1, 8, 8), channels=(4, 8), latent_dim=3, seed=0)


def cupyx_module():
    import cupy_standin
    from minivae import backend
    if backend.cupy_module() is cupy_standin:
        return cupy_standin._cupyx
    return pytest.importorskip("cupyx")


@pytest.mark.cuda
@pytest.mark.parametrize("make", [
    lambda: CVAE(**TINY, num_classes=4, device="cuda"),
    lambda: CVAE(**TINY, num_classes=4, free_bits=0.1, device="cuda"),
    lambda: CVAE(**CONV, num_classes=3, device="cuda"),
    lambda: VAE(**TINY, free_bits=0.1, device="cuda"),
], ids=["cvae", "cvae-free-bits", "conv-cvae", "vae-free-bits"])
def test_a_step_never_waits_for_the_gpu(make):
    model, xp = make(), get_xp("cuda")
    opt = Adam(model.params)
    x = xp.asarray(np.random.default_rng(1).random((6, model.input_dim), dtype=np.float32))
    data = (x, xp.asarray(np.arange(6) % model.num_classes)) if isinstance(model, CVAE) else (x,)
    model.loss_and_grads(*data, beta=0.5)          # the first step builds the kernels
    opt.step(model.grads)
    with cupyx_module().allow_synchronize(False):
        for beta in (0.25, 1.0):                   # a warm-up's beta is a Python number
            loss, parts = model.loss_and_grads(*data, beta=beta)
            opt.step(model.grads)
    assert np.isfinite(float(loss))


@pytest.mark.cuda
def test_a_cvae_epoch_with_warmup_and_its_measurements(standin):
    from cupy_standin._ledger import LEDGER
    from minivae.data import BatchIterator
    from minivae.run import epoch
    from minivae.run.config import TrainConfig
    from minivae.run.evaluation import latent_diagnostics, test_set_metrics
    from minivae.run.sweep import iw_sweep
    model = CVAE(**TINY, num_classes=4, free_bits=0.05, device="cuda")
    rng = np.random.default_rng(0)
    images = standin.asarray(rng.random((120, 12), dtype=np.float32))
    labels = standin.asarray(np.arange(120) % 4)
    batches = BatchIterator(images, 4, seed=0, labels=labels)        # 30 steps of (x, y)
    cfg = TrainConfig(model="cvae", epochs=2, kl_warmup=2, free_bits=0.05, quiet=True)
    with LEDGER.window() as w:
        stats = epoch.train_epoch(model, Adam(model.params), batches, 1, cfg,
                                  SimpleNamespace(requested=False))
    assert len(w.waits) == 1 and not w.uploads, w.table("wait") + w.table("upload")
    assert stats["beta"] == pytest.approx(29 / 60) and stats["kl_penalty"] > 0
    x, y = images[:40], labels[:40]
    test, quality = test_set_metrics(model, x, (3, 4), rng=None, labels=y)
    assert np.isfinite(test["loss"]) and np.isfinite(quality["mse"])
    d = latent_diagnostics(model, x, labels=y)
    assert d["kl_dims"].shape == (3,) and 0 <= d["active_units"] <= 3
    sweep = iw_sweep(model, x, (1, 10), labels=y)
    assert sweep[10][0].shape == (40,) and np.all(sweep[10][1] <= 10 + 1e-6)
