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
1. *Canonical coordinates.* Separability with a bias is invariant under translations and
   invertible linear maps of feature space, so the points are centred and replaced by the rows
   of ``Q_r`` from a column-pivoted QR of the centred ``(n_points, n_features)`` matrix
   (``r`` = numerical rank; a cheaper Cholesky QR when the centred points have full,
   moderately conditioned rank). With rows ``a_k = y_k [q_k, 1/\sqrt{K}]`` the constraint
   matrix ``A`` has (nearly) orthonormal columns: the LP is well conditioned whatever the
   data's scale, offset or rank.
2. *Gordan dual with a box.* A dense Mehrotra predictor–corrector interior-point method solves

   .. math::

       \max_u\ \mathbf 1^\top u \quad\text{s.t.}\quad A^\top u = 0,\ 0 \le u \le 1,

   whose optimum is 0 when the points are separable and at least 1 when they are not
   (Gordan's alternative: either ``A v > 0`` for some ``v`` or ``A^T u = 0`` for some
   ``u ≥ 0, u ≠ 0``). Its Lagrange multiplier ``-y`` of ``A^T u = 0`` converges to a
   separator. Each iteration factors the ``(r+1) × (r+1)`` normal matrix (Cholesky).
3. *Certificates, checked at every iteration.*

   * separable: ``v`` with ``a_k · v ≥ γ ‖a_k‖ ‖v‖`` for every ``k`` (normalised margin at
     least ``γ = gamma_tol`` in canonical coordinates); the separator is then mapped back and
     re-verified on the *original* points with a rounding-safe bound;
   * not separable: ``u ≥ 0`` with ``‖A^T u‖ < γ Σ_k u_k ‖a_k‖``. Since
     ``u^T A v = (A^T u) · v``, no separator with normalised margin ``≥ γ`` can exist.

   If neither certificate is reached (or the separator fails the check on the original data),
   the fast path says so (``separable=None``) and the caller falls back to the reference.

So the decision is exact in this sense: a "separable" answer is always backed by a separator
verified on the original points; a "not separable" answer by a certificate that no separator
has a normalised margin above ``gamma_tol`` (1e-9 by default) in canonical coordinates (which
are the original points up to an invertible affine map and the rounding of computing it,
~1e-12 relative). Only dichotomies whose best margin lies within that band of zero (measure
zero for continuous data) could be answered either way; when the iterations reach neither
certificate, the reference solver decides.

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
import scipy.linalg as sla

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


def canonical_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict]:
    """Constraint rows ``a_k = y_k [q_k, 1/√K]`` in canonical (orthonormal) coordinates.

    Parameters
    ----------
    x : ndarray of shape (n_features, n_points)
    y : ndarray of shape (n_points,)

    Returns
    -------
    A : ndarray of shape (n_points, r + 1)
        Orthonormal columns (up to rounding).
    back : dict
        What is needed to map a canonical separator back to ``(w, b)`` in ``x`` coordinates.
    """
    n_features, n_points = x.shape
    mean = x.mean(axis=1)
    xc = (x - mean[:, None]).T  # (K, n)
    scale = float(np.abs(xc).max()) if xc.size else 0.0
    # rounding error of the centring, relative to the centred scale: entries of size
    # max|x| carry absolute errors ~ eps·max|x|, which must not count as extra dimensions.
    offset = float(np.abs(x).max()) / scale if scale > 0 else 1.0
    if scale == 0.0 or not np.isfinite(scale) or offset > 1e12:
        q = np.zeros((n_points, 0))
        r_mat = np.zeros((0, n_features))
        perm = np.arange(n_features)
        rank = 0
    else:
        xc = xc / scale
        fast = _cholesky_qr(xc) if n_features < n_points else None
        if fast is not None:
            q, r_mat = fast
            a = np.empty((n_points, n_features + 1))
            a[:, :n_features] = q
            a[:, n_features] = 1.0 / math.sqrt(n_points)
            a *= y[:, None]
            return a, {
                "mean": mean,
                "scale": scale,
                "r": r_mat,
                "perm": np.arange(n_features),
                "rank": n_features,
            }
        q, r_mat, perm = sla.qr(xc, mode="economic", pivoting=True, check_finite=False)
        diag = np.abs(np.diag(r_mat))
        tol = (
            16
            * max(n_points, n_features)
            * np.finfo(np.float64).eps
            * max(diag[0], offset * math.sqrt(n_points))
        )
        rank = int(np.count_nonzero(diag > tol))
        q = q[:, :rank]
        r_mat = r_mat[:rank]
    a = np.empty((n_points, rank + 1))
    a[:, :rank] = q
    a[:, rank] = 1.0 / math.sqrt(n_points)
    a *= y[:, None]
    return a, {"mean": mean, "scale": scale, "r": r_mat, "perm": perm, "rank": rank}


