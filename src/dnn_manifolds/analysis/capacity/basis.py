r"""The samples' basis for Gaussian projections, with their rank decided at the data's precision.

Private helper of :func:`.problem.prepare` (``docs/capacity.md#capacity-gram-basis`` and
``docs/capacity.md#capacity-precision``).

The ``K`` valid samples of a session, centred on the per-neuron median, are the columns of
``X`` (``N × K``). A Gaussian projection ``R^T X`` (``R`` of shape ``N × n``) has rows with
covariance ``X^T X``; so does ``Z B`` for any factor ``B`` (``r × K``) with ``B^T B = X^T X`` and
``Z`` of shape ``n × r``. Here the factor is taken of the *augmented* samples ``[x_k; c]`` (a
constant row ``c``, the samples' median norm): ``Z B`` is then a Gaussian projection of ``X``
plus a random translation of all points, which changes no decision, and the rank of the
augmented samples is their affine rank + 1, so noise across the samples' affine hull is cut
as well. The factor comes from a column-pivoted Householder QR, ``[X; c 1ᵀ] Π = Q R``:
``B = R Π^T``. Householder QR is backward stable *column by column*: each sample is perturbed
by at most a small multiple of ``ε_64`` times its own norm, however different the samples'
norms (one sample ``10^15`` times larger than the others leaves the others intact).

The rank is decided against the precision the data carry, not against the largest singular
value. Each entry ``x_ik`` is known to ``ε_data · |x_ik|`` (``ε_data`` = the unit roundoff of the
stored data: ``2^-24`` for float32, ``2^-53`` for float64) and centring adds at most
``ε_64 · |m_i|``; so sample ``k`` is uncertain by ``s_k = ε_data ‖ |x_k| + |m| ‖`` (roughly).
The factor is cut after the smallest ``r`` for which **every** sample's residual outside the
span of the first ``r`` pivots is below ``TOLERANCE_FACTOR · s_k``: the dropped part moves no
sample by more than a few times its own rounding error, so rounding noise (float32 data that
are exactly rank-deficient, say) can never add dimensions, and no real direction is dropped.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg as sla

__all__ = ["TOLERANCE_FACTOR", "precision_basis", "unit_roundoff"]

TOLERANCE_FACTOR = 64.0
"""A sample's residual outside the kept span must be below this many times its rounding
uncertainty for the direction to be dropped (measured: exactly rank-deficient float32 data
leave residuals of 0.3–4 times the uncertainty; genuine directions are orders above)."""


def unit_roundoff(dtype) -> float:
    """Unit roundoff ``ε`` (half the machine epsilon) of a floating dtype; integers are exact
    up to float64's."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.itemsize >= 8:
        return float(np.finfo(np.float64).eps) / 2
    return float(np.finfo(dtype).eps) / 2


def precision_basis(
    x: np.ndarray, magnitude: np.ndarray, precision: float
) -> tuple[np.ndarray, int, np.ndarray]:
    r"""Factor ``B`` (``r × K``) with ``BᵀB ≈ XᵀX``, ``r`` the rank of ``X`` at the data's precision.

    Parameters
    ----------
    x : ndarray of shape (N, K)
        Centred samples (columns).
    magnitude : ndarray of shape (N, K)
        Per-entry magnitude bound of the values the samples were computed from
        (``|x_ik| + |m_i|`` for median centring); entry ``(i, k)`` is uncertain by
        ``precision · magnitude[i, k]``.
    precision : float
        Unit roundoff of the stored data.

    Returns
    -------
    basis : ndarray of shape (r, K)
        ``B = R[:r] Πᵀ`` of the augmented samples (rows with positive leading pivots).
    rank : int
        ``r``, the affine rank of the samples + 1 (0 for no sample).
    relative_residual : ndarray of shape (min(N, K) + 1,)
        For each candidate rank ``j``, the largest residual outside the span of the first ``j``
        pivots divided by its sample's uncertainty (the quantity compared with
        :data:`TOLERANCE_FACTOR`; entry ``j = min(N, K)`` is 0).
    """
    n_rows, n_cols = x.shape
    # uncertainty of each sample; eps_64 covers the centring and the factorisation itself
    eps64 = float(np.finfo(np.float64).eps) / 2
    scale = _norms(magnitude) * max(precision, eps64)
    norms = _norms(x)
    c = float(np.median(norms)) if n_cols else 1.0
    aug = np.empty((n_rows + 1, n_cols))
    aug[:n_rows] = x
    aug[n_rows] = c if c > 0 else 1.0
    n_rows += 1
    q_full, r_full, perm = sla.qr(aug, mode="economic", pivoting=True, check_finite=False)
    m = min(n_rows, n_cols)
    # residual of pivoted column j after i steps: ‖R[i:, j]‖ (columns j < i lie in the span)
    tail = np.sqrt(np.cumsum((r_full[::-1] ** 2), axis=0)[::-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = tail / scale[perm][None, :]
    rel = np.where(np.isfinite(rel), rel, np.where(tail > 0, np.inf, 0.0))
    worst = np.array([rel[i, i:].max() if i < n_cols else 0.0 for i in range(m)] + [0.0])
    rank = int(np.argmax(worst <= TOLERANCE_FACTOR))  # first i whose residuals are all noise
    kept = r_full[:rank]
    # Keep the samples exactly on an affine subspace: scale each truncated augmented sample so
    # that its constant coordinate is c again (a perturbation of the order of what was cut).
    last = q_full[-1, :rank] @ kept
    ratio = np.divide(aug[-1], last, out=np.full(n_cols, np.inf), where=last != 0)
    if rank < m and not np.all((ratio > 0.5) & (ratio < 2.0)):  # pragma: no cover - safety
        rank = m
        kept = r_full[:m]
        ratio = np.ones(n_cols)
    elif rank == m:
        ratio = np.ones(n_cols)
    kept = kept * ratio[None, :]
    sign = np.sign(np.diag(kept[:, :rank]))
    sign[sign == 0] = 1.0
    basis = np.empty((rank, n_cols))
    basis[:, perm] = kept * sign[:, None]
    return basis, rank, worst


def _norms(a: np.ndarray) -> np.ndarray:
    """Column 2-norms without overflow or underflow (scaled by each column's largest entry)."""
    top = np.abs(a).max(axis=0)
    safe = np.where(top > 0, top, 1.0)
    return top * np.sqrt(np.sum((a / safe) ** 2, axis=0))


def power_of_two(value: float) -> float:
    """The power of two nearest below ``value`` (> 0): an exact scale factor."""
    if not (value > 0 and math.isfinite(value)):
        return 1.0
    return math.ldexp(1.0, math.frexp(value)[1] - 1)
