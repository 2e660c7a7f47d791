"""Images in the two shapes and ranges learners bring from PyTorch get a hint that fits:
channel-first (N, C, H, W) arrays are told to transpose, floats in [-1, 1] (Normalize(0.5,
0.5)) to map back with (x + 1) / 2, floats in 0..255 to divide by 255, floats a little above
1 to clip or rescale them."""

import numpy as np
import pytest

from minivae.data import BatchIterator, DataError, load_dataset


@pytest.mark.parametrize("shape", [(6, 3, 16, 16), (6, 1, 28, 28)])
def test_channel_first_images_are_told_to_transpose(tmp_path, shape):
    path = tmp_path / "faces.npy"
    np.save(path, np.zeros(shape, dtype=np.uint8))
    with pytest.raises(DataError, match=r"channel-first.*x\.transpose\(0, 2, 3, 1\)"):
        load_dataset(str(path), "train")


@pytest.mark.parametrize("lo, hi, hint", [
    (-1.0, 1.0, r"normalised to \[-1, 1\].*\(x \+ 1\) / 2"),
    (-0.5, 0.8, r"normalised to \[-1, 1\]"),
    (0.0, 255.0, "divide them by 255"),
    (0.0, 2.5, "divide them by 255"),
    (0.0, 1.5, r"Bring them into \[0, 1\]: np\.clip\(x, 0, 1\)"),
    (0.0, 2.0, r"Bring them into \[0, 1\]"),
    (-3.0, 7.0, "Rescale them into"),
])
def test_float_images_out_of_range_get_the_hint_for_their_range(tmp_path, lo, hi, hint):
    images = np.linspace(lo, hi, 6 * 64, dtype=np.float32).reshape(6, 8, 8)
    np.save(tmp_path / "x.npy", images)
    with pytest.raises(DataError, match=hint) as e:
        load_dataset(str(tmp_path / "x.npy"), "train")
    if lo < 0 or hi <= 2:              # not 0..255 pixel values: no word of dividing by 255
        assert "255" not in str(e.value)
    with pytest.raises(DataError, match=hint):        # the Python API's iterator says the same
        BatchIterator(images, 2)
