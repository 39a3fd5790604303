"""Process tuning for the training loop: one BLAS thread, no page faults on temporaries, and
no slow path for subnormal numbers.

On a 2-core machine a second OpenBLAS thread competes with the UI thread (and with the other
trainer in compare mode) and the step gets several times slower. Environment variables only
work before numpy is imported, so this also asks the loaded OpenBLAS library directly.

The C runtime's floating-point environment is reached through `fegetenv`/`fesetenv` and the
layout of glibc's `fenv_t`: all of that lives in `_fenv` and the two functions that use it.
`flush_subnormals` checks its own effect and undoes it if the effect is not there
(`tests/test_blas.py` fails loudly then).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
from collections.abc import Iterator
from typing import Any

_SETTERS = (
    "openblas_set_num_threads",
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
)


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux only)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if os.path.isfile(p))


def pin_blas_threads(n: int = 1) -> int:
    """Set every loaded OpenBLAS to `n` threads; return how many libraries were set."""
    import numpy  # noqa: F401  (make sure numpy's BLAS is loaded before looking for it)

    done = 0
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in _SETTERS:
            setter = getattr(lib, name, None)
            if setter is not None:
                setter(ctypes.c_int(n))
                done += 1
                break
    return done


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def keep_freed_memory(mmap_threshold: int = 32 << 20, trim_threshold: int = 64 << 20) -> bool:
    """Ask glibc to serve arrays below `mmap_threshold` bytes from the heap and keep freed
    memory instead of returning it to the system.

    A training step allocates a few MiB of temporaries; by default glibc maps each large one
    fresh and unmaps it on free, so every step pays about a thousand page faults (a quarter to
    a third of the step here). With these thresholds the same memory is reused step after step.
    Memory stays flat: the heap grows to one step's working set and no further. Call it only in
    a process that trains (the worker, headless mode): in the UI process, which allocates many
    small objects of changing sizes, never trimming the heap lets resident memory creep up.
    Returns whether the settings took effect (False off glibc)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(mmap_threshold))
    return bool(ok and mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(trim_threshold)))


# Where glibc's fenv_t keeps the register that flushes subnormals, and the bits to set there:
# x86-64: MXCSR, a 32-bit word at byte 28 of the 32-byte fenv_t; FTZ (bit 15) flushes
# subnormal results to zero, DAZ (bit 6) reads subnormal operands as zero.
# AArch64: FPCR, the first 32-bit word of fenv_t {fpcr, fpsr}; FZ (bit 24) does both.
_FLUSH_BITS = {"x86_64": (28, 0x8040), "aarch64": (0, 1 << 24)}
_FENV_BYTES = 64  # room for either fenv_t (32 and 8 bytes), and then some


def subnormals_flushed() -> bool:
    """Whether this thread's arithmetic flushes subnormals, both ways: a product of normal
    float32 numbers that would be subnormal (1e-30 * 1e-10) comes out 0, and a subnormal
    operand (1e-40) is read as 0."""
    import numpy as np

    f = np.float32
    return bool(f(1e-30) * f(1e-10) == 0 and f(1e-40) * f(1e10) == 0)


def flush_subnormals() -> bool:
    """Make this thread's arithmetic treat numbers below the smallest normal (float32 1.2e-38,
    float64 2.2e-308) as zero; return whether it took effect (False off Linux x86-64/AArch64).

    A gradient that vanishes on its way back through time passes through the subnormal range,
    and on x86 cores like this machine's an operation with a subnormal operand or result takes
    a slow path. Measured here, an RNN at H=512, B=32 took 60-120 ms a step instead of 23 ms
    for its first ~80 steps, almost all of it inside the BLAS kernel. Flushed, those values
    become 0. The losses do not change in any digit shown (a 40-step float32 run at H=512
    ended on the same loss, to every digit); the gradient profile, whose squared norms are
    float32, reads 0 for a norm below ~1e-19 instead of below ~4e-23. The setting belongs to
    the calling thread (and the threads it starts later): call it in the thread that trains,
    or use `subnormals_flushed_while`, which puts the environment back afterwards."""
    fenv = _fenv()
    if fenv is None:
        return False
    get, put, offset, bits = fenv
    env = ctypes.create_string_buffer(_FENV_BYTES)
    if get(env) != 0:
        return False
    saved = env.raw
    word = ctypes.c_uint32.from_buffer(env, offset)
    word.value |= bits
    if put(env) != 0:
        return False
    if subnormals_flushed():
        return True
    put(ctypes.create_string_buffer(saved, _FENV_BYTES))  # not what this layout promised: undo
    return False


@contextlib.contextmanager
def subnormals_flushed_while() -> Iterator[bool]:
    """`flush_subnormals` for the body of a `with` block (as which it gives whether it took
    effect), then this thread's floating-point environment as it was: a caller in a process
    that goes on afterwards (headless mode called in-process, as the tests do) leaves it
    unchanged."""
    fenv = _fenv()
    saved = ctypes.create_string_buffer(_FENV_BYTES)
    if fenv is None or fenv[0](saved) != 0:
        yield False
        return
    try:
        yield flush_subnormals()
    finally:
        fenv[1](saved)


def _fenv() -> tuple[Any, Any, int, int] | None:
    """(fegetenv, fesetenv, byte offset, bits) of the register that flushes subnormals on this
    platform (`_FLUSH_BITS`), or None where that is not known."""
    machine = platform.machine().lower()
    where = _FLUSH_BITS.get("x86_64" if machine == "amd64" else machine)
    if where is None or platform.system() != "Linux":
        return None
    try:  # libm is in the process already (Python needs it); find_library would run ldconfig
        libm = ctypes.CDLL(None)
        return libm.fegetenv, libm.fesetenv, *where
    except (OSError, AttributeError):
        return None
