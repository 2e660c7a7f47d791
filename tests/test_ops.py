"""The elementwise forms: plain (minivae/ops.py) against textbook formulas, fast against plain."""

import subprocess
import sys

import numpy as np
import pytest

from minivae import VAE, Adam, Bernoulli, ReLU
from minivae.backend import to_numpy
from minivae.fast import forms as fast_module
from minivae.fast.forms import (ADAM_CHUNK, SUBNORMAL_EVERY, FastOps, NumbaOps, choose_ops,
                                numba_installed)
from minivae.ops import Ops
from conftest import adam_by_hand, rand

CPU_FAST = NumbaOps if numba_installed() else FastOps   # what choose_ops(np) gives
needs_numba = pytest.mark.skipif(not numba_installed(), reason="needs Numba (the numba extra)")

TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=2e-6, atol=2e-6)}


def plain_bernoulli(logits, x, scale):
    """The textbook forms, in float64 on the CPU: logaddexp for softplus, 1/(1+e^-l)."""
    l, x = to_numpy(logits).astype(np.float64), to_numpy(x).astype(np.float64)
    nll = np.sum(np.logaddexp(0, l) - x * l, axis=1)
    with np.errstate(over="ignore"):
        grad = scale * (1 / (1 + np.exp(-l)) - x)
    return nll, grad


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("scale", [1.0, 1 / 128])
def test_bernoulli_nll_and_grad_equals_the_textbook_form(xp, dtype, scale):
    logits = rand(xp, (16, 50), 1, -30, 30).astype(dtype)
    logits[0, :6] = xp.asarray([1e4, -1e4, 0.0, 88.0, -88.0, 1e-6], dtype=dtype)
    x = rand(xp, (16, 50), 2).astype(dtype)
    x[1] = 0.0
    x[2] = 1.0
    with np.errstate(all="raise"):
        nll, grad = choose_ops(xp).likelihood("bernoulli").nll_and_grad(logits, x, scale)
    assert nll.dtype == dtype and grad.dtype == dtype
    assert nll.shape == (16,) and grad.shape == (16, 50)
    want_nll, want_grad = plain_bernoulli(logits, x, scale)
    # float32: each of the 50 terms is exact to ~1 ulp of its size (up to 1e4 here).
    nll_tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-6, atol=50 * 1e4 * 6e-8)
    np.testing.assert_allclose(to_numpy(nll), want_nll, **nll_tol)
    np.testing.assert_allclose(to_numpy(grad), want_grad, **TOL[dtype])


def test_bernoulli_nll_and_grad_leaves_its_inputs_alone(xp):
    logits, x = rand(xp, (4, 7), 3, -5, 5), rand(xp, (4, 7), 4)
    l0, x0 = logits.copy(), x.copy()
    choose_ops(xp).likelihood("bernoulli").nll_and_grad(logits, x, 0.5)
    assert bool((logits == l0).all()) and bool((x == x0).all())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softplus_equals_logaddexp(xp, dtype):
    l = xp.asarray(np.concatenate([np.linspace(-200, 200, 4001), [1e4, -1e4, 0.0, 1e-30]]),
                   dtype=dtype)
    with np.errstate(all="raise"):
        got = Bernoulli(xp).nll(l[None, :], xp.zeros_like(l)[None, :])   # sum of softplus(l)
    want = np.logaddexp(0, to_numpy(l).astype(np.float64)).sum(keepdims=True)
    np.testing.assert_allclose(to_numpy(got), want, **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
@pytest.mark.parametrize("form", ["plain", "fast-64", "fast-1000", "fast",   # 1000: 3 chunks + rest
                                  pytest.param("numba", marks=needs_numba)])
def test_adam_update_equals_adam_by_hand(xp, dtype, wd, form):
    P = 3001
    rng = np.random.default_rng(5)
    p0 = rng.standard_normal(P)
    grads = [rng.standard_normal(P) * 10.0**rng.uniform(-4, 1) for _ in range(5)]
    p, m, v = (xp.array(a, dtype=dtype) for a in (p0, np.zeros(P), np.zeros(P)))   # copies
    for t, g in enumerate(grads, start=1):
        g_dev = xp.asarray(g, dtype=dtype)
        g_before = g_dev.copy()
        kw = dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, step=t, weight_decay=wd)
        if form == "plain":
            Ops(xp).adam_update(p, g_dev, m, v, **kw)
        elif form == "numba":
            if xp is not np:
                pytest.skip("Numba's form runs on NumPy arrays")
            NumbaOps(xp).adam_update(p, g_dev, m, v, **kw)
        elif xp is np:
            FastOps(xp).adam_update(p, g_dev, m, v, **kw, chunk=int(form[5:] or ADAM_CHUNK))
        else:
            choose_ops(xp).adam_update(p, g_dev, m, v, **kw)
        assert bool((g_dev == g_before).all()), "adam_update wrote into the gradient"
    want = adam_by_hand(p0, [np.asarray(g, dtype=dtype).astype(np.float64) for g in grads],
                      1e-2, 0.9, 0.999, 1e-8, wd)
    tol = TOL[dtype] if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)
    for got, w in zip((p, m, v), want):
        np.testing.assert_allclose(to_numpy(got), w, **tol)


