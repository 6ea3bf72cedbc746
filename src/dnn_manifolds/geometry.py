r"""Mean-field-theory (MFT) geometry of object manifolds: capacity α_M, radius R_M, dimension D_M.

This module re-implements the geometry side of Cohen, Chung, Lee & Sompolinsky (Nat. Commun.
2020) (``analysis.md`` §4, §5): for each object manifold the anchor points of the replica
mean-field theory, the manifold capacity, radius and dimension, after removing the optimal
common low-rank structure of the object centres.

Closed forms
------------
* :func:`gardner_capacity` — α₀(κ) = 1/[(1+κ²)Φ(κ)+κφ(κ)] (points), stable for very negative κ.
* :func:`ball_capacity` — α_B(κ, R, D) of D-dimensional balls (one numerical integral).

Pipeline (:func:`manifold_geometry` on arrays, :func:`geometry` on a manifold dataset)
--------------------------------------------------------------------------------------
1. **Global centring.** ``smooth``: subtract the mean of the object centres (every object
   weighs the same, ``analysis.md`` §4.2 step 3); ``point_cloud``: subtract the mean of all
   samples pooled (§5 step 1). Identical when all objects have the same number of samples.
2. **Centre correlations** (:func:`optimal_centre_rank`, §4.3): the rank-k subspace minimising
   the squared correlation coefficients of the residual centres, found on the Stiefel manifold
   (Wen–Yin Cayley/BB method, 10 starts in lockstep, the most "stable" start kept); K chosen by
   the mean |ρ| rule. ``smooth``: k = 0, 1, … with K = 0 allowed, k ≤ min(⌈P/2⌉, 46), stop
   when k > K+3. ``point_cloud``: k = 1…(#components below 95 % variance + 10), stop after
   three consecutive increases once k > 4, K ≥ 1.
3. **Per-object frames.** The common subspace is projected out; each manifold is centred on its
   projected centre c, divided by ‖c‖ and written in its own orthonormal frame from its small
   ``M × M`` Gram matrix (never an ``N × N`` matrix): points ``s_j = (y_j, 1)`` in D+1
   dimensions, ``D`` = rank of the centred manifold.
4. **Anchor points** (§4.1, §4.4.2, §4.5): ``n_t`` Gaussian draws ``T = (t, t₀)`` per object;
   the constrained least squares for each draw solved exactly as a non-negative least squares
   on the dual, batched (see :mod:`dnn_manifolds._anchors`).
5. **Per-object quantities** (both methods compute all of them; the method only decides the
   headline): ``capacity_direct`` = 1/⟨Δ⟩; ``capacity_semianalytic`` = the original's
   ``alphac_hat`` = 1/⟨1/(α₀(t·δs+κ)(1+‖δs‖²))⟩; ``capacity_ball`` = α_B(κ, R_M, D_M);
   ``anchor_radius`` R_M = √⟨‖δs‖²⟩ (δs = anchor − mean anchor); ``anchor_dimension`` =
   ⟨(t·δs)²/‖δs‖²⟩ (``effective_dimension``); ``dimension_cosine`` = D⟨t·δs/(‖T‖‖δs‖)⟩²
   (``effective_dimension2``); ``dimension_point_cloud`` = D⟨t̂·ŝ⟩² with uncentred anchors
   (the point-cloud code's D_M); half-widths; the "Gaussian" (argmax-anchor) R, D and half-width;
   the fraction of interior draws; the spectral (participation-ratio) measures.

Headlines (decision, ``analysis.md`` §4.7, §10.1–2)
--------------------------------------------------
* ``smooth``: per-object capacity ``object_capacity`` = ``capacity_semianalytic`` (what the
  original's §4.4 pipeline saves); dimension ``object_dimension`` = ``anchor_dimension``
  (the README's D_M, ``effective_dimension``).
* ``point_cloud``: ``object_capacity`` = ``capacity_direct`` (what §5 and its Python port
  return); ``object_dimension`` = ``dimension_point_cloud``.

The layer's α_M (``capacity``) is the **harmonic** mean over objects, α_M⁻¹ = mean_μ α_μ⁻¹, as
the theory requires and the generic MATLAB driver stores. The convnet driver that produced the
paper's figures stored the *arithmetic* mean by accident (MATLAB ``squeeze``, §4.7); it is kept
as ``capacity_arithmetic_mean``. R_M and D_M of the layer are arithmetic means over objects.

Deliberate differences from the original (``analysis.md`` §10)
--------------------------------------------------------------
* The constrained least squares is solved exactly (NNLS on the dual, for every κ via the shift
  t₀ → t₀+κ), not to the cutting-plane tolerance 0.05/‖c‖ (§4.5, §10.17).
* §10.3: each manifold is embedded as (centred coordinates, 1): the centre is treated as
  orthogonal to the manifold's own span in both methods ("assuming no centre–axis
  correlation", the stated assumption of ``calc_manifold_properties2``). The original's v2 kept
  the in-span part of the centre in the manifold coordinates *and* the full ‖c‖ in the centre
  coordinate, counting it twice. The frame has the manifold's exact rank, so rank-deficient
  manifolds and N < M are handled (§8 warning, §10.7); the D-clipping to min(N, M) of §4.4.1 is
  then a no-op and is not applied.
* The point-cloud code's economy QR gives D = M coordinates for N > M although the centred
  manifold has rank M − 1 (one coordinate is empty); here D is the rank, directions whose
  eigenvalue is below 1e-12·max(N, M) of the largest are dropped. Only the prefactor D and ‖t‖
  of ``dimension_point_cloud``/``dimension_cosine`` see the difference, and they compensate to
  first order (the reference values of the point-cloud port are reproduced, ``bench/``).
* Missing samples (NaN columns) are dropped per object (§10.7: the original crashed).
* κ enters with one sign everywhere: the constraint is ``s·V ≤ −κ``, so κ > 0 is a positive
  margin and lowers the capacity (§10.14); α_B uses the given κ, not 0.
* Small P: k never reaches the dimension of the centres (the residual must keep at least one
  dimension), so P = 2, 3, 5 work; with P = 2 the ``point_cloud`` rule "K ≥ 1" cannot hold and
  K = 0 is used.
* R_M, D_M of the layer are means over objects (the README read-out averaged over the neuron
  subset axis, §10.5); the neuron-subset resampling of the original is not implemented.
* Randomness is explicit (``rng``/``seed``) and recorded (§10.16).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import special
from scipy.integrate import quad_vec
from threadpoolctl import threadpool_limits

from ._anchors import SOLVER_STATUS, anchor_statistics, solve_anchor_points
from ._stiefel import STATUS_CONVERGED, CentreCorrelationCost, minimize_stiefel

__all__ = [
    "METHODS",
    "gardner_capacity",
    "ball_capacity",
    "optimal_centre_rank",
    "check_options",
    "CentreRankResult",
    "manifold_geometry",
    "ManifoldGeometryResult",
    "geometry",
    "register_cli",
]

METHODS = ("smooth", "point_cloud")
"""Names of the analysis methods (see the module docstring)."""

DEFAULT_N_T = {"smooth": 1000, "point_cloud": 200}
"""Default number of Gaussian draws per object: the MATLAB convnet pipeline used 1000; the
point-cloud reference's documentation recommends 200."""

