"""Fuzzing every loader with hypothesis: random and mutated bytes are refused cleanly.

For each kind of file minivae reads (IDX, .npy, .npz, checkpoints and their
metadata, TOML configs) the property is the same: whatever the bytes, the
loader either returns a valid result or raises its own error (a ValueError
subclass with a message naming the file). Never another exception (a
traceback for the user), never code run from the file (a pickle that would
create a sentinel file is among the inputs), and never an allocation past a
stated cap (tracemalloc measures the peak; NumPy reports its arrays to it).

The sizes an input asks for are fuzzed through whole commands: TOML configs and
command lines (hidden widths and lists, latent_dim, k, batch_size, conv
channels) and checkpoints whose metadata and arrays agree or not, then
load_model, sample -n and evaluate --iw: each runs or is refused with one
line, and never allocates past the memory budget (MINIVAE_MAX_DATA_BYTES).

    MINIVAE_FUZZ_EXAMPLES=N   examples per test (default 100; the sizes' tests N / 8)
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


# -- sizes: configs and checkpoints that ask for memory -------------------------------------
# The loaders above are held to a cap of their own; what a config, an option or a checkpoint's
# metadata with its arrays asks for is held to the one memory budget (minivae/files/budget.py).
# Each example runs whole commands under MINIVAE_MAX_DATA_BYTES = RUN_BUDGET, with tracemalloc
# measuring the peak: a refusal must come before the allocation, not after it.

RUN_BUDGET = 32 << 20              # the budget of the commands below: 32 MiB
RUN_SLACK = 24 << 20               # what a command allocates besides what it counts
SIZE_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 8, 6))   # whole commands: few
SIZES = st.one_of(st.integers(1, 64), st.integers(1, 64), st.sampled_from(   # bad values:
    [500, 2000, 20_000, 300_000, 10**6, 10**7, 10**9, 10**12, 2**63]))       # the TOML fuzz
WIDTHS = st.one_of(st.lists(SIZES, min_size=1, max_size=3), st.just([]),
                   st.sampled_from([[1] * 100, [1] * 10**4]))           # deep: 10**4 is refused


@pytest.fixture(scope="module")
def sizes_data():
    """tiny 8x8 images for the commands, and their modules imported (not counted per example)."""
    __import__("minivae.run.plots")
    __import__("minivae.evaluate")
    __import__("minivae.sample")
    return make_tiny(os.path.join(WORK, "sizes.npz"), n_train=64, n_test=16)


def run_command(kind, main, argv):
    """main(argv) under RUN_BUDGET: no traceback, exit 0, 1 or 2, and a bounded peak."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MINIVAE_MAX_DATA_BYTES", str(RUN_BUDGET))
        err = io.StringIO()
        mp.setattr("sys.stderr", err)
        mp.setattr("sys.stdout", io.StringIO())
        tracemalloc.start()
        try:
            try:
                status = main(argv)
            except SystemExit as e:                 # argparse: an option error
                status = e.code
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    text = err.getvalue()
    assert "Traceback" not in text, (argv, text)
    assert status in (0, 1, 2), (argv, status, text)
    outcome = {0: "ran", 2: "option error"}.get(status) or \
        ("refused: memory budget" if "memory budget" in text else "refused: other")
    TALLY[(kind, outcome)] += 1
    assert peak < RUN_BUDGET + RUN_SLACK, (argv, f"{peak:,} bytes allocated", text)
    return status, text


def _toml_value(value):
    return json.dumps(value) if not isinstance(value, str) else f'"{value}"'


@st.composite
def size_settings(draw):
    """A few of the settings that size a run, each maybe absurd."""
    settings_ = {"hidden": draw(WIDTHS), "latent_dim": draw(SIZES)}
    for key, values in (("decoder_hidden", WIDTHS), ("k", SIZES), ("batch_size", SIZES),
                        ("channels", st.lists(SIZES, min_size=1, max_size=2))):
        if draw(st.booleans()):
            settings_[key] = draw(values)
    if "channels" in settings_ or draw(st.integers(0, 4)) == 0:
        settings_["arch"] = "conv"
    if draw(st.integers(0, 3)) == 0:
        settings_["dtype"] = "float64"
    if settings_.get("k", 1) != 1 and draw(st.booleans()):
        settings_["objective"] = "iwae"
    return settings_


def _run_dir():
    return tempfile.mkdtemp(prefix="run-", dir=WORK)


@SIZE_FUZZ
@given(size_settings())
def test_fuzz_toml_sizes(sizes_data, settings_):
    path = write("sizes.toml", "\n".join(f"{k} = {_toml_value(v)}"
                                         for k, v in settings_.items()).encode())
    run_command("toml sizes", train.main,
                ["--config", path, "--dataset", sizes_data, "--epochs", "1", "--device", "cpu",
                 "--no-plots", "--quiet", "--threads", "1", "--out", os.path.join(_run_dir(),
                                                                                 "r")])


