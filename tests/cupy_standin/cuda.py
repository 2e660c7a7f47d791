"""cupy.cuda on the CPU: one device, one stream, events, memory pointers and pools.

Everything runs at once on the CPU, so every event has happened and every copy
has arrived when the call returns. What counts is which calls would make the
host wait for the GPU (stream.synchronize(), event.synchronize(),
Device.synchronize(), runtime.deviceSynchronize()): each is recorded as a wait.
The device claims compute capability 9.0 (an H100 or H200).
"""

from __future__ import annotations

import ctypes
import time
import types

from . import _names as names
from ._functions import not_modelled
from ._ledger import LEDGER

COMPUTE_CAPABILITY = "90"


class Device:
    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    compute_capability = property(lambda self: COMPUTE_CAPABILITY)
    mem_info = property(lambda self: (64 << 30, 80 << 30))

    def synchronize(self):
        LEDGER.record("wait", "Device.synchronize()")

    def use(self):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __int__(self):
        return self.id


class Stream:
    def __init__(self, null=False, non_blocking=False, ptr=None):
        self.ptr = 0 if null else 1

    def synchronize(self):
        LEDGER.record("wait", "Stream.synchronize()")

    done = property(lambda self: True)

    def use(self):
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


Stream.null = Stream(null=True)
_CURRENT = Stream.null


def get_current_stream(device_id=None):
    return _CURRENT


class Event:
    def __init__(self, block=False, disable_timing=False, interprocess=False):
        self._time = None

    def record(self, stream=None):
        self._time = time.perf_counter()

    done = property(lambda self: True)     # all queued work is already done on the CPU

    def synchronize(self):
        LEDGER.record("wait", "Event.synchronize()")


def get_elapsed_time(start, end):
    return 1e3 * (end._time - start._time)


class MemoryPointer:
    """``a.data``: the address of the values, and the copies CuPy makes from it."""

    def __init__(self, array):
        self._a = array
        self.ptr = array.ctypes.data
        self.device_id = 0
        self.device = Device(0)

    def copy_to_host_async(self, mem, size, stream=None):
        LEDGER.record("download", "copy_to_host_async")
        ctypes.memmove(mem, self.ptr, size)

    def copy_to_host(self, mem, size):
        LEDGER.record("wait", "copy_to_host")
        ctypes.memmove(mem, self.ptr, size)

    def copy_from_host_async(self, mem, size, stream=None):
        LEDGER.record("upload", "copy_from_host_async")
        ctypes.memmove(self.ptr, mem, size)

    def copy_from_host(self, mem, size):
        LEDGER.record("upload", "copy_from_host")
        ctypes.memmove(self.ptr, mem, size)


class MemoryPool:
    """CuPy's pool: what it holds cannot be measured on the CPU; it answers 0."""

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_bytes(self):
        return 0

    def free_all_blocks(self, stream=None):
        return None

    def set_limit(self, size=None, fraction=None):
        return None

    def get_limit(self):
        return 0

    def n_free_blocks(self):
        return 0


PinnedMemoryPool = MemoryPool


def is_available():
    return True


def get_device_id():
    return 0


# The device's memory as runtime.memGetInfo() reports it, (free, total): the tests set
# "free" to play a GPU other processes have filled.
MEMORY = {"free": 80 << 30, "total": 80 << 30}


class OutOfMemoryError(MemoryError):
    """cupy.cuda.memory.OutOfMemoryError, with CuPy's message."""

    def __init__(self, size, total, limit=0):
        self._size, self._total, self._limit = size, total, limit
        super().__init__(f"Out of memory allocating {size:,} bytes (allocated so far: "
                         f"{total:,} bytes).")


memory = types.SimpleNamespace(OutOfMemoryError=OutOfMemoryError, MemoryPool=MemoryPool)


class CUBLASError(RuntimeError):
    """cupy.cuda.cublas.CUBLASError (cupy_backends'), whose message is the status's name, e.g.
    "CUBLAS_STATUS_ALLOC_FAILED" when cuBLAS cannot allocate its workspace."""

    def __init__(self, status_name):
        super().__init__(status_name)


cublas = types.SimpleNamespace(CUBLASError=CUBLASError)

runtime = types.SimpleNamespace(
    memGetInfo=lambda: (MEMORY["free"], MEMORY["total"]),
    getDeviceCount=lambda: 1,
    getDevice=lambda: 0,
    runtimeGetVersion=lambda: 13000,
    driverGetVersion=lambda: 13000,
    deviceSynchronize=lambda: LEDGER.record("wait", "runtime.deviceSynchronize()"),
    getDeviceProperties=lambda device=0: {
        "name": b"CPU stand-in for CuPy", "totalGlobalMem": 80 << 30,
        "major": int(COMPUTE_CAPABILITY[0]), "minor": int(COMPUTE_CAPABILITY[1]),
        "multiProcessorCount": 132, "clockRate": 1_980_000},
    CUDARuntimeError=RuntimeError,
)

for _name in names.CUDA - set(globals()):
    globals()[_name] = not_modelled(_name, "cupy.cuda")
del _name