def test_adam_update_on_non_contiguous_and_2d_arrays():
    rng = np.random.default_rng(6)
    base = rng.standard_normal((6, 8))
    p = base.copy()[:, ::2]                      # non-contiguous (6, 4)
    q = np.ascontiguousarray(p)                  # the same values, contiguous
    g = rng.standard_normal((6, 4))
    state = [np.zeros((6, 4)) for _ in range(4)]
    fast = FastOps(np)
    fast.adam_update(p, g, state[0], state[1], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, step=1)
    fast.adam_update(q, g, state[2], state[3], lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, step=1, chunk=5)
    np.testing.assert_allclose(p, q, rtol=1e-14)
    np.testing.assert_allclose(p, adam_by_hand(base[:, ::2], [g], 0.1, 0.9, 0.99, 1e-8, 0.0)[0], rtol=1e-12)


@needs_numba
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_numba_adam_gives_the_same_bits_as_the_numpy_form(dtype, wd):
    # The same operations in the same order, no fused multiply-add: equal, not close.
    rng = np.random.default_rng(7)
    P = 70001                                           # past one of FastOps's chunks, odd tail
    p0 = rng.standard_normal(P).astype(dtype)
    state = {form: [p0.copy(), np.zeros(P, dtype), np.zeros(P, dtype)] for form in ("np", "nb")}
    for t in range(1, 30):
        g = (rng.standard_normal(P) * 10.0**rng.uniform(-6, 1, P)).astype(dtype)
        g[:5] = [0.0, 1e-30, -1e-30, 3e4, -3e4]         # zero, subnormal-squared, large
        kw = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, step=t, weight_decay=wd)
        FastOps(np).adam_update(*state["np"][:1], g, *state["np"][1:], **kw)
        NumbaOps(np).adam_update(*state["nb"][:1], g, *state["nb"][1:], **kw)
    for got, want in zip(state["nb"], state["np"]):
        assert got.dtype == dtype and np.array_equal(got, want)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fast_adam_sets_a_subnormal_m_or_v_to_zero_and_moves_p_as_the_plain_form(dtype):
    """A weight whose gradient stays 0 has its m shrink into the subnormal numbers, which a
    CPU multiplies a hundred times slower, and stay there; the fast forms set such an m or v
    to 0. What p then loses is below anything its dtype shows (cpu_kernels.py)."""
    tiny = np.finfo(dtype).tiny
    P = 1000
    p0 = np.random.default_rng(3).standard_normal(P).astype(dtype)
    m0 = np.full(P, tiny, dtype) * np.linspace(-4, 4, P).astype(dtype)   # some subnormal
    v0 = np.abs(m0) * 3
    g = np.zeros(P, dtype)
    g[::7] = 1e-3                                       # a few weights still learning
    forms = {"plain": Ops(np), "fast": FastOps(np), "chunked": FastOps(np)}
    if numba_installed():
        forms["numba"] = NumbaOps(np)
    state = {name: [p0.copy(), m0.copy(), v0.copy()] for name in forms}
    kw = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, step=32 * SUBNORMAL_EVERY)
    for name, ops in forms.items():
        extra = {"chunk": 64} if name == "chunked" else {}
        ops.adam_update(state[name][0], g, *state[name][1:], **kw, **extra)
    p_plain, m_plain, v_plain = state["plain"]
    subnormal = (m_plain != 0) & (np.abs(m_plain) < tiny)
    assert subnormal.sum() > 100
    for name in forms.keys() - {"plain"}:
        p, m, v = state[name]
        assert (m[subnormal] == 0).all(), name
        assert ((v == 0) | (v >= tiny)).all() and ((m == 0) | (np.abs(m) >= tiny)).all(), name
        np.testing.assert_allclose(m[~subnormal], m_plain[~subnormal], rtol=2 * np.finfo(dtype).eps)
        np.testing.assert_allclose(p, p_plain, rtol=np.finfo(dtype).eps)   # drops < p's ulp
        for got, want in zip(state[name], state["fast"]):
            assert np.array_equal(got, want), name          # every fast form: the same bits


