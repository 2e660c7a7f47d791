"""The GPU's fused kernels equal the NumPy ops they replace; TF32 is a GPU-only option.

The kernel tests carry the ``cuda`` marker (``pytest -m cuda`` runs them):
on a GPU they run on CuPy, without one on the CPU stand-in for CuPy, which runs
each kernel's CUDA C++ body translated to NumPy (tests/cupy_standin); the two
that time the device or TF32 skip there, saying so. Each runs a kernel of
minivae/fast/cuda_kernels.py on the GPU and the plain form of the same
function (minivae/ops.py, likelihoods.py) on the CPU, on the same inputs, in
float32 and float64. The tests of the choice of ops, of HostCopy on the CPU
and of the --tf32 option run everywhere.
"""

import ast
import os
import re
import time

import numpy as np
import pytest

from minivae import VAE, Adam, backend
from minivae.run import train
from minivae.fast.forms import choose_ops
from minivae.ops import Ops
from minivae.backend import cuda_available, get_xp, to_numpy
from minivae.fast import gpu
from minivae.fast.gpu import HostCopy
from minivae.run.train_cli import build_parser, parse_args

from conftest import CONV_SETTINGS, make_tiny

import cuda_floors  # benchmarks/speed/ (on sys.path through conftest): its bounded busy kernel

KERNEL_FILE = os.path.join(os.path.dirname(gpu.__file__), "cuda_kernels.py")
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=2e-6, atol=2e-6)}


def rand(shape, seed, dtype, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(dtype)


def on_gpu(a):
    """A CuPy copy of the NumPy array ``a``."""
    return get_xp("cuda").asarray(a)


# -- each fused kernel against the plain form of ops.py (GPU) -------------------

@pytest.fixture
def fused():
    """The fused CuPy set (CudaOps) and the plain set on the CPU, to compare."""
    return choose_ops(get_xp("cuda"), fast=True), Ops(np)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_bernoulli_kernel_equals_the_plain_form(fused, dtype):
    gpu_ops, plain = fused
    logits = rand((16, 50), 1, dtype, -30, 30)
    logits[0, :6] = [1e4, -1e4, 0.0, 88.0, -88.0, 1e-6]
    x = rand((16, 50), 2, dtype, 0, 1)
    x[1], x[2] = 0.0, 1.0
    nll, grad = gpu_ops.likelihood("bernoulli").nll_and_grad(on_gpu(logits), on_gpu(x), 1 / 128)
    want_nll, want_grad = plain.likelihood("bernoulli").nll_and_grad(logits, x, 1 / 128)
    assert nll.dtype == dtype and grad.dtype == dtype and nll.shape == (16,)
    nll_tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-6, atol=50 * 1e4 * 6e-8)
    np.testing.assert_allclose(to_numpy(nll), want_nll, **nll_tol)
    np.testing.assert_allclose(to_numpy(grad), want_grad, **TOL[dtype])


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_kernel_equals_the_plain_form_and_leaves_g_alone(fused, dtype, wd):
    gpu_ops, plain = fused
    p, m, v = rand((3001,), 3, dtype), np.zeros(3001, dtype), np.zeros(3001, dtype)
    p_gpu, m_gpu, v_gpu = on_gpu(p), on_gpu(m), on_gpu(v)
    for t in range(1, 6):
        g = rand((3001,), 10 + t, dtype, -10.0**-t, 10.0**-t)
        g_gpu = on_gpu(g)
        kw = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, step=t, weight_decay=wd)
        gpu_ops.adam_update(p_gpu, g_gpu, m_gpu, v_gpu, **kw)
        plain.adam_update(p, g, m, v, **kw)
        np.testing.assert_array_equal(to_numpy(g_gpu), g)      # g is read, never written
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    for got, want in ((p_gpu, p), (m_gpu, m), (v_gpu, v)):
        np.testing.assert_allclose(to_numpy(got), want, **tol)


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_reparameterize_kernels_equal_the_plain_forms(fused, dtype):
    gpu_ops, plain = fused
    mu, logvar, eps, dz = (rand((32, 20), seed, dtype, -3, 3) for seed in (5, 6, 7, 8))
    mu_g, logvar_g, eps_g, dz_g = map(on_gpu, (mu, logvar, eps, dz))
    z, std = gpu_ops.reparameterize(mu_g, logvar_g, eps_g)
    want_z, want_std = plain.reparameterize(mu, logvar, eps)
    np.testing.assert_allclose(to_numpy(z), want_z, **TOL[dtype])
    np.testing.assert_allclose(to_numpy(std), want_std, **TOL[dtype])
    got = gpu_ops.reparameterize_backward(dz_g, eps_g, std, mu_g, logvar_g, 0.25)
    want = plain.reparameterize_backward(dz, eps, want_std, mu, logvar, 0.25)
    for g, w in zip(got, want):
        np.testing.assert_allclose(to_numpy(g), w, **TOL[dtype])


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_kl_kernel_equals_the_plain_form(fused, dtype):
    gpu_ops, plain = fused
    mu, logvar = rand((32, 20), 9, dtype, -3, 3), rand((32, 20), 10, dtype, -6, 4)
    mu_g, logvar_g = on_gpu(mu), on_gpu(logvar)
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(gpu_ops.gaussian_kl(mu_g, logvar_g)),
                               plain.gaussian_kl(mu, logvar), **tol)
    np.testing.assert_allclose(to_numpy(gpu_ops.gaussian_kl_per_dim(mu_g, logvar_g)),
                               plain.gaussian_kl_per_dim(mu, logvar), **tol)
    assert gpu_ops.gaussian_kl(mu_g, logvar_g).dtype == dtype


