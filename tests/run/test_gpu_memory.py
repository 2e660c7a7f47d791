"""A GPU's memory: what cannot fit is refused before it is allocated, with the GPU's free
memory named, and an OutOfMemoryError that comes anyway (another process filled the GPU)
ends each command with one line, status 1, and nothing lost.

On the CPU stand-in for CuPy the GPU's free memory is what the test sets
(cupy_standin.cuda.MEMORY), and CuPy's OutOfMemoryError is raised where the
test puts it; on a real GPU these tests use the stand-in too (``standin``).
"""

import pytest

from minivae import VAE, backend
from minivae.files.budget import OverBudget, size
from minivae.run import evaluate, sample, train, trained_budget

from conftest import make_tiny, use_standin

ARGS = ["--hidden", "16", "--latent-dim", "2", "--batch-size", "32", "--quiet", "--threads", "1"]


@pytest.fixture
def gpu(monkeypatch):
    """The stand-in, with 80 GiB free unless a test sets MEMORY["free"] lower."""
    import cupy_standin
    previous = use_standin()
    monkeypatch.setitem(cupy_standin.cuda.MEMORY, "free", 80 << 30)
    yield cupy_standin
    backend.use_cupy(*previous)


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path / "tiny.npz", n_train=96, n_test=40)


def oom(*args, **kwargs):
    import cupy_standin
    raise cupy_standin.cuda.memory.OutOfMemoryError(2_000_000_000, 70_000_000_000)


@pytest.mark.cuda
def test_device_memory_is_the_free_memory_and_the_pools_unused_blocks(gpu, monkeypatch):
    monkeypatch.setitem(gpu.cuda.MEMORY, "free", 5 << 30)
    monkeypatch.setattr(gpu.cuda.MemoryPool, "free_bytes", lambda self: 1 << 30)
    assert backend.device_memory(gpu) == (6 << 30, 80 << 30)
    monkeypatch.setattr(gpu.cuda.MemoryPool, "get_limit", lambda self: 3 << 30)
    monkeypatch.setattr(gpu.cuda.MemoryPool, "used_bytes", lambda self: 1 << 30)
    assert backend.device_memory(gpu) == (2 << 30, 80 << 30)     # CUPY_GPU_MEMORY_LIMIT's
    assert backend.device_memory(__import__("numpy")) is None


@pytest.mark.cuda
def test_what_does_not_fit_the_gpus_free_memory_is_refused_by_name(gpu, monkeypatch):
    model = VAE(input_dim=784, hidden_dims=(64,), latent_dim=4, device="cuda", seed=0)
    trained_budget.check_sample(model, 10_000)                   # 80 GiB free: it fits
    monkeypatch.setitem(gpu.cuda.MEMORY, "free", 10 << 20)       # another process took the rest
    with pytest.raises(OverBudget) as e:
        trained_budget.check_sample(model, 10_000)
    text = str(e.value)
    assert "-n 10,000 needs" in text and "the 10 MiB free on the GPU (of its 80 GiB)" in text
    assert text.endswith("lower -n, or run on the CPU (--device cpu)")
    trained_budget.check_sample(VAE(input_dim=784, hidden_dims=(64,), latent_dim=4, seed=0),
                                10_000)


@pytest.mark.cuda
def test_evaluate_counts_on_the_gpu_the_test_set_as_floats_alone(gpu, monkeypatch):
    """The file's uint8 images stay on the host; the GPU holds them as floats."""
    model = VAE(input_dim=784, hidden_dims=(64,), latent_dim=4, device="cuda", seed=0)
    monkeypatch.setitem(gpu.cuda.MEMORY, "free", 10 << 20)
    with pytest.raises(OverBudget) as e:
        trained_budget.check_evaluation(model, 100_000, None, 1000)
    floats = 100_000 * 784 * 4
    assert f"beside {size(floats)} of images), more than the 10 MiB free" in str(e.value)


@pytest.mark.cuda
def test_train_evaluate_and_sample_refuse_before_they_start(gpu, monkeypatch, tmp_path, tiny,
                                                            capsys):
    run = tmp_path / "run"
    assert train.main(["--dataset", tiny, *ARGS, "--epochs", "1", "--device", "cuda",
                       "--no-plots", "--out", str(run)]) == 0
    capsys.readouterr()
    monkeypatch.setitem(gpu.cuda.MEMORY, "free", 64 << 10)
    assert train.main(["--dataset", tiny, *ARGS, "--epochs", "1", "--device", "cuda",
                       "--out", str(tmp_path / "second")]) == 1
    assert "free on the GPU" in capsys.readouterr().err
    assert not (tmp_path / "second" / "checkpoint.npz").exists()
    assert evaluate.main([str(run), "--iw", "50", "--device", "cuda", "--threads", "1"]) == 1
    assert "free on the GPU (of its 80 GiB)" in capsys.readouterr().err
    assert sample.main([str(run), "-n", "5000", "--out", str(tmp_path / "g.png"),
                        "--device", "cuda"]) == 1
    assert "free on the GPU" in capsys.readouterr().err and not (tmp_path / "g.png").exists()


