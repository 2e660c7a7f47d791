"""Image-quality metrics (MSE, PSNR, SSIM) and PCA, batched, on NumPy or CuPy.

Every metric takes a batch of images and returns one value per image, shape
(N,), as an array of the same module (numpy or cupy) as its input; the caller
averages. Images are (N, H, W) for grey or (N, H, W, C) with the channels last;
MSE and PSNR accept any (N, ...) shape, for instance flat (N, D) pixel rows.

All arithmetic is done in float64: the SSIM variances are differences of two
nearly equal numbers (E[x^2] - E[x]^2), which float32 would round badly.
"""

from __future__ import annotations

import numpy as np

from ..backend import get_array_module


def _checked_pair(x, y):
    """Both batches as arrays of x's module xp (a host y beside a GPU x is uploaded), after
    checking the shapes."""
    xp = get_array_module(x)
    x, y = xp.asarray(x), xp.asarray(y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim < 2:
        raise ValueError(f"expected a batch (N, ...) of images, got shape {x.shape}")
    return xp, x, y


def mse(x, y):
    """Mean squared error of each image pair.

    mse_n = (1 / P) sum_p (x_np - y_np)^2, where p runs over the P pixel
    values (times channels) of image n.

    Parameters
    ----------
    x, y : arrays (N, ...)
        Two batches of images of the same shape (e.g. (N, H, W) or (N, D)).

    Returns
    -------
    array (N,), float64
    """
    xp, x, y = _checked_pair(x, y)
    axes = tuple(range(1, x.ndim))
    # x - y computed in float64 (each cast first: uint8 images would wrap around), then
    # squared in place: the same numbers as ((x64 - y64) ** 2), with one temporary
    diff = xp.subtract(x, y, dtype=xp.float64)               # (N, ...)
    return xp.mean(xp.square(diff, out=diff), axis=axes)     # (N, ...) -> (N,)


def mse_scale(pixel_range: str = "unit") -> tuple[float, str]:
    """(factor, words): an MSE of [0, 1] images on the scale a model with ``pixel_range`` trains on.

    Every MSE here compares images in [0, 1] (metrics.csv's ``mse``). A model
    with pixel_range "symmetric" trains on x' = 2x - 1, whose squared errors
    are 2^2 = 4 times larger: its training loss, and the MSE a PyTorch lab on
    [-1, 1] prints, are on that scale. Printed beside such a loss, an MSE is
    multiplied by the factor and carries the words, e.g. " on [-1, 1]".
    """
    return (4.0, " on [-1, 1]") if pixel_range == "symmetric" else (1.0, "")


def psnr(x, y, data_range=1.0):
    """Peak signal-to-noise ratio of each image pair, in decibels.

    PSNR_n = 10 log10(R^2 / mse_n), with R = ``data_range`` the span of
    possible pixel values (1 for images in [0, 1], 255 for uint8).
    Higher is better; each halving of the MSE adds about 3 dB.

    Identical images have mse = 0, and then PSNR = +inf (returned as inf, not
    an error): average with care, or report the median.

    Parameters
    ----------
    x, y : arrays (N, ...)
    data_range : float

    Returns
    -------
    array (N,), float64, possibly containing inf
    """
    return psnr_from_mse(mse(x, y), data_range)


def psnr_from_mse(err, data_range=1.0):
    """PSNR (dB) from each image's MSE ``err`` (N,): for a caller that has the MSE already."""
    xp = get_array_module(err)
    safe = xp.where(err > 0, err, 1.0)  # keep log10 away from 0 (no warning)
    db = 10.0 * xp.log10(data_range**2 / safe)  # (N,)
    return xp.where(err > 0, db, xp.inf)


SSIM_CHUNK_PIXELS = 32768   # pixels per SSIM chunk (42 MNIST images): its float64 maps
                            # (1 MB) stay in the L2 cache; 4x faster than whole batches
SSIM_CHUNK_PIXELS_GPU = 1 << 22   # on a GPU, whole batches (5,349 MNIST images, 128 MB of
                                  # maps): a chunk costs about 40 launches, whatever its size


def _window_matrix(xp, length: int, w: int):
    """(L, L - w + 1): column j averages entries j .. j + w - 1, i.e. a @ it = every window's mean."""
    offset = xp.arange(length)[:, None] - xp.arange(length - w + 1)[None, :]   # (L, L')
    return ((offset >= 0) & (offset < w)) / float(w)


def _window_means(maps, w: int):
    """Mean over every w x w window inside each map: (M, H, W) -> (M, W', H'), *transposed*.

    Separable: average along W, then along H, each as one matrix product
    with a band matrix (_window_matrix); H' = H - w + 1, W' = W - w + 1.
    Only windows fully inside the image are kept. The result comes out
    with its two window axes swapped, which is harmless: every map is
    treated alike and the caller averages over all windows.
    """
    xp = get_array_module(maps)
    M, H, W = maps.shape
    along_w = maps.reshape(M * H, W) @ _window_matrix(xp, W, w)           # (M H, W')
    along_w = along_w.reshape(M, H, -1).transpose(0, 2, 1).reshape(-1, H)  # (M W', H), a copy
    return (along_w @ _window_matrix(xp, H, w)).reshape(M, W - w + 1, H - w + 1)   # (M, W', H')


def ssim(x, y, data_range=1.0, win_size=7):
    """Mean structural similarity (SSIM) of each image pair (Wang et al. 2004).

    For the w x w window around each pixel, with local means mu, variances
    sigma^2 and covariance sigma_xy (sample statistics, divided by w^2 - 1):

        SSIM = (2 mu_x mu_y + C1) (2 sigma_xy + C2)
               / ((mu_x^2 + mu_y^2 + C1) (sigma_x^2 + sigma_y^2 + C2)),

    C1 = (0.01 R)^2, C2 = (0.03 R)^2, R = ``data_range``. It compares
    luminance, contrast and structure; 1 means identical, values lie in
    [-1, 1]. The score of an image is the mean of this map over all windows
    that fit inside the image, and over the channels for colour images.

    This reproduces ``skimage.metrics.structural_similarity(x, y,
    data_range=R)`` with its defaults (7x7 uniform window, sample covariance,
    K1 = 0.01, K2 = 0.03, channel_axis=-1 for colour): scikit-image filters the
    whole image and then crops (w - 1) // 2 pixels from each side, which keeps
    exactly the windows computed here.

    Z. Wang, A. C. Bovik, H. R. Sheikh, E. P. Simoncelli, "Image quality
    assessment: from error visibility to structural similarity", IEEE Trans.
    Image Processing 13(4), 2004.

    Parameters
    ----------
    x, y : arrays (N, H, W) or (N, H, W, C)
        Two batches of images, channels last; H, W >= win_size.
    data_range : float
    win_size : int
        Odd side of the square window.

    Returns
    -------
    array (N,), float64
    """
    xp = get_array_module(x)
    x, y = xp.asarray(x), xp.asarray(y)              # float64 chunk by chunk, below
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.ndim not in (3, 4):
        raise ValueError(f"ssim expects (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if win_size % 2 != 1 or min(x.shape[1:3]) < win_size:
        raise ValueError(f"win_size must be odd and <= H, W; got {win_size} for {x.shape}")

    if x.ndim == 4:                                  # channels become images of their own
        x, y = (xp.ascontiguousarray(a.transpose(0, 3, 1, 2)) for a in (x, y))   # (N, C, H, W)
    N, H, W = x.shape[0], x.shape[-2], x.shape[-1]
    x, y = x.reshape(N, -1, H, W), y.reshape(N, -1, H, W)                       # (N, C, H, W)
    pixels = SSIM_CHUNK_PIXELS if xp is np else SSIM_CHUNK_PIXELS_GPU       # by device
    chunk = max(1, pixels // (x.shape[1] * H * W))
    out = xp.empty(N, dtype=xp.float64)
    for start in range(0, N, chunk):
        xs, ys = x[start:start + chunk], y[start:start + chunk]                 # (n, C, H, W)
        out[start:start + chunk] = _ssim_chunk(xs, ys, data_range, win_size)
    return out


def _ssim_chunk(x, y, data_range, w):
    """ssim() of a few images (n, C, H, W), float64: the windows' statistics, then the map."""
    xp = get_array_module(x)
    n = x.shape[0]
    # float64: the variances are differences of nearly equal numbers (E[x^2] - E[x]^2)
    x, y = (xp.asarray(a, dtype=xp.float64).reshape(-1, *a.shape[2:]) for a in (x, y))  # (n C, H, W)
    # The four window means SSIM needs: E[x], E[y], E[x^2 + y^2], E[x y] (the
    # variances only appear summed, so one map carries both second moments).
    maps = xp.stack([x, y, x * x + y * y, x * y])                               # (4, n C, H, W)
    mu_x, mu_y, e_sq, e_xy = _window_means(maps.reshape(-1, *x.shape[1:]), w).reshape(
        4, x.shape[0], -1)                                                      # 4 x (n C, windows)
    cov_norm = w**2 / (w**2 - 1)                     # population -> sample (co)variance
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_xy = mu_x * mu_y
    mu_sq = mu_x * mu_x + mu_y * mu_y
    cov_xy = cov_norm * (e_xy - mu_xy)               # sigma_xy
    var_sum = cov_norm * (e_sq - mu_sq)              # sigma_x^2 + sigma_y^2
    ssim_map = ((2 * mu_xy + c1) * (2 * cov_xy + c2)) / ((mu_sq + c1) * (var_sum + c2))
    # Every channel has as many windows, so this equals the mean over channels
    # of the per-channel means.
    return ssim_map.reshape(n, -1).mean(axis=1)      # (n C, windows) -> (n,)


def pca(x, k: int):
    """Principal component analysis of the rows of x, through the SVD.

    Centre the data, Xc = X - mean(X), and factor Xc = U S V^T. The rows of
    V^T are the principal directions; the variance along direction j is
    S_j^2 / (N - 1). Each direction's sign is fixed so that its largest
    entry (in absolute value) is positive, so results are reproducible.

    Parameters
    ----------
    x : array (N, D)
    k : int
        Number of components, k <= min(N, D).

    Returns
    -------
    projected : array (N, k)
        Xc V_k, the coordinates of each row along the first k directions.
    components : array (k, D)
    explained_variance : array (k,)
        Variance of the data along each component; divide by
        ``x.var(axis=0, ddof=1).sum()`` for the fraction of the total.
    """
    xp = get_array_module(x)
    x = xp.asarray(x, dtype=xp.float64)
    n, d = x.shape
    if not 1 <= k <= min(n, d):
        raise ValueError(f"k must be in 1..{min(n, d)}, got {k}")
    xc = x - x.mean(axis=0, keepdims=True)  # (N, D)
    _, s, vt = xp.linalg.svd(xc, full_matrices=False)  # s: (min(N, D),), vt: (min(N, D), D)
    components = vt[:k]  # (k, D)
    biggest = xp.argmax(xp.abs(components), axis=1)  # (k,)
    signs = xp.where(components[xp.arange(k), biggest] < 0, -1.0, 1.0)  # (k,)
    components = components * signs[:, None]
    projected = xc @ components.T  # (N, D) @ (D, k) -> (N, k)
    explained_variance = s[:k] ** 2 / max(n - 1, 1)  # (k,)
    return projected, components, explained_variance
