"""A learner's own answers, written in plain NumPy and not from minivae's code: softplus by
np.logaddexp, im2col by padding and slicing. tests/exercises/test_grading.py writes them into a
workspace: every grader must pass them, so no check asks for minivae's exact formulas."""

FILES = {
    "ex01_dense.py": '''\
import numpy as np
def dense_forward(x, W, b):
    return x @ W + b
def dense_backward(dy, x, W):
    return dy @ W.T, x.T @ dy, dy.sum(axis=0)
''',
    "ex02_activations.py": '''\
import numpy as np
def relu_forward(x):
    return np.maximum(x, 0)
def relu_backward(dy, x):
    return dy * (x > 0)
def sigmoid_forward(x):
    return np.exp(-np.logaddexp(0, -x))
def sigmoid_backward(dy, y):
    return dy * y * (1 - y)
def tanh_forward(x):
    return np.tanh(x)
def tanh_backward(dy, y):
    return dy * (1 - y * y)
''',
    "ex03_bernoulli.py": '''\
import numpy as np
def bernoulli_nll_and_grad(logits, x, scale=1.0):
    nll = (np.logaddexp(0, logits) - x * logits).sum(axis=1)
    p = np.exp(-np.logaddexp(0, -logits))
    return nll, scale * (p - x)
''',
    "ex04_gaussian.py": '''\
import numpy as np
def gaussian_nll_and_grad(mean, x, std=1.0, scale=1.0):
    d = mean - x
    D = x.shape[1]
    nll = (d ** 2).sum(axis=1) / (2 * std ** 2) + D / 2 * np.log(2 * np.pi * std ** 2)
    return nll.astype(mean.dtype), scale * d / std ** 2
''',
    "ex05_kl.py": '''\
import numpy as np
def gaussian_kl(mu, logvar):
    return 0.5 * (mu ** 2 + np.exp(logvar) - logvar - 1).sum(axis=1)
def gaussian_kl_backward(mu, logvar):
    return mu, 0.5 * (np.exp(logvar) - 1)
''',
    "ex06_reparameterize.py": '''\
import numpy as np
from ex05_kl import gaussian_kl_backward
def reparameterize(mu, logvar, eps):
    std = np.exp(0.5 * logvar)
    return mu + std * eps, std
def reparameterize_backward(dz, eps, std, mu, logvar, c):
    dmu_kl, dlv_kl = gaussian_kl_backward(mu, logvar)
    return dz + c * dmu_kl, dz * eps * std * 0.5 + c * dlv_kl
''',
    "ex07_vae.py": '''\
import numpy as np
from ex01_dense import dense_backward, dense_forward
from ex02_activations import relu_backward, relu_forward
from ex03_bernoulli import bernoulli_nll_and_grad
from ex05_kl import gaussian_kl
from ex06_reparameterize import reparameterize, reparameterize_backward
def vae_loss_and_grads(params, x, eps=None, beta=1.0, rng=None):
    p = params
    B = x.shape[0]
    Z = p["mu.W"].shape[1]
    if eps is None:
        rng = rng if rng is not None else np.random.default_rng()
        eps = rng.standard_normal((B, Z)).astype(x.dtype)
    a = dense_forward(x, p["enc0.W"], p["enc0.b"])
    h = relu_forward(a)
    mu = dense_forward(h, p["mu.W"], p["mu.b"])
    logvar = dense_forward(h, p["logvar.W"], p["logvar.b"])
    z, std = reparameterize(mu, logvar, eps)
    a2 = dense_forward(z, p["dec0.W"], p["dec0.b"])
    g = relu_forward(a2)
    logits = dense_forward(g, p["out.W"], p["out.b"])
    recon, dlogits = bernoulli_nll_and_grad(logits, x, 1.0 / B)
    kl = gaussian_kl(mu, logvar)
    loss = (recon + beta * kl).mean()
    grads = {}
    dg, grads["out.W"], grads["out.b"] = dense_backward(dlogits, g, p["out.W"])
    da2 = relu_backward(dg, a2)
    dz, grads["dec0.W"], grads["dec0.b"] = dense_backward(da2, z, p["dec0.W"])
    dmu, dlogvar = reparameterize_backward(dz, eps, std, mu, logvar, beta / B)
    dh1, grads["mu.W"], grads["mu.b"] = dense_backward(dmu, h, p["mu.W"])
    dh2, grads["logvar.W"], grads["logvar.b"] = dense_backward(dlogvar, h, p["logvar.W"])
    da = relu_backward(dh1 + dh2, a)
    _, grads["enc0.W"], grads["enc0.b"] = dense_backward(da, x, p["enc0.W"])
    return loss, {"recon": recon.mean(), "kl": kl.mean()}, grads
''',
    "ex08_adam.py": '''\
import numpy as np
def adam_update(p, g, m, v, *, lr, beta1, beta2, eps, step, weight_decay=0.0):
    if weight_decay:
        g = g + weight_decay * p
    m[:] = beta1 * m + (1 - beta1) * g
    v[:] = beta2 * v + (1 - beta2) * g * g
    mh = m / (1 - beta1 ** step)
    vh = v / (1 - beta2 ** step)
    p -= lr * mh / (np.sqrt(vh) + eps)
''',
    "ex09_conv.py": '''\
import numpy as np
def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1
def im2col(x, k, s, p):
    B, C, H, W = x.shape
    Ho, Wo = _out(H, k, s, p), _out(W, k, s, p)
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    cols = np.zeros((C, k, k, Ho, Wo, B), dtype=x.dtype)
    for u in range(k):
        for v in range(k):
            patch = xp[:, :, u:u + s * Ho:s, v:v + s * Wo:s]        # (B, C, Ho, Wo)
            cols[:, u, v] = patch.transpose(1, 2, 3, 0)
    return cols.reshape(C * k * k, Ho * Wo * B)
def col2im(cols, shape, k, s, p):
    B, C, H, W = shape
    Ho, Wo = _out(H, k, s, p), _out(W, k, s, p)
    c = cols.reshape(C, k, k, Ho, Wo, B)
    xp = np.zeros((B, C, H + 2 * p, W + 2 * p), dtype=cols.dtype)
    for u in range(k):
        for v in range(k):
            xp[:, :, u:u + s * Ho:s, v:v + s * Wo:s] += c[:, u, v].transpose(3, 0, 1, 2)
    return xp[:, :, p:p + H, p:p + W]
def conv2d_forward(x, W, b, stride, padding):
    B, C, H, Wd = x.shape
    O, _, k, _ = W.shape
    cols = im2col(x, k, stride, padding)
    y = W.reshape(O, -1) @ cols + b[:, None]
    Ho, Wo = _out(H, k, stride, padding), _out(Wd, k, stride, padding)
    return y.reshape(O, Ho, Wo, B).transpose(3, 0, 1, 2)
def conv2d_backward(dy, x, W, stride, padding):
    O, C, k, _ = W.shape
    cols = im2col(x, k, stride, padding)
    dy2 = dy.transpose(1, 2, 3, 0).reshape(O, -1)
    dW = (dy2 @ cols.T).reshape(W.shape)
    db = dy2.sum(axis=1)
    dx = col2im(W.reshape(O, -1).T @ dy2, x.shape, k, stride, padding)
    return dx, dW, db
''',
    "ex10_logsumexp.py": '''\
import math

import numpy as np
def logsumexp_softmax(a):
    m = a.max(axis=0)
    e = np.exp(a - m)
    s = e.sum(axis=0)
    return m + np.log(s), e / s
def log_prior_ratio(z, eps, logvar):
    return 0.5 * (eps ** 2 + logvar - z ** 2).sum(axis=-1)
def iwae_nll(nll, z, eps, logvar):
    lse, _ = logsumexp_softmax(-nll + log_prior_ratio(z, eps, logvar))
    return math.log(nll.shape[0]) - lse
''',
    "ex11_iwae_grad.py": '''\
import math

import numpy as np
from ex10_logsumexp import logsumexp_softmax, log_prior_ratio
def iwae_loss_and_grads(nll, z, eps, logvar):
    K, B = nll.shape
    lse, wn = logsumexp_softmax(-nll + log_prior_ratio(z, eps, logvar))
    loss = (math.log(K) - lse).mean()
    g = wn / B
    return loss, g, g[..., None] * z, np.full(logvar.shape, -0.5 / B, dtype=logvar.dtype)
''',
}