HEADLINE = {
    "smooth": ("capacity_semianalytic", "anchor_dimension"),
    "point_cloud": ("capacity_direct", "dimension_point_cloud"),
}
"""Per-object headline (capacity, dimension) variable of each method."""

STIEFEL_DEFAULTS = {
    "smooth": {"max_iter": 10000, "xtol": 1e-6, "gtol": 1e-6, "ftol": 1e-8},
    "point_cloud": {"max_iter": 20000, "xtol": 1e-6, "gtol": 1e-6, "ftol": 1e-8},
}
"""Optimiser options of the originals (``analysis.md`` §4.3, §5)."""


# ----------------------------------------------------------------------------- closed forms


def _inverse_gardner(kappa):
    r"""1/α₀(κ) = ∫_{−κ}^∞ Dt (t+κ)² = (1+κ²)Φ(κ) + κφ(κ), accurate for very negative κ."""
    k = np.asarray(kappa, dtype=np.float64)
    out = np.empty_like(k)
    phi = np.exp(-0.5 * k * k) / math.sqrt(2.0 * math.pi)
    mid = k > -20.0
    km = k[mid]
    # Mills-ratio form: Φ(κ) = φ(κ)·√(π/2)·erfcx(−κ/√2)
    pos = km > 0
    kp, kn = km[pos], km[~pos]
    res = np.empty_like(km)
    res[pos] = (1.0 + kp * kp) * special.ndtr(kp) + kp * phi[mid][pos]
    mills = math.sqrt(math.pi / 2.0) * special.erfcx(-kn / math.sqrt(2.0))
    res[~pos] = phi[mid][~pos] * ((1.0 + kn * kn) * mills + kn)
    out[mid] = res
    # asymptotic series for κ = −x, x ≥ 20: φ(x) Σ_{k≥1} (−1)^{k+1} 2k (2k−1)!! / x^{2k+1}
    x = -k[~mid]
    if x.size:
        total = np.zeros_like(x)
        dfact = 1.0
        for j in range(1, 12):
            dfact *= 2 * j - 1
            total += (-1) ** (j + 1) * 2 * j * dfact / x ** (2 * j + 1)
        out[~mid] = phi[~mid] * total
    return out if out.ndim else float(out)


def gardner_capacity(kappa):
    r"""Capacity of random points with margin κ (Gardner): α₀(κ).

    .. math::

        \alpha_0(\kappa)^{-1} = \int_{-\kappa}^{\infty} Dt\,(t+\kappa)^2
        = (1+\kappa^2)\,\Phi(\kappa) + \kappa\,\varphi(\kappa)

    Parameters
    ----------
    kappa : float or array-like
        Margin κ (any real; κ > 0 is a positive margin).

    Returns
    -------
    float or ndarray
        α₀(κ); +inf where 1/α₀ underflows (κ ≲ −38), as the original's lookup table.

    Notes
    -----
    For κ < 0 the closed form cancels catastrophically; it is evaluated as
    φ(κ)[(1+κ²)M(κ)+κ] with the Mills ratio M(κ) = √(π/2)·erfcx(−κ/√2) for −20 < κ ≤ 0 and by its
    asymptotic series below −20. The original (``theory_alpha0``) integrated numerically and
    switched to κ⁻² above κ = 100; the closed form is exact everywhere (``analysis.md`` §4.6).

    Examples
    --------
    >>> gardner_capacity(0.0)
    2.0
    >>> round(gardner_capacity(10.0), 8)  # = 1/101
    0.00990099
    """
    k = np.asarray(kappa, dtype=np.float64)
    if not np.all(np.isfinite(k)):
        raise ValueError(f"kappa must be finite; got {kappa!r}")
    with np.errstate(divide="ignore"):
        out = 1.0 / np.asarray(_inverse_gardner(k))
    return float(out) if out.ndim == 0 else out


def _ball_integrand(r, R, kappa):
    """E_t[Δ(t, r)] for a ball of radius R: the t-integral in closed form (Gaussian moments)."""
    a = kappa - r / R  # below: fully embedded; between a and b: touching
    b = kappa + R * r
    Pa, Pb = special.ndtr(a), special.ndtr(b)
    pa = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
    pb = np.exp(-0.5 * b * b) / math.sqrt(2 * math.pi)
    I0 = Pb - Pa
    I1 = pa - pb
    I2 = I0 + a * pa - b * pb
    c = R * r + kappa
    touching = (c * c * I0 - 2 * c * I1 + I2) / (1.0 + R * R)
    embedded = (1.0 + kappa * kappa + r * r) * Pa - a * pa + 2 * kappa * pa
    return touching + embedded


