"""Figures and the HTML report, from small fake arrays and a tiny fake model."""

import base64
import math
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread

from minivae.run import plots
from minivae.run.plots.latent import normal_quantiles

SHAPE = (6, 5)  # tiny non-square grey images: D = 30, catches H/W mix-ups
D = 30


def rows(epochs=4):
    """A fake per-epoch log with every key that training writes."""
    return [dict(epoch=e, train_loss=100 / e, train_recon=90 / e, train_kl=10.0 - 1 / e,
                 test_loss=105 / e, test_recon=95 / e, test_kl=10.0 - 1 / e, psnr=12.0 + e,
                 ssim=0.5 + 0.1 * e, mse=0.05 / e, seconds=1.5) for e in range(1, epochs + 1)]


def images(n, d=D, seed=0):
    return np.random.default_rng(seed).random((n, d))


def check_png(path, fig=None):
    """The PNG exists, decodes, has no NaN, and has the figure's size in pixels."""
    assert os.path.isfile(path)
    img = imread(path)  # (height, width, 4) floats in [0, 1]
    assert img.ndim == 3 and img.shape[2] in (3, 4) and not np.isnan(img).any()
    assert img[..., :3].std() > 0.01  # something was drawn
    if fig is not None:
        w, h = fig.get_size_inches() * plots._common.DPI
        assert img.shape[:2] == (round(h), round(w))
    return img


def n_panels(fig):
    assert isinstance(fig, Figure)
    return len(fig.axes)


class FakeDecoder:
    """decode_fn that records what it was asked: z (M, Z) -> sigmoid(z W) (M, D)."""

    def __init__(self, latent_dim, d=D):
        self.w = np.random.default_rng(1).normal(size=(latent_dim, d))
        self.calls = []

    def __call__(self, z):
        self.calls.append(np.array(z))
        return 1 / (1 + np.exp(-np.asarray(z) @ self.w))


class FakeModel:
    """The public model API, with a linear encoder and a sigmoid-linear decoder."""

    def __init__(self, input_dim=D, latent_dim=3):
        rng = np.random.default_rng(2)
        self.input_dim, self.latent_dim = input_dim, latent_dim
        self.xp, self.dtype = np, np.dtype("float32")
        self.w_enc = rng.normal(size=(input_dim, latent_dim)).astype(self.dtype)
        self.w_dec = rng.normal(size=(latent_dim, input_dim)).astype(self.dtype)
        self.encoded = 0

    def encode(self, x):
        assert x.dtype == self.dtype and x.shape[1] == self.input_dim
        self.encoded += x.shape[0]
        mu = (x - 0.5) @ self.w_enc  # (B, Z)
        return mu, np.full_like(mu, -2.0)

    def decode(self, z):
        assert z.dtype == self.dtype
        return 1 / (1 + np.exp(-z @ self.w_dec))


class FakeVAE(FakeModel):
    """encode -> (mu, logvar), and a prior to sample from."""

    def sample(self, n):
        z = np.random.default_rng(0).normal(size=(n, self.latent_dim))
        return self.decode(z.astype(self.dtype))


class FakeAutoencoder(FakeModel):
    """encode returns the code only, and there is no sample()."""

    def encode(self, x):
        return super().encode(x)[0]


# ----- one function at a time ----------------------------------------------

def test_loss_curves_and_quality(tmp_path):
    fig = plots.loss_curves_figure(rows())
    assert n_panels(fig) == 3
    for ax in fig.axes:  # train and test in each panel
        assert [line.get_label() for line in ax.get_lines()] == ["train", "test"]
    check_png(plots.plot_loss_curves(rows(), tmp_path / "loss.png"), fig)
    fig = plots.quality_figure(rows())
    assert n_panels(fig) == 2
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), [0.6, 0.7, 0.8, 0.9])
    check_png(plots.plot_quality(rows(), tmp_path / "q.png"), fig)


