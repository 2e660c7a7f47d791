"""The latent explorer in report.html, run in a real headless browser (Chromium).

The page decodes z with its own JavaScript from the exported weights; these
tests check that what it decodes, and what it draws, is ``model.decode(z)``.
They need the Debian ``chromium`` package and the ``playwright`` Python
package (.ci/run installs both) and skip, saying so, without them.
"""

import re
import shutil

import numpy as np
import pytest

from minivae import VAE, Autoencoder
from minivae.run import plots
from minivae.run.plots.explorer import dense_decoder, explorer_spec, forward

from conftest import make_tiny

SHAPE = (8, 8)


def browser_or_skip():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no headless browser: install Debian's chromium package")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    return chromium, sync_api


@pytest.fixture(scope="module")
def page():
    """One headless Chromium page for the module (starting a browser takes a second)."""
    chromium, sync_api = browser_or_skip()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield browser.new_page(viewport={"width": 1200, "height": 900})
        browser.close()


def report_for(model, tmp_path, n=200):
    """report.html of ``model`` on the tiny blobs, after a few training steps."""
    data = np.load(make_tiny(tmp_path / "tiny.npz", n_train=256, n_test=n))
    x = data["x_train"].reshape(-1, 64) / 255.0
    opt = plots_opt(model)
    for i in range(0, len(x), 32):
        model.loss_and_grads(x[i:i + 32])
        opt.step(model.grads)
    test_x = data["x_test"].reshape(n, 64) / 255.0
    out = plots.make_all_figures(model, test_x, data["y_test"], [], tmp_path / "run", SHAPE,
                                 {"model": model.kind})
    return out["report"], test_x


def plots_opt(model):
    from minivae import Adam
    return Adam(model.params, lr=3e-3)


def open_report(page, path):
    page.goto("file://" + str(path))
    page.wait_for_function("window.minivaeExplorer !== undefined")


@pytest.mark.parametrize("make", [
    lambda: VAE(input_dim=64, hidden_dims=(32,), latent_dim=2, seed=0),
    lambda: VAE(input_dim=64, hidden_dims=(32, 16), latent_dim=5, activation="tanh", seed=1),
    lambda: VAE(input_dim=64, hidden_dims=(24,), latent_dim=1, likelihood="gaussian", seed=2),
    lambda: Autoencoder(input_dim=64, hidden_dims=(32,), latent_dim=3,
                        activation="leaky_relu", seed=3),
], ids=["vae-z2", "vae-z5-two-layers-tanh", "vae-z1-gaussian", "ae-z3-leaky"])
def test_page_decodes_what_the_model_decodes(page, tmp_path, make):
    model = make()
    report, _ = report_for(model, tmp_path)
    text = open(report, encoding="utf-8").read()
    assert "<script src" not in text and not re.search(r"https?://", text)   # no network
    open_report(page, report)
    z = np.random.default_rng(5).normal(0, 1.5, (6, model.latent_dim))
    want = np.asarray(model.decode(z.astype(np.float32)), dtype=np.float64)   # (6, 64)
    got = np.array([page.evaluate("z => minivaeExplorer.decode(z)", row.tolist()) for row in z])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=2e-6)   # float32 model, float64 page


def test_clicking_the_plane_moves_z_and_draws_its_decoding(page, tmp_path):
    model = VAE(input_dim=64, hidden_dims=(32,), latent_dim=4, seed=0)
    report, test_x = report_for(model, tmp_path)
    open_report(page, report)
    before = np.array(page.evaluate("minivaeExplorer.z()"))
    dims = page.evaluate("minivaeExplorer.dims")
    plane = page.locator("#explorer-plane")
    plane.click(position={"x": 0.8 * 360, "y": 0.25 * 360})   # scrolls it into view, clicks
    after = np.array(page.evaluate("minivaeExplorer.z()"))
    moved = np.flatnonzero(after != before)
    assert sorted(moved) == sorted(dims) and len(dims) == 2   # only the two shown dimensions
    # Right of and above the middle of the plane: the first dimension grew, the second too.
    spec = explorer_spec(model, np.asarray(model.encode(test_x)[0]), None, SHAPE)
    mid = (np.array(spec["lo"]) + np.array(spec["hi"])) / 2
    assert after[dims[0]] > mid[0] and after[dims[1]] > mid[1]
    want = np.asarray(model.decode(after[None].astype(np.float32)))[0]   # (64,)
    np.testing.assert_allclose(page.evaluate("minivaeExplorer.image()"), want, atol=2e-6)
    # What the canvas shows: each of the 8 x 8 pixels is a 28 x 28 block of its grey level.
    drawn = page.evaluate("""() => {
        const c = document.getElementById('explorer-image');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const out = [];
        for (let r = 0; r < 8; r++) for (let q = 0; q < 8; q++)
            out.push(d[4 * ((r * 28 + 14) * c.width + q * 28 + 14)]);
        return out; }""")
    np.testing.assert_array_equal(drawn, np.round(255 * want))
    assert page.locator("#explorer-z").inner_text().startswith(f"z{dims[0] + 1} = ")


def test_forward_is_the_models_decoder():
    """The NumPy forward the page mirrors, against model.decode (no browser needed)."""
    model = VAE(input_dim=30, hidden_dims=(12, 7), latent_dim=3, dtype="float64", seed=4)
    z = np.random.default_rng(0).normal(size=(5, 3))
    layers = dense_decoder(model)
    assert [W.shape for W, _ in layers] == [(3, 7), (7, 12), (12, 30)]   # mirrored decoder
    np.testing.assert_allclose(forward(layers, z, "relu", "sigmoid"), model.decode(z), rtol=1e-12)


def test_a_model_without_a_dense_decoder_gets_a_note_not_a_wrong_explorer(tmp_path):
    from minivae.run.plots.explorer import explorer_section

    class NotDense:
        latent_dim, input_dim, activation = 2, 64, "relu"
        params = {"conv0.W": np.zeros((1, 1)), "conv0.b": np.zeros(1)}

    assert explorer_spec(NotDense(), np.zeros((10, 2)), None, SHAPE) is None
    assert "Not available for this model" in explorer_section(NotDense(), np.zeros((10, 2)),
                                                              None, SHAPE)