def test_fast_adam_clears_the_subnormal_moments_at_every_16th_step_only():
    """The NumPy form spends five passes on the check, so it makes it at every 16th step: a
    stuck m waits at most 15 steps there. (The compiled loop checks at every step.)"""
    tiny = np.finfo(np.float32).tiny
    p = np.ones(100, np.float32)
    m, v = np.full(100, 4e-45, np.float32), np.full(100, 1e-3, np.float32)   # m: 3 ulps
    g = np.zeros(100, np.float32)
    kw = dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8)
    for step in range(1, SUBNORMAL_EVERY):
        FastOps(np).adam_update(p, g, m, v, step=step, **kw)
        assert (m == np.float32(4e-45)).all()               # stuck: 0.1 m rounds to 0
    FastOps(np).adam_update(p, g, m, v, step=SUBNORMAL_EVERY, **kw)
    assert (m == 0).all() and (v >= tiny).all()


@needs_numba
def test_numba_adam_takes_the_numpy_form_for_arrays_it_cannot_run_over():
    rng = np.random.default_rng(8)
    base = rng.standard_normal((6, 8))
    g = rng.standard_normal((6, 4))
    for p, gg in ((base.copy()[:, ::2], g), (np.ascontiguousarray(base[:, ::2]), g.astype(np.float32))):
        m, v = np.zeros((6, 4)), np.zeros((6, 4))
        NumbaOps(np).adam_update(p, gg, m, v, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, step=1)
        want = adam_by_hand(base[:, ::2], [gg.astype(np.float64)], 0.1, 0.9, 0.99, 1e-8, 0.0)[0]
        np.testing.assert_allclose(p, want, rtol=1e-6)


def test_without_numba_the_numpy_forms_are_chosen(monkeypatch):
    monkeypatch.setattr(fast_module, "numba_installed", lambda: False)
    assert type(choose_ops(np)) is FastOps
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3)
    assert type(model.ops) is FastOps and type(Adam(model.params).ops) is FastOps


