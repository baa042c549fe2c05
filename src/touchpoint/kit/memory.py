"""The process's memory: its startup heap kept out of the garbage collector's way, and freed memory handed
back to the operating system."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable

_heap_settled = False


def settle_heap() -> None:
    """Once per process, when the app has started: collect, then move every object alive now (modules, the
    app, table metadata: 130,000 to 180,000) out of the garbage collector's reach. A full collection
    otherwise walks them all (66 to 118 ms here) while requests wait and the dispatcher's pacer misses send
    slots; frozen, it takes a few ms. Called by the app's start-up and by the dispatcher's first run. Objects
    alive at startup live as long as the process anyway. (Python's thresholds stay: with the young one at
    5,000 instead of 700, bench/ingest.py --lag saw as much collection time in all, in pauses of 8 ms
    instead of 0.4 ms for the young generation and 27 instead of 9 ms for the middle one.)"""
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


class MemoryKeeper:
    """Hands memory the process has freed back to the operating system after a burst of allocations.

    glibc's malloc keeps freed memory for reuse: after a model training (the fit's arrays), loading an
    understanding model (onnxruntime's graph optimisation, weights parsed then copied) or a flood of requests,
    the process stays at its high-water mark although most of it is free, and every thread that allocated
    (the training thread, the threads that load models) keeps an arena of its own. `malloc_trim(0)` returns
    the free pages of every arena. Measured on the demo after its model trained and answered: see
    docs/benchmarks.md, "Startup". It is called, in a worker thread, when resident memory has grown by
    GROWTH_BYTES since the last trim (checked every CHECK_SECONDS with one read of /proc/self/statm) and
    after each training. Linux with glibc only; elsewhere it does nothing."""

    CHECK_SECONDS = 2.0
    GROWTH_BYTES = 32 * 1024 * 1024

    def __init__(self) -> None:
        self._trim = _malloc_trim()
        self._page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
        self._after_trim = self.resident()
        self.trims = 0

    @property
    def available(self) -> bool:
        return self._trim is not None and self._after_trim is not None

    def resident(self) -> int | None:
        try:
            with open("/proc/self/statm", encoding="ascii") as statm:
                return int(statm.read().split()[1]) * self._page
        except (OSError, ValueError, IndexError):
            return None

    async def check(self, force: bool = False) -> bool:
        """Trim if memory grew by GROWTH_BYTES since the last trim (or `force`); True when it trimmed."""
        if self._trim is None:
            return False
        now = self.resident()
        if now is None or self._after_trim is None:
            return False
        if not force and now - self._after_trim < self.GROWTH_BYTES:
            self._after_trim = min(self._after_trim, now)  # freed without a trim: grow from the new low
            return False
        await asyncio.to_thread(self._trim, 0)
        self.trims += 1
        self._after_trim = self.resident() or now
        return True


def _malloc_trim() -> Callable[[int], int] | None:
    if not os.path.exists("/proc/self/statm"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to call
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]
