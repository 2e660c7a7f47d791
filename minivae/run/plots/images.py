"""Pictures of images: reconstructions, samples from the prior, interpolations, and a
conditional VAE's class grid.

Every function takes plain NumPy arrays of pixel rows in [0, 1], shape (M, D),
and the ``image_shape`` to fold them into: (H, W) for grey, (H, W, C) for
colour with D = H * W * C.
"""

from __future__ import annotations

import math

import numpy as np

from ._common import cell_centres, mosaic, new_figure, save_figure, show_image


def reconstructions_figure(originals, reconstructions, image_shape=(28, 28),
                           title="reconstruction: mean of p(x | z = mu(x))"):
    """Two axes: a row of test images over the row of their reconstructions.

    Parameters
    ----------
    originals, reconstructions : arrays (n, D) in [0, 1]
    """
    originals = np.asarray(originals)
    reconstructions = np.asarray(reconstructions)
    if originals.shape != reconstructions.shape:
        raise ValueError(f"shapes differ: {originals.shape} vs {reconstructions.shape}")
    n = originals.shape[0]
    width = max(4.0, 0.75 * n)
    cell = width / n * image_shape[0] / image_shape[1]  # height of one image, inches
    fig = new_figure(width, 2 * cell + 0.7)
    top, bottom = fig.subplots(2, 1)
    show_image(top, mosaic(originals, image_shape, ncols=n), "original x")
    show_image(bottom, mosaic(reconstructions, image_shape, ncols=n), title)
    return fig


def samples_figure(images, image_shape, title="samples: decoder mean at z ~ N(0, I)"):
    """One axes: a near-square grid of M images, ceil(sqrt(M)) columns.

    Parameters
    ----------
    images : array (M, D) in [0, 1]
    """
    images = np.asarray(images)
    ncols = math.ceil(math.sqrt(images.shape[0]))
    nrows = math.ceil(images.shape[0] / ncols)
    fig = new_figure(max(3.0, 0.6 * ncols), max(3.0, 0.6 * nrows) + 0.4)
    show_image(fig.subplots(1, 1), mosaic(images, image_shape, ncols=ncols), title)
    return fig


def interpolation_figure(decode_fn, z_start, z_end, image_shape, steps=10, endpoints=None,
                         title="linear interpolation between two posterior means"):
    """One axes: decodings along the segment from z_start to z_end.

    z_t = (1 - t) z_start + t z_end, for t = 0, 1/(steps-1), ..., 1. Between
    two posterior means, this shows whether the path between two codes goes
    through plausible images (a smooth latent space) or through noise.

    Parameters
    ----------
    decode_fn : callable, NumPy (M, Z) -> NumPy (M, D) in [0, 1]
    z_start, z_end : arrays (Z,)
    steps : int
    endpoints : array (2, D), optional
        The two original images, shown at the left and right ends.
    """
    z_start = np.asarray(z_start, dtype=np.float64).reshape(-1)  # (Z,)
    z_end = np.asarray(z_end, dtype=np.float64).reshape(-1)  # (Z,)
    t = np.linspace(0.0, 1.0, steps)[:, None]  # (steps, 1)
    z = (1 - t) * z_start + t * z_end  # (steps, Z)
    row = np.asarray(decode_fn(z))  # (steps, D)
    labels = [f"{v:.2f}" for v in t[:, 0]]
    if endpoints is not None:
        endpoints = np.asarray(endpoints)  # (2, D)
        row = np.concatenate([endpoints[:1], row, endpoints[1:]])  # (steps + 2, D)
        labels = ["x_a"] + labels + ["x_b"]
    width = max(4.0, 0.75 * len(labels))
    fig = new_figure(width, width / len(labels) * image_shape[0] / image_shape[1] + 0.8)
    ax = fig.subplots(1, 1)
    show_image(ax, mosaic(row, image_shape, ncols=len(labels)), title)
    ax.set_xticks(cell_centres(len(labels), image_shape[1]), labels, fontsize=7)
    ax.set_xlabel("t", fontsize=8)
    return fig


def class_grid_figure(images, num_classes: int, image_shape,
                      title="one row per class, the same z down each column"):
    """A conditional VAE's samples: row c is class c, column j one z ~ N(0, I) for every row.

    Kingma et al. 2014, Fig. 1: along a column only the label changes, so what
    stays (slant, width, stroke) is what z holds, the "style".

    Parameters
    ----------
    images : array (C * n, D) in [0, 1], class by class: decode(z_j, c) at row c * n + j
    num_classes : C
    """
    images = np.asarray(images)
    ncols = images.shape[0] // num_classes
    fig = new_figure(max(3.0, 0.5 * ncols + 0.6), max(3.0, 0.5 * num_classes) + 0.4)
    ax = fig.subplots(1, 1)
    show_image(ax, mosaic(images, image_shape, ncols=ncols), title)
    ax.set_yticks(cell_centres(num_classes, image_shape[0]))
    ax.set_yticklabels([str(c) for c in range(num_classes)], fontsize=8)
    ax.set_ylabel("class y", fontsize=8)
    ax.set_xlabel("z_j ~ N(0, I), j = 1 ... " + str(ncols), fontsize=8)
    return fig


def plot_class_grid(images, num_classes: int, path, image_shape) -> str:
    """Save :func:`class_grid_figure` as a PNG; return the path."""
    return save_figure(class_grid_figure(images, num_classes, image_shape), path)


def plot_reconstructions(originals, reconstructions, path, image_shape=(28, 28),
                         title="reconstruction: mean of p(x | z = mu(x))") -> str:
    """Save :func:`reconstructions_figure` as a PNG; return the path."""
    return save_figure(reconstructions_figure(originals, reconstructions, image_shape, title),
                       path)


def plot_samples(images, path, image_shape,
                 title="samples: decoder mean at z ~ N(0, I)") -> str:
    """Save :func:`samples_figure` as a PNG; return the path."""
    return save_figure(samples_figure(images, image_shape, title), path)


def plot_interpolation(decode_fn, z_start, z_end, path, image_shape, steps=10,
                       endpoints=None, title="linear interpolation between two posterior means"
                       ) -> str:
    """Save :func:`interpolation_figure` as a PNG; return the path."""
    fig = interpolation_figure(decode_fn, z_start, z_end, image_shape, steps, endpoints, title)
    return save_figure(fig, path)
