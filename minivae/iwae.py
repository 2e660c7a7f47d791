"""k samples of z per example: the averaged ELBO ("VAE k") and the IWAE bound.

Burda, Grosse & Salakhutdinov (2015), "Importance Weighted Autoencoders".
``VAE(..., k=K, objective=...)`` takes its training step from here, chosen
once when it is built (vae.py); the default VAE (k=1, "elbo") keeps its own
``VAE.loss_and_grads``. Both steps reuse the VAE's forward pass: the encoder
runs once on x (B rows), the decoder on all K * B samples at once.

    "elbo":  loss = mean_b [ (1/K) sum_i -log p(x_b | z_ib) + beta KL_b ]   Burda's "VAE k"
    "iwae":  loss = -mean_b L_K(x_b),   L_K = log (1/K) sum_i w_ib,
             log w_ib = log p(x_b | z_ib) + log p(z_ib) - log q(z_ib | x_b)

The IWAE gradient is a weighted sum of the K single-sample gradients, each
weighted by its normalised importance weight wn_i = w_i / sum_j w_j, the
softmax of the K log-weights (docs/math.md §12, from §9's bound).
``parts["ess"]`` is the effective sample size of those weights,
1 / sum_i wn_i^2, between 1 (one sample carries all the weight) and K.

Shapes: K samples, B batch, D pixels, Z latent size.
"""

from __future__ import annotations

import math

OBJECTIVES = ("elbo", "iwae")


def log_prior_ratio(z, eps, logvar):
    """log p(z) - log q(z | x) for the diagonal Gaussians, summed over Z: (..., Z) -> (...).

    log N(z; 0, I) = -1/2 sum z^2 + c and, with z = mu + sigma eps,
    log N(z; mu, sigma^2) = -1/2 sum (eps^2 + logvar) + c: the constants cancel (docs/math.md §9).
    """
    return 0.5 * (eps * eps + logvar - z * z).sum(axis=-1)


def logsumexp_softmax(a, xp):
    """(log sum_i e^a_i, e^a_i / sum_j e^a_j) over axis 0: (K, B) -> (B,), (K, B).

    Both from a - max: every exp is <= 1 and the largest is exactly 1, so
    nothing overflows and the sum is >= 1 (docs/math.md §9, §12).
    """
    m = a.max(axis=0)                                   # (B,)
    e = xp.exp(a - m)                                   # (K, B), in [0, 1]
    s = e.sum(axis=0)                                   # (B,), >= 1
    return m + xp.log(s), e / s                         # (B,), (K, B): columns sum to 1


def effective_sample_size(wn):
    """1 / sum_i wn_i^2 of normalised weights: (K, B) -> (B,), in [1, K]."""
    return 1.0 / (wn * wn).sum(axis=0)


def _forward(model, x, eps):
    """x (B, D) and eps (K, B, Z) (drawn when None) -> x, eps, mu, logvar, std, out (K*B, D), x_k."""
    x = model._as_input(x)                                          # (B, D)
    K, B, Z = model.k, x.shape[0], model.latent_dim
    if eps is None:
        eps = model.rng.normal((K, B, Z), dtype=model.dtype)       # (K, B, Z)
    else:
        eps = model.xp.asarray(eps, dtype=model.dtype)
        if K == 1 and eps.ndim == 2:
            eps = eps[None]                                         # (B, Z) -> (1, B, Z)
        if tuple(eps.shape) != (K, B, Z):
            raise ValueError(f"eps must have shape (k, B, Z) = {(K, B, Z)} for this model "
                             f"(k={K}); got {tuple(eps.shape)}")
    mu, logvar, std, out = model._forward(x, eps)       # (B, Z) x2, std (B or K,B, Z), (K*B, D)
    x_k = model.xp.broadcast_to(x, (K, *x.shape)).reshape(K * B, -1)   # (K*B, D): x_b per z_ib
    return x, eps, mu, logvar, std, out, x_k