def ball_capacity(radius, dimension, kappa=0.0):
    r"""Capacity of D-dimensional balls of radius R with margin κ: α_B(κ, R, D).

    .. math::

        \alpha_B^{-1} = \int_0^\infty dr\,\chi_D(r) \int dt\,\varphi(t)\,A(r, t),\qquad
        A = \begin{cases}
          \frac{(Rr - t + \kappa)^2}{1+R^2} & \kappa - r/R < t < \kappa + Rr \ \text{(touching)}\\
          (t-\kappa)^2 + r^2 & t < \kappa - r/R \ \text{(embedded)}\\
          0 & \text{otherwise}
        \end{cases}

    with :math:`\chi_D` the chi density with D degrees of freedom (D may be non-integer).

    Parameters
    ----------
    radius : float or array-like
        Ball radius R ≥ 0 (relative to the centre norm).
    dimension : float or array-like
        Ball dimension D ≥ 0.
    kappa : float or array-like, default 0
        Margin κ.

    Returns
    -------
    float or ndarray
        α_B, broadcast over the inputs.

    Notes
    -----
    The inner t-integral is done in closed form with Gaussian partial moments; the outer one
    over r with adaptive Gauss–Kronrod quadrature, vectorised over all inputs
    (``scipy.integrate.quad_vec``) on mode ± 15 of the χ_D densities (mass outside < 1e-40). The original (``alphaB`` in the point-cloud
    code, ``analysis.md`` §5) used a 2-D ``integral2`` and ignored κ. Limits: R → 0 or D = 0
    gives α₀(κ); R = 1, κ = 0 gives 2/(D+1); R → ∞ gives 1/(D+½) at κ = 0.

    Examples
    --------
    >>> round(float(ball_capacity(1.0, 3.0)), 6)  # 2/(D+1)
    0.5
    """
    R, D, K = np.broadcast_arrays(
        np.asarray(radius, dtype=np.float64),
        np.asarray(dimension, dtype=np.float64),
        np.asarray(kappa, dtype=np.float64),
    )
    for name, arr in (("radius", R), ("dimension", D), ("kappa", K)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite; got {arr!r}")
    if np.any(R < 0) or np.any(D < 0):
        raise ValueError(
            f"radius and dimension must be >= 0; got radius={radius!r}, dimension={dimension!r}"
        )
    shape = R.shape
    R, D, K = R.ravel(), D.ravel(), K.ravel()
    out = np.empty(R.shape)
    point = (R == 0) | (D == 0)
    out[point] = gardner_capacity(K[point]) if point.any() else 0
    ball = ~point
    if ball.any():
        Rb, Db, Kb = R[ball], D[ball], K[ball]
        lognorm = (1.0 - 0.5 * Db) * math.log(2.0) - special.gammaln(0.5 * Db)

        def f(r):
            if r <= 0.0:
                return np.zeros_like(Rb)
            dens = np.exp(lognorm + (Db - 1.0) * math.log(r) - 0.5 * r * r)  # chi_D(r)
            return dens * _ball_integrand(r, Rb, Kb)

        mode = np.sqrt(np.maximum(Db - 1.0, 0.0))  # chi_D has width < 0.75 around its mode
        lo = max(0.0, float(mode.min()) - 15.0)
        hi = float(mode.max()) + 15.0
        breaks = np.unique(np.round(mode[(mode > lo) & (mode < hi)], 1))
        if breaks.size > 64:
            breaks = np.quantile(breaks, np.linspace(0, 1, 64))
        inv, _err = quad_vec(
            f,
            lo,
            hi,
            epsabs=1e-13,
            epsrel=1e-10,
            norm="max",
            limit=4000,
            points=breaks.tolist() or None,
        )
        with np.errstate(divide="ignore"):
            out[ball] = 1.0 / inv
    out = out.reshape(shape)
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------------------- centre correlations


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


def _corr_stats(R: np.ndarray):
    """Cosine matrix, mean |ρ| and mean ρ² (off-diagonal) of the rows of R (P × n)."""
    P = R.shape[0]
    norms = np.sqrt(np.einsum("pn,pn->p", R, R))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (R @ R.T) / np.outer(norms, norms)
    off = ~np.eye(P, dtype=bool)
    return rho, float(np.abs(rho[off]).mean()), float((rho[off] ** 2).mean()), norms


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}")
    return method


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
) -> CentreRankResult:
    r"""Optimal common low-rank subspace of the object centres (``analysis.md`` §4.3, §5).

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

    Returns
    -------
    CentreRankResult

    Notes
    -----
    The centres are reduced to their (≤ P−1)-dimensional span through the eigendecomposition
    of their P × P Gram matrix (the original used a QR of the N × P matrix; every quantity is
    rotation invariant). The optimiser is :func:`dnn_manifolds._stiefel.minimize_stiefel`
    (Wen & Yin) with the closed-form gradient of
    :class:`dnn_manifolds._stiefel.CentreCorrelationCost`. The original selects K by the mean
    |ρ| while the optimiser minimises ρ² (§10.4); kept.
    """
    method = _check_method(method)
    C = np.asarray(centres, dtype=np.float64)
    if C.ndim != 2:
        raise ValueError(f"centres must be 2-D (n_neurons, n_objects); got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise ValueError("centres must be finite")
    N, P = C.shape
    if P < 2:
        raise ValueError(f"centres needs at least 2 objects; got {P}")
    if int(n_restarts) < 1:
        raise ValueError(f"n_restarts must be >= 1; got {n_restarts!r}")
    rng = np.random.default_rng(rng)
    opts = dict(STIEFEL_DEFAULTS[method])
    for key, val in (("max_iter", max_iter), ("xtol", xtol), ("gtol", gtol), ("ftol", ftol)):
        if val is not None:
            opts[key] = val

    Cc = C - C.mean(axis=1, keepdims=True)
    gram = Cc.T @ Cc
    ev, U = np.linalg.eigh(gram)
    keep = ev > max(ev[-1], 0.0) * 1e-12 * max(N, P) if ev[-1] > 0 else np.zeros(P, bool)
    ev, U = ev[keep][::-1], U[:, keep][:, ::-1]
    n = int(ev.size)
    Xr = U * np.sqrt(ev)  # (P, n): reduced centres, Xr Xrᵀ = gram
    basis = (Cc @ U) / np.sqrt(ev) if n else np.zeros((N, 0))  # (N, n), orthonormal

    if max_k is None:
        if method == "smooth":
            max_k = min(math.ceil(P / 2), 46)
        else:
            frac = np.cumsum(ev) / ev.sum() if n else np.zeros(0)
            max_k = int(np.sum(frac < 0.95)) + 10
    max_k = int(max(0, min(int(max_k), n - 1)))

    rho0, abs0, sq0, norms0 = _corr_stats(Xr if n else np.zeros((P, 1)))
    ks, abs_curve, sq_curve, norm_curve, iters = [0], [abs0], [sq0], [norms0], [0]
    Vs: dict[int, np.ndarray] = {0: np.zeros((n, 0))}
    n_conv = n_max = 0
    cost = CentreCorrelationCost(Xr) if n else None
    best_k = 0
    best_cost = abs0 if method == "smooth" else np.inf
    V_prev = np.zeros((n, 0))
    base = np.sqrt(np.einsum("pn,pn->p", Xr, Xr))
    for k in range(1, max_k + 1):
        if method == "smooth" and k > best_k + 3:
            break
        s = rng.standard_normal((n_restarts, P))
        starts = np.concatenate(
            [(s @ Xr)[:, :, None], np.broadcast_to(V_prev, (n_restarts, n, k - 1))], axis=2
        )
        V0, _ = np.linalg.qr(starts)
        res = minimize_stiefel(cost.value_and_grad, V0, **opts)
        n_conv += int(np.sum(res.status == STATUS_CONVERGED))
        n_max += int(np.sum(res.status != STATUS_CONVERGED))
        resid = np.sqrt(np.maximum(cost.residual_sq_norms(res.x), 0.0))  # (r, P)
        stability = (resid / base).min(axis=1)
        j = int(np.argmax(stability))
        V_prev = res.x[j]
        Vs[k] = V_prev
        R = Xr - (Xr @ V_prev) @ V_prev.T
        _, a, q, nrm = _corr_stats(R)
        ks.append(k)
        abs_curve.append(a)
        sq_curve.append(q)
        norm_curve.append(nrm)
        iters.append(int(res.n_iter[j]))
        if a < best_cost:
            best_cost, best_k = a, k
        if (
            method == "point_cloud"
            and k > 4
            and abs_curve[k] > abs_curve[k - 1] > abs_curve[k - 2] > abs_curve[k - 3]
        ):
            break
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


# ----------------------------------------------------------------------------- per-manifold geometry


OBJECT_VARIABLES = {
    "capacity_direct": ("manifold capacity, direct MFT estimate 1/<Delta>", "1"),
    "capacity_semianalytic": (
        "manifold capacity, semi-analytic 1/<1/(alpha0(t.ds+kappa)(1+|ds|^2))> (alphac_hat)",
        "1",
    ),
    "capacity_ball": ("capacity of a ball with the manifold's radius and dimension", "1"),
    "anchor_radius": (
        "manifold radius R_M = sqrt<|ds|^2> (anchor points, relative to the centre norm)",
        "1",
    ),
    "anchor_dimension": ("manifold dimension D_M = <(t.ds)^2/|ds|^2> (effective_dimension)", "1"),
    "dimension_cosine": (
        "manifold dimension D<t.ds/(|T||ds|)>^2 (effective_dimension2)",
        "1",
    ),
    "dimension_point_cloud": (
        "manifold dimension D<t_hat.s_hat>^2, uncentred anchors (point-cloud D_M)",
        "1",
    ),
    "anchor_half_width": ("mean half-width <t.ds> (anchor points)", "1"),
    "radius_gaussian": ("Gaussian radius sqrt<|ds|^2> of the argmax points", "1"),
    "half_width_gaussian": ("Gaussian half-width <t.ds> of the argmax points", "1"),
    "dimension_gaussian": ("Gaussian dimension (half_width_gaussian/radius_gaussian)^2", "1"),
    "interior_fraction": ("fraction of Gaussian draws in the interior regime", "1"),
    "participation_ratio": ("participation-ratio dimension (sum lambda)^2/sum lambda^2", "1"),
    "spectral_radius": ("spectral radius sqrt(sum lambda)/|c| (RMS radius)", "1"),
    "spectral_radius_original": ("spectral radius as the original: sqrt(sum lambda^2)/|c|^2", "1"),
    "centre_norm": ("norm of the object centre after removing the common subspace", "1"),
    "frame_dimension": ("rank D of the centred manifold (manifold coordinates)", "1"),
    "n_valid_samples": ("number of valid (non-NaN) samples", "1"),
}
"""Per-object output variables: name → (long_name, units)."""


@dataclass
class ManifoldGeometryResult:
    """Result of :func:`manifold_geometry`.

    Attributes
    ----------
    method : str
    n_t : int
    kappa : float
    objects : dict of str to ndarray of shape (n_objects,)
        Per-object quantities (keys of :data:`OBJECT_VARIABLES` plus ``object_capacity`` and
        ``object_dimension``, the method's headline).
    layer : dict of str to float
        Aggregates: ``capacity`` (harmonic mean of ``object_capacity``),
        ``capacity_arithmetic_mean``, ``capacity_direct_harmonic``,
        ``capacity_semianalytic_harmonic``, ``capacity_ball_harmonic``, ``radius`` and
        ``dimension`` (arithmetic means of ``anchor_radius`` and ``object_dimension``),
        ``centre_correlation`` (mean |ρ| before removal), ``residual_centre_correlation``.
    centres : CentreRankResult
    solver_counts : dict of str to int
        Gaussian draws per solver status (:data:`dnn_manifolds._anchors.SOLVER_STATUS`).
    n_neurons : int
    wall_time : float
        Seconds.
    """

    method: str
    n_t: int
    kappa: float
    objects: dict[str, np.ndarray]
    layer: dict[str, float]
    centres: CentreRankResult
    solver_counts: dict[str, int]
    n_neurons: int
    wall_time: float = field(default=0.0)

    @property
    def n_common(self) -> int:
        """K, the number of common centre directions removed."""
        return self.centres.n_common


def _as_manifolds(points) -> list[np.ndarray]:
    """Validate the input and return one (n_neurons, n_valid_samples) float64 array per object."""
    if isinstance(points, np.ndarray) or not isinstance(points, Sequence):
        arr = np.asarray(points)
        if arr.ndim != 3:
            raise ValueError(
                "points must be 3-D (n_neurons, n_samples, n_objects) or a sequence of 2-D "
                f"(n_neurons, n_samples_i) arrays; got shape {arr.shape}"
            )
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"points must be numeric; got dtype {arr.dtype}")
        mans = [arr[:, :, p] for p in range(arr.shape[2])]
    else:
        mans = [np.asarray(x) for x in points]
        for i, x in enumerate(mans):
            if x.ndim != 2:
                raise ValueError(
                    f"points[{i}] must be 2-D (n_neurons, n_samples); got shape {x.shape}"
                )
            if x.dtype.kind not in "biuf":
                raise TypeError(f"points[{i}] must be numeric; got dtype {x.dtype}")
        if len({x.shape[0] for x in mans}) > 1:
            raise ValueError(
                f"all manifolds need the same n_neurons; got {sorted({x.shape[0] for x in mans})}"
            )
    if len(mans) < 2:
        raise ValueError(f"points needs at least 2 objects; got {len(mans)}")
    out = []
    for i, x in enumerate(mans):
        x = np.asarray(x, dtype=np.float64)
        if np.isinf(x).any():
            raise ValueError(f"object {i}: points contain infinite values")
        nan = np.isnan(x)
        if nan.any():
            col = nan.all(axis=0)
            if (nan & ~col[None, :]).any():
                raise ValueError(
                    f"object {i}: NaN may only mark whole missing samples (all neurons NaN)"
                )
            x = x[:, ~col]
        if x.shape[1] < 1:
            raise ValueError(f"object {i} has no valid sample")
        out.append(x)
    if out[0].shape[0] < 1:
        raise ValueError("points have no neurons")
    return out


