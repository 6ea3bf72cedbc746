"""BLAS thread limits that cost microseconds, not milliseconds, and the ``jobs`` argument
of the analyses (private).

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

from typing import Any

__all__ = ["MAX_JOBS_PER_CORE", "blas_limits", "check_jobs"]

MAX_JOBS_PER_CORE = 4
"""``jobs`` may be at most this many worker processes per core of the machine."""


def check_jobs(jobs: Any) -> int:
    """``jobs``: a positive integer, at most :data:`MAX_JOBS_PER_CORE` per core (every worker
    is a process; far more than the cores only costs memory and time)."""
    import os

    from ..errors import UserError
    from ..validation import check_int

    jobs = check_int(jobs, "jobs", minimum=1)
    cores = os.cpu_count() or 1
    if jobs > MAX_JOBS_PER_CORE * cores:
        raise UserError(
            f"jobs must be at most {MAX_JOBS_PER_CORE * cores} ({MAX_JOBS_PER_CORE} per core; this "
            f"machine has {cores}); got {jobs}"
        )
    return jobs


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