def test_curves_skip_missing_values(tmp_path):
    log = [{k: v for k, v in r.items() if not k.startswith("test")} for r in rows()]
    log[1]["psnr"] = float("nan")
    fig = plots.loss_curves_figure(log)
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]
    assert len(plots.quality_figure(log).axes[0].get_lines()[0].get_xdata()) == 3
    check_png(plots.plot_loss_curves(log, tmp_path / "l.png"))


@pytest.mark.parametrize("shape", [SHAPE, (4, 5, 3)])
def test_reconstructions_and_samples(tmp_path, shape):
    d = int(np.prod(shape))
    x, r = images(7, d), images(7, d, seed=1)
    fig = plots.reconstructions_figure(x, r, shape)
    assert n_panels(fig) == 2
    picture = fig.axes[0].get_images()[0].get_array()  # the mosaic: 7 cells, 1-px gaps
    assert picture.shape[:2] == (shape[0], 7 * shape[1] + 6)
    np.testing.assert_allclose(picture[:, : shape[1]], x[0].reshape(shape))
    check_png(plots.plot_reconstructions(x, r, tmp_path / "r.png", shape), fig)
    fig = plots.samples_figure(images(10, d), shape)  # 10 -> 4 columns, 3 rows
    assert n_panels(fig) == 1
    assert fig.axes[0].get_images()[0].get_array().shape[:2] == (3 * shape[0] + 2, 4 * shape[1] + 3)
    check_png(plots.plot_samples(images(10, d), tmp_path / "s.png", shape), fig)


@pytest.mark.parametrize("z, labels, axes, xlabel", [
    (2, "digits", 1, "z1"), (5, "digits", 1, "PC1"), (5, None, 1, "PC1"), (2, "many", 2, "z1")])
def test_latent_space(tmp_path, z, labels, axes, xlabel):
    means = np.random.default_rng(0).normal(size=(200, z)) * np.arange(1, z + 1)
    labels = {"digits": np.arange(200) % 10, "many": np.arange(200) % 37, None: None}[labels]
    fig = plots.latent_space_figure(means, labels)
    assert n_panels(fig) == axes  # a colour bar is a second axes
    assert fig.axes[0].get_xlabel().startswith(xlabel)
    if xlabel == "PC1":
        assert re.search(r"PC1 \(\d+% var\)", fig.axes[0].get_xlabel())
    if labels is not None and labels.max() < 10:
        assert len(fig.axes[0].get_legend().get_texts()) == 10
    check_png(plots.plot_latent_space(means, labels, tmp_path / "l.png"), fig)


def test_manifold_2d_decodes_the_normal_quantiles(tmp_path):
    dec = FakeDecoder(2)
    fig = plots.manifold_figure(dec, 2, SHAPE, n=5)
    assert n_panels(fig) == 1
    z = dec.calls[0]  # (25, 2)
    q = normal_quantiles(5)  # Phi^-1(0.05, 0.275, 0.5, 0.725, 0.95)
    phi = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in q]  # the normal CDF, Phi
    np.testing.assert_allclose(phi, np.linspace(0.05, 0.95, 5), atol=1e-12)
    np.testing.assert_allclose(q[0], -1.6448536, atol=1e-6)  # the familiar 5% quantile
    np.testing.assert_allclose(z[:5, 0], q, atol=1e-6)  # first row: z1 left to right
    np.testing.assert_allclose(z[::5, 1], q[::-1], atol=1e-6)  # z2 decreases downwards
    check_png(plots.plot_manifold(dec, 2, tmp_path / "m.png", SHAPE, n=5), fig)


