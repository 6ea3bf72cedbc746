r"""Anchor points of object manifolds: batched cone projections (private).

For one manifold with points :math:`s_j = (y_j, 1) \in \mathbb{R}^{D+1}` (``j = 1..m``) and a
Gaussian draw :math:`T = (t, t_0)`, the mean-field theory needs (``docs/geometry.md#geometry-anchors``)

.. math::

    V^* = \arg\min_V \|V - T\|^2 \quad\text{s.t.}\quad s_j\cdot V \le -\kappa\ \ \forall j.

Because every point has last coordinate 1, the margin can be moved into the draw:
with :math:`T' = (t, t_0 + \kappa)` the problem is the κ = 0 problem for :math:`T'`, whose
solution is :math:`V^* = T' - S\beta^*` with the **non-negative least squares** dual

.. math:: \beta^* = \arg\min_{\beta \ge 0} \|S\beta - T'\|^2

(Moreau: :math:`S\beta^*` is the projection of :math:`T'` on the cone spanned by the points).
So the constrained least squares of the original (a CPLEX cutting-plane QP) is solved *exactly*
for every κ here. The draw is *interior* when :math:`\max_j s_j\cdot T' \le 0`
(:math:`\beta^* = 0`); otherwise the anchor point is :math:`\tilde s = S\beta^*/\sum\beta^*`
(a convex combination of points, last coordinate 1) and the contribution to
:math:`\alpha_M^{-1}` is :math:`\Delta = \|S\beta^*\|^2`.

Solvers (``docs/geometry.md#geometry-performance``): batched projected gradient over all draws and objects of a
chunk when an object's Gram matrix is well conditioned, each solution checked against the KKT
conditions; otherwise (or when the check fails) scipy's compiled Lawson–Hanson NNLS per draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import nnls
from scipy.sparse import csr_matrix

from .active_set import gram_lawson_hanson, refine_on_points, working_set_nnls

try:  # scipy's compiled Lawson–Hanson without the per-call validation of the public wrapper
    from scipy.optimize._slsqplib import nnls as _nnls_compiled
except ImportError:  # pragma: no cover - other scipy versions
    _nnls_compiled = None


def _lawson_hanson(A: np.ndarray, b: np.ndarray, maxiter: int) -> np.ndarray:
    """Exact NNLS min ‖Ax − b‖, x ≥ 0 (Lawson–Hanson); RuntimeError at the iteration limit.

    ``A`` must be a C-contiguous float64 array and ``b`` a float64 vector (validated once by the
    caller). Uses scipy's compiled routine directly when its private entry point exists (it
    leaves its inputs untouched and returns ``(x, rnorm, info)``, ``info == 3`` meaning the
    iteration limit), else the public :func:`scipy.optimize.nnls`.
    """
    if _nnls_compiled is not None:
        x, _rnorm, info = _nnls_compiled(A, b, maxiter)
        if info == 3:
            raise RuntimeError("Maximum number of iterations reached.")
        return x
    return nnls(A, b, maxiter=maxiter)[0]


INTERIOR, PROJECTED_GRADIENT, LAWSON_HANSON, FAILED = 0, 1, 2, 3
SOLVER_STATUS = ("interior", "projected_gradient", "lawson_hanson", "failed")
"""Names of the per-draw solver status codes 0–3."""

_KKT_RTOL = 1e-9


@dataclass
class AnchorDraws:
    """Anchor points of one manifold for its ``n_t`` draws.

    Attributes
    ----------
    t : ndarray of shape (n_t, D)
        Manifold-coordinate part of each draw.
    t0 : ndarray of shape (n_t,)
        Centre-coordinate part of each draw (before the κ shift).
    anchors : ndarray of shape (n_t, D)
        Manifold coordinates of the anchor points (their centre coordinate is 1).
    argmax_anchors : ndarray of shape (n_t, D)
        The point :math:`\\arg\\max_j t\\cdot y_j` for each draw ("Gaussian" anchors).
    delta : ndarray of shape (n_t,)
        :math:`\\Delta = \\|T - V^*\\|^2` (0 for interior draws, NaN for failed solves).
    status : ndarray of int, shape (n_t,)
        Solver status per draw, see :data:`SOLVER_STATUS`.
    dimension : int
        D, the number of manifold coordinates.
    """

    t: np.ndarray
    t0: np.ndarray
    anchors: np.ndarray
    argmax_anchors: np.ndarray
    delta: np.ndarray
    status: np.ndarray
    dimension: int


def _pg_iterations(cond: float, tol: float = 1e-13) -> float:
    """Iterations of projected gradient with step 2/(L+μ) to contract the error by ``tol``:
    the gradient map contracts by (κ−1)/(κ+1) per step, the projection does not expand."""
    if not np.isfinite(cond) or cond <= 1.0:
        return 1.0 if cond == 1.0 else np.inf
    ratio = (cond - 1.0) / (cond + 1.0)
    if not 0.0 < ratio < 1.0:  # cond so large that the ratio rounds to 1: no contraction
        return np.inf
    return np.log(tol) / np.log(ratio)


def solve_anchor_points(
    frames: list[np.ndarray],
    draws: list[np.ndarray],
    kappa: float,
    *,
    grams: list[np.ndarray | None] | None = None,
    pg_max_iter: int = 300,
    max_elements: int = 2**24,
) -> list[AnchorDraws]:
    """Anchor points of several manifolds, batched over draws and objects.

    Parameters
    ----------
    frames : list of ndarray, each of shape (D_μ, m_μ)
        Manifold coordinates :math:`y_j` of each object's points (scaled by the centre norm).
    draws : list of ndarray, each of shape (n_t, D_μ + 1)
        Gaussian draws ``T = (t, t0)``, ``t0`` in the last column.
    kappa : float
        Margin κ (the constraint is ``s·V ≤ −κ``).
    grams : list of (ndarray of shape (m_μ, m_μ) or None), optional
        Each frame's Gram matrix :math:`Y^\top Y` where the caller has it (the pivoted-Cholesky
        frames, :func:`.frames.cholesky_frame`); used, and overwritten, by the per-draw
        solvers instead of forming it again. None: formed here.
    pg_max_iter : int
        Objects whose predicted projected-gradient iteration count exceeds this go straight to
        Lawson–Hanson.
    max_elements : int
        Bound on the size of the batched arrays (memory control).

    Returns
    -------
    list of AnchorDraws
    """
    n_obj = len(frames)
    out: list[AnchorDraws | None] = [None] * n_obj
    n_t = draws[0].shape[0] if n_obj else 0
    # predicted PG iterations per object from the conditioning of S Sᵀ
    plan = []
    for mu, Y in enumerate(frames):
        D, m = Y.shape
        if m > D + 1:  # no projected gradient for these
            plan.append((mu, D, m, False, np.nan, np.inf))
            continue
        S = np.vstack([Y, np.ones((1, m))])
        # the diagonal of S Sᵀ bounds its spectrum (λ_max ≥ max, λ_min ≤ min): when that bound
        # on the condition number already rules projected gradient out, skip the eigenvalues
        # (a (D+1)³ computation: seconds for the 3200-dimensional frames of 2-d manifolds)
        diag = np.einsum("ij,ij->i", S, S)
        if not diag.min() > 0 or _pg_iterations(diag.max() / diag.min()) > pg_max_iter:
            plan.append((mu, D, m, False, np.nan, np.inf))
            continue
        ev = np.linalg.eigvalsh(S @ S.T)
        cond = ev[-1] / ev[0] if ev[0] > 0 else np.inf
        use_pg = m <= D + 1 and _pg_iterations(cond) <= pg_max_iter
        plan.append((mu, D, m, use_pg, (ev[-1] + ev[0]) / 2.0, cond))
    # chunks of objects (PG objects batched; LH objects one at a time)
    pg_objs = [p for p in plan if p[3]]
    lh_objs = [p for p in plan if not p[3]]
    start = 0
    while start < len(pg_objs):
        stop = start + 1
        d = pg_objs[start][1] + 1
        m = pg_objs[start][2]
        while stop < len(pg_objs):
            d2 = max(d, pg_objs[stop][1] + 1)
            m2 = max(m, pg_objs[stop][2])
            if (stop - start + 1) * (n_t * (m2 + d2) + m2 * m2) > max_elements:
                break
            d, m, stop = d2, m2, stop + 1
        chunk = pg_objs[start:stop]
        results = _solve_chunk_pg(
            [frames[p[0]] for p in chunk],
            [draws[p[0]] for p in chunk],
            kappa,
            [p[4] for p in chunk],
            int(np.ceil(max(_pg_iterations(p[5]) for p in chunk))) + 5,
        )
        for p, res in zip(chunk, results):
            out[p[0]] = res
        start = stop
    for p in lh_objs:
        out[p[0]] = _solve_one_lh(frames[p[0]], draws[p[0]], kappa, gram=None if grams is None else grams[p[0]])
    return out  # type: ignore[return-value]


def _argmax_anchor(Y, t):
    return Y[:, np.argmax(t @ Y, axis=1)].T  # (n_t, D)


WORKING_SET_MIN_POINTS = 100
"""Manifolds with at least this many points solve their ill-conditioned anchor problems by
the batched working-set Lawson–Hanson of :mod:`.active_set` (exact, KKT-checked on all points)
before any per-draw Lawson–Hanson; smaller ones go straight to the per-draw solver, which is
faster there."""

WIDE_RETRY_MIN_POINTS = 2048
"""Manifolds with at least this many points give the draws that the working-set solver left
unsolved a second, longer working-set pass (:data:`WIDE_RETRY` width and rounds) before the
per-draw Lawson–Hanson: there each per-draw solve costs about 0.1 s (a 1500 × 3201 problem),
the second pass milliseconds. Smaller manifolds are unchanged."""

WIDE_RETRY = (64, 24)
"""(width, rounds) of that second working-set pass."""

PROBE_DRAWS = 50
"""The working-set solver is first tried on this many of a manifold's draws; when fewer than a
fraction :data:`PROBE_MIN_SOLVED` of them are solved, the manifold touches too many of its
points for a working set (the shuffle control's manifolds, whose anchors have supports of
30–500 points: none of the probe's draws solved), and its other draws go straight to the
per-draw solver instead of failing the working sets first (that cost as much as the per-draw
solves themselves). Smooth manifolds solve 98–100 % of the probe's draws (the paper's 2-d
M = 801 layer); the threshold is low so that an unlucky smooth probe (32 % was seen on a
subset of 8 objects) keeps the working sets: at M = 3201 a per-draw solve of a smooth manifold
costs about 0.1 s."""

PROBE_MIN_SOLVED = 0.1
"""See :data:`PROBE_DRAWS`."""

GRAM_LH_MIN_POINTS = 512
"""Manifolds with at least this many points solve the draws left to the per-draw solver first
by :func:`.active_set.gram_lawson_hanson` (Lawson–Hanson on ``H`` with an incrementally
updated Cholesky factor), its support then re-solved by QR on ``S`` and the KKT conditions
checked on every point in ``S``'s terms (:func:`.active_set.refine_on_points`); the per-draw
NNLS on ``S`` when a check fails. A step costs ``m·k`` there against ``m²`` for the NNLS on
``S``: in the shuffle control (one core) 25 ms against 65 ms per draw at m = 801 and 0.75 s
against 6.9 s at m = 3201; at m = 201 it is slower (3.1 against 1.7 ms on points in general
position), hence the threshold."""


def _working_set_pass(H, proj, draws, beta, status, kwargs) -> np.ndarray:
    """:func:`.active_set.working_set_nnls` on ``draws``: the solved ones' weights into ``beta``
    and their status; returns the draws it left unsolved."""
    support, weights, ok = working_set_nnls(H, proj[draws], **kwargs)
    done = draws[ok]
    beta[np.repeat(done, support.shape[1]), support[ok].ravel()] = weights[ok].ravel()
    status[done] = LAWSON_HANSON
    return draws[~ok]


def _solve_one_lh(Y: np.ndarray, T: np.ndarray, kappa: float, gram: np.ndarray | None = None) -> AnchorDraws:
    """Exact NNLS per draw for one manifold whose Gram matrix is ill-conditioned.

    With m ≥ :data:`WORKING_SET_MIN_POINTS` points, first the batched working-set
    Lawson–Hanson on the Gram matrix ``SᵀS`` (:func:`.active_set.working_set_nnls`; smooth
    manifolds touch a handful of their points; with m ≥ :data:`WIDE_RETRY_MIN_POINTS` a second,
    longer pass on the draws the first left unsolved; tried on :data:`PROBE_DRAWS` draws first
    and given up when fewer than :data:`PROBE_MIN_SOLVED` of those are solved); every draw
    still unsolved, and every draw of a smaller manifold, by Lawson–Hanson on ``S`` itself
    (with m ≥ :data:`GRAM_LH_MIN_POINTS` first by the incrementally factored Lawson–Hanson on
    ``H``, its support re-solved and checked on ``S``: kept where it passes).

    ``gram``, when given, is :math:`Y^\top Y` (overwritten): then ``H = gram + 1`` instead of
    the product ``SᵀS`` (equal up to rounding).
    """
    m = Y.shape[1]
    n_t = T.shape[0]
    S = np.ascontiguousarray(np.vstack([Y, np.ones((1, m))]))
    Tk = np.array(T, dtype=np.float64, order="C")
    Tk[:, -1] += kappa
    proj = Tk @ S
    interior = proj.max(axis=1) <= 0
    beta = np.zeros((n_t, m))
    status = np.full(n_t, INTERIOR, dtype=np.int8)
    todo = np.flatnonzero(~interior)
    if m >= WORKING_SET_MIN_POINTS and todo.size:
        if gram is None:
            H = S.T @ S
        else:
            H = np.add(gram, 1.0, out=gram)  # SᵀS = YᵀY + 1 1ᵀ
        passes = [{}] + ([dict(zip(("width", "rounds"), WIDE_RETRY))] if m >= WIDE_RETRY_MIN_POINTS else [])

        def passes_on(draws: np.ndarray) -> np.ndarray:  # every pass; returns the unsolved
            for kwargs in passes:
                if not draws.size:
                    break
                draws = _working_set_pass(H, proj, draws, beta, status, kwargs)
            return draws

        if todo.size > 2 * PROBE_DRAWS:  # the working sets on a few draws first
            first, rest = todo[:PROBE_DRAWS], todo[PROBE_DRAWS:]
            unsolved = passes_on(first)
            if unsolved.size > (1 - PROBE_MIN_SOLVED) * first.size:  # given up
                todo = np.concatenate([unsolved, rest])
            else:
                todo = np.concatenate([unsolved, passes_on(rest)])
        else:
            todo = passes_on(todo)
    use_gram_lh = m >= GRAM_LH_MIN_POINTS and todo.size
    col_norms = np.sqrt(np.einsum("ij,ij->j", S, S)) if use_gram_lh else None
    for i in todo:
        # large supports on many points: the incrementally factored solver on H (checked on
        # every point), else (or when its check fails) the per-draw NNLS on S
        b = gram_lawson_hanson(H, proj[i]) if use_gram_lh else None
        if b is not None:  # its support re-solved and checked on S itself
            b = refine_on_points(S, Tk[i], b, col_norms=col_norms)
        if b is not None:
            beta[i] = b
            status[i] = LAWSON_HANSON
            continue
        try:
            beta[i] = _lawson_hanson(S, Tk[i], 50 * m)
            status[i] = LAWSON_HANSON
        except RuntimeError:
            beta[i] = np.nan
            status[i] = FAILED
    # t·y_j + const per draw: its argmax is the Gaussian anchor's
    return _finish(Y, T, S, beta, status, proj=proj if m >= WORKING_SET_MIN_POINTS else None)


def _solve_chunk_pg(frames, draws, kappa, half_lmu, n_iter) -> list[AnchorDraws]:
    """Batched projected gradient for well-conditioned objects (exact to the KKT check)."""
    b = len(frames)
    n_t = draws[0].shape[0]
    d = max(Y.shape[0] for Y in frames) + 1
    m = max(Y.shape[1] for Y in frames)
    S = np.zeros((b, d, m))
    Tk = np.zeros((b, n_t, d))
    for i, (Y, T) in enumerate(zip(frames, draws)):
        D, mi = Y.shape
        S[i, :D, :mi] = Y
        S[i, :D, mi:] = Y[:, :1]  # pad with copies of the first point (cone unchanged)
        S[i, -1, :] = 1.0
        Tk[i, :, :D] = T[:, :D]
        Tk[i, :, -1] = T[:, -1] + kappa
    H = np.swapaxes(S, 1, 2) @ S  # (b, m, m)
    q = Tk @ S  # (b, n_t, m)
    step = (1.0 / np.asarray(half_lmu))[:, None, None]  # 2/(L+μ)
    beta = np.maximum(q, 0.0) * step
    scale = np.abs(q).max(axis=2) + 1e-300

    def violation(beta, g):
        # KKT: g = Hβ − q ≥ 0, β ≥ 0, β∘g = 0; residual relative to the scale of q
        return np.abs(np.minimum(beta / step, g)).max(axis=2) / scale

    # n_iter is a worst-case bound; convergence is checked every few iterations from the
    # gradient the next step needs anyway
    check = max(5, n_iter // 4)
    g = np.empty_like(q)  # the iterations work in place: same operations, no new arrays
    for it in range(1, n_iter + 1):
        np.matmul(beta, H, out=g)
        g -= q
        if it % check == 0 and violation(beta, g).max() <= _KKT_RTOL:
            break
        g *= step
        beta -= g
        np.maximum(beta, 0.0, out=beta)
    g = beta @ H - q
    viol = violation(beta, g)
    results = []
    for i, (Y, T) in enumerate(zip(frames, draws)):
        D, mi = Y.shape
        Si = np.ascontiguousarray(S[i, [*range(D), d - 1], :mi])
        bi = beta[i].copy()
        if mi < m:  # fold the padded copies back onto the first point
            bi[:, 0] += bi[:, mi:].sum(axis=1)
        bi = bi[:, :mi]
        interior = q[i].max(axis=1) <= 0
        status = np.where(interior, INTERIOR, PROJECTED_GRADIENT).astype(np.int8)
        bi[interior] = 0.0
        bad = np.flatnonzero((viol[i] > _KKT_RTOL) & ~interior)
        Tki = Tk[i][:, [*range(D), d - 1]]
        for j in bad:
            try:
                bi[j] = _lawson_hanson(Si, np.ascontiguousarray(Tki[j]), 50 * mi)
                status[j] = LAWSON_HANSON
            except RuntimeError:
                bi[j] = np.nan
                status[j] = FAILED
        results.append(_finish(Y, T, Si, bi, status))
    return results


def _finish(Y, T, S, beta, status, proj=None) -> AnchorDraws:
    """Anchors, Δ and argmax anchors from the dual solutions β (shape (n_t, m)).

    ``proj`` (optional, shape (n_t, m)): ``t·y_j`` plus a constant per draw, from a caller
    that has them (the working-set path of a large manifold): they give the argmax anchors
    without another ``(n_t × D)·(D × m)`` product, and β, mostly zero there, is multiplied as
    a sparse matrix.
    """
    D = Y.shape[0]
    t = T[:, :D]
    if proj is not None:
        finite = np.isfinite(beta).all(axis=1)
        p = np.full((beta.shape[0], S.shape[0]), np.nan)
        p[finite] = np.asarray(csr_matrix(beta[finite]) @ S.T)
    else:
        p = beta @ S.T  # projections Sβ, shape (n_t, D+1)
    delta = np.einsum("ij,ij->i", p, p)
    lam = p[:, -1]  # Σβ (points have centre coordinate 1)
    if D == 0:
        argmax = np.zeros((T.shape[0], 0))
    elif proj is not None:
        argmax = Y[:, np.argmax(proj, axis=1)].T
    else:
        argmax = _argmax_anchor(Y, t)
    touching = (status != INTERIOR) & (status != FAILED) & (lam > 0) & (np.sqrt(delta) > 1e-12)
    anchors = argmax.copy()
    anchors[touching] = p[touching, :D] / lam[touching, None]
    anchors[status == FAILED] = np.nan
    delta[status == INTERIOR] = 0.0
    return AnchorDraws(
        t=t,
        t0=T[:, D],
        anchors=anchors,
        argmax_anchors=argmax,
        delta=delta,
        status=status,
        dimension=D,
    )


def _mean(x):
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else np.nan


def anchor_statistics(a: AnchorDraws, kappa: float, inverse_gardner) -> dict[str, float]:
    r"""Per-object MFT quantities from the anchor points of one manifold.

    Returns a dict with keys ``capacity_direct`` (1/⟨Δ⟩), ``capacity_semianalytic``
    (``docs/geometry.md#geometry-object-quantities`` ``alphac_hat``), ``anchor_radius`` (√⟨‖δs‖²⟩), ``anchor_dimension`` (⟨(t·δs)²/‖δs‖²⟩),
    ``dimension_cosine`` (D⟨t·δs/(‖T‖‖δs‖)⟩², ``docs/geometry.md#geometry-object-quantities`` ``effective_dimension2``),
    ``dimension_point_cloud`` (D⟨t̂·ŝ⟩² with uncentred anchors, ``docs/geometry.md#geometry-methods``), ``anchor_half_width`` (⟨t·δs⟩),
    ``radius_gaussian``, ``half_width_gaussian``, ``dimension_gaussian`` (the same with argmax
    anchors, D_G = hw²/R_G²) and ``interior_fraction``. Draws whose solve failed are left out.
    """
    ok = a.status != FAILED
    D = a.dimension
    t, t0, s, sg = a.t[ok], a.t0[ok], a.anchors[ok], a.argmax_anchors[ok]
    n = t.shape[0]
    out: dict[str, float] = {}
    if n == 0:
        return {k: np.nan for k in ANCHOR_STATISTICS}
    mean_delta = float(a.delta[ok].mean())
    out["capacity_direct"] = 1.0 / mean_delta if mean_delta > 0 else np.inf
    ds = s - s.mean(axis=0)
    nrm2 = np.einsum("ij,ij->i", ds, ds)
    tds = np.einsum("ij,ij->i", t, ds)
    out["anchor_radius"] = float(np.sqrt(nrm2.mean()))
    out["anchor_half_width"] = float(tds.mean())
    pos = nrm2 > 0
    out["anchor_dimension"] = float(np.sum(tds[pos] ** 2 / nrm2[pos]) / n) if pos.any() else np.nan
    Tn = np.sqrt(np.einsum("ij,ij->i", t, t) + t0**2)
    if D > 0 and pos.any():
        cos = np.where(pos, tds / (Tn * np.sqrt(np.where(pos, nrm2, 1.0))), 0.0)
        out["dimension_cosine"] = float(D * cos.mean() ** 2)
        tn = np.sqrt(np.einsum("ij,ij->i", t, t))
        sn = np.sqrt(np.einsum("ij,ij->i", s, s) + 1e-12)
        out["dimension_point_cloud"] = float(
            D * np.mean(np.einsum("ij,ij->i", t, s) / (tn * sn)) ** 2
        )
    else:
        out["dimension_cosine"] = np.nan
        out["dimension_point_cloud"] = np.nan
    inv = inverse_gardner(tds + kappa) / (1.0 + nrm2)
    out["capacity_semianalytic"] = 1.0 / inv.mean() if inv.mean() > 0 else np.inf
    dg = sg - sg.mean(axis=0)
    rg2 = np.einsum("ij,ij->i", dg, dg).mean()
    hwg = np.einsum("ij,ij->i", t, dg).mean()
    out["radius_gaussian"] = float(np.sqrt(rg2))
    out["half_width_gaussian"] = float(hwg)
    out["dimension_gaussian"] = float(hwg**2 / rg2) if rg2 > 0 else np.nan
    out["interior_fraction"] = float(np.mean(a.status[ok] == INTERIOR))
    return out


ANCHOR_STATISTICS = (
    "capacity_direct",
    "capacity_semianalytic",
    "anchor_radius",
    "anchor_dimension",
    "dimension_cosine",
    "dimension_point_cloud",
    "anchor_half_width",
    "radius_gaussian",
    "half_width_gaussian",
    "dimension_gaussian",
    "interior_fraction",
)
"""The per-object statistics :func:`anchor_statistics` returns."""
