r"""Canonical coordinates of one separability problem: equilibrated, orthonormalised, conditioned.

Private helper of :mod:`.lp` (``docs/capacity.md#capacity-lp``). Points ``x`` of shape
``(n_features, n_points)`` with labels ``y`` are separable with a bias iff the homogeneous
system ``A v > 0`` has a solution, where row ``k`` of ``A`` is ``y_k [x_k, 1]``. That question is
unchanged by

* a translation of the points (here: the per-feature median, robust to outliers),
* any invertible linear map of ``[x, 1]``-space (scaling of features and of the bias column,
  the orthonormalisation below), and
* a **positive scaling of each row** (of each point's constraint).

:func:`canonical_rows` uses all three to make the problem well scaled whatever the data:
it centres, then alternately scales rows and columns of ``M = [x_c, 1]`` by powers of two
(exact) so that every row and every column has largest entry about 1 — a point ``10^15`` times
farther out than the others, a feature ``10^6`` times larger, an offset of ``10^8`` or a scale
of ``10^-40`` then look like any other — and replaces ``M`` by an orthonormal basis ``Q`` of
its column space (Cholesky QR when well conditioned, else column-pivoted Householder QR
truncated at its numerical rank). The rows of ``Q``, signed by the labels, are the LP's
constraint rows.

Conditioning. ``Q`` is the exact orthonormal basis of a matrix within ``ε_64``-relative
rounding of the equilibrated ``M``; mapped to canonical coordinates that rounding is amplified
by at most the condition number ``κ`` of the kept part. :func:`certificate_tolerance` widens
the non-separability certificate's band to cover it; when that band would exceed
:data:`MAX_TOLERANCE`, a "not separable" answer cannot be certified and the decision is
reported as failed instead (``docs/capacity.md#capacity-conditioning``).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

from . import dense as _dense

__all__ = ["MAX_TOLERANCE", "canonical_rows", "certificate_tolerance", "rounding_band", "to_original"]

EPS = float(np.finfo(np.float64).eps)

MAX_TOLERANCE = 1e-6
"""Largest normalised-margin band a non-separability certificate may use. Beyond it the
problem is too ill-conditioned for "not separable" to be certified in float64."""

_CHOLQR_MIN_PIVOT = 1e-5
"""Smallest ``R_ii / max R_jj`` accepted from Cholesky QR; below it, pivoted QR is used."""

_EQUILIBRATION_ROUNDS = 4


def _pow2(v: np.ndarray) -> np.ndarray:
    """Powers of two ``2^e`` with ``v / 2^e`` in [0.5, 1) (1 where ``v`` is 0 or not finite)."""
    v = np.asarray(v, dtype=np.float64)
    ok = (v > 0) & np.isfinite(v)
    _, e = np.frexp(np.where(ok, v, 1.0))
    return np.where(ok, np.ldexp(1.0, e), 1.0)


def equilibrate(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale rows and columns of ``m = [x_c, 1]`` by powers of two until each has largest entry
    in [0.5, 1].

    The rows are first scaled by their largest *feature* entry (the bias column of ones would
    otherwise hide a point's features when they are far smaller than 1, as for every point but
    an outlier), then columns and rows alternately by their largest entry. Returns
    ``(m_scaled, row_scale, col_scale)`` with ``m_scaled = diag(1/row) m diag(1/col)`` exactly
    (powers of two are exact multipliers). ``m`` is scaled in place.
    """
    k, d = m.shape
    row = _pow2(np.abs(m[:, :-1]).max(axis=1)) if d > 1 and k else np.ones(k)
    col = np.ones(d)
    m /= row[:, None]
    for _ in range(_EQUILIBRATION_ROUNDS):
        a = np.abs(m)
        c = _pow2(a.max(axis=0)) if k else np.ones(d)
        a /= c
        r = _pow2(a.max(axis=1)) if d else np.ones(k)
        moved_c = not np.all(c == 1.0)
        moved_r = not np.all(r == 1.0)
        if moved_c:
            m /= c
            col *= c
        if moved_r:
            m /= r[:, None]
            row *= r
        if not (moved_c or moved_r):
            break
    return m, row, col