def _log_weights(nll, eps, mu, logvar, std):
    """(log w (K, B), log p(z) - log q(z|x) (K, B), z (K, B, Z)) from -log p(x|z) (K*B,), §9."""
    z = mu + std * eps                                  # (K, B, Z), as in _forward (§3)
    log_pq = log_prior_ratio(z, eps, logvar)            # (K, B)
    return -nll.reshape(log_pq.shape) + log_pq, log_pq, z


def _backward(model, dout, dz_extra, eps, std, mu, logvar, c):
    """From dloss/dout (K*B, D) through the decoder and z: (dloss/dmu, dloss/dlogvar), (B, Z) each.

    dz_extra (K, B, Z) or 0: what the loss adds to dloss/dz besides the decoder.
    c weighs the analytic KL per sample (beta / (K B)); summed over the K
    samples it is the beta / B of the batch mean (docs/math.md §12).
    """
    for layer in reversed(model.decoder):               # (K*B, D) -> (K*B, Z)
        dout = layer.backward(dout)
    dz = dout.reshape(eps.shape) + dz_extra             # (K, B, Z)
    dmu, dlogvar = model.ops.reparameterize_backward(dz, eps, std, mu, logvar, c)  # (K, B, Z) each
    dmu, dlogvar = dmu.sum(axis=0), dlogvar.sum(axis=0)                # (B, Z): every z_ib reads mu_b
    return dmu, dlogvar


def _encoder_backward(model, dmu, dlogvar, input_grad):
    """(B, Z) x2 -> the heads' and encoder's dW, db; dloss/dx (B, D) through the encoder, or None."""
    dh = model.mu_head.backward(dmu) + model.logvar_head.backward(dlogvar)   # (B, H)
    for layer in reversed(model.encoder[1:]):
        dh = layer.backward(dh)                         # (B, H) -> (B, H)
    return model.encoder[0].backward(dh, need_dx=input_grad)                # (B, D) or None


# -- objective "elbo": the ELBO averaged over k samples ------------------------

def elbo_loss_and_grads(model, x, eps=None, input_grad=False):
    """Loss and gradients of the k-sample ELBO; eps (K, B, Z). K = 1: VAE.loss_and_grads exactly."""
    x, eps, mu, logvar, std, out, x_k = _forward(model, x, eps)   # ..., out (K*B, D)
    K, B = eps.shape[:2]
    recon, dout = model.likelihood.nll_and_grad(out, x_k, 1.0 / (K * B))   # (K*B,), (K*B, D)
    recon = recon.reshape(K, B).mean(axis=0)            # (B,): the mean over samples
    kl = model.ops.gaussian_kl(mu, logvar)              # (B,)
    loss = (recon + model.beta * kl).mean()             # ()
    dmu, dlogvar = _backward(model, dout, 0, eps, std, mu, logvar, model.beta / (K * B))
    dx = _encoder_backward(model, dmu, dlogvar, input_grad)
    if input_grad:                                      # x reaches the loss in recon too (§8)
        direct = model.likelihood.grad_x(out, x_k).reshape(K, B, -1).sum(axis=0)   # (B, D)
        model.input_grad = dx + direct / (K * B)
    return loss, {"recon": recon.mean(), "kl": kl.mean()}


def elbo_loss(model, x, eps=None, reduce=True):
    """The numbers of elbo_loss_and_grads, without gradients; reduce=False: per example (B,)."""
    x, eps, mu, logvar, _, out, x_k = _forward(model, x, eps)
    recon = model.likelihood.nll(out, x_k).reshape(eps.shape[:2]).mean(axis=0)   # (B,)
    kl = model.ops.gaussian_kl(mu, logvar)              # (B,)
    return _reduced(recon + model.beta * kl, {"recon": recon, "kl": kl}, reduce)


# -- objective "iwae": the importance-weighted bound ---------------------------

