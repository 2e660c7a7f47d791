"""BatchIterator(labels=...): each batch is (x, y), the labels of exactly x's rows."""

import numpy as np
import pytest

from minivae import BatchIterator


@pytest.mark.parametrize("shuffle, binarize", [(True, False), (False, False), (True, True)])
def test_each_batch_carries_the_labels_of_its_rows(shuffle, binarize):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (50, 4, 4), dtype=np.uint8)
    labels = np.arange(50)                                 # label i for image i: traceable
    it = BatchIterator(images, 16, seed=3, shuffle=shuffle, binarize=binarize, labels=labels,
                       threads=None)
    plain = BatchIterator(images, 16, seed=3, shuffle=shuffle, binarize=binarize, threads=None)
    seen = []
    for (x, y), x_alone in zip(it, plain):
        assert x.shape == (len(y), 16)
        np.testing.assert_array_equal(x, x_alone)          # the same batches as without labels
        if not binarize:
            np.testing.assert_array_equal(x, (images[y].reshape(len(y), 16) / np.float32(255)))
        seen.extend(y.tolist())
    assert sorted(seen) == list(range(50))


def test_labels_must_be_one_per_image():
    with pytest.raises(ValueError, match=r"labels must be \(N,\) = \(10,\), one per image"):
        BatchIterator(np.zeros((10, 4, 4), np.uint8), 4, labels=np.arange(9))
