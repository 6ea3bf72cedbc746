r"""Linear separability of labelled points: a certified dense LP and the cvxpy/Clarabel reference.

Private solver module of :mod:`dnn_manifolds.analysis.capacity`. Everything here works on plain arrays
that the caller has validated: ``x`` of shape ``(n_features, n_points)`` (columns are points,
as in the dataset's neuron-first layout) and ``y`` of shape ``(n_points,)`` with values ±1.

The question is whether an affine hyperplane with an unregularised bias puts every point on its
label's side,

.. math::

    \exists\, (w, b):\quad y_k\,(w \cdot x_k + b) \ge 1 \quad \text{for all } k,

which is exactly the question the original's hard-margin QP answers with "margin > 0"
(``docs/capacity.md#capacity-decision``).

Fast path (:func:`lp_separability`)
-----------------------------------
1. *Canonical coordinates* (:mod:`.canonical`). The homogeneous system ``y_k [x_k, 1]·v > 0`` is
   centred on the per-feature median, its rows and columns are scaled by powers of two until
   each has largest entry about 1 (positive row scalings and invertible column maps change no
   decision), and it is replaced by an orthonormal basis of its column space. The constraint
   matrix ``A`` then has (nearly) orthonormal columns whatever the data's scale, offset,
   outliers or rank, and its condition number ``κ`` is known.
2. *Gordan dual with a box.* A dense Mehrotra predictor–corrector interior-point method solves

   .. math::

       \max_u\ \mathbf 1^\top u \quad\text{s.t.}\quad A^\top u = 0,\ 0 \le u \le 1,

   whose optimum is 0 when the points are separable and at least 1 when they are not
   (Gordan's alternative: either ``A v > 0`` for some ``v`` or ``A^T u = 0`` for some
   ``u ≥ 0, u ≠ 0``). Its Lagrange multiplier ``-y`` of ``A^T u = 0`` converges to a
   separator. Each iteration factors the ``r × r`` normal matrix (Cholesky).
3. *Certificates, checked at every iteration.*

   * separable: ``v`` with ``a_k · v ≥ γ ‖a_k‖ ‖v‖`` for every ``k``; the separator is then
     mapped back and re-verified on the *original* points with a rounding-safe bound;
   * not separable: ``u ≥ 0`` with ``‖A^T u‖ < γ' Σ_k u_k ‖a_k‖``. Since
     ``u^T A v = (A^T u) · v``, no separator with normalised margin ``≥ γ'`` can exist.
     ``γ' = max(gamma_tol, 16 √(K d) ε κ)`` also covers the rounding of the canonical
     coordinates; when ``γ'`` exceeds ``canonical.MAX_TOLERANCE`` (1e-6) the problem is too
     ill-conditioned for the answer "not separable" to be certified, and it is not given.

   If neither certificate is reached (or the separator fails the check on the original data),
   the fast path says so (``separable=None``) and the caller falls back to the reference.

So the decision is exact in this sense: a "separable" answer is always backed by a separator
verified on the original points; a "not separable" answer by a certificate that no separator
has a normalised margin above ``γ'`` (``gamma_tol`` = 1e-9 by default) in canonical coordinates
(the original points up to an invertible affine map and positive scalings of the
constraints). Only dichotomies whose best margin lies within that band of zero (measure zero
for continuous data) could be answered either way. A decision that can be certified neither
way is a failure (status ``failed``), never an answer.

Reference (:func:`qp_separability`)
-----------------------------------
The original's hard-margin SVM, ``min ½‖w‖² s.t. y_k (w·x_k + b) ≥ 1``, written in cvxpy and
solved by Clarabel (``solver=cp.CLARABEL``; ``cp.error.SolverError`` is caught and reported as
a failure). It also gives the margin ``1/‖w‖``.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import dense as _dense
from .canonical import MAX_TOLERANCE, canonical_rows, certificate_tolerance, rounding_band, to_original

# Status codes of a single decision (documented in capacity.py as well).
CERTIFIED = "certified"
"""The fast LP decided and certified the answer."""
FALLBACK = "fallback"
"""The fast LP was unsure; the reference QP decided."""
REFERENCE = "reference"
"""The reference QP (cvxpy + Clarabel) decided (``method='qp'``)."""
FAILED = "failed"
"""No solver could decide; the outcome is missing (never read as an answer)."""

GAMMA_TOL = 1e-9
"""Default normalised-margin tolerance of the certificates."""


@dataclass(frozen=True)
class SeparabilityResult:
    """Outcome of one separability test.

    Attributes
    ----------
    separable : bool or None
        The decision; ``None`` when no solver could decide (``status == "failed"``).
    status : str
        ``"certified"`` (fast LP, with certificate), ``"fallback"`` (fast LP unsure, reference
        decided), ``"reference"`` (reference QP asked for directly) or ``"failed"``.
    message : str
        Human-readable detail (solver statuses, why a fallback happened).
    w : ndarray of shape (n_features,) or None
        A verified separator's weights in the original coordinates (when separable).
    b : float
        Its bias (NaN when not separable).
    margin : float
        ``min_k y_k (w·x_k + b) / ‖w‖`` of the max-margin solution when the reference QP was
        solved; NaN otherwise (the fast LP does not maximise the margin).
    n_iter : int
        Interior-point (or Clarabel) iterations.
    solve_time : float
        Seconds spent.
    """

    separable: bool | None
    status: str
    message: str = ""
    w: np.ndarray | None = field(default=None, repr=False)
    b: float = math.nan
    margin: float = math.nan
    n_iter: int = 0
    solve_time: float = 0.0


# ----------------------------------------------------------------------------- helpers


def verify_separator(x: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> bool:
    """Check in float64 that ``(w, b)`` strictly separates every point, with rounding slack.

    Each value ``y_k (w·x_k + b)`` must exceed a bound on its own floating-point error,
    ``4 (n_features + 2) ε (|w|·|x_k| + |b|)``, so a ``True`` cannot be a rounding artefact.
    """
    x = np.asarray(x, dtype=np.float64)
    field_ = y * (w @ x + b)
    bound = 4.0 * (x.shape[0] + 2) * np.finfo(np.float64).eps * (np.abs(w) @ np.abs(x) + abs(b))
    return bool(np.all(field_ > bound)) and bool(np.all(np.isfinite(field_)))


# ----------------------------------------------------------------------------- dense IPM


@dataclass(frozen=True)
class _IPMOutcome:
    separable: bool | None
    v: np.ndarray | None
    n_iter: int
    message: str


_U_START = 0.005
"""Initial value of every ``u_k`` (``w = 1 − u``, ``z = s = 1``)."""


def _max_step(x: np.ndarray, dx: np.ndarray) -> float:
    neg = dx < 0
    if not neg.any():
        return np.inf
    return float(np.min(-x[neg] / dx[neg]))


def gordan_ipm(
    a: np.ndarray,
    *,
    gamma_tol: float = GAMMA_TOL,
    max_iter: int = 100,
    accept=None,
    gordan_tol: float | None = None,
) -> _IPMOutcome:
    r"""Decide ``∃ v: A v > 0`` by a Mehrotra interior-point method on the box-bounded Gordan dual.

    Solves :math:`\min_u -\mathbf 1^\top u` s.t. :math:`A^\top u = 0`, :math:`0 \le u \le 1`
    (slack ``w = 1 - u``; dual variables ``y`` for the equalities and ``z, s ≥ 0`` for the
    bounds; normal equations :math:`A^\top D A\,\Delta y = \dots` with
    :math:`D = (z/u + s/w)^{-1}`), checking both certificates of the module docstring at every
    iterate.

    Parameters
    ----------
    a : ndarray of shape (n_points, d)
        Constraint rows (labels folded in).
    gamma_tol : float
        Normalised-margin tolerance of the separability certificate (and of the Gordan
        certificate unless ``gordan_tol`` is given).
    max_iter : int
        Iteration limit; reaching it returns ``separable=None``.
    accept : callable, optional
        ``accept(v) -> bool``: an extra check of a candidate separator (the caller re-verifies
        it on the original points); a rejected candidate lets the iterations go on, since the
        separator's margin keeps growing towards the optimum.
    gordan_tol : float, optional
        Band of the non-separability certificate (``gamma_tol`` widened by the rounding of the
        canonical coordinates). When the widening exceeds ``canonical.MAX_TOLERANCE`` no such
        certificate is accepted: meeting it ends the iterations undecided.
    """
    k, d = a.shape
    rejected = 0
    gordan_tol = gamma_tol if gordan_tol is None else gordan_tol
    certifiable = gordan_tol <= max(MAX_TOLERANCE, gamma_tol)
    row_norm = np.sqrt(np.einsum("ij,ij->i", a, a))

    def separates(v: np.ndarray, av: np.ndarray) -> bool:
        nonlocal rejected
        nv = float(np.linalg.norm(v))
        if nv > 0 and np.all(av > gamma_tol * nv * row_norm):
            if accept is None or accept(v):
                return True
            rejected += 1
        return False

    def gordan(u_: np.ndarray) -> bool:
        weight = float(u_ @ row_norm)
        return u_.sum() >= 0.5 and float(np.linalg.norm(a.T @ u_)) < gordan_tol * weight

    def undecided(it: int) -> _IPMOutcome:
        return _IPMOutcome(
            None,
            None,
            it,
            f"not separable to working precision, but too ill-conditioned to certify it "
            f"(rounding band {gordan_tol:.1e} > {MAX_TOLERANCE:g})",
        )

    # A small uniform start (most u vanish at the optimum) cut the iterations ~3x against
    # u = 1/2 on DNN-like and random-point problems near the transition.
    u = np.full(k, _U_START)
    w = 1.0 - u
    z = np.ones(k)
    s = np.ones(k)
    y = np.zeros(d)
    tau = 0.99
    for it in range(max_iter):
        ay = a @ y
        # --- certificate of separability: v = -y with a_k·v ≥ γ ‖a_k‖‖v‖
        if separates(-y, -ay):
            return _IPMOutcome(True, -y, it, "separating direction found")
        rp = a.T @ u
        # --- certificate of non-separability: ‖Aᵀu‖ < γ Σ u_k ‖a_k‖
        if gordan(u):
            if not certifiable:
                return undecided(it)
            return _IPMOutcome(False, None, it, "Gordan certificate found")
        rd = -1.0 - ay - z + s
        mu = (u @ z + w @ s) / (2 * k)
        dmat = 1.0 / (z / u + s / w)
        sq = np.sqrt(dmat)
        as_ = a * sq[:, None]
        nmat = as_.T @ as_
        try:
            chol = _dense.cho_factor(nmat, lower=True)
        except (np.linalg.LinAlgError, ValueError):
            # tiny regularisation keeps the Newton step defined near a degenerate optimum
            nmat[np.diag_indices_from(nmat)] += 1e-12 * max(1.0, float(np.trace(nmat)) / d)
            try:
                chol = _dense.cho_factor(nmat, lower=True)
            except (np.linalg.LinAlgError, ValueError):
                return _IPMOutcome(None, None, it, "normal matrix not positive definite")

        # --- polished Gordan candidate: the D-weighted projection of u onto {Aᵀu = 0}
        # (u − D A (AᵀDA)⁻¹ Aᵀu: entries with small u move little, so it often stays ≥ 0)
        if u.sum() >= 0.5:
            t = _dense.cho_solve(chol, rp)
            u_pol = u - dmat * (a @ t)
            if u_pol.min() >= 0 and gordan(u_pol):
                if not certifiable:
                    return undecided(it)
                return _IPMOutcome(False, None, it, "Gordan certificate found (polished)")

        def newton(rz: np.ndarray, rs: np.ndarray):
            g = rz / u - rs / w - rd
            rhs = -rp - a.T @ (dmat * g)
            dy = _dense.cho_solve(chol, rhs)
            du = dmat * (a @ dy + g)
            dz = (rz - z * du) / u
            ds = (rs + s * du) / w
            return du, dy, dz, ds

        # predictor
        du, dy, dz, ds = newton(-u * z, -w * s)
        # --- full affine step as a separator candidate
        y_aff = y + dy
        if separates(-y_aff, -(a @ y_aff)):
            return _IPMOutcome(True, -y_aff, it, "separating direction found (affine step)")
        ap = min(1.0, _max_step(u, du), _max_step(w, -du))
        ad = min(1.0, _max_step(z, dz), _max_step(s, ds))
        mu_aff = ((u + ap * du) @ (z + ad * dz) + (w - ap * du) @ (s + ad * ds)) / (2 * k)
        sigma = (mu_aff / mu) ** 3 if mu > 0 else 0.0
        # corrector
        rz = sigma * mu - u * z - du * dz
        rs = sigma * mu - w * s + du * ds
        du, dy, dz, ds = newton(rz, rs)
        ap = min(1.0, tau * _max_step(u, du), tau * _max_step(w, -du))
        ad = min(1.0, tau * _max_step(z, dz), tau * _max_step(s, ds))
        if not (np.isfinite(ap) and np.isfinite(ad)) or (ap < 1e-14 and ad < 1e-14):
            return _IPMOutcome(None, None, it, "interior-point method stalled")
        u = u + ap * du
        w = w - ap * du
        # keep u + w = 1 exactly where rounding drifts (both stay > 0)
        y = y + ad * dy
        z = z + ad * dz
        s = s + ad * ds
        tau = 0.995 if it > 3 else 0.99
    extra = f" ({rejected} candidate separators failed verification)" if rejected else ""
    return _IPMOutcome(None, None, max_iter, f"no certificate after {max_iter} iterations{extra}")


def lp_separability(
    x: np.ndarray,
    y: np.ndarray,
    *,
    gamma_tol: float = GAMMA_TOL,
    max_iter: int = 100,
    fallback: bool = True,
    clarabel_settings: dict | None = None,
) -> SeparabilityResult:
    """Certified separability decision by the dense Gordan-dual LP, with reference fallback.

    Parameters
    ----------
    x : ndarray of shape (n_features, n_points)
    y : ndarray of shape (n_points,)
        Labels ±1.
    gamma_tol : float
        Certificate tolerance (see module docstring).
    max_iter : int
        Interior-point iteration limit.
    fallback : bool
        Call :func:`qp_separability` when the LP is unsure; otherwise report ``"failed"``.
    clarabel_settings : dict, optional
        Settings for the fallback's Clarabel solve.
    """
    t0 = time.perf_counter()
    n_points = x.shape[1]
    a, back = canonical_rows(x, y)
    band = certificate_tolerance(gamma_tol, back, n_points)
    found: list = []

    def accept(v: np.ndarray) -> bool:
        w, b = to_original(v, back)
        if verify_separator(x, y, w, b):
            found.append((w, b))
            return True
        return False

    out = gordan_ipm(a, gamma_tol=gamma_tol, max_iter=max_iter, accept=accept, gordan_tol=band)
    message = out.message
    if out.separable is True:
        w, b = found[-1]
        return SeparabilityResult(
            True,
            CERTIFIED,
            message,
            w=w,
            b=b,
            n_iter=out.n_iter,
            solve_time=time.perf_counter() - t0,
        )
    if out.separable is False:
        return SeparabilityResult(
            False, CERTIFIED, message, n_iter=out.n_iter, solve_time=time.perf_counter() - t0
        )
    if not fallback:
        return SeparabilityResult(
            None, FAILED, message, n_iter=out.n_iter, solve_time=time.perf_counter() - t0
        )
    ref = qp_separability(x, y, clarabel_settings=clarabel_settings, margin=False)
    separable = ref.separable
    detail = ref.message
    status = FALLBACK if separable is not None else FAILED
    return SeparabilityResult(
        separable,
        status,
        f"LP: {message}; reference: {detail}",
        w=ref.w if separable else None,
        b=ref.b if separable else math.nan,
        margin=ref.margin if separable else math.nan,
        n_iter=out.n_iter + ref.n_iter,
        solve_time=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- reference QP

DEFAULT_CLARABEL = {"max_iter": 200, "tol_gap_abs": 1e-8, "tol_gap_rel": 1e-8, "tol_feas": 1e-8}
"""Clarabel settings of the reference solve (set explicitly: ``docs/capacity.md#capacity-reference-qp``)."""


def qp_separability(
    x: np.ndarray,
    y: np.ndarray,
    *,
    clarabel_settings: dict | None = None,
    margin: bool = True,
) -> SeparabilityResult:
    r"""Reference decision: the original's hard-margin SVM QP in cvxpy, solved by Clarabel.

    .. math::

        \min_{w, b}\ \tfrac12 \|w\|^2 \quad\text{s.t.}\quad y_k (w\cdot x_k + b) \ge 1.

    The decision is made on the same problem in the canonical coordinates of
    :func:`~.canonical.canonical_rows` (``min ½‖v‖² s.t. A v ≥ 1``: feasible iff the points are
    separable), where it is well scaled whatever the data; Clarabel's tolerances are absolute
    and would otherwise hide structure far below the data's largest entry. ``optimal`` and
    ``optimal_inaccurate`` solutions count as separable only if the separator, mapped back,
    passes :func:`verify_separator` on the original points; ``infeasible`` means not separable
    when the problem is well enough conditioned to certify it
    (:func:`~.canonical.certificate_tolerance`), else it is a failure; anything else
    (``infeasible_inaccurate``, iteration limits, ``SolverError``) is a failure. With
    ``margin=True`` the original's QP is then also solved on the points (centred, scaled by
    their largest absolute value) for the max margin ``1/‖w‖`` in the original units.
    """
    t0 = time.perf_counter()
    a, back = canonical_rows(x, y)
    out = _clarabel_min_norm(a, clarabel_settings)
    elapsed = time.perf_counter() - t0
    if out[0] == "optimal":
        w, b = to_original(out[1], back)
        if not verify_separator(x, y, w, b):
            return SeparabilityResult(
                None,
                FAILED,
                f"Clarabel: {out[2]} but the solution does not separate the points",
                n_iter=out[3],
                solve_time=elapsed,
            )
        value = math.nan
        if margin:
            value, w, b = _original_margin(x, y, w, b, clarabel_settings)
        return SeparabilityResult(
            True,
            REFERENCE,
            f"Clarabel: {out[2]}",
            w=w,
            b=b,
            margin=value,
            n_iter=out[3],
            solve_time=time.perf_counter() - t0,
        )
    if out[0] == "infeasible":
        if rounding_band(back, x.shape[1]) > MAX_TOLERANCE:
            return SeparabilityResult(
                None,
                FAILED,
                f"Clarabel: {out[2]}, not trusted: condition number {back['cond']:.1e}",
                n_iter=out[3],
                solve_time=elapsed,
            )
        return SeparabilityResult(False, REFERENCE, f"Clarabel: {out[2]}", n_iter=out[3], solve_time=elapsed)
    return SeparabilityResult(None, FAILED, f"Clarabel: {out[2]}", n_iter=out[3], solve_time=elapsed)


def _clarabel_min_norm(a: np.ndarray, clarabel_settings):
    """``min ½‖v‖² s.t. a v ≥ 1`` by Clarabel; returns (kind, v, status text, iterations) with
    kind ``"optimal"``, ``"infeasible"`` or ``"failed"``."""
    import cvxpy as cp

    v = cp.Variable(a.shape[1])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(v)), [a @ v >= 1])
    settings = dict(DEFAULT_CLARABEL)
    settings.update(clarabel_settings or {})
    try:
        # cvxpy warns on inaccurate solutions; the status says so and is recorded instead
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL, verbose=False, **settings)
    except cp.error.SolverError as err:
        return "failed", None, f"SolverError: {err}", 0
    n_iter = 0
    stats = getattr(prob, "solver_stats", None)
    if stats is not None and stats.num_iters is not None:
        n_iter = int(stats.num_iters)
    status = prob.status
    if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and v.value is not None:
        return "optimal", np.asarray(v.value, dtype=np.float64), status, n_iter
    if status == cp.INFEASIBLE:
        return "infeasible", None, status, n_iter
    return "failed", None, status, n_iter


def _original_margin(x, y, w0, b0, clarabel_settings):
    """The max margin of separable points in their own units: the original's QP on the points
    centred and scaled by their largest absolute value. Falls back to the margin of the
    separator ``(w0, b0)`` (a lower bound) if that solve does not give a verified separator."""
    import cvxpy as cp

    mean = x.mean(axis=1)
    scale = float(np.abs(x - mean[:, None]).max()) or 1.0
    xs = (x - mean[:, None]) / scale
    wv = cp.Variable(x.shape[0])
    bv = cp.Variable()
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(wv)), [cp.multiply(y, xs.T @ wv + bv) >= 1])
    settings = dict(DEFAULT_CLARABEL)
    settings.update(clarabel_settings or {})
    w, b = w0, b0
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL, verbose=False, **settings)
        if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and wv.value is not None:
            w1 = np.asarray(wv.value, dtype=np.float64) / scale
            b1 = float(bv.value) - float(w1 @ mean)
            if verify_separator(x, y, w1, b1):
                w, b = w1, b1
    except cp.error.SolverError:
        pass
    norm = float(np.linalg.norm(w))
    return (float(np.min(y * (w @ x + b)) / norm) if norm > 0 else math.inf), w, b