_CHOLQR_MIN_PIVOT = 1e-5
"""Smallest ``R_ii / max R_jj`` accepted from Cholesky QR; below it, pivoted QR is used."""


def _cholesky_qr(xc: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Nearly orthonormal basis of a full-column-rank ``(K, n)`` matrix by Cholesky QR.

    ``xc = Q R`` with ``R`` upper triangular from the Cholesky factor of ``xcᵀ xc``. ``Q`` is
    orthonormal up to ``ε·cond(xc)²``, which is all the LP needs (its conditioning; the
    certificates do not rely on orthonormality, and ``xc = Q R`` holds to rounding, which the
    final verification on the original points covers). Several times cheaper than a
    column-pivoted QR for tall matrices. Returns ``None`` when the matrix is numerically
    rank-deficient or badly conditioned, so the caller uses the rank-revealing pivoted QR.
    """
    gram = xc.T @ xc
    try:
        r = sla.cholesky(gram, lower=False, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None
    d = np.abs(np.diag(r))
    if d.min() <= _CHOLQR_MIN_PIVOT * d.max():
        return None
    q = sla.solve_triangular(r, xc.T, trans="T", lower=False, check_finite=False).T
    return q, r


def _to_original(v: np.ndarray, back: dict, n_points: int) -> tuple[np.ndarray, float]:
    """Map a canonical separator ``v`` (on ``[q, 1/√K]``) to ``(w, b)`` on the original points.

    With ``xc[:, perm] / scale = Q R`` (``R`` of shape (rank, n_features), upper trapezoidal),
    row ``k`` reads ``xc_k[perm] / scale = R^T q_k``, so a weight ``c`` on ``q`` equals the
    weight ``w[perm] = [R_11^{-1} c, 0] / scale`` on the centred ``x`` (exact on the ``rank``
    leading pivoted columns). The result is re-verified on the original points by the caller.
    """
    rank = back["rank"]
    n_features = back["mean"].shape[0]
    c = v[:rank]
    w = np.zeros(n_features)
    if rank:
        r11 = back["r"][:, :rank]
        z = sla.solve_triangular(r11, c, lower=False, check_finite=False)
        w_perm = np.zeros(n_features)
        w_perm[:rank] = z
        w[back["perm"]] = w_perm
        w = w / back["scale"]
    b = float(v[rank] / math.sqrt(n_points) - w @ back["mean"])
    return w, b


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
        Normalised-margin tolerance of the certificates.
    max_iter : int
        Iteration limit; reaching it returns ``separable=None``.
    accept : callable, optional
        ``accept(v) -> bool``: an extra check of a candidate separator (the caller re-verifies
        it on the original points); a rejected candidate lets the iterations go on, since the
        separator's margin keeps growing towards the optimum.
    """
    k, d = a.shape
    rejected = 0
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
        return u_.sum() >= 0.5 and float(np.linalg.norm(a.T @ u_)) < gamma_tol * weight

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
            return _IPMOutcome(False, None, it, "Gordan certificate found")
        rd = -1.0 - ay - z + s
        mu = (u @ z + w @ s) / (2 * k)
        dmat = 1.0 / (z / u + s / w)
        sq = np.sqrt(dmat)
        as_ = a * sq[:, None]
        nmat = as_.T @ as_
        try:
            chol = sla.cho_factor(nmat, lower=True, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            # tiny regularisation keeps the Newton step defined near a degenerate optimum
            nmat[np.diag_indices_from(nmat)] += 1e-12 * max(1.0, float(np.trace(nmat)) / d)
            try:
                chol = sla.cho_factor(nmat, lower=True, check_finite=False)
            except (np.linalg.LinAlgError, ValueError):
                return _IPMOutcome(None, None, it, "normal matrix not positive definite")

        # --- polished Gordan candidate: the D-weighted projection of u onto {Aᵀu = 0}
        # (u − D A (AᵀDA)⁻¹ Aᵀu: entries with small u move little, so it often stays ≥ 0)
        if u.sum() >= 0.5:
            t = sla.cho_solve(chol, rp, check_finite=False)
            u_pol = u - dmat * (a @ t)
            if u_pol.min() >= 0 and gordan(u_pol):
                return _IPMOutcome(False, None, it, "Gordan certificate found (polished)")

        def newton(rz: np.ndarray, rs: np.ndarray):
            g = rz / u - rs / w - rd
            rhs = -rp - a.T @ (dmat * g)
            dy = sla.cho_solve(chol, rhs, check_finite=False)
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
    found: list = []

    def accept(v: np.ndarray) -> bool:
        w, b = _to_original(v, back, n_points)
        if verify_separator(x, y, w, b):
            found.append((w, b))
            return True
        return False

    out = gordan_ipm(a, gamma_tol=gamma_tol, max_iter=max_iter, accept=accept)
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
    ref = qp_separability(x, y, clarabel_settings=clarabel_settings)
    status = FALLBACK if ref.separable is not None else FAILED
    return SeparabilityResult(
        ref.separable,
        status,
        f"LP: {message}; reference: {ref.message}",
        w=ref.w,
        b=ref.b,
        margin=ref.margin,
        n_iter=out.n_iter + ref.n_iter,
        solve_time=time.perf_counter() - t0,
    )


# ----------------------------------------------------------------------------- reference QP

DEFAULT_CLARABEL = {"max_iter": 200, "tol_gap_abs": 1e-8, "tol_gap_rel": 1e-8, "tol_feas": 1e-8}
"""Clarabel settings of the reference solve (set explicitly: ``docs/capacity.md#capacity-reference-qp``)."""


def qp_separability(
    x: np.ndarray, y: np.ndarray, *, clarabel_settings: dict | None = None
) -> SeparabilityResult:
    r"""Reference decision: the original's hard-margin SVM QP in cvxpy, solved by Clarabel.

    .. math::

        \min_{w, b}\ \tfrac12 \|w\|^2 \quad\text{s.t.}\quad y_k (w\cdot x_k + b) \ge 1.

    The points are centred and divided by their largest absolute value first (the decision is
    invariant, the margin is reported back in the original units). ``optimal`` and
    ``optimal_inaccurate`` solutions count as separable only if the separator passes
    :func:`verify_separator` on the original points; ``infeasible`` means not separable;
    anything else (``infeasible_inaccurate``, iteration limits, ``SolverError``) is a failure.
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    n_features, n_points = x.shape
    mean = x.mean(axis=1)
    scale = float(np.abs(x - mean[:, None]).max())
    if scale == 0.0:
        scale = 1.0
    xs = (x - mean[:, None]) / scale
    wv = cp.Variable(n_features)
    bv = cp.Variable()
    constraints = [cp.multiply(y, xs.T @ wv + bv) >= 1]
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(wv)), constraints)
    settings = dict(DEFAULT_CLARABEL)
    settings.update(clarabel_settings or {})
    try:
        # cvxpy warns on inaccurate solutions; the status says so and is recorded instead
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL, verbose=False, **settings)
    except cp.error.SolverError as err:
        return SeparabilityResult(
            None, FAILED, f"Clarabel SolverError: {err}", solve_time=time.perf_counter() - t0
        )
    status = prob.status
    n_iter = 0
    stats = getattr(prob, "solver_stats", None)
    if stats is not None and stats.num_iters is not None:
        n_iter = int(stats.num_iters)
    elapsed = time.perf_counter() - t0
    if status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and wv.value is not None:
        w_s = np.asarray(wv.value, dtype=np.float64)
        b_s = float(bv.value)
        w = w_s / scale
        b = b_s - float(w @ mean)
        if verify_separator(x, y, w, b):
            norm = float(np.linalg.norm(w))
            margin = float(np.min(y * (w @ x + b)) / norm) if norm > 0 else math.inf
            return SeparabilityResult(
                True,
                REFERENCE,
                f"Clarabel: {status}",
                w=w,
                b=b,
                margin=margin,
                n_iter=n_iter,
                solve_time=elapsed,
            )
        return SeparabilityResult(
            None,
            FAILED,
            f"Clarabel: {status} but the solution does not separate the points",
            n_iter=n_iter,
            solve_time=elapsed,
        )
    if status == cp.INFEASIBLE:
        return SeparabilityResult(
            False, REFERENCE, f"Clarabel: {status}", n_iter=n_iter, solve_time=elapsed
        )
    return SeparabilityResult(
        None, FAILED, f"Clarabel: {status}", n_iter=n_iter, solve_time=elapsed
    )
