"""Image-quality metrics (MSE, PSNR, SSIM) and PCA, batched, on NumPy or CuPy.

Every metric takes a batch of images and returns one value per image, shape
(N,), as an array of the same module (numpy or cupy) as its input; the caller
averages. Images are (N, H, W) for grey or (N, H, W, C) with the channels last;
MSE and PSNR accept any (N, ...) shape, for instance flat (N, D) pixel rows.

All arithmetic is done in float64: the SSIM variances are differences of two
nearly equal numbers (E[x^2] - E[x]^2), which float32 would round badly.
"""

from __future__ import annotations

from .backend import get_array_module


def _as_float64_pair(x, y):
    """Both batches as float64 arrays of module xp, after checking the shapes."""
    xp = get_array_module(x)
    x = xp.asarray(x, dtype=xp.float64)  # uint8 images would wrap around on x - y
    y = xp.asarray(y, dtype=xp.float64)
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
    xp, x, y = _as_float64_pair(x, y)
    axes = tuple(range(1, x.ndim))
    return xp.mean((x - y) ** 2, axis=axes)  # (N, ...) -> (N,)


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
    err = mse(x, y)  # (N,)
    xp = get_array_module(err)
    safe = xp.where(err > 0, err, 1.0)  # keep log10 away from 0 (no warning)
    db = 10.0 * xp.log10(data_range**2 / safe)  # (N,)
    return xp.where(err > 0, db, xp.inf)


def _box_mean_valid(a, w: int, axis: int):
    """Mean over every window of w consecutive entries along ``axis``.

    Summed-area trick: with c_i = a_0 + ... + a_{i-1} (and c_0 = 0), the window
    sum a_i + ... + a_{i+w-1} = c_{i+w} - c_i. Only "valid" windows (fully
    inside the image) are kept, so the axis shrinks from L to L - w + 1.
    """
    xp = get_array_module(a)
    c = xp.cumsum(a, axis=axis)  # (..., L, ...)
    zero_shape = list(c.shape)
    zero_shape[axis] = 1
    c = xp.concatenate([xp.zeros(zero_shape, dtype=c.dtype), c], axis=axis)  # L + 1
    n = c.shape[axis]
    hi = [slice(None)] * c.ndim
    lo = [slice(None)] * c.ndim
    hi[axis] = slice(w, n)
    lo[axis] = slice(0, n - w)
    return (c[tuple(hi)] - c[tuple(lo)]) / w  # (..., L - w + 1, ...)


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
    xp, x, y = _as_float64_pair(x, y)
    if x.ndim not in (3, 4):
        raise ValueError(f"ssim expects (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if win_size % 2 != 1 or min(x.shape[1:3]) < win_size:
        raise ValueError(f"win_size must be odd and <= H, W; got {win_size} for {x.shape}")

    def local_mean(a):  # (N, H, W[, C]) -> (N, H - w + 1, W - w + 1[, C])
        return _box_mean_valid(_box_mean_valid(a, win_size, axis=1), win_size, axis=2)

    mu_x, mu_y = local_mean(x), local_mean(y)  # (N, H', W'[, C])
    cov_norm = win_size**2 / (win_size**2 - 1)  # population -> sample (co)variance
    var_x = cov_norm * (local_mean(x * x) - mu_x * mu_x)
    var_y = cov_norm * (local_mean(y * y) - mu_y * mu_y)
    cov_xy = cov_norm * (local_mean(x * y) - mu_x * mu_y)

    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    ssim_map = num / den  # (N, H', W'[, C])
    # Every channel has as many windows, so this equals the mean over channels
    # of the per-channel means.
    return xp.mean(ssim_map, axis=tuple(range(1, x.ndim)))  # (N,)


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