@pytest.mark.cuda
def test_what_a_gpu_run_holds_already_is_not_counted_twice(gpu, monkeypatch, tmp_path, capsys):
    """The data set and the model are on the GPU before the check, so its free memory no
    longer counts them: a run whose data takes most of the GPU still trains, and the
    refusal of one that does not fit counts only what is still to come."""
    big = make_tiny(tmp_path / "big.npz", n_train=20_000, n_test=100)     # 5 MiB as floats
    args = ["--dataset", big, *ARGS, "--epochs", "1", "--device", "cuda", "--no-plots"]
    monkeypatch.setitem(gpu.cuda.MEMORY, "free", 3 << 20)      # the rest holds the data
    assert train.main([*args, "--out", str(tmp_path / "fits")]) == 0
    monkeypatch.setitem(gpu.cuda.MEMORY, "free", 64 << 10)
    assert train.main([*args, "--out", str(tmp_path / "not")]) == 1
    err = capsys.readouterr().err
    assert ("of optimizer state, beside the data and model already on the GPU), more than "
            "the 65,536 bytes free on the GPU (of its 80 GiB)") in err


@pytest.mark.cuda
def test_an_out_of_memory_error_mid_run_ends_each_command_with_one_line(gpu, monkeypatch,
                                                                        tmp_path, tiny, capsys):
    run = tmp_path / "run"
    assert train.main(["--dataset", tiny, *ARGS, "--epochs", "1", "--device", "cuda",
                       "--no-plots", "--out", str(run)]) == 0
    saved = (run / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    monkeypatch.setattr(VAE, "loss_and_grads", oom)              # the GPU fills up mid-run
    assert train.main(["--resume", str(run), "--epochs", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the GPU ran out of memory: Out of memory allocating "
                          "2,000,000,000 bytes (allocated so far: 70,000,000,000 bytes)\n")
    assert "nvidia-smi" in err and f"The last finished epoch is safe in {run}" in err
    assert f"python -m minivae.train --resume {run}" in err
    assert "Traceback" not in err and (run / "checkpoint.npz").read_bytes() == saved

    monkeypatch.setattr(VAE, "sample", oom)
    grid = tmp_path / "grid.png"
    assert sample.main([str(run), "-n", "6", "--out", str(grid), "--device", "cuda"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the GPU ran out of memory while drawing 6 samples: Out of "
                          f"memory allocating 2,000,000,000 bytes (allocated so far: "
                          f"70,000,000,000 bytes); {grid} was not written")
    assert not grid.exists()

    monkeypatch.setattr(evaluate, "iw_log_likelihood", oom)
    assert evaluate.main([str(run), "--iw", "50", "--device", "cuda", "--threads", "1"]) == 1
    err = capsys.readouterr().err
    assert "ran out of memory while estimating -log p(x) with --iw 50: Out of memory" in err
    assert "Traceback" not in err


@pytest.mark.cuda
def test_a_cuda_librarys_allocation_failure_is_an_out_of_memory_too(gpu, monkeypatch, tmp_path,
                                                                     tiny, capsys):
    """cuBLAS cannot allocate its workspace: CuPy raises CUBLASError, a RuntimeError whose
    message is the status's name; each command ends as for CuPy's OutOfMemoryError."""
    import cupy_standin

    def alloc_failed(*args, **kwargs):
        raise cupy_standin.cuda.cublas.CUBLASError("CUBLAS_STATUS_ALLOC_FAILED")

    run = tmp_path / "run"
    assert train.main(["--dataset", tiny, *ARGS, "--epochs", "1", "--device", "auto",
                       "--no-plots", "--out", str(run)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(VAE, "loss_and_grads", alloc_failed)
    assert train.main(["--resume", str(run), "--epochs", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the GPU ran out of memory: CUBLAS_STATUS_ALLOC_FAILED\n")
    assert f"python -m minivae.train --resume {run}" in err and "Traceback" not in err

    monkeypatch.setattr(VAE, "sample", alloc_failed)
    assert sample.main([str(run), "-n", "6", "--out", str(tmp_path / "grid.png")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: the GPU ran out of memory while drawing 6 samples: "
                          "CUBLAS_STATUS_ALLOC_FAILED; ")

    def other(*args, **kwargs):                     # any other library error is not hidden
        raise cupy_standin.cuda.cublas.CUBLASError("CUBLAS_STATUS_INVALID_VALUE")
    monkeypatch.setattr(VAE, "sample", other)
    with pytest.raises(RuntimeError, match="CUBLAS_STATUS_INVALID_VALUE"):
        sample.main([str(run), "-n", "6", "--out", str(tmp_path / "grid.png")])
    monkeypatch.setattr(VAE, "loss_and_grads", other)
    with pytest.raises(RuntimeError, match="CUBLAS_STATUS_INVALID_VALUE"):
        train.main(["--resume", str(run), "--epochs", "2", "--quiet"])


def test_running_out_of_the_machines_memory_says_so(monkeypatch, tmp_path, tiny, capsys):
    def host_oom(*args, **kwargs):
        raise MemoryError()
    monkeypatch.setattr(VAE, "loss_and_grads", host_oom)
    assert train.main(["--dataset", tiny, *ARGS, "--epochs", "1",
                       "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: this machine ran out of memory: MemoryError\n")
