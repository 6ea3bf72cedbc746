"""Dense LAPACK calls of the LP's inner loop, without scipy's per-call wrappers (private).

The certified LP (:mod:`.lp`) and its canonical coordinates (:mod:`.canonical`) call a
Cholesky factorisation and two or three triangular solves per interior-point iteration, on
matrices of a few dozen rows at the demo's sizes. :func:`scipy.linalg.cho_factor`,
:func:`~scipy.linalg.cho_solve`, :func:`~scipy.linalg.cholesky` and
:func:`~scipy.linalg.solve_triangular` spend more time in their batching and validation
wrappers than in LAPACK there (≈ 10 % of a demo capacity job). These functions call the same
LAPACK routines (``dpotrf``, ``dpotrs``, ``dtrtrs``) with the same arguments as those scipy
functions do for float64 2-d arrays, so the results are bit for bit theirs; the inputs must be
finite float64 arrays (the callers' are).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["cho_factor", "cho_solve", "cholesky_upper", "solve_triangular"]


def cho_factor(a: np.ndarray, lower: bool = True) -> tuple[np.ndarray, bool]:
    """``scipy.linalg.cho_factor(a, lower, check_finite=False)`` for a float64 (d, d) array.

    Raises :class:`numpy.linalg.LinAlgError` when ``a`` is not positive definite.
    """
    c, info = lapack.dpotrf(a, lower=lower, overwrite_a=False, clean=False)
    if info > 0:
        raise np.linalg.LinAlgError(f"{info}-th leading minor of the array is not positive definite")
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of dpotrf")
    return c, lower


def cho_solve(factor: tuple[np.ndarray, bool], b: np.ndarray) -> np.ndarray:
    """``scipy.linalg.cho_solve(factor, b, check_finite=False)``: ``x`` with ``a x = b``."""
    c, lower = factor
    x, info = lapack.dpotrs(c, b, lower=lower, overwrite_b=False)
    if info != 0:
        raise ValueError(f"illegal value in argument {-info} of dpotrs")
    return x


def cholesky_upper(a: np.ndarray) -> np.ndarray:
    """``scipy.linalg.cholesky(a, lower=False, check_finite=False)``: upper ``r``, ``a = rᵀ r``.

    Raises :class:`numpy.linalg.LinAlgError` when ``a`` is not positive definite.
    """
    r, info = lapack.dpotrf(a, lower=False, overwrite_a=False, clean=True)
    if info > 0:
        raise np.linalg.LinAlgError(f"{info}-th leading minor of the array is not positive definite")
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of dpotrf")
    return r


def solve_triangular(a: np.ndarray, b: np.ndarray, *, trans: int = 0, lower: bool = False) -> np.ndarray:
    """``scipy.linalg.solve_triangular(a, b, trans, lower, check_finite=False)`` (``trans`` 0 or 1).

    Like scipy, a C-ordered ``a`` is passed to LAPACK as its transpose (the same system).
    Raises :class:`numpy.linalg.LinAlgError` for a singular ``a``.
    """
    if b.size == 0:
        return np.empty_like(b, dtype=np.float64)
    if a.flags.f_contiguous:
        x, info = lapack.dtrtrs(a, b, overwrite_b=False, lower=lower, trans=trans, unitdiag=False)
    else:
        x, info = lapack.dtrtrs(a.T, b, overwrite_b=False, lower=not lower, trans=not trans, unitdiag=False)
    if info > 0:
        raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
    if info < 0:
        raise ValueError(f"illegal value in argument {-info} of dtrtrs")
    return x
