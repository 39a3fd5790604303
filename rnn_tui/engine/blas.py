"""Process tuning for the training loop: one BLAS thread, and no page faults on temporaries.

On a 2-core machine a second OpenBLAS thread competes with the UI thread (and with the other
trainer in compare mode) and the step gets several times slower. Environment variables only
work before numpy is imported, so this also asks the loaded OpenBLAS library directly.
"""

from __future__ import annotations

import ctypes
import os

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
