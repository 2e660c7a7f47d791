"""A first step with "my ten photos": a data set whose held-out split is one image trains and
ends with every figure and report.html, not a traceback from the latent plot's PCA."""

import numpy as np
import pytest

from minivae.run import train
from minivae.run.plots.latent import latent_space_figure


@pytest.mark.parametrize("extra", [[], ["--model", "ae"]])
def test_ten_images_train_and_draw_every_figure(tmp_path, extra, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "ten.npz"
    np.savez(path, x=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8), y=np.arange(10) % 2)
    out = tmp_path / "run"
    argv = ["--dataset", str(path), "--hidden", "16", "--latent-dim", "3", "--epochs", "1",
            "--device", "cpu", "--quiet", "--out", str(out), *extra]
    assert train.main(argv) == 0                 # the test split is 1 image (10% of 10)
    assert (out / "report.html").exists() and (out / "latent_space.png").exists()
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("n", [1, 2])
def test_the_latent_plot_of_one_or_two_codes(n):
    fig = latent_space_figure(np.random.default_rng(0).normal(size=(n, 5)), np.arange(n))
    assert "too few for principal components" in fig.axes[0].get_title()
