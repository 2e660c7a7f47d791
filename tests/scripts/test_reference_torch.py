"""Fast checks of the PyTorch reference in benchmarks/reference/reference_torch.py (needs torch)."""

import csv
import gzip
import importlib.util
import math
import os
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks", "reference", "reference_torch.py")
_spec = importlib.util.spec_from_file_location("reference_torch", _PATH)
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def synthetic_images(n=512, seed=0):
    """(n, 784) float32 in [0, 1]: noisy copies of 8 random binary prototypes.

    Pure uniform noise would not do: its best reconstruction is 0.5 everywhere,
    which the untrained decoder already outputs, so the loss could not fall.
    """
    rng = np.random.default_rng(seed)
    protos = (rng.random((8, 784)) < 0.3).astype(np.float32)          # (8, 784)
    x = 0.85 * protos[rng.integers(0, 8, n)] + 0.15 * rng.random((n, 784))
    return x.astype(np.float32)                                         # (n, 784)


def write_idx(path, images):
    """Write uint8 images (N, 28, 28) as an IDX file, gzipped if path ends in .gz."""
    header = struct.pack(">HBB3I", 0, 0x08, 3, *images.shape)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(header + images.astype(np.uint8).tobytes())


def test_model_has_the_examples_shapes():
    model = ref.build_model("cpu")
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes == {
        "fc1.weight": (400, 784), "fc1.bias": (400,),
        "fc21.weight": (20, 400), "fc21.bias": (20,),
        "fc22.weight": (20, 400), "fc22.bias": (20,),
        "fc3.weight": (400, 20), "fc3.bias": (400,),
        "fc4.weight": (784, 400), "fc4.bias": (784,),
    }


def test_loss_is_finite_and_falls_on_synthetic_data():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x = torch.from_numpy(synthetic_images())
    model = ref.build_model("cpu")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    start = ref.evaluate(model, x, 128)
    losses = [ref.train_epoch(model, opt, x, 64, gen)["loss"] for _ in range(5)]
    end = ref.evaluate(model, x, 128)
    for d in (start, end):
        assert d["loss"] == pytest.approx(d["recon"] + d["kl"], rel=1e-6)
        assert d["kl"] >= 0.0
    assert all(math.isfinite(v) for v in losses), losses
    assert all(b < a for a, b in zip(losses, losses[1:])), f"train loss did not fall: {losses}"
    # untrained ~ 784 * ln 2 = 543 nats; noisy prototypes are learned quickly
    assert end["loss"] < 0.8 * start["loss"], (start, end)


def test_main_reads_idx_files_and_writes_csv(tmp_path):
    rng = np.random.default_rng(1)
    train = (synthetic_images(256, seed=1) * 255).round().reshape(256, 28, 28)
    test = rng.integers(0, 256, (64, 28, 28))
    write_idx(str(tmp_path / "train-images-idx3-ubyte.gz"), train)     # gzip
    write_idx(str(tmp_path / "t10k-images-idx3-ubyte"), test)          # raw
    x_train, x_test = ref.load_mnist_tensors(str(tmp_path), "cpu")
    assert x_train.shape == (256, 784) and x_train.dtype == torch.float32
    expected = (test.reshape(64, 784) / 255.0).astype(np.float32)
    np.testing.assert_array_equal(x_test.numpy(), expected)

    out = tmp_path / "run.csv"
    ref.main(["--data-dir", str(tmp_path), "--epochs", "2", "--batch-size", "32",
              "--threads", "1", "--seed", "3", "--csv", str(out)])
    with open(out) as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert all(math.isfinite(float(r[k])) for r in rows for k in ref.FIELDS)


def test_same_seed_gives_same_numbers():
    torch.set_num_threads(1)
    x = torch.from_numpy(synthetic_images(256))
    a = ref.run(x, x[:64], seed=5, epochs=1, batch_size=64, log=None)
    b = ref.run(x, x[:64], seed=5, epochs=1, batch_size=64, log=None)
    for key in ("train_loss", "test_loss", "test_kl"):
        assert a[0][key] == b[0][key]