def test_manifold_traversals_pick_the_most_active_dimensions(tmp_path):
    z_dim = 12
    scale = np.ones(z_dim) * 0.01
    scale[[7, 2, 9]] = [3.0, 2.0, 1.0]  # activity order: 7, 2, 9, then the rest
    means = np.random.default_rng(0).normal(size=(500, z_dim)) * scale + 0.5
    dec = FakeDecoder(z_dim)
    fig = plots.manifold_figure(dec, z_dim, SHAPE, n=7, means=means,
                                logvars=np.zeros_like(means))
    z = dec.calls[0].reshape(8, 7, z_dim)  # (rows, columns, Z): 8 dims at most
    assert n_panels(fig) == 1
    moved = [int(np.argmax(z[r].std(axis=0))) for r in range(8)]
    assert moved[:3] == [7, 2, 9]
    np.testing.assert_allclose(z[0, :, 7], np.linspace(-3, 3, 7))
    np.testing.assert_allclose(z[0, :, 0], means[:, 0].mean())  # others held at the mean code
    assert fig.axes[0].get_yticklabels()[0].get_text() == "z8: Var 8.70, sd 1.00"
    assert "row labels: Var: variance of the posterior mean" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="means"):
        plots.manifold_figure(dec, z_dim, SHAPE)
    check_png(plots.plot_manifold(dec, z_dim, tmp_path / "t.png", SHAPE, n=7, means=means), fig)


def test_interpolation(tmp_path):
    dec = FakeDecoder(3)
    a, b = np.array([1.0, 0.0, -1.0]), np.array([-1.0, 2.0, 1.0])
    fig = plots.interpolation_figure(dec, a, b, SHAPE, steps=5, endpoints=images(2))
    z = dec.calls[0]
    np.testing.assert_allclose(z[[0, -1]], [a, b])
    np.testing.assert_allclose(z[2], (a + b) / 2)
    assert n_panels(fig) == 1 and len(fig.axes[0].get_xticks()) == 7  # 5 steps + 2 originals
    check_png(plots.plot_interpolation(dec, a, b, tmp_path / "i.png", SHAPE, steps=5), None)


# ----- the report and the glue -----------------------------------------------

def test_write_report_embeds_the_figures(tmp_path):
    png = plots.plot_quality(rows(), tmp_path / "quality.png")
    out = plots.write_report(tmp_path, {"latent_dim": 2, "lr": 1e-3}, rows(),
                             {"quality": "quality.png"})
    assert out == os.path.join(tmp_path, "report.html")
    text = open(out, encoding="utf-8").read()
    embedded = re.search(r'src="data:image/png;base64,([^"]+)"', text).group(1)
    assert base64.b64decode(embedded) == open(png, "rb").read()
    assert "<td>latent size Z</td><td>2</td>" in text and "<th>PSNR (dB)</th>" in text
    assert "<td>0.9000</td>" in text  # the last epoch's SSIM, at four decimals
    assert "<td>final test loss</td><td>26.250 nats per image" in text   # the summary: 105 / 4
    assert text.index("Summary") < text.index("Settings") < text.index("Metrics per epoch")
    assert "PSNR" in text  # the caption


@pytest.mark.parametrize("model_cls, expected", [
    (FakeVAE, {"loss_curves", "quality", "reconstructions", "samples", "latent_space",
               "manifold", "interpolation", "report"}),
    (FakeAutoencoder, {"loss_curves", "quality", "reconstructions", "latent_space",
                       "interpolation", "report"})])
def test_make_all_figures(tmp_path, model_cls, expected):
    model = model_cls()
    test_x = np.random.default_rng(0).integers(0, 256, (60, *SHAPE), dtype=np.uint8)  # raw pixels
    labels = np.arange(60) % 4
    out = plots.make_all_figures(model, test_x, labels, rows(), tmp_path / "run", SHAPE,
                                 {"model": model_cls.__name__})
    assert set(out) == expected and model.encoded == 60
    for name, path in out.items():
        if name != "report":
            assert os.path.basename(path) == f"{name}.png"
            check_png(path)
    text = open(out["report"], encoding="utf-8").read()
    assert text.count("data:image/png;base64,") == len(expected) - 1
    for name in expected - {"report"}:
        assert f'id="{name}"' in text
    assert "<td>0.6000</td>" in text   # the first epoch's SSIM
    kind = "variational autoencoder" if model_cls is FakeVAE else "deterministic autoencoder"
    assert f"<td>model</td><td>{kind}" in text
    if model_cls is FakeAutoencoder:   # its own words: no KL, no ELBO, no posterior
        words = re.sub(r'src="data:[^"]*"', "", text)   # the page less its embedded images
        for word in ("KL", "ELBO", "posterior", "beta"):
            assert word not in words, word
    if "samples" in out:  # fixed seed: the same picture twice
        again = plots.make_all_figures(model, test_x, labels, [], tmp_path / "again", SHAPE, {})
        assert open(out["samples"], "rb").read() == open(again["samples"], "rb").read()


