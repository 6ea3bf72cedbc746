r"""The common low-rank structure of the object centres, and its removal.

``docs/geometry.md#geometry-centres``: the rank-k subspace that minimises the squared
correlation coefficients of the residual centres, found on the Stiefel manifold
(:mod:`.stiefel`), with K chosen by the mean-|ρ| rule of each method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...errors import UserError
from .options import METHODS, STIEFEL_DEFAULTS
from .stiefel import STATUS_CONVERGED, CentreCorrelationCost, minimize_stiefel

__all__ = ["CentreRankResult", "optimal_centre_rank"]


@dataclass(frozen=True)
class CentreRankResult:
    """Optimal common low-rank structure of the object centres (:func:`optimal_centre_rank`).

    Attributes
    ----------
    n_common : int
        K, the number of common centre directions removed.
    subspace : ndarray of shape (n_neurons, K)
        Orthonormal basis of the common subspace (in the space of the centres given).
    k : ndarray of int, shape (n_k,)
        The ranks k evaluated (0, 1, … in order; the search stops early).
    mean_abs_corrcoef : ndarray of shape (n_k,)
        Mean |ρ| over off-diagonal pairs of residual centres after removing the best rank-k
        subspace (the selection criterion).
    mean_square_corrcoef : ndarray of shape (n_k,)
        Mean ρ² over the same pairs (what the optimiser minimises).
    residual_norms : ndarray of shape (n_k, n_objects)
        ‖residual centre‖ for each k (same units as the centres).
    correlation_before, correlation_after : ndarray of shape (n_objects, n_objects)
        Cosine similarity matrices of the (mean-subtracted) centres, before and after removing
        the K-dimensional subspace.
    stiefel_n_iter : ndarray of int, shape (n_k,)
        Iterations of the kept start at each k (0 for k = 0).
    stiefel_converged : int
        Optimiser runs (all starts, all k) that met the stopping rule.
    stiefel_max_iter : int
        Optimiser runs that hit the iteration limit.
    """

    n_common: int
    subspace: np.ndarray
    k: np.ndarray
    mean_abs_corrcoef: np.ndarray
    mean_square_corrcoef: np.ndarray
    residual_norms: np.ndarray
    correlation_before: np.ndarray
    correlation_after: np.ndarray
    stiefel_n_iter: np.ndarray
    stiefel_converged: int
    stiefel_max_iter: int

    @property
    def mean_abs_corrcoef_before(self) -> float:
        """Mean |ρ| of the centres before any removal (k = 0)."""
        return float(self.mean_abs_corrcoef[0])


PROBE_FACTOR = 10.0
"""Default ``probe_factor`` of :func:`optimal_centre_rank`: a rank is first optimised with
xtol, gtol and ftol this many times looser, and again at the given tolerances only if it may be
the best rank."""
PROBE_MARGIN = 0.1
"""A probed rank is redone exactly when its mean |ρ| is below (1 + this) × the best so far."""


PROBE_STREAK = 3
"""After this many probes in a row that were redone as new bests, ranks are solved at the given
tolerances directly (no probe) until one is not a new best: in a long improving run a probe
only doubles the work."""
STOP_MARGIN = 0.05
"""The stopping rule's comparison of two neighbouring ranks, one of them probed, is undecided
(and the probes are redone) when their mean |ρ| differ by less than this fraction."""


def _rising(curve: list, k: int, exact: int, margin: float):
    """``curve[k] > curve[k-1] > curve[k-2] > curve[k-3]`` (point_cloud's stopping rule), or None
    when the answer hangs on a comparison involving a probed rank (index > ``exact``) whose two
    values differ by less than ``margin`` (relative)."""
    comps = []
    for i in (k, k - 1, k - 2):
        lo, hi = curve[i - 1], curve[i]
        close = i > exact and abs(hi - lo) < margin * max(abs(hi), abs(lo))
        comps.append((hi > lo, close))
    if all(up for up, _ in comps):
        return None if any(close for _, close in comps) else True
    return False if any(not up and not close for up, close in comps) else None


@dataclass(frozen=True)
class _Rank:
    """The kept start at one rank k: subspace, mean |ρ|, mean ρ², residual norms, iterations,
    runs converged and runs at the iteration limit."""

    V: np.ndarray
    a: float
    q: float
    norms: np.ndarray
    n_iter: int
    n_conv: int
    n_max: int


def _corr_stats(R: np.ndarray):
    """Cosine matrix, mean |ρ| and mean ρ² (off-diagonal) of the rows of R (P × n)."""
    P = R.shape[0]
    norms = np.sqrt(np.einsum("pn,pn->p", R, R))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (R @ R.T) / np.outer(norms, norms)
    off = ~np.eye(P, dtype=bool)
    return rho, float(np.abs(rho[off]).mean()), float((rho[off] ** 2).mean()), norms


def _reduce(Cc: np.ndarray, floor: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres in coordinates of their span: ``Xr`` (P × n) with ``Xr Xrᵀ = CcᵀCc``, the
    orthonormal ``basis`` (N × n) with ``Cc = basis Xrᵀ``, and the eigenvalues (descending).

    From the P × P Gram matrix when it keeps the rank centred centres have, ``min(N, P − 1)``,
    with a spectrum spanning less than 1e8 (accurate there); otherwise — one direction
    dominating the others, as with an outlier, or centres that coincide — from an SVD of the
    centres themselves, which resolves directions down to float64's resolution instead of the
    Gram matrix's square root of it.
    """
    N, P = Cc.shape
    gram = Cc.T @ Cc
    ev, U = np.linalg.eigh(gram)
    top = max(ev[-1], 0.0)
    keep = (ev > top * 1e-12 * max(N, P)) & (ev > floor**2) if top > 0 else np.zeros(P, bool)
    if not keep.any():  # nothing above rounding: the centres coincide
        return np.zeros((P, 0)), np.zeros((N, 0)), np.zeros(0)
    # centred centres have rank ≤ min(N, P − 1): exactly that many kept eigenvalues, spanning
    # less than 1e8, is the well-conditioned case; anything else is decided by the SVD
    expected = min(N, P - 1)
    well = top > 0 and int(keep.sum()) == expected and ev[keep].min() >= 1e-8 * top
    if top == 0 or well:
        ev, U = ev[keep][::-1], U[:, keep][:, ::-1]
        Xr = U * np.sqrt(ev)
        basis = (Cc @ U) / np.sqrt(ev) if ev.size else np.zeros((N, 0))
        return Xr, basis, ev
    Uc, S, Vt = np.linalg.svd(Cc, full_matrices=False)
    keep = (S > 16 * max(N, P) * np.finfo(np.float64).eps * S[0]) & (S > floor)
    S = S[keep]
    return Vt[keep].T * S, Uc[:, keep], S**2


def optimal_centre_rank(
    centres: np.ndarray,
    *,
    method: str = "smooth",
    rng=None,
    n_restarts: int = 10,
    max_k: int | None = None,
    max_iter: int | None = None,
    xtol: float | None = None,
    gtol: float | None = None,
    ftol: float | None = None,
    probe_factor: float | None = PROBE_FACTOR,
) -> CentreRankResult:
    r"""Optimal common low-rank subspace of the object centres (``docs/geometry.md#geometry-centres``).

    For each rank k, find the orthonormal :math:`V \in \mathbb{R}^{n\times k}` minimising

    .. math:: F(V) = \tfrac12\sum_{\mu\nu} \rho_{\mu\nu}(V)^2,\qquad
              \rho_{\mu\nu} = \frac{r_\mu\cdot r_\nu}{\|r_\mu\|\|r_\nu\|},\quad
              r_\mu = (I - VV^\top)(c_\mu - \bar c),

    and choose K as the k with the smallest mean off-diagonal |ρ|.

    Parameters
    ----------
    centres : array-like of shape (n_neurons, n_objects)
        Object centres. Their mean over objects is subtracted first.
    method : {"smooth", "point_cloud"}
        ``smooth``: k = 0, 1, …, max_k with K = 0 allowed, stop at k > K + 3
        (``optimal_low_rank_structure2``). ``point_cloud``: k = 1, …, max_k with K ≥ 1, stop
        once k > 4 after three consecutive increases (``fun_FA``); k = 0 is evaluated only for
        the curve.
    rng : None, int or numpy.random.Generator
        Source of the random starting combinations.
    n_restarts : int, default 10
        Random starts per k, run in lockstep; the one with the largest stability
        min_μ ‖r_μ‖/‖c_μ − c̄‖ is kept (as the original). The MATLAB drivers use 10; the MATLAB
        point-cloud code used 1 and its Python port 10.
    max_k : int, optional
        Largest k. Default ``min(ceil(P/2), 46)`` (``smooth``) or the number of principal
        components of the centres below 95 % cumulative variance + 10 (``point_cloud``). Always
        clipped to (rank of the centres) − 1.
    max_iter, xtol, gtol, ftol : optional
        Optimiser options; defaults are the original's (:data:`STIEFEL_DEFAULTS`).
    probe_factor : float or None, default :data:`PROBE_FACTOR` (10)
        Once a best rank exists, each rank k is first *probed*: optimised with xtol, gtol and
        ftol this many times looser. Only a probe whose mean |ρ| comes within
        :data:`PROBE_MARGIN` of the best so far is redone at the given tolerances, together with
        every probed rank before it (same random starts, each from the previous rank's exact
        solution). So K and the subspace are those of the search at the given tolerances, bit
        for bit; the curve past the last exact rank (its mean |ρ|, ρ², norms, iterations)
        is that of the probes. None or ≤ 1: every rank at the given tolerances.

    Returns
    -------
    CentreRankResult

    Notes
    -----
    The centres are reduced to their (≤ P−1)-dimensional span through the eigendecomposition
    of their P × P Gram matrix (the original used a QR of the N × P matrix; every quantity is
    rotation invariant). The optimiser is :func:`dnn_manifolds.analysis.geometry.stiefel.minimize_stiefel`
    (Wen & Yin) with the closed-form gradient of
    :class:`dnn_manifolds.analysis.geometry.stiefel.CentreCorrelationCost`. The original selects K by the mean
    |ρ| while the optimiser minimises ρ² (``docs/differences.md#differences-kept``); kept.
    """
    if method not in METHODS:
        raise UserError(f"method must be one of {list(METHODS)}; got {method!r}")
    C = np.asarray(centres, dtype=np.float64)
    if C.ndim != 2:
        raise UserError(f"centres must be 2-D (n_neurons, n_objects); got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise UserError("centres must be finite")
    N, P = C.shape
    if P < 2:
        raise UserError(f"centres needs at least 2 objects; got {P}")
    if int(n_restarts) < 1:
        raise UserError(f"n_restarts must be >= 1; got {n_restarts!r}")
    rng = np.random.default_rng(rng)
    opts = dict(STIEFEL_DEFAULTS[method])
    for key, val in (("max_iter", max_iter), ("xtol", xtol), ("gtol", gtol), ("ftol", ftol)):
        if val is not None:
            opts[key] = val

    Cc = C - C.mean(axis=1, keepdims=True)
    # spread within rounding of the centres themselves is no direction (identical centres)
    size = float(np.sqrt((C**2).sum(axis=0)).max()) if C.size else 0.0
    Xr, basis, ev = _reduce(Cc, floor=64 * np.finfo(np.float64).eps * size * math.sqrt(P))
    n = int(ev.size)

    if max_k is None:
        if method == "smooth":
            max_k = min(math.ceil(P / 2), 46)
        else:
            frac = np.cumsum(ev) / ev.sum() if n else np.zeros(0)
            max_k = int(np.sum(frac < 0.95)) + 10
    max_k = int(max(0, min(int(max_k), n - 1)))

    rho0, abs0, sq0, norms0 = _corr_stats(Xr if n else np.zeros((P, 1)))
    cost = CentreCorrelationCost(Xr) if n else None
    base = np.sqrt(np.einsum("pn,pn->p", Xr, Xr))
    probe = None
    if probe_factor is not None and float(probe_factor) > 1.0:
        f = float(probe_factor)
        probe = {**opts, "xtol": opts["xtol"] * f, "gtol": opts["gtol"] * f, "ftol": opts["ftol"] * f}

    def solve(k: int, V_prev: np.ndarray, settings: dict) -> _Rank:
        starts = np.concatenate(
            [(draws[k] @ Xr)[:, :, None], np.broadcast_to(V_prev, (n_restarts, n, k - 1))], axis=2
        )
        V0, _ = np.linalg.qr(starts)
        res = minimize_stiefel(cost.value_and_grad, V0, **settings)
        resid = np.sqrt(np.maximum(cost.residual_sq_norms(res.x), 0.0))  # (r, P)
        j = int(np.argmax((resid / base).min(axis=1)))  # the most stable start
        V = res.x[j]
        _, a, q, nrm = _corr_stats(Xr - (Xr @ V) @ V.T)
        conv = int(np.sum(res.status == STATUS_CONVERGED))
        return _Rank(V, a, q, nrm, int(res.n_iter[j]), conv, len(res.status) - conv)

    # ranks[k]: the result at rank k; ranks 1..exact were found at the original's tolerances
    # (each from the previous one), later ones only probed (docs/geometry.md#geometry-rank-probes)
    ranks = [_Rank(np.zeros((n, 0)), abs0, sq0, norms0, 0, 0, 0)]
    draws: dict[int, np.ndarray] = {}
    exact = 0
    streak = 0  # probes in a row redone as new bests
    best_k = 0
    best_cost = abs0 if method == "smooth" else np.inf

    def redo(k: int) -> int:
        """Ranks exact+1 … k at the given tolerances, each from the previous one."""
        for j in range(exact + 1, k + 1):
            ranks[j] = solve(j, ranks[j - 1].V, opts)
        return k

    for k in range(1, max_k + 1):
        if method == "smooth" and k > best_k + 3:
            break
        draws[k] = rng.standard_normal((n_restarts, P))
        # no best yet (point_cloud's k = 1): a probe would always be redone; after PROBE_STREAK
        # probes in a row redone as new bests (a long improving run), solve directly until a
        # rank is not a new best
        probing = probe is not None and math.isfinite(best_cost) and streak < PROBE_STREAK
        ranks.append(solve(k, ranks[k - 1].V, probe if probing else opts))
        if not probing:
            exact = k
        elif ranks[k].a < best_cost * (1.0 + PROBE_MARGIN):  # may be a new best
            exact = redo(k)
            streak += 1
        stop = False
        if method == "point_cloud" and k > 4:
            # three consecutive increases of mean |ρ|; undecided on probes that are too close
            stop = _rising([rk.a for rk in ranks], k, exact, STOP_MARGIN)
            if stop is None:
                exact = redo(k)
                stop = _rising([rk.a for rk in ranks], k, exact, 0.0)
        for j in range(1, exact + 1):  # strict improvement in order of k, as the original
            if ranks[j].a < best_cost:
                best_cost, best_k = ranks[j].a, j
        if best_k != k:
            streak = 0
        if stop:
            break
    ks = list(range(len(ranks)))
    abs_curve = [rk.a for rk in ranks]
    sq_curve = [rk.q for rk in ranks]
    norm_curve = [rk.norms for rk in ranks]
    iters = [rk.n_iter for rk in ranks]
    n_conv = sum(rk.n_conv for rk in ranks)
    n_max = sum(rk.n_max for rk in ranks)
    Vs = {k: rk.V for k, rk in enumerate(ranks)}
    V = Vs[best_k]
    R = Xr - (Xr @ V) @ V.T if n else np.zeros((P, 1))
    rho1 = _corr_stats(R)[0]
    return CentreRankResult(
        n_common=int(best_k),
        subspace=basis @ V,
        k=np.asarray(ks),
        mean_abs_corrcoef=np.asarray(abs_curve),
        mean_square_corrcoef=np.asarray(sq_curve),
        residual_norms=np.asarray(norm_curve),
        correlation_before=rho0,
        correlation_after=rho1,
        stiefel_n_iter=np.asarray(iters),
        stiefel_converged=n_conv,
        stiefel_max_iter=n_max,
    )