def canonical_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict]:
    """Constraint rows ``a_k`` in canonical coordinates (orthonormal columns).

    Parameters
    ----------
    x : ndarray of shape (n_features, n_points)
    y : ndarray of shape (n_points,)

    Returns
    -------
    A : ndarray of shape (n_points, r)
        ``y_k`` times row ``k`` of ``Q`` (``r`` = numerical rank of ``[x_c, 1]``, at least 1).
    back : dict
        What :func:`to_original` needs (median, column scales, triangular factor, pivots,
        rank) and ``cond``, the condition number estimate of the kept part.
    """
    n_features, n_points = x.shape
    centre = _centre(x)
    m = np.empty((n_points, n_features + 1))
    m[:, :n_features] = x.T
    if centre is not None:
        m[:, :n_features] -= centre
    else:
        centre = np.zeros(n_features)
    m[:, n_features] = 1.0
    if not np.all(np.isfinite(m)):
        raise FloatingPointError("points must be finite")
    m, _, col = equilibrate(m)
    d = n_features + 1
    fast = _cholesky_qr(m) if d < n_points else None
    if fast is not None:
        q, r_mat, cond = fast
        perm = np.arange(d)
        rank = d
    else:
        q, r_mat, perm = sla.qr(m, mode="economic", pivoting=True, check_finite=False)
        diag = np.abs(np.diag(r_mat))
        tol = 16 * max(n_points, d) * EPS * diag[0] if diag.size else 0.0
        rank = max(1, int(np.count_nonzero(diag > tol)))
        q = q[:, :rank]
        r_mat = r_mat[:rank]
        cond = _condition(r_mat[:, :rank])
    a = q * y[:, None]
    back = {"centre": centre, "col": col, "r": r_mat, "perm": perm, "rank": rank, "cond": cond}
    return a, back


def _centre(x: np.ndarray) -> np.ndarray | None:
    """Per-feature median of the points, or ``None`` when no centring is needed: every feature
    already has the origin within a few times its range of the points (the capacity's features
    are centred when they are made)."""
    if x.shape[1] == 0:
        return None
    lo = x.min(axis=1)
    hi = x.max(axis=1)
    reach = np.maximum(np.abs(lo), np.abs(hi))
    if np.all(reach <= 4.0 * (hi - lo)):
        return None
    return np.median(x, axis=1)


def _cholesky_qr(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """Nearly orthonormal basis of a full-column-rank ``(K, d)`` matrix by Cholesky QR.

    ``m = Q R`` with ``R`` upper triangular from the Cholesky factor of ``mᵀ m``; ``Q`` is
    orthonormal up to ``ε·κ²``, which the LP tolerates (the certificates do not rely on
    orthonormality, and separators are re-verified on the original points). Several times
    cheaper than a pivoted QR for tall matrices. ``None`` when the matrix is rank-deficient or
    badly conditioned (the caller then uses the rank-revealing pivoted QR).
    """
    gram = m.T @ m
    try:
        r = _dense.cholesky_upper(gram)
    except (np.linalg.LinAlgError, ValueError):
        return None
    dg = np.abs(np.diag(r))
    if dg.min() <= _CHOLQR_MIN_PIVOT * dg.max():
        return None
    q = _dense.solve_triangular(r, m.T, trans=1, lower=False).T
    return q, r, _condition(r)


def _condition(r: np.ndarray) -> float:
    """1-norm condition number estimate of an upper triangular matrix (LAPACK ``dtrcon``)."""
    if r.size == 0:
        return 1.0
    rcond, info = sla.lapack.dtrcon(np.asfortranarray(r), norm="1", uplo="U", diag="N")
    return float(1.0 / rcond) if info == 0 and rcond > 0 else math.inf


def rounding_band(back: dict, n_points: int) -> float:
    """Normalised-margin error of the canonical coordinates from rounding, ``16 √(K d) ε κ``
    (``K`` points, ``d`` columns, ``κ`` the condition number of the kept part)."""
    d = back["r"].shape[1]
    return 16.0 * math.sqrt(n_points * d) * EPS * back["cond"]


def certificate_tolerance(gamma_tol: float, back: dict, n_points: int) -> float:
    """Normalised-margin band of the non-separability certificate: ``gamma_tol``, widened to
    the :func:`rounding_band` when that is larger. A band beyond :data:`MAX_TOLERANCE` (and
    beyond ``gamma_tol``) cannot certify "not separable"."""
    return max(gamma_tol, rounding_band(back, n_points))


def to_original(v: np.ndarray, back: dict) -> tuple[np.ndarray, float]:
    """Map a canonical separator ``v`` (weights on the columns of ``Q``) to ``(w, b)`` on the
    original points.

    With ``M Π = Q R`` (``M`` the equilibrated ``[x_c, 1]``, ``R`` of shape ``(rank, d)``), a
    weight ``v`` on ``Q`` is the weight ``ω[Π] = [R_11^{-1} v, 0]`` on ``M``, i.e.
    ``ω / col`` on ``[x - centre, 1]``. The result is re-verified on the original points by the
    caller.
    """
    rank = back["rank"]
    col = back["col"]
    d = col.shape[0]
    z = _dense.solve_triangular(back["r"][:, :rank], v[:rank], lower=False)
    omega_perm = np.zeros(d)
    omega_perm[:rank] = z
    omega = np.zeros(d)
    omega[back["perm"]] = omega_perm
    omega = omega / col
    w = omega[:-1]
    b = float(omega[-1] - w @ back["centre"])
    return w, b
