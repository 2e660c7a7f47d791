"""The CVAE, free bits and a warm-up step's beta against PyTorch autograd: loss and every
gradient (and dloss/dx), same weights, labels and eps, float64, relative error < 1e-8.

The central-difference checks of the same models are in tests/test_cvae.py and need no PyTorch.
"""

import numpy as np
import pytest

from minivae import CVAE, VAE, to_numpy

try:
    import torch
except ImportError:
    pytest.skip("torch is not installed: the comparisons with PyTorch need it "
                '(pip install -e ".[bench]")', allow_module_level=True)
F = torch.nn.functional
ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def torch_loss(model, tp, x, y, eps, beta):
    """The model written with torch ops: one-hot y joined to both inputs (a CVAE), the KL with
    free bits, sum_j max(lambda, mean_b KL_bj), when the model has them."""
    act = ACT[model.activation]
    names = list(dict.fromkeys(k.split(".")[0] for k in tp))
    dense = lambda h, n: h @ tp[f"{n}.W"] + tp[f"{n}.b"]   # noqa: E731
    cond = isinstance(model, CVAE)
    y1h = F.one_hot(y, model.num_classes).to(x.dtype) if cond else None
    if model.arch == "conv":
        c, H, W = model.image_shape
        h = x.reshape(-1, H, W, c).permute(0, 3, 1, 2)                   # (B, c, H, W)
        if cond:                                                         # C label planes
            h = torch.cat([h, y1h[:, :, None, None].expand(-1, -1, H, W)], dim=1)
        for n in [n for n in names if n.startswith("conv")]:
            h = act(F.conv2d(h, tp[f"{n}.W"], tp[f"{n}.b"], stride=2, padding=1))
        shape = h.shape[1:]
        h = h.flatten(1)
    else:
        h = torch.cat([x, y1h], dim=1) if cond else x
    for n in [n for n in names if n.startswith("enc")]:
        h = act(dense(h, n))
    mu, logvar = dense(h, "mu"), dense(h, "logvar")
    z = mu + torch.exp(0.5 * logvar) * eps
    out = torch.cat([z, y1h], dim=1) if cond else z
    dec = [n for n in names if n.startswith("dec") and not n.startswith("deconv")]
    for n in dec:
        out = act(dense(out, n))
    if model.arch == "conv":
        out = out.reshape(-1, *shape)
        ops = [m.output_padding for m in model.decoder if hasattr(m, "output_padding")]
        out = act(F.conv_transpose2d(out, tp["deconv0.W"], tp["deconv0.b"], stride=2,
                                     padding=1, output_padding=ops[0]))
        out = F.conv_transpose2d(out, tp["out.W"], tp["out.b"], stride=2, padding=1,
                                 output_padding=ops[1]).permute(0, 2, 3, 1).reshape(x.shape)
    else:
        out = dense(out, "out")
    if model.likelihood.name == "bernoulli":
        recon = F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1)
    else:
        s = model.gaussian_std
        recon = (0.5 * ((x - torch.sigmoid(out)) / s) ** 2 + np.log(s)
                 + 0.5 * np.log(2 * np.pi)).sum(1)
    kl_dims = -0.5 * (1 + logvar - mu**2 - logvar.exp())                  # (B, Z)
    if model.free_bits:
        lam = torch.tensor(model.free_bits, dtype=x.dtype)
        return recon.mean() + beta * torch.maximum(kl_dims.mean(0), lam).sum()
    return torch.mean(recon + beta * kl_dims.sum(1))


MODELS = {
    "cvae-dense": lambda: CVAE(input_dim=30, hidden_dims=(20,), latent_dim=4, num_classes=10,
                               activation="relu", dtype="float64", seed=0),
    "cvae-dense-deep-gaussian": lambda: CVAE(input_dim=30, hidden_dims=(20, 12), latent_dim=4,
                                             num_classes=3, likelihood="gaussian",
                                             gaussian_std=0.4, beta=2.0, activation="tanh",
                                             dtype="float64", seed=1),
    "cvae-conv": lambda: CVAE(arch="conv", image_shape=(2, 9, 7), channels=(3, 4),
                              hidden_dims=(6,), latent_dim=3, num_classes=4, activation="tanh",
                              dtype="float64", seed=2),
    "vae-dense": lambda: VAE(input_dim=30, hidden_dims=(20,), latent_dim=6, activation="tanh",
                             dtype="float64", seed=3),
}


@pytest.mark.parametrize("free_bits", [False, True], ids=["plain-kl", "free-bits"])
@pytest.mark.parametrize("beta", [None, 0.25], ids=["model-beta", "warmup-beta"])
@pytest.mark.parametrize("name", MODELS)
def test_matches_torch_autograd(name, beta, free_bits):
    model = MODELS[name]()
    rng = np.random.default_rng(0)
    x = (rng.random((16, model.input_dim)) > 0.5) * 1.0
    y = rng.integers(0, getattr(model, "num_classes", 1), 16)
    eps = rng.standard_normal((16, model.latent_dim))
    data = (x, y) if isinstance(model, CVAE) else (x,)
    if free_bits:   # lambda between two dimensions' batch-mean KL: some charged, some free
        mu, logvar = model.encode(*data)
        kl = np.sort(model.ops.gaussian_kl_per_dim(mu, logvar).mean(0))
        i = int(np.argmax(np.diff(kl)))
        model.free_bits = float(kl[i] + kl[i + 1]) / 2
    loss, _ = model.loss_and_grads(*data, eps, input_grad=True,
                                   **({} if beta is None else {"beta": beta}))

    tp = {k: torch.tensor(to_numpy(v), requires_grad=True) for k, v in model.params.items()}
    tx = torch.tensor(x, requires_grad=True)
    tl = torch_loss(model, tp, tx, torch.tensor(y), torch.tensor(eps),
                    model.beta if beta is None else beta)
    tl.backward()
    assert abs(float(loss) - tl.item()) <= 1e-12 * abs(tl.item())
    for n, t in list(tp.items()) + [("x", tx)]:
        ours = to_numpy(model.input_grad if n == "x" else model.grads[n])
        ref = t.grad.numpy()
        if not ref.any():   # e.g. a free dimension's head under free bits with beta 0
            assert not ours.any(), n
            continue
        rel = np.linalg.norm(ours - ref) / np.linalg.norm(ref)
        assert rel < 1e-8, f"{n}: relative error {rel:.2e}"
