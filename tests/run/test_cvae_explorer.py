"""A conditional VAE's latent explorer and class grid: the page decodes [z, one-hot y] with the
class its selector holds, as model.decode(z, y) does (headless Chromium, as test_explorer.py)."""

import numpy as np

from minivae import CVAE, Adam
from minivae.run import plots
from minivae.run.plots.explorer import dense_decoder, explorer_spec, forward

from conftest import make_tiny
from test_explorer import open_report, page  # noqa: F401  (the browser fixture)

SHAPE = (8, 8)


def trained_cvae(tmp_path, n=120):
    data = np.load(make_tiny(tmp_path / "tiny.npz", n_train=256, n_test=n))
    model = CVAE(input_dim=64, hidden_dims=(32,), latent_dim=2, num_classes=4, seed=0)
    x, y = data["x_train"].reshape(-1, 64) / 255.0, data["y_train"]
    opt = Adam(model.params, lr=3e-3)
    for i in range(0, len(x), 32):
        model.loss_and_grads(x[i:i + 32], y[i:i + 32])
        opt.step(model.grads)
    return model, data["x_test"].reshape(n, 64) / 255.0, data["y_test"]


def test_forward_reads_z_and_the_label():
    model = CVAE(input_dim=30, hidden_dims=(12,), latent_dim=3, num_classes=5, dtype="float64",
                 seed=4)
    z, y = np.random.default_rng(0).normal(size=(6, 3)), np.arange(6) % 5
    layers = dense_decoder(model)
    assert layers[0][0].shape == (3 + 5, 12)
    np.testing.assert_allclose(forward(layers, z, "relu", "sigmoid", y, 5), model.decode(z, y),
                               rtol=1e-12)


def test_the_class_grid_and_the_selector(page, tmp_path):  # noqa: F811
    model, test_x, test_y = trained_cvae(tmp_path)
    out = plots.make_all_figures(model, test_x, test_y, [], tmp_path / "run", SHAPE,
                                 {"model": "cvae"})
    assert "class_grid" in out and "samples" not in out
    spec = explorer_spec(model, np.asarray(model.encode(test_x, test_y)[0]), test_y, SHAPE)
    assert spec["num_classes"] == 4
    open_report(page, out["report"])
    assert page.locator("#explorer-class option").count() == 4
    z = np.random.default_rng(5).normal(0, 1.5, (3, 2))
    for y in range(4):                                    # decode(z, y) in the page, each class
        got = np.array([page.evaluate("([z, y]) => minivaeExplorer.decode(z, y)",
                                      [row.tolist(), y]) for row in z])
        want = np.asarray(model.decode(z.astype(np.float32), np.full(3, y)), dtype=np.float64)
        np.testing.assert_allclose(got, want, atol=2e-6)
    before = np.array(page.evaluate("minivaeExplorer.image()"))
    page.select_option("#explorer-class", "3")             # the same z, another class
    assert page.evaluate("minivaeExplorer.klass()") == 3
    zz = np.array(page.evaluate("minivaeExplorer.z()"))
    after = np.array(page.evaluate("minivaeExplorer.image()"))
    want = np.asarray(model.decode(zz[None].astype(np.float32), [3]))[0]
    np.testing.assert_allclose(after, want, atol=2e-6)
    assert not np.allclose(before, after)
    assert page.locator("#explorer-z").inner_text().endswith("y = 3")
