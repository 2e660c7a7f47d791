"""Your code trains MNIST: a model running the learner's functions (here minivae's own, from a
workspace's files) computes exactly what minivae does, dense and conv, CPU and GPU; training
with --exercises refuses until the exercises it needs pass, and says which."""

import numpy as np
import pytest

import minivae
from minivae.exercises.swap import StudentDense, needed, with_student_functions
from minivae.run.rundir import RunError
from workspaces import fresh, handwritten, replace, solved  # noqa: F401 (fixtures)


CONV = dict(arch="conv", image_shape=(1, 28, 28), hidden_dims=(), latent_dim=8,
            channels=(4, 8))


def same_step(a, b, eps):
    x = np.random.default_rng(0).random((6, 784))
    la, pa = a.loss_and_grads(x, eps)
    lb, pb = b.loss_and_grads(x, eps)
    assert float(lb) == pytest.approx(float(la), rel=1e-12)
    assert float(pb["kl"]) == pytest.approx(float(pa["kl"]), rel=1e-12)
    for name in a.grads:
        np.testing.assert_allclose(minivae.backend.to_numpy(b.grads[name]),
                                   minivae.backend.to_numpy(a.grads[name]), rtol=1e-9, atol=1e-12)
    assert float(b.loss(x, eps)[0]) == pytest.approx(float(a.loss(x, eps)[0]), rel=1e-12)


@pytest.mark.parametrize("kwargs, exercises", [
    ({}, [1, 2, 3, 5, 6, 7, 8]),                                        # the default model
    ({"activation": "tanh", "likelihood": "gaussian", "hidden_dims": (32, 16)}, [1, 2, 4, 5, 6, 8]),
    (CONV, [1, 2, 3, 5, 6, 8, 9]),
])
def test_the_learners_functions_compute_what_minivae_does(solved, capsys, kwargs, exercises):
    a = minivae.VAE(seed=0, dtype="float64", **kwargs)
    b = with_student_functions(minivae.VAE(seed=0, dtype="float64", **kwargs), str(solved))
    assert needed(b) == exercises
    assert "Training with your functions from" in capsys.readouterr().out
    assert isinstance(b.mu_head, StudentDense) and b.ops.name == "exercises"
    same_step(a, b, np.random.default_rng(1).normal(size=(6, a.latent_dim)))
    opt_a, opt_b = minivae.Adam(a.params), minivae.Adam(b.params)      # b's: the learner's Adam
    assert opt_b.ops is b.ops
    for _ in range(2):
        opt_a.step(a.grads)
        opt_b.step(b.grads)
    np.testing.assert_allclose(b.params.flat, a.params.flat, rtol=1e-12, atol=1e-15)


@pytest.mark.cuda
@pytest.mark.parametrize("kwargs", [{}, CONV], ids=["dense", "conv"])
def test_on_the_gpu_the_learners_numpy_functions_get_host_copies(solved, kwargs):
    a = minivae.VAE(seed=0, dtype="float64", device="cuda", **kwargs)
    b = with_student_functions(minivae.VAE(seed=0, dtype="float64", device="cuda", **kwargs),
                               str(solved))
    from minivae.conv import Conv2d, ConvTranspose2d
    from minivae.exercises.swap import LAYERS, all_layers
    plain = (minivae.layers.Dense, minivae.layers.ReLU, Conv2d, ConvTranspose2d)
    swapped = {type(layer) for layer in all_layers(b) if isinstance(layer, plain)}
    built = {next(c for c in type(layer).__mro__ if c in LAYERS) for layer in all_layers(a)
             if isinstance(layer, plain)}
    assert swapped == {LAYERS[c][0] for c in built}         # the GPU's forms of them swapped too
    assert (Conv2d in built) == bool(kwargs)
    same_step(a, b, a.xp.asarray(np.random.default_rng(1).normal(size=(6, a.latent_dim))))
    opt_a, opt_b = minivae.Adam(a.params), minivae.Adam(b.params)
    opt_a.step(a.grads)
    opt_b.step(b.grads)
    # rtol 1e-10: on the GPU minivae's Dense adds the bias inside its GEMM (the learner's after
    # it), so the gradients differ in their last bits, which Adam's first step carries over
    np.testing.assert_allclose(minivae.backend.to_numpy(b.params.flat),
                               minivae.backend.to_numpy(a.params.flat), rtol=1e-10, atol=1e-15)


