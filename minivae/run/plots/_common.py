"""Shared helpers for the figures: a headless Figure, saving, image mosaics.

Figures are built with matplotlib's object-oriented API (``Figure`` plus the
Agg canvas) and never through ``pyplot``: no window opens, nothing is drawn
on a display, and a user who picked another pyplot backend keeps it.

``new_figure``, ``mosaic``, ``show_image`` and ``save_figure`` are public as
``minivae.run.plots.<name>``, for figures of your own.
"""

from __future__ import annotations

import io
import os

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ...files.serialize import atomic_write

DPI = 100  # pixels per inch of every saved PNG: a (w, h)-inch figure is (100 w, 100 h) px


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of width x height inches, drawn by the Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas
    return fig


def save_figure(fig: Figure, path) -> str:
    """Write ``fig`` as a PNG at ``path`` (folders created) and return the path.

    The PNG is drawn in memory and then written atomically: a full disk or a
    kill leaves the previous file, never half a picture.
    """
    path = os.fspath(path)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=DPI, format="png")  # fixed dpi: ignore a user's rcParams
    return atomic_write(path, buf.getvalue())


def as_images(flat, image_shape):
    """Rows of pixels -> images, clipped to [0, 1].

    (M, D) -> (M, H, W) for a grey ``image_shape`` (H, W), or (M, H, W, C)
    for a colour one (H, W, C), with D = H * W (* C).
    """
    flat = np.asarray(flat, dtype=np.float64)
    return np.clip(flat.reshape((flat.shape[0],) + tuple(image_shape)), 0.0, 1.0)


def mosaic(flat, image_shape, ncols: int, pad: int = 1, pad_value: float = 1.0):
    """Tile M images into one picture of ceil(M / ncols) rows and ``ncols`` columns.

    One ``imshow`` of a mosaic is much faster than one axes per image (a
    20 x 20 manifold would otherwise need 400 axes). Cells are separated by
    ``pad`` pixels of ``pad_value``; missing cells are filled with it.

    Returns an array (rows * (H + pad) - pad, ncols * (W + pad) - pad[, C]).
    """
    images = as_images(flat, image_shape)  # (M, H, W[, C])
    if images.ndim == 3:
        images = images[..., None]  # (M, H, W) -> (M, H, W, 1)
    m, h, w, c = images.shape
    nrows = -(-m // ncols)  # ceil(m / ncols)
    cells = np.full((nrows * ncols, h + pad, w + pad, c), pad_value)
    cells[:m, :h, :w] = images
    cells = cells.reshape(nrows, ncols, h + pad, w + pad, c)
    out = cells.transpose(0, 2, 1, 3, 4)  # (rows, H + pad, cols, W + pad, C)
    out = out.reshape(nrows * (h + pad), ncols * (w + pad), c)
    out = out[: out.shape[0] - pad, : out.shape[1] - pad]  # drop the trailing separator
    return out[..., 0] if c == 1 else out


def cell_centres(count: int, size: int, pad: int = 1):
    """Pixel coordinate of the centre of each of ``count`` mosaic cells of ``size``."""
    return np.arange(count) * (size + pad) + (size - 1) / 2


def show_image(ax, picture, title: str | None = None):
    """Draw a mosaic on ``ax``: grey colour map for 2-D pictures, no ticks."""
    if picture.ndim == 2:
        ax.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(picture, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10)
