"""One BLAS thread for the per-message path.

numpy and scipy ship OpenBLAS, which splits even a 1 x 384 by 384 x 10,000 product over every core. On two cores
shared with the web server, the database and onnxruntime's own threads, that split waits for a busy core: measured
here under load, the same product took 0.3 ms at the median but 15 ms at p99 with two threads, 4.6 ms with one, and
the whole message path went from 64 ms to 16 ms at p99. A message is a handful of small products; parallelism
inside them buys nothing. The setting is process-wide (OpenBLAS has no per-call one), so training in the same
process then also uses one core for its matrix products — which keeps it from starving messages too.

TOUCHPOINT_NLU_BLAS_THREADS overrides the count; 0 leaves OpenBLAS alone. Linux only (the loaded libraries are
found in /proc/self/maps); elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading

log = logging.getLogger(__name__)

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads", "openblas_set_num_threads64_",
            "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads", "openblas_get_num_threads64_",
            "openblas_get_num_threads")
_lock = threading.Lock()
_applied = False


def _openblas_libraries() -> list[ctypes.CDLL]:
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return []
    paths = sorted({line.split()[-1] for line in lines
                    if "openblas" in line.lower() and line.split()[-1].startswith("/")})
    libraries = []
    for path in paths:
        try:
            libraries.append(ctypes.CDLL(path))  # already loaded: dlopen returns the same instance
        except OSError:
            continue
    return libraries


def _call_first(library: ctypes.CDLL, names: tuple[str, ...], *args: int) -> int | None:
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            return int(function(*(ctypes.c_int(a) for a in args)) or 0)
    return None


def set_blas_threads(count: int) -> int:
    """Set every loaded OpenBLAS to `count` threads; returns how many libraries were set."""
    done = 0
    for library in _openblas_libraries():
        if _call_first(library, _SETTERS, count) is not None:
            done += 1
    return done


def blas_threads() -> list[int]:
    """The thread count of every loaded OpenBLAS (for tests and diagnostics)."""
    counts = [_call_first(library, _GETTERS) for library in _openblas_libraries()]
    return [c for c in counts if c is not None]


def single_thread_blas_once() -> None:
    """Apply TOUCHPOINT_NLU_BLAS_THREADS (default 1) the first time an engine is made in this process."""
    global _applied
    with _lock:
        if _applied:
            return
        _applied = True
        wanted = int(os.environ.get("TOUCHPOINT_NLU_BLAS_THREADS", "1") or 0)
        if wanted > 0:
            done = set_blas_threads(wanted)
            log.info("OpenBLAS set to %d thread(s) in %d loaded librar(ies) for per-message latency", wanted, done)
