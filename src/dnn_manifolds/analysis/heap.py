"""Freed memory kept for reuse while an analysis runs (glibc only; private).

At the paper's largest manifolds each object's temporaries are tens to hundreds of MB (its
centred points, Gram matrix, frame and anchor problems). glibc's ``malloc`` maps every block
above its mmap threshold (at most 32 MiB) afresh and unmaps it when it is freed, so every
object pays the page faults of all its temporaries again: each fault zeroes a page, and on a
virtual machine that hands freed memory back to its host the host must back it again, which
costs far more (``docs/geometry.md#geometry-performance``: on the project's 2-vCPU virtual
machine the 2-d geometry at M = 3201 took 284 s with glibc's defaults and 217 s with this).

:func:`reused_heap` serves every allocation from the heap (``M_MMAP_MAX = 0``) and does not
trim it (``M_TRIM_THRESHOLD = -1``) while it runs, so a freed block is handed out
again without new page faults; on exit it sets glibc's thresholds to the values its own
dynamic adjustment reaches in a process that has freed large blocks (mmap above 32 MiB, trim
above 64 MiB: a numpy process's usual state) and returns the free memory to the system
(``malloc_trim(0)``). The values computed are unchanged (only where
the memory comes from changes). Peak memory is the peak of what is alive at once, as before,
plus whatever the heap's fragmentation leaves unused (there: 3 972 MiB against 4 024 MiB).

glibc's settings are per process: while a block runs, other threads' allocations are served
the same way. Setting the thresholds ends glibc's dynamic adjustment of them for the rest of
the process (they stay at those values; glibc offers no way to read them, so the values from
before cannot be put back exactly). A program that sets glibc's malloc options itself with
``mallopt`` has them replaced. Nothing is changed with another C library (macOS, Windows,
musl), in a process whose ``malloc`` is not glibc's (a preloaded jemalloc or tcmalloc), or when
the environment sets those options (``MALLOC_MMAP_MAX_``, ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_``, ``MALLOC_TOP_PAD_``, or their ``glibc.malloc.*`` tunables in
``GLIBC_TUNABLES``). Blocks too large for the heap's own growth (in a thread's
arena: above 64 MiB) are still mapped by glibc, as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import sys
import threading

__all__ = ["reused_heap"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_MMAP_MAX = -4
_AFTER_MMAP_THRESHOLD = 32 * 2**20  # glibc's dynamic maximum on 64-bit systems
_AFTER_TRIM_THRESHOLD = 2 * _AFTER_MMAP_THRESHOLD  # what its dynamic rule pairs with it
_DEFAULT_MMAP_MAX = 65536
_NO_TRIM = -1  # M_TRIM_THRESHOLD = -1: no trimming at all (mallopt(3))

_lock = threading.Lock()
_depth = 0


_SETTINGS = ("mmap_max", "mmap_threshold", "trim_threshold", "top_pad")
"""glibc's malloc settings this module changes or depends on."""


def _user_configured() -> bool:
    """Whether the environment sets those settings itself (then they are left alone)."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if any(f"glibc.malloc.{name}=" in tunables for name in _SETTINGS):
        return True
    return any(f"MALLOC_{name.upper()}_" in os.environ for name in _SETTINGS)


@functools.lru_cache(maxsize=1)
def _glibc():
    """The process's glibc (``mallopt``, ``malloc_trim``) when its ``malloc`` is glibc's and
    the environment does not configure it, else None."""
    if not sys.platform.startswith("linux") or _user_configured():
        return None
    try:
        process = ctypes.CDLL(None)  # the symbols the process resolves (a preload first)
        libc = ctypes.CDLL("libc.so.6")
    except (OSError, TypeError):  # pragma: no cover - no dynamic symbols, or not glibc
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    # a preloaded allocator (jemalloc, tcmalloc) replaces malloc: glibc's settings then do nothing
    if ctypes.cast(process.malloc, ctypes.c_void_p).value != ctypes.cast(libc.malloc, ctypes.c_void_p).value:
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def available() -> bool:
    """Whether :func:`reused_heap` changes anything in this process (glibc found)."""
    return _glibc() is not None


@contextlib.contextmanager
def reused_heap(enabled: bool = True):
    """Keep freed memory in the process while the block runs (module docstring).

    Nested and concurrent uses are counted: the thresholds are set back when the last one ends.
    ``enabled=False`` (or a C library other than glibc) leaves everything as it is.
    """
    global _depth
    lib = _glibc() if enabled else None
    if lib is None:
        yield
        return
    entered = False
    try:
        with _lock:
            _depth += 1
            entered = True
            if _depth == 1:
                lib.mallopt(_M_MMAP_MAX, 0)
                lib.mallopt(_M_TRIM_THRESHOLD, _NO_TRIM)
        yield
    finally:
        if entered:
            with _lock:
                _depth -= 1
                if _depth == 0:
                    lib.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                    lib.mallopt(_M_MMAP_THRESHOLD, _AFTER_MMAP_THRESHOLD)
                    lib.mallopt(_M_TRIM_THRESHOLD, _AFTER_TRIM_THRESHOLD)
                    lib.malloc_trim(0)