# -- the GPU's forms of Dense and ReLU against layers.py's (fast/cuda_kernels.py) -------

@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_bias_row_dense_equals_the_plain_dense(dtype):
    """[x, 1] @ [W; b] is x W + b, and [x, 1]^T dy is [dW; db]: every output and gradient
    of layers.Dense, for two batch sizes in turn (the column of ones is kept per size)."""
    from minivae.fast.cuda_kernels import BiasRowDense
    from minivae.layers import Dense
    xp = get_xp("cuda")
    plain = Dense(7, 5, dtype=dtype, xp=np)
    fused = BiasRowDense(7, 5, dtype=dtype, xp=xp)
    fused.W[...], fused.b[...] = on_gpu(plain.W), on_gpu(plain.b)
    tol = TOL[dtype]
    for b in (6, 3, 6):
        x, dy = rand((b, 7), b, dtype), rand((b, 5), b + 1, dtype)
        np.testing.assert_allclose(to_numpy(fused.forward(on_gpu(x))), plain.forward(x), **tol)
        dx = fused.backward(on_gpu(dy))
        np.testing.assert_allclose(to_numpy(dx), plain.backward(dy), **tol)
        np.testing.assert_allclose(to_numpy(fused.dW), plain.dW, **tol)
        np.testing.assert_allclose(to_numpy(fused.db), plain.db, **tol)
        assert fused.backward(on_gpu(dy), need_dx=False) is None


@pytest.mark.cuda
def test_the_bias_row_is_a_view_of_the_flat_vectors():
    from minivae.fast.cuda_kernels import BiasRowDense, bias_as_row
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, device="cuda", seed=0)
    dense = [layer for layer in model.encoder + model.decoder if isinstance(layer, BiasRowDense)]
    assert len(dense) == 3 and isinstance(model.mu_head, BiasRowDense)
    wb = bias_as_row(model.params, "enc0")                  # (I+1, O): W's rows, then b
    wb[-1] = 7.0
    assert (to_numpy(model.params["enc0.b"]) == 7.0).all()
    from minivae.params import ParamStore
    store = ParamStore({"a.b": (3,), "a.W": (2, 3)}, get_xp("cuda"))
    with pytest.raises(ValueError, match="a.b does not follow a.W"):
        bias_as_row(store.params, "a")


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_fused_relu_equals_the_plain_relu_and_keeps_the_memory_order(dtype):
    from minivae.fast.cuda_kernels import FusedReLU
    from minivae.layers import ReLU
    x = rand((4, 3, 5, 6), 11, dtype)
    x[0, 0, 0, :3] = [0.0, -0.0, np.nan]                    # the kink, and a NaN that must stay
    x_gpu = on_gpu(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)   # batch last, as conv layers
    plain, fused = ReLU(np), FusedReLU(get_xp("cuda"))
    y = fused.forward(x_gpu)
    np.testing.assert_array_equal(to_numpy(y), plain.forward(x))    # bit for bit, NaN included
    assert y.strides == x_gpu.strides and fused.active.dtype == bool
    dy = rand((4, 3, 5, 6), 12, dtype)
    np.testing.assert_array_equal(to_numpy(fused.backward(on_gpu(dy))), plain.backward(dy))


