"""The backward passes no other file gradient-checks, in float64, against central differences.

tests/test_layers.py, test_conv.py, test_likelihoods.py check the layers and
likelihoods one by one; test_vae_gradients.py, test_conv_models.py,
test_cvae.py and test_iwae.py whole models. Here, what those leave out:

    ops.reparameterize_backward   with a dz from the decoder (not only the KL's part), in the
                                  plain form and the GPU's fused kernel (the CPU stand-in)
    SymmetricRange                d nll / d out and d nll / d x (x' = 2x - 1: the factor 2)
    each model's likelihood       as the model's Ops builds it (the GPU's FusedBernoulli)
    FusedConv2d, FusedConvTranspose2d   their gather col2im, on the stand-in
    VAE                           pixel_range "symmetric", per-layer activations, an output
                                  with no activation ("none"), a warm-up step's beta; the conv
                                  VAE with mse, free bits and a warm-up beta
    Autoencoder                   dense with mse; conv with a Dense code, each likelihood
    IWAE                          the conv model, k > 1; the k-sample ELBO with beta != 1

Small models (a few dozen parameters) keep each test well under a second.
"""

import numpy as np
import pytest

from minivae import IWAE, VAE, Autoencoder, check_model, gradcheck
from minivae.fast.forms import choose_ops
from minivae.likelihoods import MSE, Gaussian, SymmetricRange
from minivae.ops import Ops
from conftest import rand

B, Z = 4, 3


# -- the elementwise pieces ---------------------------------------------------------

@pytest.mark.parametrize("fast", [False, True], ids=["plain", "fast"])
def test_reparameterize_backward_carries_dz_and_the_kl(xp, fast):
    """loss = sum(R z) + c sum KL: dz = R reaches mu (x1) and logvar (x eps std / 2), plus c dKL.

    fast on "cuda": CudaOps's fused reparameterize and reparameterize_backward kernels.
    """
    ops = choose_ops(xp, fast) if fast else Ops(xp)
    assert (ops.name == "cuda-fused") == (fast and xp is not np)
    mu, logvar = rand(xp, (B, Z), 1, -2, 2), rand(xp, (B, Z), 2, -2, 1)
    eps, R = rand(xp, (B, Z), 3, -2, 2), rand(xp, (B, Z), 4, -1, 1)
    c = 0.3

    def loss():
        z, _ = ops.reparameterize(mu, logvar, eps)
        return xp.sum(R * z) + c * xp.sum(ops.gaussian_kl(mu, logvar))

    _, std = ops.reparameterize(mu, logvar, eps)
    dmu, dlogvar = ops.reparameterize_backward(R, eps, std, mu, logvar, c)
    result = gradcheck(loss, {"mu": mu, "logvar": logvar}, {"mu": dmu, "logvar": dlogvar})
    assert result.max_error < 1e-6 and result.checked == 2 * B * Z


@pytest.mark.parametrize("inner", [lambda xp: MSE(xp), lambda xp: Gaussian(xp, std=0.3)],
                         ids=["mse", "gaussian-0.3"])
def test_symmetric_range_gradients_wrt_out_and_x(xp, inner):
    lik = SymmetricRange(inner(xp))
    out, x = rand(xp, (B, 6), 1, -0.9, 0.9), rand(xp, (B, 6), 2)      # a tanh output, [0, 1] pixels
    scale = 0.25
    nll, grad = lik.nll_and_grad(out, x, scale)
    gradcheck(lambda: scale * xp.sum(lik.nll(out, x)), {"out": out}, {"out": grad})
    gradcheck(lambda: xp.sum(lik.nll(out, x)), {"x": x}, {"x": lik.grad_x(out, x)})


@pytest.mark.parametrize("name", ["bernoulli", "gaussian", "mse"])
def test_each_likelihood_as_the_models_ops_build_it(xp, name):
    """On "cuda" the fast set's Bernoulli is FusedBernoulli: its kernel's gradient, checked."""
    lik = choose_ops(xp, True).likelihood(name, gaussian_std=0.4)
    fused = name == "bernoulli" and xp is not np
    assert (type(lik).__name__ == "FusedBernoulli") == fused
    out, x = rand(xp, (B, 6), 1, 0.05, 0.95), rand(xp, (B, 6), 2)
    if name == "bernoulli":
        out = rand(xp, (B, 6), 1, -3, 3)                              # logits
    scale = 0.25
    _, grad = lik.nll_and_grad(out, x, scale)
    gradcheck(lambda: scale * xp.sum(lik.nll(out, x)), {"out": out}, {"out": grad})
    gradcheck(lambda: xp.sum(lik.nll(out, x)), {"x": x}, {"x": lik.grad_x(out, x)})