def _frame(A: np.ndarray, B: np.ndarray, basis: np.ndarray, centre_norm: float):
    """Orthonormal-frame coordinates of a centred manifold with the common subspace removed.

    A: (N, m) centred points; B = basisᵀA (K, m). Returns (Y (D, m) / ‖c‖, eigenvalues of the
    centred scatter matrix (all, descending, unnormalised)).
    """
    N, m = A.shape
    if N >= m:
        G = A.T @ A - B.T @ B
        lam, W = np.linalg.eigh(G)
        lam, W = lam[::-1], W[:, ::-1]
        keep = lam > max(lam[0], 0.0) * 1e-12 * max(N, m)
        Y = (W[:, keep] * np.sqrt(lam[keep])).T
    else:
        Ap = A - basis @ B
        G = Ap @ Ap.T
        lam, U = np.linalg.eigh(G)
        lam, U = lam[::-1], U[:, ::-1]
        keep = lam > max(lam[0], 0.0) * 1e-12 * max(N, m)
        Y = U[:, keep].T @ Ap
    lam = np.clip(lam, 0.0, None)
    return Y / centre_norm, lam


def _check_n_t(n_t, method):
    if n_t is None:
        return DEFAULT_N_T[method]
    if isinstance(n_t, bool) or not isinstance(n_t, (int, np.integer)) or n_t < 1:
        raise ValueError(f"n_t must be an integer >= 1; got {n_t!r}")
    return int(n_t)


