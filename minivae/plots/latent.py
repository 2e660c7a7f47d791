"""Pictures of the latent space: where the data lands, and what the decoder makes.

* :func:`latent_space_figure`: the posterior means mu(x) of test images, in
  the plane (Z = 2) or on their first two principal components (Z > 2).
* :func:`manifold_figure`: for Z = 2, the decoder's output over a grid of
  the prior's quantiles (Kingma & Welling 2013, Fig. 4); for Z > 2, latent
  traversals along the most active dimensions.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from ..evaluation import latent_activity
from ..metrics import pca
from ._common import cell_centres, mosaic, new_figure, save_figure, show_image


def latent_space_figure(means, labels=None):
    """Scatter of the posterior means, coloured by label.

    Parameters
    ----------
    means : array (N, Z)
    labels : array (N,) of ints, or None
        Up to 10 distinct labels get a legend; more get a colour bar.
    """
    means = np.asarray(means, dtype=np.float64)  # (N, Z)
    if means.shape[1] == 1:  # one dimension: mu(x) across, a little random height to see them
        jitter = np.random.default_rng(0).uniform(-0.4, 0.4, len(means))  # (N,)
        xy = np.stack([means[:, 0], jitter], axis=1)  # (N, 2)
        xlabel, ylabel = "z1", "(random height, to spread the points)"
        title = "posterior means mu(x), 1-D"
    elif means.shape[1] == 2:
        xy = means  # (N, 2)
        xlabel, ylabel = "z1", "z2"
        title = "posterior means mu(x)"
    else:
        xy, _, var = pca(means, 2)  # (N, 2), _, (2,)
        share = 100 * var / means.var(axis=0, ddof=1).sum()  # (2,) percent of total variance
        xlabel, ylabel = f"PC1 ({share[0]:.0f}% var)", f"PC2 ({share[1]:.0f}% var)"
        title = f"posterior means mu(x), {means.shape[1]}-D, first two principal components"
    fig = new_figure(6.5, 5.5)
    ax = fig.subplots(1, 1)
    style = dict(s=4, alpha=0.6, linewidths=0)
    if labels is None:
        ax.scatter(xy[:, 0], xy[:, 1], color="C0", **style)
    else:
        labels = np.asarray(labels).reshape(-1)  # (N,)
        classes = np.unique(labels)
        if len(classes) <= 10:
            for i, c in enumerate(classes):
                pick = labels == c
                ax.scatter(xy[pick, 0], xy[pick, 1], color=f"C{i}", label=str(c), **style)
            ax.legend(title="label", markerscale=3, fontsize=8, loc="best")
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
    fig = new_figure(max(4.0, 0.6 * n_cols) + 1.2, 0.6 * len(dims) + 0.9)
    ax = fig.subplots(1, 1)
    show_image(ax, mosaic(images, image_shape, ncols=n_cols),
               "latent traversals: one dimension moved, the others at the mean code")
    names = [f"z{j + 1}  Var={activity[j]:.2f}" for j in dims]
    if logvars is not None:
        sigma = np.exp(0.5 * np.asarray(logvars, dtype=np.float64)).mean(axis=0)  # (Z,)
        names = [f"{s}  sd={sigma[j]:.2f}" for s, j in zip(names, dims)]
    ax.set_yticks(cell_centres(len(dims), image_shape[0]), names, fontsize=7)
    ax.set_xticks(cell_centres(n_cols, image_shape[1]), [f"{v:.1f}" for v in values],
                  fontsize=7)
    ax.set_xlabel("value of the moved dimension z_j")
    return fig


def manifold_figure(decode_fn, latent_dim, image_shape, n=20, means=None, logvars=None):
    """What the decoder produces across the latent space.

    latent_dim == 2: an n x n grid of decodings at z = (Phi^-1(p1), Phi^-1(p2))
    for p on linspace(0.05, 0.95, n), so equal areas of the grid hold equal
    prior mass (Kingma & Welling 2013, Fig. 4).

    latent_dim > 2: traversals. The activity of dimension j is the variance
    over the data of its posterior mean, Var_x[mu_j(x)] (Burda et al. 2015
    call a unit active when it exceeds 0.01: see evaluation.active_units);
    the up to 8 most active dimensions each get a row where z_j runs over
    min(n, 11) values from -3 to 3 while the other dimensions stay at the
    mean of ``means``.

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


def plot_latent_space(means, labels, path) -> str:
    """Save :func:`latent_space_figure` as a PNG; return the path."""
    return save_figure(latent_space_figure(means, labels), path)


def plot_manifold(decode_fn, latent_dim, path, image_shape, n=20, means=None,
                  logvars=None) -> str:
    """Save :func:`manifold_figure` as a PNG; return the path."""
    fig = manifold_figure(decode_fn, latent_dim, image_shape, n, means, logvars)
    return save_figure(fig, path)
