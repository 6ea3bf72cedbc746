r"""Direct capacity of balls (the "spheres" control): exact separability of ellipsoids.

``docs/capacity.md#capacity-balls``. Object μ is the set ``{c_μ + A_μ s : ‖s‖ ≤ 1}`` (a ball
of the measured radius and dimension, :func:`~dnn_manifolds.analysis.manipulations.ball_manifolds`);
a random Gaussian projection ``R`` maps it to the ellipsoid ``{R c_μ + R A_μ s}``. The labelled
balls are separable iff

.. math::  \exists (w, b):\ y_\mu (w\cdot c'_\mu + b) > \|A'^\top_\mu w\|\quad\forall\mu.

Decision (as the original's ball cutting plane, made exact): start from the centres; solve the
certified LP on the working set of points; a non-separable working set (points of the balls)
proves the balls non-separable; otherwise each ball's worst point ``c' − y A' A'ᵀw/‖A'ᵀw‖`` is
checked — when every ball is on its side the separator is verified, else the violated balls'
worst points join the working set. After ``max_samples`` points per ball the exact second-order
cone feasibility problem (cvxpy + Clarabel) decides. Searching ``N_c`` and estimating ``f(n)``
reuse the capacity's search and repetitions (:mod:`.search`, :mod:`.repetitions`).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from . import lp as _lp
from .lp import SeparabilityResult
from .options import CapacityOptions
from .problem import _draw_labels
from .separability import decide

__all__ = ["BallProblem", "prepare_balls"]


@dataclass
class BallProblem:
    """One ball-capacity problem (inherited by worker processes).

    ``vectors`` stacks the centred centres (first P columns) and every ball's axes; a
    Gaussian projection acts on them through the Gram basis ``basis`` (rank × K)."""

    key: tuple[int, ...]
    vectors: np.ndarray  # (N, P + sum D_mu)
    basis: np.ndarray  # (rank, P + sum D_mu)
    rank: int
    axis_starts: np.ndarray  # (P + 1,) column ranges of each ball's axes, after the centres
    n_objects: int
    opts: CapacityOptions
    dimensions: np.ndarray  # (P,)
    radii: np.ndarray  # (P,)

    @property
    def n_points(self) -> int:
        return self.n_objects

    def run(self, n: int, rep: int) -> tuple[bool | None, str]:
        """Decide repetition ``rep`` at ``n`` (same random streams as the manifolds' problem)."""
        rng = np.random.default_rng(np.random.SeedSequence(list(self.key) + [0, n, rep]))
        y = _draw_labels(rng, self.n_objects, self.opts.labels)
        if n >= self.rank:
            feats = self.basis
        else:
            feats = rng.standard_normal((n, self.rank)) @ self.basis
        p = self.n_objects
        centres = feats[:, :p]
        axes = [feats[:, p + self.axis_starts[i] : p + self.axis_starts[i + 1]] for i in range(p)]
        res = separate_balls(centres, axes, y, max_points=self.opts.max_samples, gamma_tol=self.opts.gamma_tol)
        return res.separable, res.status


def prepare_balls(
    centres: np.ndarray, axes: list[np.ndarray], key: tuple[int, ...], opts: CapacityOptions
) -> BallProblem:
    """A :class:`BallProblem` from ball centres ``(N, P)`` and axes ``[(N, D_μ)]``."""
    n_neurons, p = centres.shape
    c = centres - centres.mean(axis=1, keepdims=True)  # translation: changes no decision
    vectors = np.concatenate([c, *axes], axis=1) if axes else c
    starts = np.concatenate([[0], np.cumsum([a.shape[1] for a in axes])]).astype(np.int64)
    k = vectors.shape[1]
    if k < n_neurons:
        gram = vectors.T @ vectors
        fac, piv, r, info = sla.lapack.dpstrf(gram, lower=1)
        if info < 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"pivoted Cholesky failed (LAPACK info {info})")
        lower = np.tril(fac)[:, :r]
        factor = np.empty((k, r))
        factor[piv - 1] = lower
        basis = np.ascontiguousarray(factor.T)
        rank = int(r)
    else:
        basis, rank = vectors, n_neurons
    dims = np.diff(starts).astype(np.int64)
    radii = np.array([np.linalg.norm(a[:, 0]) if a.shape[1] else 0.0 for a in axes])
    return BallProblem(key, vectors, basis, rank, starts, p, opts, dims, radii)