@SIZE_FUZZ
@given(size_settings())
def test_fuzz_command_line_sizes(sizes_data, settings_):
    argv = []
    for key, value in settings_.items():
        argv += [f"--{key.replace('_', '-')}",
                 ",".join(map(str, value)) if isinstance(value, list) else str(value)]
    run_command("command-line sizes", train.main,
                argv + ["--dataset", sizes_data, "--epochs", "1", "--device", "cpu",
                        "--no-plots", "--quiet", "--threads", "1",
                        "--out", os.path.join(_run_dir(), "r")])


def _dense_shapes(D, hidden, latent, decoder):
    """The param/ arrays a dense VAE of these sizes holds, in forward order."""
    shapes, widths = {}, [D, *hidden]
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        shapes.update({f"enc{i}.W": (a, b), f"enc{i}.b": (b,)})
    for head in ("mu", "logvar"):
        shapes.update({f"{head}.W": (widths[-1], latent), f"{head}.b": (latent,)})
    dims = [latent, *decoder]
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        shapes.update({f"dec{i}.W": (a, b), f"dec{i}.b": (b,)})
    shapes.update({"out.W": (dims[-1], D), "out.b": (D,)})
    return shapes


def _zeros_npz(path, shapes, meta, compressed):
    """param/ arrays of zeros (streamed: never held whole) and the metadata, as an .npz."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED,
                         compresslevel=1) as z:
        for name, shape in shapes.items():
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                          "shape": tuple(shape)})
            with z.open(f"param/{name}.npy", "w", force_zip64=True) as member:
                member.write(header.getvalue())
                left = 4 * int(np.prod(shape))
                while left:
                    member.write(bytes(min(left, 1 << 20)))
                    left -= min(left, 1 << 20)
        z.writestr("__meta__.npy", _npy(np.array(json.dumps(meta))))


SMALL_OR_HUGE = st.one_of(st.integers(1, 64), st.integers(1, 64), st.sampled_from(
    [500, 2000, 20_000, 100_000, 10**9]))


@st.composite
def sized_checkpoints(draw, training_meta):
    """(metadata, param shapes, compressed): a dense VAE's settings, and arrays that agree with
    them (as the campaign's 3.7 MB file did: at most 2 * 10**7 numbers to write here) or not.
    On 8x8 images, half of them are training checkpoints (``training_meta``'s other fields)."""
    D = draw(st.sampled_from([64, 64, 64, 2, 1000, 20_000]))
    hidden = draw(st.lists(SMALL_OR_HUGE, min_size=1, max_size=2))
    latent = draw(SMALL_OR_HUGE)
    decoder = draw(st.one_of(st.just(hidden[::-1]), st.lists(SMALL_OR_HUGE, min_size=1,
                                                             max_size=2)))
    config = {"model": "vae", "input_dim": D, "hidden_dims": hidden, "latent_dim": latent,
              "decoder_hidden_dims": decoder, "likelihood": "bernoulli", "activation": "relu",
              "gaussian_std": 1.0, "dtype": "float32", "seed": 0}
    meta = {"format": "minivae", "version": 1, "config": config}
    if D == 64 and draw(st.booleans()):
        meta = {**json.loads(json.dumps(training_meta)), "config": config}
    shapes = _dense_shapes(D, hidden, latent, decoder)
    if sum(int(np.prod(s)) for s in shapes.values()) > 2 * 10**7 or draw(st.integers(0, 5)) == 5:
        shapes = _dense_shapes(min(D, 64), [8], 2, [8])              # arrays that disagree
    return meta, shapes, draw(st.booleans())


def test_fuzz_checkpoint_sizes(sizes_data, checkpoint):
    """Metadata and arrays together: load_model, sample -n N and evaluate --iw K --batch-size
    B, each refused with a message or run, within the budget."""
    _, meta = load_npz(os.path.join(checkpoint[0], "checkpoint.npz"))

    @SIZE_FUZZ
    @given(sized_checkpoints(meta), st.sampled_from([1, 64, 10**4, 10**9]),
           st.sampled_from([None, 1, 100, 5000]), st.sampled_from([1, 100, 10**6]))
    def fuzz(checkpoint_, n, iw, batch):
        sized_checkpoint_commands(sizes_data, checkpoint_, n, iw, batch)

    fuzz()


def sized_checkpoint_commands(sizes_data, checkpoint_, n, iw, batch):
    meta, shapes, compressed = checkpoint_
    path = os.path.join(WORK, "sized.npz")
    _zeros_npz(path, shapes, meta, compressed)

    def load():
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MINIVAE_MAX_DATA_BYTES", str(RUN_BUDGET))
            load_model(path)
    check("checkpoint sizes", load, (CheckpointError, RunError), slack=RUN_BUDGET + RUN_SLACK)
    sample_main = __import__("minivae.sample").sample.main
    evaluate_main = __import__("minivae.evaluate").evaluate.main
    run_command("checkpoint sizes: sample", sample_main,
                [path, "-n", str(n), "--device", "cpu", "--threads", "1",
                 "--out", os.path.join(WORK, "sized.png")])
    run_command("checkpoint sizes: evaluate", evaluate_main,
                [path, "--device", "cpu", "--threads", "1", "--dataset", sizes_data,
                 "--batch-size", str(batch)] + (["--iw", str(iw)] if iw else []))
