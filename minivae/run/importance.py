"""Importance weights: log w of K samples of z for each image, chunk by chunk.

With z_1..z_K drawn from q(z|x) (Burda, Grosse & Salakhutdinov 2015, eq. (8)),

    w_k = p(x|z_k) p(z_k) / q(z_k|x),      L_K = log (1/K) sum_k w_k  <=  log p(x)

The weights are far too small to hold in floating point (log w ~ -100), so
everything stays in log space (docs/math.md §9, §12):

* :func:`log_weight_chunks`: log w of k samples per image, a chunk of samples
  at a time, so that K = 5000 fits in memory (:func:`iw_k_chunk` sizes the
  chunks by device);
* :func:`log_sums`: a chunk's log-sum-exps of log w and of 2 log w, what L_K
  and the effective sample size need;
* :func:`iw_log_sums`: those sums over all k samples, the chunks added in log
  space.

evaluation.py's ``iw_log_likelihood`` turns the sums into L_K for a test set;
sweep.py's ``iw_sweep`` reads the weights themselves at several K.

Shapes: B images, D pixels, Z latent size, k samples (kc in a chunk).
"""

from __future__ import annotations

from ..iwae import log_prior_ratio

IW_CHUNK_ROWS = 500   # rows (samples x images) per decoder call (log_weight_chunks): its
                      # (rows, D) float32 arrays (1.6 MB) stay near the cache; 5000 rows ran slower
IW_CHUNK_ROWS_GPU = 50_000   # the same on a GPU, where each call costs launches, not cache:
                             # 100 times fewer (K = 5000: about 5 a test image instead of 460),
                             # (rows, D) float32 arrays of 157 MB at D = 784


def iw_k_chunk(model, batch_size: int) -> int:
    """Samples of z per decoder call for images in batches of ``batch_size``, by device."""
    rows = IW_CHUNK_ROWS if model.device == "cpu" else IW_CHUNK_ROWS_GPU
    return max(1, rows // batch_size)


def log_weight_chunks(model, x, k, rng, k_chunk, given=()):
    """log w = log p(x|z) + log p(z) - log q(z|x) of k samples per row of x (B, D), in chunks
    of k_chunk samples: yields (kc, B) float64 arrays (docs/math.md §9).

    ``given``: what the model reads besides x, a CVAE's (y,) (evaluation.given_labels).
    """
    xp = model.xp
    x = xp.asarray(x, dtype=model.dtype)                   # (B, D)
    B, D = x.shape
    mu, logvar = model.encode(x, *given)                   # (B, Z), (B, Z)
    for start in range(0, k, k_chunk):
        kc = min(k_chunk, k - start)
        eps = rng.normal((kc, B, model.latent_dim), dtype=model.dtype)   # (kc, B, Z)
        eps = xp.asarray(eps)                              # a NumPy generator's, uploaded
        z, _ = model.ops.reparameterize(mu, logvar, eps)   # (kc, B, Z): z = mu + std eps
        x_rep = xp.broadcast_to(x, (kc, B, D)).reshape(kc * B, D)        # (kc*B, D)
        y_rep = tuple(xp.broadcast_to(y, (kc, B)).reshape(kc * B) for y in given)   # (kc*B,)
        log_px_z = model.log_px_given_z(z.reshape(kc * B, -1), x_rep, *y_rep)   # (kc*B,)
        log_w = log_px_z.reshape(kc, B) + log_prior_ratio(z, eps, logvar)   # (kc, B)
        yield log_w.astype(xp.float64)


def log_sums(log_w, xp):
    """(logsumexp log w, logsumexp 2 log w) over axis 0: (K, B) -> (B,), (B,).

    What L_K and the effective sample size need: L_K = lse - log K and
    (sum w)^2 / sum w^2 = exp(2 lse - lse2) (docs/math.md §9, §12). Each is
    computed as iwae.logsumexp_softmax's log-sum-exp, from a - max, and to the
    same bits (2 log w's max is 2 m, and 2 (a - m) is 2a - 2m exactly), but
    without its softmax or a copy of 2 log w: one (K, B) array, reused in place.
    """
    m = log_w.max(axis=0)                                  # (B,)
    e = xp.subtract(log_w, m)                              # (K, B): a - m, all <= 0
    xp.exp(xp.multiply(e, 2, out=e), out=e)                # e^(2a - 2m), in [0, 1]
    lse2 = 2 * m + xp.log(e.sum(axis=0))                   # (B,)
    xp.exp(xp.subtract(log_w, m, out=e), out=e)            # e^(a - m), in [0, 1]
    return m + xp.log(e.sum(axis=0)), lse2                 # (B,), (B,)


def iw_log_sums(model, x, k, rng, k_chunk, given=()):
    """(logsumexp_k log w_k, logsumexp_k 2 log w_k), each (B,), over k samples in chunks."""
    xp = model.xp
    lse = lse2 = None                                      # running log-sums, (B,)
    for log_w in log_weight_chunks(model, x, k, rng, k_chunk, given):   # (kc, B) each
        chunk, chunk2 = log_sums(log_w, xp)                # (B,) each
        lse = chunk if lse is None else xp.logaddexp(lse, chunk)
        lse2 = chunk2 if lse2 is None else xp.logaddexp(lse2, chunk2)
    return lse, lse2