@pytest.mark.cuda
@pytest.mark.parametrize("transpose", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_the_fused_conv_layers_gradients(transpose):
    """The GPU's conv layers (col2im as one gather kernel) against central differences."""
    from minivae.backend import get_xp
    from minivae.fast.cuda_kernels import FusedConv2d, FusedConvTranspose2d
    xp = get_xp("cuda")
    extra = {"output_padding": 1} if transpose else {}
    cls = FusedConvTranspose2d if transpose else FusedConv2d
    layer = cls(2, 3, 3, stride=2, padding=1, dtype="float64", seed=1, xp=xp, **extra)
    x = rand(xp, (2, 2, 5, 4), low=-1)
    R = rand(xp, layer.forward(x).shape, seed=7, low=-1)
    layer.forward(x)
    dx = layer.backward(R)
    analytic = {"x": dx.copy(), "W": layer.dW.copy(), "b": layer.db.copy()}
    result = gradcheck(lambda: xp.sum(layer.forward(x) * R),
                       {"x": x, "W": layer.W, "b": layer.b}, analytic)
    assert result.max_error < 1e-6 and result.checked == x.size + layer.W.size + layer.b.size


# -- whole models ----------------------------------------------------------------------

def data(model, B=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((B, model.input_dim))
    if model.likelihood.name == "bernoulli":
        x = (x > 0.5) * 1.0
    k = getattr(model, "k", None)
    return x, rng.standard_normal(((k,) if k else ()) + (B, model.latent_dim))


def free_bits_between_kls(model, x):
    """A free-bits lambda halfway across the widest gap between two dimensions' batch-mean KL
    (the max(lambda, KL_j) has a kink at each KL_j, which a finite difference must not cross)."""
    mu, logvar = model.encode(x)
    kl = np.sort(model.ops.gaussian_kl_per_dim(mu, logvar).mean(axis=0))
    i = int(np.argmax(np.diff(kl)))
    assert kl[i + 1] - kl[i] > 1e-3, kl
    return float((kl[i] + kl[i + 1]) / 2)


CONV = dict(arch="conv", image_shape=(1, 6, 6), channels=(2, 3), kernel_size=4, stride=2,
            padding=1, dtype="float64")                 # 6x6 -> 3x3 -> 1x1

VAES = {
    "dense-symmetric-mse-per-layer-acts": lambda: VAE(
        input_dim=10, hidden_dims=(6, 5), latent_dim=Z, likelihood="mse", pixel_range="symmetric",
        activation="tanh,sigmoid", dtype="float64", seed=1),     # decoder: sigmoid, tanh; out tanh
    "dense-gaussian-no-output-activation": lambda: VAE(
        input_dim=10, hidden_dims=(6,), decoder_hidden_dims=(5,), latent_dim=Z,
        likelihood="gaussian", gaussian_std=0.5, activation="tanh",
        decoder_activation="leaky_relu,none", dtype="float64", seed=2),
    "dense-symmetric-gaussian": lambda: VAE(
        input_dim=10, hidden_dims=(6,), latent_dim=Z, likelihood="gaussian", gaussian_std=0.5,
        pixel_range="symmetric", activation="sigmoid", beta=1.5, dtype="float64", seed=3),
}


@pytest.mark.parametrize("name", VAES)
@pytest.mark.parametrize("beta", [None, 0.3], ids=["model-beta", "warmup-beta"])
def test_vae_options_that_change_the_backward(name, beta):
    model = VAES[name]()
    x, eps = data(model)
    result = check_model(model, x, eps, beta=beta)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


@pytest.mark.parametrize("free_bits", [False, True], ids=["plain-kl", "free-bits"])
def test_conv_vae_with_mse_free_bits_and_a_warmup_beta(free_bits):
    model = VAE(hidden_dims=(4,), latent_dim=Z, likelihood="mse", activation="tanh",
                seed=4, **CONV)
    x, eps = data(model, B=6)
    if free_bits:
        model.free_bits = free_bits_between_kls(model, x)
    result = check_model(model, x, eps, beta=0.4, h=1e-3)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


AUTOENCODERS = {
    "dense-mse": lambda: Autoencoder(input_dim=10, hidden_dims=(6,), latent_dim=Z,
                                     likelihood="mse", activation="tanh", dtype="float64", seed=5),
    **{f"conv-dense-code-{lik}": (lambda lik=lik: Autoencoder(
        hidden_dims=(4,), latent_dim=Z, likelihood=lik, gaussian_std=0.5,
        activation="tanh", seed=6, **CONV)) for lik in ("bernoulli", "gaussian", "mse")},
}


@pytest.mark.parametrize("name", AUTOENCODERS)
def test_autoencoder_likelihoods_and_architectures(name):
    model = AUTOENCODERS[name]()
    x, _ = data(model)
    result = check_model(model, x, h=1e-3 if "conv" in name else 1e-4)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


@pytest.mark.parametrize("objective", ["iwae", "elbo"])
def test_conv_iwae_with_k_samples(objective):
    model = IWAE(k=3, objective=objective, hidden_dims=(4,), latent_dim=2, likelihood="gaussian",
                 gaussian_std=0.5, activation="tanh", seed=7, **CONV)
    x, eps = data(model, B=3)
    result = check_model(model, x, eps, h=1e-3)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_k_sample_elbo_with_a_kl_weight(likelihood):
    """objective "elbo": the KL's c = beta / (K B), spread over the K samples."""
    model = IWAE(k=4, objective="elbo", beta=0.5, input_dim=10, hidden_dims=(6,), latent_dim=Z,
                 likelihood=likelihood, gaussian_std=0.5, activation="tanh", dtype="float64",
                 seed=8)
    x, eps = data(model)
    result = check_model(model, x, eps)
    assert result.max_error < 1e-6 and result.checked == model.num_params + x.size
