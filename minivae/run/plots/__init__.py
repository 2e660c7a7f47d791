"""Figures of a run (PNG, drawn headless with matplotlib's Agg canvas) and its report.

Each ``plot_*`` function takes plain NumPy arrays and a path, writes a PNG
and returns the path; the matching ``*_figure`` function returns the
matplotlib ``Figure`` itself, for a notebook or for further styling.

The helpers they are drawn with serve your own figures too:

    fig = new_figure(6.0, 3.0)                         # width, height in inches
    show_image(fig.subplots(1, 1), mosaic(images, (28, 28), ncols=8), "samples")
    save_figure(fig, "out/samples.png")                # images: (M, 784) in [0, 1]
"""

from ._common import mosaic, new_figure, save_figure, show_image
from .curves import loss_curves_figure, plot_loss_curves, plot_quality, quality_figure
from .images import (class_grid_figure, interpolation_figure, plot_class_grid,
                     plot_interpolation, plot_reconstructions, plot_samples,
                     reconstructions_figure, samples_figure)
from .latent import (latent_kl_figure, latent_space_figure, manifold_figure, plot_latent_kl,
                     plot_latent_space, plot_manifold)
from .report import make_all_figures, write_report

__all__ = [
    "plot_loss_curves", "plot_quality", "plot_reconstructions", "plot_samples",
    "plot_latent_space", "plot_manifold", "plot_interpolation", "write_report",
    "make_all_figures", "loss_curves_figure", "quality_figure",
    "reconstructions_figure", "samples_figure", "latent_space_figure",
    "manifold_figure", "interpolation_figure", "plot_class_grid", "class_grid_figure",
    "plot_latent_kl", "latent_kl_figure",
    "new_figure", "save_figure", "mosaic", "show_image",
]