def _ball_margins(centres, axes, y, w, b) -> np.ndarray:
    """``y_μ (w·c_μ + b) − ‖A_μᵀ w‖`` per ball (> 0: the whole ball on its side)."""
    field = y * (w @ centres + b)
    spread = np.array([np.linalg.norm(a.T @ w) if a.shape[1] else 0.0 for a in axes])
    return field - spread


def separate_balls(
    centres: np.ndarray,
    axes: list[np.ndarray],
    y: np.ndarray,
    *,
    max_points: int = 100,
    gamma_tol: float = _lp.GAMMA_TOL,
) -> SeparabilityResult:
    """Whether labelled ellipsoids ``{c_μ + A_μ s : ‖s‖ ≤ 1}`` are linearly separable (module
    docstring). ``centres``: (n, P); ``axes``: P arrays (n, D_μ); ``y``: (P,) ±1."""
    p = centres.shape[1]
    points = [[centres[:, i]] for i in range(p)]
    used_fallback = False
    while True:
        x = np.concatenate([np.stack(pts, axis=1) for pts in points], axis=1)
        lab = np.concatenate([np.full(len(pts), y[i]) for i, pts in enumerate(points)])
        res = decide(x, lab, method="lp", gamma_tol=gamma_tol)
        used_fallback |= res.status == _lp.FALLBACK
        if res.separable is not True:  # points of the balls not separable (or failed)
            return res
        margins = _ball_margins(centres, axes, y, res.w, res.b)
        if np.all(margins > 0):
            status = _lp.FALLBACK if used_fallback else _lp.CERTIFIED
            return SeparabilityResult(True, status, "every ball on its side", res.w, res.b)
        if max(len(pts) for pts in points) >= max_points:
            return _socp(centres, axes, y)
        for i in np.flatnonzero(margins <= 0):
            a = axes[i]
            g = a.T @ res.w
            norm = np.linalg.norm(g)
            if a.shape[1] and norm > 0:
                points[i].append(centres[:, i] - y[i] * (a @ g) / norm)


def _socp(centres, axes, y) -> SeparabilityResult:
    """Exact decision: feasibility of ``y_μ(w·c_μ + b) ≥ 1 + ‖A_μᵀw‖`` (cvxpy + Clarabel)."""
    import cvxpy as cp

    t0 = time.perf_counter()
    n = centres.shape[0]
    scale = float(np.abs(centres).max()) or 1.0
    w = cp.Variable(n)
    b = cp.Variable()
    cons = []
    for i in range(centres.shape[1]):
        lhs = y[i] * (centres[:, i] / scale @ w + b) - 1
        if axes[i].shape[1]:
            cons.append(cp.SOC(lhs, (axes[i] / scale).T @ w))
        else:
            cons.append(lhs >= 0)
    prob = cp.Problem(cp.Minimize(0), cons)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL, verbose=False)
    except cp.error.SolverError as err:
        return SeparabilityResult(None, _lp.FAILED, f"Clarabel SolverError: {err}", solve_time=time.perf_counter() - t0)
    if prob.status == cp.INFEASIBLE:
        return SeparabilityResult(False, _lp.REFERENCE, "SOCP infeasible", solve_time=time.perf_counter() - t0)
    if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and w.value is not None:
        wv = np.asarray(w.value) / scale
        bv = float(b.value)
        if np.all(_ball_margins(centres, axes, y, wv, bv) > 0):
            return SeparabilityResult(True, _lp.REFERENCE, "SOCP feasible", wv, bv, solve_time=time.perf_counter() - t0)
    return SeparabilityResult(None, _lp.FAILED, f"SOCP status {prob.status}", solve_time=time.perf_counter() - t0)