@pytest.mark.cuda
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("k, s, p, op, H, W", CONV_SETTINGS)
def test_the_fused_conv_layers_equal_the_plain_ones(dtype, k, s, p, op, H, W):
    """The col2im gather (one thread per pixel) against conv.col2im (one add per tap): the
    forward and every gradient of Conv2d (its backward's dx) and ConvTranspose2d (its forward)."""
    from minivae.conv import Conv2d, ConvTranspose2d
    from minivae.fast.cuda_kernels import FusedConv2d, FusedConvTranspose2d
    xp = get_xp("cuda")
    for plain_cls, fused_cls, extra in ((Conv2d, FusedConv2d, {}),
                                        (ConvTranspose2d, FusedConvTranspose2d,
                                         {"output_padding": op})):
        plain = plain_cls(2, 3, k, stride=s, padding=p, dtype=dtype, **extra)
        fused = fused_cls(2, 3, k, stride=s, padding=p, dtype=dtype, xp=xp, **extra)
        fused.W[...], fused.b[...] = on_gpu(plain.W), on_gpu(plain.b)
        x = rand((5, 2, H, W), k + s, dtype)
        y = plain.forward(x)
        np.testing.assert_allclose(to_numpy(fused.forward(on_gpu(x))), y, **TOL[dtype])
        dy = rand(y.shape, p + 7, dtype)
        dx = fused.backward(on_gpu(dy))
        np.testing.assert_allclose(to_numpy(dx), plain.backward(dy), **TOL[dtype])
        assert dx.shape == x.shape
        np.testing.assert_allclose(to_numpy(fused.dW), plain.dW, **TOL[dtype])
        np.testing.assert_allclose(to_numpy(fused.db), plain.db, **TOL[dtype])


@pytest.mark.cuda
def test_a_conv_model_on_the_gpu_builds_the_fused_conv_layers(standin):
    """One launch for each col2im, where conv.py's adds once per tap onto zeros."""
    from cupy_standin._ledger import LEDGER
    from minivae.conv import Conv2d, ConvTranspose2d
    from minivae.exercises.swap import all_layers
    from minivae.fast.cuda_kernels import FusedConv2d, FusedConvTranspose2d
    conv = dict(arch="conv", image_shape=(1, 9, 7), channels=(3, 4), kernel_size=3, stride=2,
                padding=1, latent_dim=2, seed=0, device="cuda")
    fused, plain = VAE(**conv), VAE(**conv, fast=False)
    kinds = {type(layer) for layer in all_layers(fused)}
    assert {FusedConv2d, FusedConvTranspose2d} <= kinds and not {Conv2d, ConvTranspose2d} & kinds
    x = standin.asarray(np.random.default_rng(0).random((3, 63), dtype=np.float32))
    eps = standin.zeros((3, 2), dtype=np.float32)
    with LEDGER.window() as w:
        loss = fused.loss_and_grads(x, eps)[0]
    assert float(loss) == pytest.approx(float(plain.loss_and_grads(x, eps)[0]), rel=1e-6)
    np.testing.assert_allclose(to_numpy(fused.grads.flat), to_numpy(plain.grads.flat),
                               rtol=1e-5, atol=1e-6)
    launched = [e.what for e in w.launches]   # col2im: the decoder's 2 forwards, a conv's dx
    assert launched.count("ElementwiseKernel minivae_col2im") == 3, w.table()
    assert "zeros" not in launched, w.table()


