r"""Exact manifold frames from a pivoted Cholesky factorisation of the Gram matrix (private).

The anchor problems of a manifold (``docs/geometry.md#geometry-anchors``) depend on its points
only through their Gram matrix: any coordinates :math:`Y` (``D × m``) with
:math:`Y^\top Y = G` describe the same points in *some* orthonormal basis of their span, and
Gaussian draws in any orthonormal basis have the same distribution. The eigenbasis of
:math:`G` (``mft._frame``) is one such basis; it costs an ``m × m`` eigendecomposition, about
``9 m³`` operations (7 s at m = 3201 on one core). The pivoted Cholesky factorisation
:math:`\Pi^\top G \Pi = R^\top R` (LAPACK ``dpstrf``, ``m r²``-ish operations for rank r, 0.4 s
there) gives another: :math:`Y = R\,\Pi^\top`, the coordinates of the points in the
orthonormal basis that Gram–Schmidt builds from the points taken in pivot order.

Retained dimensions (``docs/geometry.md#geometry-performance``): the same threshold as the
eigenbasis frame, :math:`\tau = \max(10^{-12}\max(N, m)\,\lambda_{\max},\ (64\,\epsilon\,
\text{size})^2 m)`, with :math:`\lambda_{\max}` from Lanczos; the factorisation stops at the
first pivot (the squared distance of the farthest remaining point from the span of those
already taken) that is :math:`\le \tau`. Every retained direction carries more than τ; what is
left out, :math:`E = G - Y^\top Y \succeq 0`, has every diagonal entry :math:`\le \tau`. The
count can differ slightly from the number of eigenvalues above τ (where the spectrum is dense
around τ): measured in ``bench/README.md``.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

__all__ = ["CHOLESKY_MIN_POINTS", "cholesky_frame", "top_eigenvalue"]

CHOLESKY_MIN_POINTS = 2048
"""With ``frame="auto"`` (the default), manifolds whose Gram matrix is at least this large
(``min(N, m)``, and ``N ≥ m``) get the pivoted-Cholesky frame; smaller ones keep the
eigenbasis frame (their results unchanged bit for bit)."""


def top_eigenvalue(G: np.ndarray) -> float:
    """Largest eigenvalue of a symmetric positive semi-definite matrix (Lanczos, ARPACK, to
    machine precision; deterministic start ``√diag G``). At least ``max diag G``."""
    d = np.diagonal(G)
    top = float(d.max()) if d.size else 0.0
    if not top > 0:
        return max(top, 0.0)
    if G.shape[0] < 3:
        return max(float(np.linalg.eigvalsh(G)[-1]), top)
    v0 = np.sqrt(np.clip(d, 0.0, None))
    try:
        lam = eigsh(G, k=1, which="LA", v0=v0, tol=0, return_eigenvectors=False)[0]
    except ArpackNoConvergence:  # pragma: no cover - not seen; the exact (slow) spectrum
        lam = np.linalg.eigvalsh(G)[-1]
    return max(float(lam), top)


def cholesky_frame(G: np.ndarray, n_neurons: int, size: float, centre_norm: float, *, gram: bool = False):
    r"""Frame coordinates of a centred manifold from its Gram matrix, by pivoted Cholesky.

    Parameters
    ----------
    G : ndarray of shape (m, m)
        Gram matrix :math:`A_p^\top A_p` of the centred points with the common subspace removed
        (overwritten).
    n_neurons : int
        N (the threshold scales with ``max(N, m)`` as the eigenbasis frame's).
    size : float
        Largest sample norm before centring (spread within 64 ε · size is no direction).
    centre_norm : float
        ‖c‖ (the frame is divided by it).
    gram : bool
        Also return the frame's Gram matrix :math:`Y^\top Y`, built from G rather than from Y
        (below).

    Returns
    -------
    Y : ndarray of shape (D, m)
        :math:`R\,\Pi^\top / \|c\|`: point j's coordinates in an orthonormal basis of the
        retained span, :math:`Y^\top Y = (G - E)/\|c\|^2`.
    moments : tuple of float
        :math:`(\operatorname{tr} G, \|G\|_F^2)` = (Σλ, Σλ²) over all eigenvalues of G, for the
        participation ratio and spectral radii (no eigenvalues are computed).
    YtY : ndarray of shape (m, m), only with ``gram``
        :math:`Y^\top Y`. In pivot order :math:`R = [R_{11}\; R_{12}]` and :math:`R^\top R`
        equals G except on the block of the points left out of the pivots, where it is
        :math:`R_{12}^\top R_{12}` (G minus the Schur complement E): so G (copied before the
        factorisation) with that block replaced, ``(m − D)² D`` operations instead of the
        ``m² D`` of :math:`Y^\top Y` (0.08 s instead of 0.3 s at m = 3201, D ≈ 1560). It
        equals :math:`Y^\top Y` up to the factorisation's rounding.
    """
    G = np.asarray(G, dtype=np.float64)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"G must be a square matrix; got shape {G.shape}")
    m = G.shape[0]
    moments = (float(np.trace(G)), float(np.einsum("ij,ij->", G, G)))
    floor = (64 * np.finfo(np.float64).eps * size) ** 2 * m
    tau = max(top_eigenvalue(G) * 1e-12 * max(n_neurons, m), floor)
    if m == 0 or not np.diagonal(G).max() > tau:
        Y = np.zeros((0, m))
        return (Y, moments, np.zeros((m, m))) if gram else (Y, moments)
    G0 = G.copy() if gram else None
    # G is symmetric: its transpose is the Fortran-ordered array LAPACK works on in place
    c, piv, rank, info = lapack.dpstrf(G.T, lower=0, tol=tau, overwrite_a=True)
    if info < 0:
        raise RuntimeError(f"dpstrf: illegal argument {-info}")
    rank = int(rank)
    R = np.triu(c[:rank])
    Y = np.empty((rank, m))
    Y[:, piv - 1] = R
    Y /= centre_norm
    if not gram:
        return Y, moments
    out = piv[rank:] - 1  # the points left out of the pivots
    if out.size:
        R12 = R[:, rank:]
        G0[np.ix_(out, out)] = R12.T @ R12
    G0 /= centre_norm**2
    return Y, moments, G0