def test_a_numba_that_does_not_load_is_said_once_and_adam_runs_in_numpys_form(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def broken(name, *args, **kwargs):           # every import statement comes through here
        if name.endswith("cpu_kernels"):
            raise ImportError("numba: a broken install")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", broken)
    fast_module.numba_kernels.cache_clear()
    try:
        rng = np.random.default_rng(9)
        p, g = rng.standard_normal(50), rng.standard_normal(50)
        states = [[p.copy(), np.zeros(50), np.zeros(50)] for _ in range(2)]
        kw = dict(lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, step=1)
        with pytest.warns(RuntimeWarning, match="Numba is installed but does not load"):
            NumbaOps(np).adam_update(states[0][0], g, *states[0][1:], **kw)
        NumbaOps(np).adam_update(states[0][0], g, *states[0][1:], **{**kw, "step": 2})  # no warning
        FastOps(np).adam_update(states[1][0], g, *states[1][1:], **kw)
        FastOps(np).adam_update(states[1][0], g, *states[1][1:], **{**kw, "step": 2})
        assert all(np.array_equal(a, b) for a, b in zip(*states))
    finally:
        fast_module.numba_kernels.cache_clear()


def test_building_a_model_does_not_load_numba():
    code = ("import sys, numpy as np, minivae; m = minivae.VAE(input_dim=12, hidden_dims=(8,), "
            "latent_dim=3); m.sample(2); m.loss_and_grads(np.zeros((2, 12))); "
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_adam_optimizer_updates_a_models_flat_vector_in_one_call(monkeypatch):
    calls = []
    real = CPU_FAST.adam_update
    monkeypatch.setattr(CPU_FAST, "adam_update",
                        lambda self, *a, **k: (calls.append(a[0].shape), real(self, *a, **k)))
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, seed=0)
    before = model.params.flat.copy()
    model.loss_and_grads(np.random.default_rng(0).random((4, 12)))
    Adam(model.params, lr=0.1).step(model.grads)
    assert calls == [(model.num_params,)]                  # one call, on the whole (P,) vector
    moved = np.abs(model.params.flat - before)
    big = np.abs(model.grads.flat) > 1e-4
    np.testing.assert_allclose(moved[big], 0.1, rtol=1e-3)  # step 1 moves each parameter by ~lr

    calls.clear()
    params = {"w": np.ones((3, 2))}                          # a plain dict: array by array
    Adam(params, lr=0.1).step({"w": np.ones((3, 2))})
    assert calls == [(3, 2)]


def test_the_ops_are_chosen_once_when_a_model_or_optimizer_is_built():
    assert type(choose_ops(np)) is CPU_FAST and type(choose_ops(np, fast=False)) is Ops
    model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, fast=False)
    assert type(model.ops) is Ops and type(Adam(model.params, fast=False).ops) is Ops
    assert Adam(model.params).ops is model.ops          # the optimizer takes the model's choice
    with pytest.raises(ValueError, match="built with fast=False.*Build the model with fast=True"):
        Adam(model.params, fast=True)                   # one choice per model, not two
    assert type(Adam(VAE(input_dim=12, hidden_dims=(8,), latent_dim=3).params).ops) is CPU_FAST
    assert type(Adam({"w": np.ones(3)}).ops) is CPU_FAST   # a plain dict: fast by default
    # Building a model changes nothing shared: a second, fast one does not affect the first.
    VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, fast=True)
    assert type(model.ops) is Ops


@pytest.mark.parametrize("fast", [True, False])
def test_fast_and_plain_models_train_to_the_same_numbers(fast):
    x = np.random.default_rng(1).random((16, 12))
    runs = []
    for f in (fast, not fast):
        model = VAE(input_dim=12, hidden_dims=(8,), latent_dim=3, dtype="float64", fast=f)
        opt = Adam(model.params, lr=1e-2, fast=f)
        for _ in range(5):
            loss, _ = model.loss_and_grads(x, eps=np.zeros((16, 3)))
            opt.step(model.grads)
        runs.append((float(loss), model.params.flat.copy()))
    assert runs[0][0] == pytest.approx(runs[1][0], rel=1e-12)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=1e-10, atol=1e-12)


def test_relu_is_max_x_0_and_its_mask(xp):
    x = rand(xp, (5, 9), 7, -1, 1)
    x[0, 0] = 0.0
    relu = ReLU(xp)
    y = relu.forward(x)
    assert bool((y == xp.maximum(x, 0)).all())
    dy = rand(xp, (5, 9), 8)
    assert bool((relu.backward(dy) == dy * (x > 0)).all())
