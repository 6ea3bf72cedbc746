"""BLAS thread limits that cost microseconds, not milliseconds (private).

:func:`threadpoolctl.threadpool_limits` discovers the process's thread pools (walking the loaded
shared libraries and reading their headers) on *every* call: about 5 ms on an idle machine and
tens of ms under load. The capacity search limits BLAS to one thread around each decision, so
a search of a few hundred decisions paid seconds for it (``docs/capacity.md#capacity-performance``).
Here the pools are discovered once per process, the first time a limit is asked for, and each
limit reuses them (≈ 30 µs).

The discovery sees the BLAS libraries loaded at that moment; the analyses import numpy and
:mod:`scipy.linalg` (the two BLAS builds they use) when their modules are imported, before any
limit is taken.
"""

from __future__ import annotations

import functools

__all__ = ["blas_limits"]


@functools.lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def blas_limits(limits: int = 1, user_api: str | None = None):
    """A context manager limiting the thread pools to ``limits`` threads (restored on exit).

    Also usable without ``with``: call ``.restore_original_limits()`` on the returned object.
    ``user_api`` as in :func:`threadpoolctl.threadpool_limits` (``"blas"``, ``"openmp"`` or
    None for both).
    """
    return _controller().limit(limits=limits, user_api=user_api)