def _check_kappa(kappa):
    try:
        k = float(kappa)
    except (TypeError, ValueError) as err:
        raise ValueError(f"kappa must be a finite number; got {kappa!r}") from err
    if not math.isfinite(k):
        raise ValueError(f"kappa must be a finite number; got {kappa!r}")
    return k


def _check_stiefel_options(options) -> dict[str, Any]:
    options = dict(options or {})
    allowed = ("max_iter", "xtol", "gtol", "ftol")
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"stiefel_options: unknown option(s) {unknown}; allowed: {list(allowed)}")
    for key, val in options.items():
        if key == "max_iter":
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise ValueError(f"stiefel_options: max_iter must be an integer >= 1; got {val!r}")
        elif not (isinstance(val, (int, float, np.number)) and math.isfinite(val) and val >= 0):
            raise ValueError(f"stiefel_options: {key} must be a finite number >= 0; got {val!r}")
    return options


def check_options(
    *,
    method: str = "smooth",
    n_t: int | None = None,
    kappa: float = 0.0,
    seed: int = 0,
    n_restarts: int = 10,
    max_k: int | None = None,
    stiefel_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate the options of :func:`geometry` without running it (e.g. before a pipeline).

    Returns the options with defaults filled in; raises ``ValueError`` naming the bad argument
    and the allowed values.
    """
    method = _check_method(method)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    if (
        isinstance(n_restarts, bool)
        or not isinstance(n_restarts, (int, np.integer))
        or n_restarts < 1
    ):
        raise ValueError(f"n_restarts must be an integer >= 1; got {n_restarts!r}")
    if max_k is not None and (
        isinstance(max_k, bool) or not isinstance(max_k, (int, np.integer)) or max_k < 0
    ):
        raise ValueError(f"max_k must be a non-negative integer or None; got {max_k!r}")
    return {
        "method": method,
        "n_t": _check_n_t(n_t, method),
        "kappa": _check_kappa(kappa),
        "seed": int(seed),
        "n_restarts": int(n_restarts),
        "max_k": None if max_k is None else int(max_k),
        "stiefel_options": {**STIEFEL_DEFAULTS[method], **_check_stiefel_options(stiefel_options)},
    }


def manifold_geometry(
    points,
    *,
    method: str = "smooth",
    n_t: int | None = None,
    kappa: float = 0.0,
    rng=None,
    n_restarts: int = 10,
    max_k: int | None = None,
    stiefel_options: dict[str, Any] | None = None,
    blas_threads: int | None = 1,
    progress: Callable[[int, int], None] | None = None,
) -> ManifoldGeometryResult:
    r"""Mean-field-theory geometry of a set of object manifolds.

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects), or sequence of ndarray
        Responses; a sequence holds one (n_neurons, n_samples_μ) array per object. NaN may mark
        whole missing samples (dropped per object).
    method : {"smooth", "point_cloud"}, default "smooth"
        The original's convnet pipeline for smooth manifolds (``analysis.md`` §4.2–§4.4) or its
        point-cloud analysis (§5). See the module docstring for the differences.
    n_t : int, optional
        Gaussian draws per object; default 1000 (``smooth``) or 200 (``point_cloud``).
    kappa : float, default 0
        Margin κ.
    rng : None, int or numpy.random.Generator
        Randomness (starting points of the optimiser, Gaussian draws), keyword-only.
    n_restarts : int, default 10
        Optimiser starts per rank k (see :func:`optimal_centre_rank`).
    max_k : int, optional
        Largest rank of the common subspace tried (see :func:`optimal_centre_rank`).
    stiefel_options : dict, optional
        ``max_iter``, ``xtol``, ``gtol``, ``ftol`` for the optimiser.
    blas_threads : int or None, default 1
        BLAS threads during the computation (small matrix products are far faster on one
        thread, ``performance-notes.md``); None leaves the setting alone.
    progress : callable, optional
        ``progress(done, total)`` is called as objects are finished.

    Returns
    -------
    ManifoldGeometryResult

    Notes
    -----
    Per object μ with valid samples x_j and centre c (after global centring and removal of the
    K common centre directions): points :math:`s_j = ((x_j - c)/\|c\|, 1)` in the manifold's
    own frame; for each draw :math:`T = (t, t_0) \sim N(0, I_{D+1})` the anchor
    :math:`\tilde s(T)` and :math:`\Delta(T) = \min_{V:\,s_j\cdot V\le-\kappa} \|V-T\|^2`;
    then :math:`\alpha_{\rm direct}^{-1} = \langle\Delta\rangle`,
    :math:`R_M^2 = \langle\|\delta s\|^2\rangle`,
    :math:`D_M = \langle (t\cdot\delta s)^2/\|\delta s\|^2\rangle`, etc. For points
    (one sample per object) the semi-analytic capacity is exactly α₀(κ) and R_M = 0.
    """
    opts = check_options(
        method=method,
        n_t=n_t,
        kappa=kappa,
        n_restarts=n_restarts,
        max_k=max_k,
        stiefel_options=stiefel_options,
    )
    method, n_t, kappa = opts["method"], opts["n_t"], opts["kappa"]
    stiefel_options = _check_stiefel_options(stiefel_options)
    mans = _as_manifolds(points)
    rng = np.random.default_rng(rng)
    rng_centres, rng_draws = rng.spawn(2)
    t_start = time.perf_counter()
    limits = threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads else None
    try:
        result = _manifold_geometry(
            mans,
            method,
            n_t,
            kappa,
            rng_centres,
            rng_draws,
            n_restarts,
            max_k,
            stiefel_options or {},
            progress,
        )
    finally:
        if limits is not None:
            limits.unregister()
    result.wall_time = time.perf_counter() - t_start
    return result


def _manifold_geometry(
    mans, method, n_t, kappa, rng_centres, rng_draws, n_restarts, max_k, stiefel_options, progress
) -> ManifoldGeometryResult:
    P = len(mans)
    N = mans[0].shape[0]
    counts = np.array([x.shape[1] for x in mans])
    centres = np.stack([x.mean(axis=1) for x in mans], axis=1)  # (N, P)
    if method == "smooth":
        origin = centres.mean(axis=1)
    else:
        origin = (centres * counts).sum(axis=1) / counts.sum()
    cres = optimal_centre_rank(
        centres,
        method=method,
        rng=rng_centres,
        n_restarts=n_restarts,
        max_k=max_k,
        **stiefel_options,
    )
    basis = cres.subspace  # (N, K)
    rel = centres - origin[:, None]
    proj = basis.T @ rel  # (K, P)
    cnorm = np.sqrt(
        np.maximum(np.einsum("np,np->p", rel, rel) - np.einsum("kp,kp->p", proj, proj), 0.0)
    )
    if np.any(cnorm <= 0):
        bad = np.flatnonzero(cnorm <= 0).tolist()
        raise ValueError(
            f"object(s) {bad} have a zero centre after global centring and removal of the "
            "common subspace; their geometry relative to the centre is undefined"
        )
    frames, spectra = [], []
    for mu, x in enumerate(mans):
        A = x - centres[:, mu : mu + 1]
        B = basis.T @ A
        Y, lam = _frame(A, B, basis, cnorm[mu])
        frames.append(Y)
        spectra.append(lam)
    draws = [rng_draws.standard_normal((n_t, Y.shape[0] + 1)) for Y in frames]

    anchors = []
    chunk = max(1, min(P, 2**22 // max(1, n_t * max(x.shape[1] for x in mans))))
    for start in range(0, P, chunk):
        anchors.extend(
            solve_anchor_points(frames[start : start + chunk], draws[start : start + chunk], kappa)
        )
        if progress is not None:
            progress(min(P, start + chunk), P)

    stats = [anchor_statistics(a, kappa, _inverse_gardner) for a in anchors]
    objects = {key: np.array([s[key] for s in stats]) for key in stats[0]}
    cap_key, dim_key = HEADLINE[method]
    objects["capacity_ball"] = np.asarray(
        ball_capacity(
            np.nan_to_num(objects["anchor_radius"]), np.nan_to_num(objects[dim_key]), kappa
        ),
        dtype=float,
    ).reshape(P)
    lam_m = [lam / m for lam, m in zip(spectra, counts)]
    s1 = np.array([lam.sum() for lam in lam_m])
    s2 = np.array([(lam**2).sum() for lam in lam_m])
    with np.errstate(divide="ignore", invalid="ignore"):
        objects["participation_ratio"] = s1**2 / s2
    objects["spectral_radius"] = np.sqrt(s1) / cnorm
    objects["spectral_radius_original"] = np.sqrt(s2) / cnorm**2
    objects["centre_norm"] = cnorm
    objects["frame_dimension"] = np.array([Y.shape[0] for Y in frames], dtype=float)
    objects["n_valid_samples"] = counts.astype(float)
    objects["object_capacity"] = objects[cap_key].copy()
    objects["object_dimension"] = objects[dim_key].copy()

    def harmonic(x):
        with np.errstate(divide="ignore"):
            return float(1.0 / np.mean(1.0 / x))

    layer = {
        "capacity": harmonic(objects["object_capacity"]),
        "capacity_arithmetic_mean": float(np.mean(objects["object_capacity"])),
        "capacity_direct_harmonic": harmonic(objects["capacity_direct"]),
        "capacity_semianalytic_harmonic": harmonic(objects["capacity_semianalytic"]),
        "capacity_ball_harmonic": harmonic(objects["capacity_ball"]),
        "radius": float(np.mean(objects["anchor_radius"])),
        "dimension": float(np.mean(objects["object_dimension"])),
        "centre_correlation": cres.mean_abs_corrcoef_before,
        "residual_centre_correlation": float(
            cres.mean_abs_corrcoef[list(cres.k).index(cres.n_common)]
        ),
    }
    status = np.concatenate([a.status for a in anchors])
    solver_counts = {name: int(np.sum(status == i)) for i, name in enumerate(SOLVER_STATUS)}
    return ManifoldGeometryResult(
        method=method,
        n_t=n_t,
        kappa=kappa,
        objects=objects,
        layer=layer,
        centres=cres,
        solver_counts=solver_counts,
        n_neurons=N,
    )


# ----------------------------------------------------------------------------- xarray and CLI


LAYER_VARIABLES = {
    "capacity": ("manifold capacity alpha_M of the layer: harmonic mean of object_capacity", "1"),
    "capacity_arithmetic_mean": (
        "arithmetic mean of object_capacity (what the original convnet driver stored)",
        "1",
    ),
    "capacity_direct_harmonic": ("harmonic mean of capacity_direct", "1"),
    "capacity_semianalytic_harmonic": ("harmonic mean of capacity_semianalytic", "1"),
    "capacity_ball_harmonic": ("harmonic mean of capacity_ball", "1"),
    "radius": ("manifold radius R_M of the layer: mean of anchor_radius over objects", "1"),
    "dimension": ("manifold dimension D_M of the layer: mean of object_dimension", "1"),
    "centre_correlation": ("mean |correlation| of object centres before removal (k = 0)", "1"),
    "residual_centre_correlation": (
        "mean |correlation| of residual centres after removing n_common_directions",
        "1",
    ),
}


def _session_dataset(
    res: ManifoldGeometryResult, object_ids, object_labels, seed_entropy
) -> xr.Dataset:
    P = len(object_ids)
    cres = res.centres
    data: dict[str, Any] = {}
    for name, (long_name, units) in OBJECT_VARIABLES.items():
        data[name] = ("object", res.objects[name], {"long_name": long_name, "units": units})
    cap_key, dim_key = HEADLINE[res.method]
    data["object_capacity"] = (
        "object",
        res.objects["object_capacity"],
        {
            "long_name": f"manifold capacity per object (headline of method {res.method}: {cap_key})",
            "units": "1",
        },
    )
    data["object_dimension"] = (
        "object",
        res.objects["object_dimension"],
        {
            "long_name": f"manifold dimension per object (headline of method {res.method}: {dim_key})",
            "units": "1",
        },
    )
    for name, (long_name, units) in LAYER_VARIABLES.items():
        data[name] = ((), res.layer[name], {"long_name": long_name, "units": units})
    data["n_common_directions"] = (
        (),
        cres.n_common,
        {"long_name": "K, common centre directions removed", "units": "1"},
    )
    data["mean_abs_corrcoef"] = (
        "k",
        cres.mean_abs_corrcoef,
        {
            "long_name": "mean |correlation| of residual centres after removing k directions",
            "units": "1",
        },
    )
    data["mean_square_corrcoef"] = (
        "k",
        cres.mean_square_corrcoef,
        {
            "long_name": "mean squared correlation of residual centres after removing k directions",
            "units": "1",
        },
    )
    data["residual_centre_norm"] = (
        ("k", "object"),
        cres.residual_norms,
        {
            "long_name": "norm of the residual centre after removing k directions",
            "units": "response units",
        },
    )
    data["stiefel_n_iter"] = (
        "k",
        cres.stiefel_n_iter,
        {"long_name": "optimiser iterations of the kept start", "units": "1"},
    )
    data["centre_correlation_matrix"] = (
        ("object", "object2"),
        cres.correlation_before,
        {"long_name": "cosine similarity of globally centred object centres", "units": "1"},
    )
    data["residual_centre_correlation_matrix"] = (
        ("object", "object2"),
        cres.correlation_after,
        {
            "long_name": "cosine similarity of residual centres (common subspace removed)",
            "units": "1",
        },
    )
    data["solver_count"] = (
        "solver_status",
        np.array([res.solver_counts[s] for s in SOLVER_STATUS]),
        {"long_name": "Gaussian draws per anchor-point solver outcome", "units": "1"},
    )
    data["stiefel_converged"] = (
        (),
        cres.stiefel_converged,
        {"long_name": "optimiser runs that converged", "units": "1"},
    )
    data["stiefel_max_iter"] = (
        (),
        cres.stiefel_max_iter,
        {"long_name": "optimiser runs stopped by the iteration limit", "units": "1"},
    )
    data["n_neurons"] = ((), res.n_neurons, {"long_name": "non-silent neurons used", "units": "1"})
    data["wall_time"] = ((), res.wall_time, {"long_name": "computation time", "units": "s"})
    data["seed_entropy"] = (
        (),
        json.dumps(seed_entropy),
        {"long_name": "numpy SeedSequence entropy of this session's stream"},
    )
    coords = {
        "object": ("object", np.asarray(object_ids)),
        "object_label": ("object", np.asarray(object_labels, dtype=object)),
        "object2": ("object2", np.asarray(object_ids)),
        "k": ("k", cres.k),
        "solver_status": ("solver_status", np.array(SOLVER_STATUS, dtype=object)),
    }
    return xr.Dataset(data, coords=coords)


def geometry(
    dataset: xr.Dataset,
    *,
    session=None,
    method: str = "smooth",
    n_t: int | None = None,
    kappa: float = 0.0,
    seed: int = 0,
    n_restarts: int = 10,
    max_k: int | None = None,
    stiefel_options: dict[str, Any] | None = None,
    progress: bool = False,
) -> xr.Dataset:
    """Mean-field-theory geometry of the object manifolds of a manifold dataset.

    Parameters
    ----------
    dataset : xarray.Dataset
        A manifold dataset (:mod:`dnn_manifolds.dataset`): variable ``tuning`` with dims
        ``(session, neuron, sample, object)``. Silent neurons are dropped per session; missing
        samples are dropped per object.
    session : str, int, sequence of those, or None
        One session (title or index): the output has no ``session`` dim. A sequence, or None
        for all sessions: the output has a ``session`` dim.
    method : {"smooth", "point_cloud"}
        See :func:`manifold_geometry`.
    n_t : int, optional
        Gaussian draws per object (default by method, :data:`DEFAULT_N_T`).
    kappa : float, default 0
        Margin κ.
    seed : int, default 0
        Base seed; session ``s`` (index in the dataset) uses
        ``numpy.random.SeedSequence([seed, s])``, so a session's result does not depend on which
        other sessions are analysed.
    n_restarts, max_k, stiefel_options
        Passed to :func:`manifold_geometry`.
    progress : bool
        Show a tqdm progress bar over objects.

    Returns
    -------
    xarray.Dataset
        Per-object variables over dim ``object`` (:data:`OBJECT_VARIABLES`, ``object_capacity``,
        ``object_dimension``), layer aggregates as scalars (:data:`LAYER_VARIABLES`),
        ``n_common_directions``, the curves over ``k``, the correlation matrices over
        ``(object, object2)``, ``solver_count`` over ``solver_status``, seed, wall time; attrs
        hold the options and provenance. With several sessions every variable gets a leading
        ``session`` dim (curves over ``k`` are NaN-padded).

    Raises
    ------
    ValueError
        Unknown method or session, n_t < 1, non-finite κ, bad seed.
    """
    from . import dataset as dsmod

    opts = check_options(
        method=method,
        n_t=n_t,
        kappa=kappa,
        seed=seed,
        n_restarts=n_restarts,
        max_k=max_k,
        stiefel_options=stiefel_options,
    )
    method, n_t, kappa = opts["method"], opts["n_t"], opts["kappa"]
    if dsmod.TUNING not in dataset.data_vars:
        raise ValueError(f"dataset has no variable {dsmod.TUNING!r}; is it a manifold dataset?")
    single = session is not None and (isinstance(session, (str, int, np.integer)))
    if session is None:
        indices = list(range(dataset.sizes["session"]))
    elif single:
        indices = [dsmod.resolve_session(dataset, session)]
    else:
        indices = [dsmod.resolve_session(dataset, s) for s in session]
        if not indices:
            raise ValueError("session: give at least one session, or None for all")
    object_ids = dataset["object"].values
    labels = (
        dataset["object_label"].values
        if "object_label" in dataset.coords
        else np.array([str(i) for i in object_ids], dtype=object)
    )
    P = len(object_ids)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(indices) * P, unit="object", desc="geometry")
    parts = []
    try:
        for n_done, s in enumerate(indices):
            values = dsmod.session_data(dataset, s)
            ss = np.random.SeedSequence([int(seed), int(s)])
            if bar is not None:
                bar.set_postfix_str(str(dataset["session"].values[s]))
                base = n_done * P

                def cb(done, total, _base=base):
                    bar.n = _base + done
                    bar.refresh()

            else:
                cb = None
            res = manifold_geometry(
                values,
                method=method,
                n_t=n_t,
                kappa=kappa,
                rng=np.random.default_rng(ss),
                n_restarts=n_restarts,
                max_k=max_k,
                stiefel_options=stiefel_options,
                progress=cb,
            )
            part = _session_dataset(res, object_ids, labels, [int(seed), int(s)])
            parts.append(part)
    finally:
        if bar is not None:
            bar.close()
    sess_coords = {
        "session": np.array([str(dataset["session"].values[s]) for s in indices], dtype=object)
    }
    for name in dsmod.SESSION_COORDS:
        if name in dataset.coords:
            sess_coords[name] = np.array(
                [str(dataset[name].values[s]) for s in indices], dtype=object
            )
    if single:
        out = parts[0]
        for name, vals in sess_coords.items():
            out = out.assign_coords({name: vals[0]})
    else:
        out = xr.concat(
            parts,
            dim="session",
            join="outer",
            coords="minimal",
            compat="override",
            combine_attrs="drop_conflicts",
        )
        out = out.assign_coords({name: ("session", vals) for name, vals in sess_coords.items()})
    options = {
        "method": method,
        "n_t": n_t,
        "kappa": kappa,
        "seed": int(seed),
        "n_restarts": int(n_restarts),
        "max_k": max_k,
        "stiefel_options": opts["stiefel_options"],
        "sessions": [str(dataset["session"].values[s]) for s in indices],
    }
    attrs = dsmod.provenance_attrs(
        seeds={"geometry": int(seed)},
        config=options,
        title="Mean-field-theory geometry of object manifolds",
        analysis="geometry",
        method=method,
        n_t=n_t,
        kappa=kappa,
        seed=int(seed),
        capacity_headline=HEADLINE[method][0],
        dimension_headline=HEADLINE[method][1],
        capacity_aggregate="harmonic mean over objects",
        input_attrs={
            k: (v.item() if isinstance(v, np.generic) else v)
            for k, v in dataset.attrs.items()
            if k != "config"
        },
    )
    out.attrs = attrs
    return out


def _run_cli(args: argparse.Namespace) -> int:
    from . import dataset as dsmod
    from .cli import session_argument
    from .fileio import write_netcdf

    ds = dsmod.load_dataset(args.input)
    try:
        sessions = session_argument(args.session)
        out = geometry(
            ds,
            session=sessions,
            method=args.method,
            n_t=args.n_t,
            kappa=args.kappa,
            seed=args.seed,
            n_restarts=args.n_restarts,
            max_k=args.max_k,
            progress=not args.quiet,
        )
        out.attrs["history"] = (
            f"dnn-manifolds geometry {args.input} {args.output}"
            + "".join(f" --session {s}" for s in args.session or [])
            + f" --method {args.method} --n-t {out.attrs['n_t']} --kappa {args.kappa}"
            + f" --seed {args.seed} --n-restarts {args.n_restarts}"
            + (f" --max-k {args.max_k}" if args.max_k is not None else "")
        )
    finally:
        ds.close()
    write_netcdf(out, args.output)
    if not args.quiet:
        cap = np.atleast_1d(out["capacity"].values)
        K = np.atleast_1d(out["n_common_directions"].values)
        for i, title in enumerate(np.atleast_1d(out["session"].values)):
            print(
                f"{title}: alpha_M = {cap[i]:.4g}, R_M = {np.atleast_1d(out['radius'].values)[i]:.4g}, "
                f"D_M = {np.atleast_1d(out['dimension'].values)[i]:.4g}, K = {int(K[i])}"
            )
    return 0


def register_cli(subparsers) -> None:
    """Add the ``geometry`` subcommand to the ``dnn-manifolds`` command."""
    p = subparsers.add_parser(
        "geometry",
        help="mean-field-theory geometry (alpha_M, R_M, D_M, centre correlations)",
        description=(
            "Mean-field-theory capacity, radius and dimension of every object manifold, after "
            "removing the optimal common low-rank structure of the object centres. Writes a "
            "netCDF file (per-object variables over 'object', layer aggregates as scalars; a "
            "'session' dim when several sessions are analysed)."
        ),
    )
    p.add_argument(
        "input", metavar="IN.nc", help="manifold dataset (dnn-manifolds import / save_dataset)"
    )
    p.add_argument("output", metavar="OUT.nc", help="output netCDF file (written atomically)")
    p.add_argument(
        "--session",
        action="append",
        metavar="S",
        help="session title or index; repeat for several; omit for all sessions",
    )
    p.add_argument(
        "--method",
        default="smooth",
        metavar="M",
        help=f"analysis method, one of {list(METHODS)} (default: smooth)",
    )
    p.add_argument(
        "--n-t",
        type=int,
        default=None,
        metavar="N",
        help="Gaussian draws per object (default: 1000 for smooth, 200 for point_cloud)",
    )
    p.add_argument("--kappa", type=float, default=0.0, metavar="K", help="margin (default 0)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="base seed (default 0)")
    p.add_argument(
        "--n-restarts",
        type=int,
        default=10,
        metavar="R",
        help="optimiser starts per rank of the common subspace (default 10)",
    )
    p.add_argument(
        "--max-k",
        type=int,
        default=None,
        metavar="K",
        help="largest rank of the common centre subspace tried (default by method)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    p.set_defaults(func=_run_cli)
