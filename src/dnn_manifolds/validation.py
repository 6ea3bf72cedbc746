"""Small argument checkers shared by the library; every failure is a :class:`UserError`.

They name the argument and what was expected, so that a bad value gives one clear line.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from .errors import UserError

__all__ = ["ArgumentTypeError", "available_memory", "check_int", "check_memory", "check_number"]


class ArgumentTypeError(UserError, TypeError):
    """An argument of the wrong type (also a :class:`TypeError`)."""


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """``value`` as an ``int`` (bools refused), at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer ≥ {minimum}")
        raise UserError(f"{name} must be {what}; got {value}")
    return value


def check_number(value: Any, name: str, *, minimum: float | None = None) -> float:
    """``value`` as a finite ``float``, at least ``minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{name} must be a number; got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value):
        raise UserError(f"{name} must be finite; got {value}")
    if minimum is not None and value < minimum:
        raise UserError(f"{name} must be ≥ {minimum}; got {value}")
    return value


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``, else the free
    physical pages), or ``None`` when the system does not say."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(needed: float, what: str, *, hint: str = "") -> None:
    """Refuse, before any work, a computation whose arrays need more memory than is available.

    ``needed`` is an estimate in bytes; ``what`` names the computation and its sizes, ``hint``
    how to make it smaller. Raises :class:`UserError` (one line).
    """
    free = available_memory()
    if free is None or needed <= free:
        return
    gib = 2.0**30
    raise UserError(
        f"{what} needs about {needed / gib:.3g} GiB of memory, more than the "
        f"{free / gib:.3g} GiB available" + (f"; {hint}" if hint else "")
    )