def test_figure_helpers_are_public(tmp_path):
    """Your own figure from the same helpers: new_figure, mosaic, show_image, save_figure."""
    fig = plots.new_figure(3.0, 2.0)
    picture = plots.mosaic(images(6), SHAPE, ncols=4)      # 2 rows x 4 cells, 1 px apart
    assert picture.shape == (2 * 7 - 1, 4 * 6 - 1)
    ax = fig.subplots(1, 1)
    plots.show_image(ax, picture, "six images")
    assert ax.get_title() == "six images" and not ax.get_xticks().size
    check_png(plots.save_figure(fig, tmp_path / "sub" / "mine.png"), fig)
    assert {"new_figure", "mosaic", "show_image", "save_figure"} <= set(plots.__all__)


def test_importing_plots_leaves_pyplot_alone():
    code = ("import sys, minivae.run.plots, minivae.run.metrics; "
            "assert 'matplotlib.pyplot' not in sys.modules; "
            "assert 'scipy' not in sys.modules and 'skimage' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("latent_dim", [1, 2, 4])
def test_every_figure_from_a_tiny_trained_vae(tmp_path, latent_dim):
    """The figures of make_all_figures for a VAE trained 150 steps on 8x8 blobs.

    Z = 2 gives the quantile grid, Z = 4 the traversals; every PNG must decode,
    hold no NaN, show something and be as large as its figure; the panels are
    counted on the figures themselves.
    """
    from minivae import VAE, Adam
    from minivae.data import BatchIterator
    from conftest import make_tiny

    data = np.load(make_tiny(tmp_path / "tiny.npz", n_train=1024, n_test=200))
    shape = (8, 8)
    model = VAE(input_dim=64, hidden_dims=(32,), latent_dim=latent_dim, seed=0)
    opt = Adam(model.params, lr=3e-3)
    losses = []
    for _ in range(3):
        for x in BatchIterator(data["x_train"], batch_size=20, seed=0):
            loss, _ = model.loss_and_grads(x)
            opt.step(model.grads)
            losses.append(float(loss))
    assert np.mean(losses[-20:]) < 0.8 * np.mean(losses[:20])     # it did learn
    test_x = data["x_test"].reshape(200, 64) / 255.0
    log = rows(3)
    out = plots.make_all_figures(model, test_x, data["y_test"], log, tmp_path / "run", shape, {})
    assert set(out) == {"loss_curves", "quality", "reconstructions", "samples", "latent_space",
                        "manifold", "interpolation", "report"}
    mu, logvar = model.encode(test_x)

    def decode(z):
        return np.asarray(model.decode(z))

    figures = {
        "loss_curves": (plots.loss_curves_figure(log), 3),
        "quality": (plots.quality_figure(log), 2),
        "latent_space": (plots.latent_space_figure(np.asarray(mu), data["y_test"]), None),
        "manifold": (plots.manifold_figure(decode, latent_dim, shape, means=np.asarray(mu),
                                           logvars=np.asarray(logvar)), None),
    }
    for name, path in out.items():
        if name == "report":
            continue
        fig, panels = figures.get(name, (None, None))
        check_png(path, fig)
        if panels is not None:
            assert n_panels(fig) == panels
    assert open(out["report"], encoding="utf-8").read().count("data:image/png;base64,") == 7
