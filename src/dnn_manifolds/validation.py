"""Small argument checkers shared by the library; every failure is a :class:`UserError`.

They name the argument and what was expected, so that a bad value gives one clear line.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import UserError

__all__ = ["ArgumentTypeError", "check_int", "check_number"]


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