@pytest.mark.cuda
def test_a_gpu_model_and_optimizer_use_the_fused_set_unless_told_not_to():
    from minivae.fast.cuda_kernels import CudaOps, FusedBernoulli
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, device="cuda", seed=0)
    assert isinstance(model.ops, CudaOps) and isinstance(model.likelihood, FusedBernoulli)
    assert isinstance(Adam(model.params).ops, CudaOps)
    plain = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, device="cuda", seed=0, fast=False)
    assert type(plain.ops) is Ops and type(Adam(plain.params, fast=False).ops) is Ops
    x = get_xp("cuda").full((4, 12), 0.5, dtype=np.float32)
    eps = get_xp("cuda").zeros((4, 3), dtype=np.float32)
    a, b = model.loss_and_grads(x, eps)[0], plain.loss_and_grads(x, eps)[0]
    assert float(a) == pytest.approx(float(b), rel=1e-6)


@pytest.mark.cuda
@pytest.mark.gpu_hardware("it times steps queued behind a 2-second kernel; "
                          "tests/fast/test_gpu_launches.py counts the waits on the stand-in")
def test_training_steps_never_wait_for_the_gpu():
    """Steps queued behind a 2-second kernel return at once: no step reads from the GPU."""
    cp = get_xp("cuda")
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, device="cuda", seed=0)
    opt = Adam(model.params)
    per_step = cp.zeros((5, 3))                     # as epoch.train_epoch keeps them

    def steps(rows):
        for i in rows:
            loss, parts = model.loss_and_grads(cp.full((4, 12), 0.2 * i + 0.1, dtype=cp.float32))
            opt.step(model.grads)
            row = per_step[i]
            row[0], row[1], row[2] = loss, parts["recon"], parts["kl"]

    steps([0, 1, 2])                     # compiles every kernel, fills the memory pools
    HostCopy(per_step[:, 0].mean()).value
    cp.cuda.get_current_stream().synchronize()
    cuda_floors.busy(2.0)                           # the GPU is busy for 2 s
    start = time.perf_counter()
    steps([3, 4])
    reading = HostCopy(per_step[:, 0].mean())
    arrived = reading.ready()
    queued = time.perf_counter() - start
    assert queued < 1.0, f"2 steps took {queued:.2f} s to queue: something waited for the GPU"
    assert not arrived                              # ready() asked, and did not wait
    assert np.isfinite(float(reading.value))        # value waits


@pytest.mark.cuda
@pytest.mark.parametrize("tf32", [False, True])
def test_training_on_the_gpu_runs_end_to_end(tmp_path, tf32):
    tiny = make_tiny(tmp_path / "tiny.npz")
    try:
        status = train.main(["--dataset", tiny, "--hidden", "16", "--latent-dim", "2",
                             "--epochs", "2", "--device", "cuda", "--no-plots", "--quiet",
                             "--out", str(tmp_path / "run"), *(["--tf32"] if tf32 else [])])
        assert status == 0
        assert gpu.tf32_enabled() == (tf32 and int(get_xp("cuda").cuda.Device()
                                                       .compute_capability) >= 80)
    finally:
        gpu.enable_tf32(False)


@pytest.mark.cuda
def test_host_copy_arrives_without_a_wait():
    cp = get_xp("cuda")
    a = cp.arange(10, dtype=cp.float32).sum()
    reading = HostCopy(a)
    assert float(reading.value) == 45.0 and reading.ready()


