"""Keep BLAS to one thread.

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
