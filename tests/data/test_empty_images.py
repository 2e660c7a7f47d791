"""Images without pixels, (N, H, 0) or (N, 0, W), are refused in one line that says so.

Before, float images of such a shape reached ``images.min()`` in the range
check and ended in NumPy's "zero-size array to reduction operation minimum"
traceback; uint8 ones reached the model, which named input_dim = 0.
"""

import numpy as np
import pytest

from minivae.data import DataError, load_dataset, to_unit_float
from minivae.run import train

SHAPES = [(5, 8, 0), (5, 0, 8), (5, 0, 0), (5, 8, 0, 3)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("shape", SHAPES)
def test_a_file_of_images_without_pixels_is_refused(tmp_path, shape, dtype):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros(shape, dtype))
    with pytest.raises(DataError, match=r"hold no pixels"):
        load_dataset(str(path), "train")


@pytest.mark.parametrize("shape", [(5, 8, 0), (5, 0)])
def test_to_unit_float_refuses_images_without_pixels(shape):
    with pytest.raises(DataError, match=r"hold no pixels"):
        to_unit_float(np.zeros(shape, np.float32), np)


def test_training_on_images_without_pixels_says_so_in_one_line(tmp_path, capsys):
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((20, 8, 0), np.float32))
    status = train.main(["--dataset", str(path), "--epochs", "1", "--hidden", "4",
                         "--latent-dim", "2", "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "(20, 8, 0)" in err and "hold no pixels" in err