def iwae_loss_and_grads(model, x, eps=None, input_grad=False):
    """Loss -mean_b L_K and its gradients (docs/math.md §12); eps (K, B, Z).

    parts: "recon" and "kl" are the sample means of -log p(x|z) and of
    log q(z|x) - log p(z) (their sum is the k-sample ELBO's estimate), "ess"
    the mean effective sample size of the weights.
    """
    x, eps, mu, logvar, std, out, x_k = _forward(model, x, eps)   # ..., out (K*B, D)
    K, B = eps.shape[:2]
    nll, dnll = model.likelihood.nll_and_grad(out, x_k, 1.0)     # (K*B,), (K*B, D)
    log_w, log_pq, z = _log_weights(nll, eps, mu, logvar, std)   # (K, B) x2, (K, B, Z)
    lse, wn = logsumexp_softmax(log_w, model.xp)        # (B,), (K, B)
    loss = (math.log(K) - lse).mean()                   # () = -mean_b L_K(x_b)
    # Backward (§12): dloss/dlog w_ib = -wn_ib / B =: -g_ib.
    g = wn / B                                          # (K, B)
    dout = dnll * g.reshape(K * B, 1)                   # (K*B, D): d(-log p(x|z))/dout, weighted
    dz_prior = g[..., None] * z                         # (K, B, Z): from log p(z) = -z^2/2 + c
    dmu, dlogvar = _backward(model, dout, dz_prior, eps, std, mu, logvar, 0.0)
    dlogvar = dlogvar - 0.5 / B                         # (B, Z): -log q's +logvar/2, sum_i g_ib = 1/B
    dx = _encoder_backward(model, dmu, dlogvar, input_grad)
    if input_grad:
        direct = model.likelihood.grad_x(out, x_k) * g.reshape(K * B, 1)   # (K*B, D)
        model.input_grad = dx + direct.reshape(K, B, -1).sum(axis=0)     # (B, D)
    return loss, {"recon": nll.mean(), "kl": -log_pq.mean(), "ess": effective_sample_size(wn).mean()}


def iwae_loss(model, x, eps=None, reduce=True):
    """The numbers of iwae_loss_and_grads, without gradients; reduce=False: per example (B,)."""
    x, eps, mu, logvar, std, out, x_k = _forward(model, x, eps)
    nll = model.likelihood.nll(out, x_k)                # (K*B,)
    log_w, log_pq, _ = _log_weights(nll, eps, mu, logvar, std)   # (K, B) x2
    lse, wn = logsumexp_softmax(log_w, model.xp)        # (B,), (K, B)
    loss = math.log(eps.shape[0]) - lse                 # (B,)
    parts = {"recon": nll.reshape(log_w.shape).mean(axis=0),
             "kl": -log_pq.mean(axis=0), "ess": effective_sample_size(wn)}
    return _reduced(loss, parts, reduce)


def _reduced(loss, parts, reduce):
    """(loss, parts) per example (B,), or their batch means (0-d) when reduce."""
    if not reduce:
        return loss, parts
    return loss.mean(), {name: p.mean() for name, p in parts.items()}


STEPS = {"elbo": (elbo_loss_and_grads, elbo_loss), "iwae": (iwae_loss_and_grads, iwae_loss)}


# -- the paper's training schedule ----------------------------------------------

BURDA_STAGES = 8   # Burda et al. 2015, Sec. 5: stage i = 0..7 is 3^i passes at lr 1e-3 * 10^(-i/7)
BURDA_PASSES = sum(3**i for i in range(BURDA_STAGES))   # 3280 passes over the training set


def burda_learning_rate(epoch: int) -> float:
    """The learning rate of pass ``epoch`` (1-based) of the paper's schedule.

    Stage i covers passes 3^0 + ... + 3^(i-1) + 1 to 3^0 + ... + 3^i:
    pass 1 is stage 0 (lr 1e-3), passes 2-4 stage 1, 5-13 stage 2, ...
    Passes beyond the last stage keep its rate.
    """
    if epoch < 1:
        raise ValueError(f"epoch must be >= 1, got {epoch}")
    stage, end = 0, 1
    while epoch > end and stage < BURDA_STAGES - 1:
        stage += 1
        end += 3**stage
    return 1e-3 * 10 ** (-stage / 7)
