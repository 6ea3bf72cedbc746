r"""Approximate low-rank manifold frames (an option, off by default; ``docs/geometry.md``).

The exact frame of a manifold of m points in N dimensions needs its m × m Gram matrix
(``N m²`` operations) and an eigendecomposition (``~ 9 m³``): at the paper's 2-d size
(m = 3201, N = 4096) about 8 s per object on one core. With ``frame_rank = r`` the frame keeps
only the manifold's top r principal directions, found by a randomized range finder with one
power iteration (Halko, Martinsson & Tropp 2011, Algorithms 4.3/5.1): four products of the
``N × m`` points with ``m × (r + 16)`` matrices, ``8 N m (r + 16)`` operations, and an SVD of
an ``(r + 16) × m`` matrix. The draws then live in r (not up to m − 1) dimensions: the
directions left out carry the smallest spread of the manifold, so their effect on the anchor
points is that of their variance (measured in ``bench/README.md``). The spectrum returned is the
top r eigenvalues only (participation ratio and spectral radii from them).
"""

from __future__ import annotations

import numpy as np

__all__ = ["OVERSAMPLING", "low_rank_frame"]

OVERSAMPLING = 16
"""Extra random directions of the range finder beyond the rank kept."""


def low_rank_frame(
    A: np.ndarray,
    B: np.ndarray,
    basis: np.ndarray,
    centre_norm: float,
    size: float,
    rank: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Top-``rank`` frame of a centred manifold with the common subspace removed.

    Parameters
    ----------
    A : ndarray of shape (N, m)
        Centred points.
    B : ndarray of shape (K, m)
        ``basisᵀ A``; the points used are :math:`A_p = A - \mathrm{basis}\,B` (never formed).
    basis : ndarray of shape (N, K)
    centre_norm : float
        ‖c‖ (the frame is divided by it).
    size : float
        Largest sample norm before centring (spread within 64 ε · size is no direction).
    rank : int
        Directions kept, r.
    rng : numpy.random.Generator
        Source of the random test matrix Ω.

    Returns
    -------
    Y : ndarray of shape (D, m)
        Coordinates of the points in their top D ≤ r principal directions, divided by ‖c‖
        (:math:`Y = \Sigma_D V_D^\top` from :math:`Q^\top A_p = U \Sigma V^\top`).
    lam : ndarray of shape (D',)
        The top eigenvalues of the centred scatter matrix :math:`A_p^\top A_p` (descending,
        unnormalised) from the range finder.
    """
    N, m = A.shape
    k = min(m, N, rank + OVERSAMPLING)

    def ap(M):  # A_p M, (N × k)
        return A @ M - basis @ (B @ M)

    def apt(M):  # A_pᵀ M, (m × k)
        return A.T @ M - B.T @ (basis.T @ M)

    Q, _ = np.linalg.qr(ap(rng.standard_normal((m, k))))
    Q, _ = np.linalg.qr(apt(Q))  # one power iteration: the spectrum decays slowly
    Q, _ = np.linalg.qr(ap(Q))
    _, sig, Vt = np.linalg.svd(apt(Q).T, full_matrices=False)  # Qᵀ A_p = U Σ Vᵀ
    lam = sig**2
    floor = (64 * np.finfo(np.float64).eps * size) ** 2 * m
    keep = (lam > max(lam[0], 0.0) * 1e-12 * max(N, m)) & (lam > floor)
    keep[rank:] = False
    Y = sig[keep, None] * Vt[keep]
    return Y / centre_norm, lam[: min(rank, lam.size)]
