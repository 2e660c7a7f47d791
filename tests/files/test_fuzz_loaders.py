"""Fuzzing every loader with hypothesis: random and mutated bytes are refused cleanly.

For each kind of file minivae reads (IDX, .npy, .npz, checkpoints and their
metadata, TOML configs) the property is the same: whatever the bytes, the
loader either returns a valid result or raises its own error (a ValueError
subclass with a message naming the file). Never another exception (a
traceback for the user), never code run from the file (a pickle that would
create a sentinel file is among the inputs), and never an allocation past a
stated cap (tracemalloc measures the peak; NumPy reports its arrays to it).

    MINIVAE_FUZZ_EXAMPLES=N   examples per test (default 100)
    MINIVAE_FUZZ_TALLY=FILE   write the outcomes per class (a JSON object) to FILE
"""

import collections
import gzip
import io
import json
import os
import pickle
import tempfile
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minivae.run import train
from minivae.run.config import read_config_file
from minivae.data import DataError, read_idx
from minivae.data.custom import load_array_file
from minivae.run.rundir import RunError
from minivae.run.runs import load_model
from minivae.files.serialize import CheckpointError, load_npz, save_npz

from conftest import make_tiny

EXAMPLES = int(os.environ.get("MINIVAE_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CAP = 1 << 20                      # the stated cap of every loader here: 1 MiB of arrays
SLACK = 3 << 20                    # what a loader may use beside that (gzip buffers, copies)
TALLY = collections.Counter()
WORK = tempfile.mkdtemp(prefix="minivae-fuzz-")
SENTINEL = os.path.join(WORK, "pickle-ran")


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    path = os.environ.get("MINIVAE_FUZZ_TALLY")
    if path:
        counts = collections.defaultdict(dict)
        for (kind, outcome), n in sorted(TALLY.items()):
            counts[kind][outcome] = n
        with open(path, "w") as f:
            json.dump(counts, f, indent=1)


def check(kind, fn, allowed, slack=SLACK):
    """Run fn() under tracemalloc; only ``allowed`` errors, bounded memory, no pickle run."""
    tracemalloc.start()
    try:
        fn()
        outcome = "loaded"
    except allowed as e:
        outcome = f"refused: {type(e).__name__}"
        assert str(e), "an error without a message"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    TALLY[(kind, outcome)] += 1
    assert peak < CAP + slack, f"{kind}: {peak:,} bytes allocated"
    assert not os.path.exists(SENTINEL), "a pickle in the file was run"


def write(name, data: bytes) -> str:
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


class RunsCode:
    """Unpickling this creates SENTINEL: a file that can run code."""

    def __reduce__(self):
        return (open, (SENTINEL, "w"))


def _npy(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


rng = np.random.default_rng(0)
IMAGES = rng.integers(0, 256, (12, 6, 6), dtype=np.uint8)
PICKLED = _npy(np.array([RunsCode()], dtype=object), allow_pickle=True)
SEEDS = {
    "idx": [IMAGES.tobytes(), b"\x00\x00\x08\x03" + b"".join(n.to_bytes(4, "big")
                                                             for n in IMAGES.shape) + IMAGES.tobytes()],
    "npy": [_npy(IMAGES), _npy(IMAGES.astype(np.float32) / 255), PICKLED],
    "npz": [_npz(x=IMAGES), _npz(x_train=IMAGES, x_test=IMAGES[:3], y_train=np.arange(12)),
            _npz(x=np.zeros((4000, 16, 16), dtype=np.uint8))],     # 1 MiB inflated: the cap
}


@st.composite
def mutated(draw, seeds):
    """A seed file with bytes flipped, inserted, deleted, or cut off; or random bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=4096))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "cut"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[i] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, ord("9"), ord(",")]))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[i:i + draw(st.integers(1, 16))]
        else:
            del data[i:]
    return bytes(data)


# -- IDX ------------------------------------------------------------------------------

@st.composite
def idx_files(draw):
    """Mutated IDX files, or valid headers declaring arbitrary (huge) shapes; maybe gzipped."""
    if draw(st.booleans()):
        data = draw(mutated(SEEDS["idx"]))
    else:
        dims = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4))
        code = draw(st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF]))
        data = bytes([0, 0, code, len(dims)]) + b"".join(n.to_bytes(4, "big") for n in dims)
        data += draw(st.binary(max_size=512))
    return gzip.compress(data, mtime=0) if draw(st.booleans()) else data


@FUZZ
@given(idx_files())
def test_fuzz_idx(data):
    path = write("fuzz.idx", data)
    check("idx", lambda: read_idx(path, max_bytes=CAP), DataError)


def test_fuzz_idx_gzip_bomb_stays_under_the_cap():
    path = write("bomb.idx.gz", gzip.compress(bytes(64 << 20), compresslevel=1, mtime=0))
    check("idx", lambda: read_idx(path, max_bytes=CAP), DataError)
    assert TALLY[("idx", "refused: IDXError")] >= 1


# -- .npy and .npz datasets -------------------------------------------------------------

@st.composite
def npy_files(draw):
    """Mutated .npy files, or a valid header whose shape or dtype text is replaced."""
    if draw(st.booleans()):
        return draw(mutated(SEEDS["npy"]))
    shape = draw(st.lists(st.integers(0, 10**12), max_size=4).map(tuple))
    descr = draw(st.sampled_from(["|u1", "<f4", "<f8", "|O", "|b1", "<i8", "<U3", "V8", "zz"]))
    header = repr({"descr": descr, "fortran_order": draw(st.booleans()), "shape": shape})
    header = header.encode() + b"\n"
    return (b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
            + draw(st.binary(max_size=1024)))


def check_dataset(kind, data):
    """Both splits of ``data`` written as a .npy or .npz file (``kind``)."""
    path = write(f"fuzz.{kind}", data)
    check(kind, lambda: [load_array_file(path, split, max_bytes=CAP)
                         for split in ("train", "test")], DataError)


@FUZZ
@given(npy_files())
def test_fuzz_npy(data):
    check_dataset("npy", data)


@st.composite
def npz_files(draw):
    """Mutated .npz files, or zips holding mutated (or pickled) .npy members."""
    if draw(st.booleans()):
        return draw(mutated(SEEDS["npz"]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", draw(st.sampled_from([zipfile.ZIP_STORED,
                                                         zipfile.ZIP_DEFLATED]))) as z:
        for name in draw(st.lists(st.sampled_from(["x", "x_train", "x_test", "y", "y_train",
                                                   "images", "other"]), max_size=3,
                                  unique=True)):
            z.writestr(name + draw(st.sampled_from([".npy", ".npy", ".txt"])),
                       draw(mutated(SEEDS["npy"])))
    return buf.getvalue()


@FUZZ
@given(npz_files())
def test_fuzz_npz(data):
    check_dataset("npz", data)


def test_a_pickle_in_a_dataset_never_runs():
    for name, data in (("p.npy", PICKLED), ("p.npz", _zip({"x.npy": PICKLED}))):
        check("npy" if name.endswith("npy") else "npz",
              lambda: load_array_file(write(name, data), max_bytes=CAP), DataError)
    assert not os.path.exists(SENTINEL)


def _zip(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


# -- checkpoints ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def checkpoint():
    """A tiny finished run: (its directory, the checkpoint's bytes, metrics.csv's text)."""
    data = make_tiny(os.path.join(WORK, "tiny.npz"), n_train=64, n_test=16)
    out = os.path.join(WORK, "run")
    assert train.main(["--dataset", data, "--hidden", "8", "--latent-dim", "2", "--epochs", "1",
                       "--batch-size", "32", "--device", "cpu", "--no-plots", "--quiet",
                       "--out", out]) == 0
    ckpt = os.path.join(out, "checkpoint.npz")
    with open(ckpt, "rb") as f, open(os.path.join(out, "metrics.csv")) as m:
        return out, f.read(), m.read()


def test_fuzz_checkpoint_bytes(checkpoint):
    _, good, _ = checkpoint

    @FUZZ
    @given(mutated([good, _zip({"__meta__.npy": PICKLED})]))
    def fuzz(data):
        path = write("fuzz-ckpt.npz", data)
        check("checkpoint bytes", lambda: load_model(path), (CheckpointError, RunError))

    fuzz()


def test_a_checkpoint_bomb_stays_under_the_cap(monkeypatch):
    path = write("bomb-ckpt.npz", _npz(**{"param/enc0.W": np.zeros((4096, 4096), np.float32)}))
    monkeypatch.setenv("MINIVAE_MAX_DATA_BYTES", str(CAP))    # 64 MiB inflated, 1 MiB allowed
    check("checkpoint bytes", lambda: load_model(path), CheckpointError)
    with pytest.raises(CheckpointError, match="more than the limit of 1,048,576 bytes"):
        load_model(path)


def json_values():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                        st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=12), st.sampled_from(["vae", "ae", "relu", "Adam",
                                                               "float64", "gaussian"]))
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=8),
                                                                         inner, max_size=4)),
                        max_leaves=12)


def _paths(meta, prefix=()):
    """Every key path of a nested dict: ("config", "latent_dim"), ("epoch",), ..."""
    for key, value in meta.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _paths(value, prefix + (key,))


def test_fuzz_checkpoint_metadata(checkpoint):
    """One field replaced (or removed) at a time, as a hand-edit would: then --resume,
    evaluate and sample. Never a traceback, and metrics.csv never loses a row."""
    out, good, metrics = checkpoint
    arrays, meta = load_npz(os.path.join(out, "checkpoint.npz"))
    paths = sorted(_paths(meta))

    @settings(FUZZ, max_examples=max(EXAMPLES // 2, 10))   # three commands per example
    @given(st.sampled_from(paths), st.one_of(json_values(), st.just("<removed>")))
    def fuzz(key_path, value):
        edited = json.loads(json.dumps(meta))
        parent = edited
        for key in key_path[:-1]:
            parent = parent[key]
        if value == "<removed>":
            del parent[key_path[-1]]
        else:
            parent[key_path[-1]] = value
        try:
            save_npz(os.path.join(out, "checkpoint.npz"), arrays, edited)
        except (ValueError, OverflowError):    # not even JSON (NaN is, as a NumPy extension)
            return
        field = ".".join(map(str, key_path))

        def resume_then_tools():
            with pytest.MonkeyPatch.context() as mp:
                mp.setattr("sys.stderr", io.StringIO())
                mp.setattr("sys.stdout", io.StringIO())
                codes = [train.main(["--resume", out, "--quiet"]),
                         __import__("minivae.evaluate").evaluate.main([out, "--device", "cpu"]),
                         __import__("minivae.sample").sample.main(
                             [out, "--device", "cpu", "--out", os.path.join(WORK, "g.png")])]
                err = __import__("sys").stderr.getvalue()
            assert "Traceback" not in err, (field, err)
            assert all(c in (0, 1) for c in codes), (field, codes, err)
            if any(codes):
                raise CheckpointError(err)            # counted as refused
        # Three whole commands (data, model, a figure): more memory than a loader alone,
        # yet far below what a hand-edited size (input_dim = 10**12) would allocate.
        check("checkpoint metadata", resume_then_tools, CheckpointError, slack=64 << 20)
        with open(os.path.join(out, "metrics.csv")) as f:
            assert f.read() == metrics, f"{field} = {value!r} changed metrics.csv"

    try:
        fuzz()
    finally:
        save_npz(os.path.join(out, "checkpoint.npz"), arrays, meta)


def test_the_campaigns_metadata_cases(checkpoint):
    """epoch = -5 once deleted metrics.csv's history; a few more that gave tracebacks."""
    out, good, metrics = checkpoint
    arrays, meta = load_npz(os.path.join(out, "checkpoint.npz"))
    cases = [("epoch", -5), ("epoch", 1.5), ("config.input_dim", 10**12),
             ("config.hidden_dims", "400"), ("config.model", "gan"), ("data", None),
             ("optimizer.t", "many"), ("image_shape", [0, 0]), ("config.dtype", "int8"),
             ("train_config.lr", -1), ("config.gaussian_std", float("nan"))]
    try:
        for field, value in cases:
            edited = json.loads(json.dumps(meta))
            *parents, last = field.split(".")
            target = edited
            for key in parents:
                target = target[key]
            target[last] = value
            save_npz(os.path.join(out, "checkpoint.npz"), arrays, edited)
            with pytest.raises(CheckpointError, match="metadata"):
                load_model(out)
            assert train.main(["--resume", out, "--quiet"]) == 1
            with open(os.path.join(out, "metrics.csv")) as f:
                assert f.read() == metrics, field
    finally:
        save_npz(os.path.join(out, "checkpoint.npz"), arrays, meta)


# -- TOML configs ------------------------------------------------------------------------------

GOOD_TOML = """epochs = 3
hidden = [64, 32]
latent_dim = 4
lr = 0.001
likelihood = "gaussian"
binarize = true
dataset = "mnist"
"""
TOML_VALUES = st.sampled_from(['1', '-1', '0', '1e400', 'nan', 'inf', '"x"', '""', 'true',
                               '[1, 2]', '[]', '[[1]]', '{a = 1}', '1979-05-27', '"a,b"',
                               '99999999999999999999', '2.5', '"64,32"', '[1, "a"]'])


@st.composite
def toml_files(draw):
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.text(max_size=300)).encode("utf-8", "surrogatepass")
    if kind == 1:
        return draw(mutated([GOOD_TOML.encode()]))
    keys = draw(st.lists(st.sampled_from(["epochs", "hidden", "latent_dim", "lr", "likelihood",
                                          "binarize", "dataset", "data_dir", "seed", "beta",
                                          "device", "out", "dtype", "unknown", "gaussian_std"]),
                         max_size=5, unique=True))
    return "\n".join(f"{k} = {draw(TOML_VALUES)}" for k in keys).encode()


@FUZZ
@given(toml_files())
def test_fuzz_toml_config(data):
    path = write("fuzz.toml", data)
    check("toml config", lambda: read_config_file(path), ValueError)


def test_nothing_was_unpickled_anywhere():
    assert not os.path.exists(SENTINEL)
    assert pickle.loads(pickle.dumps(1)) == 1     # the sentinel mechanism itself works:
    pickle.loads(pickle.dumps(RunsCode())).close()
    assert os.path.exists(SENTINEL)
    os.remove(SENTINEL)