def test_the_learners_adam_leaves_no_subnormal_moment_past_a_16th_step(solved):
    """A moment stuck among the subnormal floats (a weight whose gradient stays 0) would make
    every later step slower; after the learner's update at every 16th step it becomes 0."""
    model = with_student_functions(minivae.VAE(seed=0), str(solved))
    p = np.ones(50, np.float32)
    m, v = np.full(50, 4e-45, np.float32), np.full(50, 1e-40, np.float32)   # subnormal
    kw = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)
    model.ops.adam_update(p, np.zeros(50, np.float32), m, v, step=15, **kw)
    assert (m != 0).all() and (v != 0).all()            # the learner's update, as it is
    model.ops.adam_update(p, np.zeros(50, np.float32), m, v, step=16, **kw)
    assert (m == 0).all() and (v == 0).all()


def test_training_waits_until_the_exercises_pass(fresh):
    with pytest.raises(RunError, match=r"needs exercises 1, 2, 3, 5, 6, 7, 8, and these do not "
                                       r"pass yet: 1 \(not started\), 2 \(not started\)"):
        with_student_functions(minivae.VAE(seed=0), str(fresh))


def test_a_wrong_exercise_is_named_too(solved):
    replace(solved, "ex05_kl.py", "import numpy as np\n\ndef gaussian_kl(mu, logvar):\n"
            "    return -0.5 * (1 + logvar - mu**2 - np.exp(logvar)).mean(axis=1)\n\n"
            "def gaussian_kl_backward(mu, logvar):\n    return mu, 0.5 * np.expm1(logvar)\n")
    with pytest.raises(RunError, match=r"do not pass yet: 5 \(wrong\); see python -m "
                                       r"minivae.exercises check"):
        with_student_functions(minivae.VAE(seed=0), str(solved))


def test_only_a_vae_with_one_sample_trains_with_exercises(solved):
    with pytest.raises(RunError, match="--exercises trains a VAE"):
        with_student_functions(minivae.IWAE(k=3, seed=0), str(solved))


def test_the_train_command_trains_with_the_workspace(handwritten, tmp_path, capsys):
    """A short run on a small image file with a learner's own NumPy (handwritten.py); the band
    is only drawn for the reference's own setup, and the run says why there is none here."""
    from minivae.train import main
    images = (np.random.default_rng(0).random((300, 28, 28)) * 255).astype(np.uint8)
    np.save(tmp_path / "digits.npy", images)
    status = main(["--exercises", str(handwritten), "--dataset", str(tmp_path / "digits.npy"),
                   "--epochs", "1", "--hidden", "32", "--latent-dim", "4", "--no-plots",
                   "--quiet", "--out", str(tmp_path / "run"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "Training with your functions from" in out and "Dense (ex1)" in out
    assert "this run changes --dataset, --hidden, --latent-dim, so there is no band" in out


@pytest.mark.slow
def test_mnist_with_the_learners_functions_lands_in_the_pytorch_band(handwritten, tmp_path,
                                                                      capsys, mnist_dir):
    """A learner's own NumPy (handwritten.py) trains the default model on real MNIST, and its
    curve lands in the band of PyTorch's example, epoch by epoch."""
    from minivae.train import main
    status = main(["--exercises", str(handwritten), "--data-dir", mnist_dir, "--epochs", "2",
                   "--quiet", "--out", str(tmp_path / "run"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = [line for line in out.splitlines() if line.strip().startswith(("1 ", "2 "))]
    assert len(rows) == 2 and all(line.count(" in ") == 2 for line in rows), out
    assert (tmp_path / "run" / "reference_band.png").stat().st_size > 1000