@pytest.mark.cuda
@pytest.mark.gpu_hardware("TF32 rounds inside cuBLAS on the device")
def test_tf32_changes_float32_gemms_only_while_on():
    cp = get_xp("cuda")
    if int(cp.cuda.Device().compute_capability) < 80:
        pytest.skip("TF32 needs a GPU of compute capability 8.0 or later")
    a, b = (np.random.default_rng(s).standard_normal((256, 256)) for s in (0, 1))
    exact = a @ b
    a32, b32 = cp.asarray(a, dtype=cp.float32), cp.asarray(b, dtype=cp.float32)

    def rel_error():
        return np.abs(to_numpy(a32 @ b32) - exact).max() / np.abs(exact).max()

    try:
        gpu.enable_tf32()
        assert gpu.tf32_enabled()
        assert rel_error() > 1e-5                   # 10-bit mantissas: about 1e-3
    finally:
        gpu.enable_tf32(False)
    assert not gpu.tf32_enabled()
    assert rel_error() < 1e-5                       # float32: about 1e-6


# -- what runs without a GPU --------------------------------------------------

def test_choosing_ops_for_numpy_never_imports_cupy(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_tried", True)   # CuPy counts as imported
    assert get_xp("cpu") is np
    assert type(choose_ops(np)).__module__ == "minivae.fast.forms"


def test_enable_tf32_without_cupy_only_sets_the_variable(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setattr(backend, "_cupy_tried", True)   # CuPy counts as imported
    monkeypatch.delenv("CUPY_TF32", raising=False)
    gpu.enable_tf32()
    assert os.environ["CUPY_TF32"] == "1"
    gpu.enable_tf32(False)
    assert os.environ["CUPY_TF32"] == "0"


def test_host_copy_on_the_cpu_is_ready_at_once_and_a_copy():
    a = np.array([1.0, 2.0])
    reading = HostCopy(a)
    a[0] = 5.0
    assert reading.ready() and reading.value.tolist() == [1.0, 2.0]


def test_every_kernel_literal_is_cast_to_T():
    """A bare 0.5 is a double in C++: it would turn float32 kernels into float64 arithmetic.

    One exception: a whole number compared with or assigned to an int (col2im's ``u = 0``,
    ``hs >= 0``), which is index arithmetic: no T is involved, and (T)0 there would turn
    an int comparison into a float one."""
    tree = ast.parse(open(KERNEL_FILE).read())
    specs = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", None) == "SPECS")
    assert sorted(specs) == ["adam", "bernoulli", "col2im", "gaussian_kl", "relu",
                             "reparameterize", "reparameterize_backward"]
    for name, (inputs, _, body) in specs.items():
        code = re.sub(r"//[^\n]*", "", body)                        # comments may say anything
        ints = set(re.findall(r"\bint(?:32)?\s+(\w+)", inputs + code))   # int parameters, locals
        for number in re.finditer(r"(?<![\w.])\d+(\.\d*)?([eE][-+]?\d+)?", code):
            before = code[:number.start()]
            beside = re.search(r"(\w+)\s*(==|!=|<=|>=|<|>|=)\s*$", before)
            if number.group().isdigit() and beside and beside.group(1) in ints:
                continue                                            # index arithmetic
            assert before.endswith("(T)"), \
                f"{name}: literal {number.group()} is not written (T){number.group()}"


def test_tf32_is_an_error_on_the_cpu(capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["--tf32", "--device", "cpu"])
    assert e.value.code == 2
    assert "--tf32 needs --device cuda or auto" in capsys.readouterr().err
    assert parse_args(["--tf32", "--device", "cuda"])[0].tf32
    assert parse_args(["--tf32"])[0].tf32 and not parse_args([])[0].tf32     # --device auto
    assert "trading GEMM precision" in " ".join(build_parser().format_help().split())


@pytest.mark.skipif(cuda_available(), reason="a GPU is present: --device auto would use it")
def test_tf32_with_auto_on_a_machine_without_gpu_trains_with_a_note(tmp_path, capsys):
    tiny = make_tiny(tmp_path / "tiny.npz")
    status = train.main(["--dataset", tiny, "--hidden", "16", "--latent-dim", "2", "--epochs", "1",
                         "--device", "auto", "--tf32", "--no-plots", "--quiet",
                         "--out", str(tmp_path / "run")])
    assert status == 0
    assert "--tf32 has no effect on the CPU" in capsys.readouterr().err
