"""Pictures of the latent space: where the data lands, and what the decoder makes.

* :func:`latent_space_figure`: the posterior means mu(x) of test images, in
  the plane (Z = 2) or on their first two principal components (Z > 2).
* :func:`manifold_figure`: for Z = 2, the decoder's output over a grid of
  the prior's quantiles (Kingma & Welling 2013, Fig. 4); for Z > 2, latent
  traversals along the most active dimensions.
* :func:`latent_kl_figure`: each latent dimension's KL, epoch by epoch, and the
  number of active units: posterior collapse as it happens.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from ..evaluation import latent_activity
from ..metrics import pca
from ._common import cell_centres, mosaic, new_figure, save_figure, show_image


# Ten colours told apart at a glance (Okabe & Ito 2008's colour-blind-safe eight, then two
# dark ones), so that digits 0-9 never share a hue; each label is also written on the plot.
COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#000000", "#8C564B", "#7F3FBF")


def _plane(means, what):
    """(xy (N, 2), x label, y label, title) for the scatter of the codes (N, Z)."""
    Z = means.shape[1]
    if Z == 2:
        return means, "z1", "z2", what
    if Z == 1:   # one coordinate: spread the points vertically by label, in the drawing
        return np.stack([means[:, 0], np.zeros(len(means))], axis=1), "z1", "", what
    if len(means) < 3:   # one or two codes have no second principal direction to show
        return means[:, :2], "z1", "z2", f"{what}, {Z}-D, first two dimensions ({len(means)} " \
            "image(s): too few for principal components)"
    xy, _, var = pca(means, 2)  # (N, 2), _, (2,)
    share = 100 * var / means.var(axis=0, ddof=1).sum()  # (2,) percent of total variance
    return (xy, f"PC1 ({share[0]:.0f}% var)", f"PC2 ({share[1]:.0f}% var)",
            f"{what}, {Z}-D, first two principal components")


def latent_space_figure(means, labels=None, what="posterior means mu(x)"):
    """Scatter of the codes, coloured by label, each label written at its points' median.

    Parameters
    ----------
    means : array (N, Z)
        Posterior means (VAE) or codes (autoencoder). Z = 1 is drawn as a strip
        per label, Z > 2 on the first two principal components.
    labels : array (N,) of ints, or None
        Up to 10 distinct labels get a legend outside the axes; more get a colour bar.
    what : str
        What the points are, for the title.
    """
    means = np.asarray(means, dtype=np.float64)  # (N, Z)
    xy, xlabel, ylabel, title = _plane(means, what)
    fig = new_figure(7.2, 5.5)
    ax = fig.subplots(1, 1)
    style = dict(s=5, alpha=0.7, linewidths=0)
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], color=COLOURS[0], **style)
    else:
        labels = np.asarray(labels).reshape(-1)  # (N,)
        classes = np.unique(labels)
        if means.shape[1] == 1:   # a strip per label: y = the label's row, jittered
            rows = np.searchsorted(classes, labels)
            jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(labels))
            xy = np.stack([xy[:, 0], rows + jitter], axis=1)
            ax.set_yticks(range(len(classes)), [str(c) for c in classes])
            ylabel = "label"
        if len(classes) <= len(COLOURS):
            for i, c in enumerate(classes):
                pick = labels == c
                ax.scatter(xy[pick, 0], xy[pick, 1], color=COLOURS[i], label=str(c), **style)
                cx, cy = np.median(xy[pick], axis=0)
                ax.text(cx, cy, str(c), fontsize=11, weight="bold", ha="center", va="center",
                        color=COLOURS[i], bbox=dict(boxstyle="round,pad=0.15", fc="white",
                                                    ec=COLOURS[i], alpha=0.85))
            ax.legend(title="label", markerscale=3, fontsize=8, loc="upper left",
                      bbox_to_anchor=(1.01, 1.0), borderaxespad=0)   # outside the data
        else:
            points = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap="viridis", **style)
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def normal_quantiles(n: int):
    """z_i = Phi^-1(p_i) for p = linspace(0.05, 0.95, n): the inverse normal CDF."""
    inv_cdf = NormalDist().inv_cdf
    return np.array([inv_cdf(p) for p in np.linspace(0.05, 0.95, n)])  # (n,)


def _grid_2d(decode_fn, image_shape, n):
    """Decode an n x n grid at the normal quantiles; z2 grows upwards."""
    q = normal_quantiles(n)  # (n,)
    z1, z2 = np.meshgrid(q, q[::-1])  # (n, n) each; row 0 is the largest z2
    z = np.stack([z1.ravel(), z2.ravel()], axis=1)  # (n * n, 2)
    images = np.asarray(decode_fn(z))  # (n * n, D)
    fig = new_figure(max(4.0, 0.4 * n) + 0.6, max(4.0, 0.4 * n) + 0.5)
    ax = fig.subplots(1, 1)
    show_image(ax, mosaic(images, image_shape, ncols=n),
               "decoder mean over the prior's quantiles (Kingma & Welling 2013, Fig. 4)")
    ticks = np.unique(np.linspace(0, n - 1, min(n, 5)).round().astype(int))
    centres = cell_centres(n, image_shape[0])
    ax.set_xticks(cell_centres(n, image_shape[1])[ticks], [f"{q[i]:.2f}" for i in ticks])
    ax.set_yticks(centres[ticks], [f"{q[::-1][i]:.2f}" for i in ticks])
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    return fig


def _traversals(decode_fn, image_shape, means, logvars, n_cols, max_rows=8):
    """Rows: the most active dimensions j; columns: z_j from -3 to 3."""
    means = np.asarray(means, dtype=np.float64)  # (N, Z)
    activity = latent_activity(means)  # (Z,) Var_x[mu_j(x)]: ~0 for a collapsed dimension
    dims = np.argsort(activity)[::-1][:max_rows]  # (k,) most active first
    values = np.linspace(-3.0, 3.0, n_cols)  # (n_cols,)
    z = np.tile(means.mean(axis=0), (len(dims), n_cols, 1))  # (k, n_cols, Z)
    for r, j in enumerate(dims):
        z[r, :, j] = values  # move one dimension, hold the others at the mean code
    images = np.asarray(decode_fn(z.reshape(-1, means.shape[1])))  # (k * n_cols, D)
    fig = new_figure(max(5.5, 0.6 * n_cols + 1.6), 0.6 * len(dims) + 1.6)
    ax = fig.subplots(1, 1)
    show_image(ax, mosaic(images, image_shape, ncols=n_cols),
               "latent traversals: one dimension moved, the others at the mean code")
    names = [f"z{j + 1}: Var {activity[j]:.2f}" for j in dims]
    explain = "Var: variance of the posterior mean of z_j over test images (about 0: unused)"
    if logvars is not None:
        sigma = np.exp(0.5 * np.asarray(logvars, dtype=np.float64)).mean(axis=0)  # (Z,)
        names = [f"{s}, sd {sigma[j]:.2f}" for s, j in zip(names, dims)]
        explain += "\nsd: the posterior's standard deviation, averaged (about 1: the prior's)"
    ax.set_yticks(cell_centres(len(dims), image_shape[0]), names, fontsize=7)
    ax.set_xticks(cell_centres(n_cols, image_shape[1]), [f"{v:.1f}" for v in values],
                  fontsize=7)
    ax.set_xlabel("value of the moved dimension z_j\n\nrow labels: " + explain, fontsize=8)
    return fig


def manifold_figure(decode_fn, latent_dim, image_shape, n=20, means=None, logvars=None):
    """What the decoder produces across the latent space.

    latent_dim == 2: an n x n grid of decodings at z = (Phi^-1(p1), Phi^-1(p2))
    for p on linspace(0.05, 0.95, n), so equal areas of the grid hold equal
    prior mass (Kingma & Welling 2013, Fig. 4).

    latent_dim != 2: traversals (one row for latent_dim 1). The activity of dimension j is the variance
    over the data of its posterior mean, Var_x[mu_j(x)] (Burda et al. 2015
    call a unit active when it exceeds 0.01: see evaluation.active_units);
    the up to 8 most active dimensions each get a row where z_j runs over
    min(n, 11) values from -3 to 3 while the other dimensions stay at the
    mean of ``means``. Each row is labelled with that activity (Var) and,
    given ``logvars``, the mean posterior sd; a note under the picture says so.

    Parameters
    ----------
    decode_fn : callable, NumPy (M, Z) -> NumPy (M, D) in [0, 1]
    latent_dim : int
    image_shape : tuple
    n : int
    means : array (N, Z), required when latent_dim > 2
    logvars : array (N, Z), optional; adds each row's mean posterior sd
    """
    if latent_dim == 2:
        return _grid_2d(decode_fn, image_shape, n)
    if means is None:
        raise ValueError("manifold_figure needs the posterior means when latent_dim != 2")
    return _traversals(decode_fn, image_shape, means, logvars, n_cols=min(n, 11))


def plot_latent_space(means, labels, path, what="posterior means mu(x)") -> str:
    """Save :func:`latent_space_figure` as a PNG; return the path."""
    return save_figure(latent_space_figure(means, labels, what), path)


def plot_manifold(decode_fn, latent_dim, path, image_shape, n=20, means=None,
                  logvars=None) -> str:
    """Save :func:`manifold_figure` as a PNG; return the path."""
    fig = manifold_figure(decode_fn, latent_dim, image_shape, n, means, logvars)
    return save_figure(fig, path)


def latent_kl_figure(latent_rows):
    """Each latent dimension's test KL per epoch (a heat map, dimension by epoch), and below,
    the active units (Burda et al. 2015) and the total KL: the rows of latents.csv.

    A dimension that fades to 0 nats has collapsed to the prior: it no longer carries
    anything about x. ``latent_rows``: [{"epoch", "active_units", "kl", "kl_dims"}, ...].
    """
    epochs = [r["epoch"] for r in latent_rows]
    kl = np.array([r["kl_dims"] for r in latent_rows], dtype=np.float64).T   # (Z, epochs)
    Z = kl.shape[0]
    fig = new_figure(max(5.0, 0.25 * len(epochs) + 3.0), max(3.5, 0.15 * Z + 2.6))
    top, bottom = fig.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    image = top.imshow(kl, aspect="auto", cmap="viridis", interpolation="nearest",
                       extent=(epochs[0] - 0.5, epochs[-1] + 0.5, Z + 0.5, 0.5))
    fig.colorbar(image, ax=top, label="KL (nats per image)")
    top.set_ylabel("latent dimension j", fontsize=9)
    top.set_title("KL of each latent dimension, test set", fontsize=10)
    bottom.plot(epochs, [r["active_units"] for r in latent_rows], marker="o", markersize=3,
                color="#0072B2", label="active units")
    bottom.set_ylim(-0.5, Z + 0.5)
    bottom.set_ylabel("active", fontsize=9)
    bottom.set_xlabel("epoch", fontsize=9)
    right = bottom.twinx()
    right.plot(epochs, [r["kl"] for r in latent_rows], color="#D55E00", label="total KL")
    right.set_ylabel("KL", fontsize=9, color="#D55E00")
    right.set_ylim(bottom=0)
    bottom.legend(loc="upper left", fontsize=8)
    return fig


def plot_latent_kl(latent_rows, path) -> str:
    """Save :func:`latent_kl_figure` as a PNG; return the path."""
    return save_figure(latent_kl_figure(latent_rows), path)
