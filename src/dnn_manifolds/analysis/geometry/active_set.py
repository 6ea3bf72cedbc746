r"""Batched exact NNLS for many draws of one manifold on small working sets (private).

For the anchor problems of one manifold (``docs/geometry.md#geometry-anchors``) with points
:math:`s_j` (columns of ``S``, shape ``(D+1, m)``) and draws :math:`T_i`, the dual

.. math:: \beta_i^* = \arg\min_{\beta \ge 0} \tfrac12 \beta^\top H \beta - q_i^\top \beta,
          \qquad H = S^\top S\ (m\times m),\quad q_i = S^\top T_i,

is the NNLS :math:`\min_{\beta\ge0}\|S\beta - T_i\|^2`. Smooth manifolds touch few points
(typically 1–7 of hundreds or thousands), so each draw is solved on a *working set*
:math:`W_i` of ``w`` points (at first the ``w`` largest :math:`q_{ij}`) by Lawson–Hanson on
the Gram block :math:`H_{W_iW_i}` — batched over draws, with the passive-set systems solved as
one stack of ``k × k`` systems (each draw's ``k`` passive coordinates compacted to the front,
shorter sets padded with the identity; gathered from ``H`` as needed). The solution is
then checked against the KKT conditions on **all** m points,

.. math:: g = H\beta - q \ge -\epsilon,\quad \beta \ge 0,\quad \beta\circ g = 0

(relative to :math:`\max_j |q_{ij}|`); a draw that fails gets the most violating points swapped
into its working set and is solved again (a few rounds). Draws still failing are reported, for
the caller's exact per-draw fallback. A solution passing the check is the exact NNLS solution
(the problem is convex, so KKT is sufficient) up to the tolerance.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix

__all__ = ["working_set_nnls"]


def _compact(P: np.ndarray):
    """The passive coordinates of each row first: (slots (n, k_max), valid (n, k_max))."""
    k = P.sum(axis=1)
    kmax = int(k.max()) if k.size else 0
    slots = np.argsort(~P, axis=1, kind="stable")[:, :kmax]
    return slots, np.arange(kmax) < k[:, None]


def _batched_lawson_hanson(H: np.ndarray, W: np.ndarray | None, qw: np.ndarray, max_iter: int, tol: np.ndarray):
    """Lawson–Hanson on the quadratic forms ``½βᵀH_{WW}β − qᵀβ`` of a batch of draws.

    Parameters
    ----------
    H : ndarray of shape (m, m)
        The manifold's Gram matrix (symmetric positive semi-definite), shared by the batch.
    W : ndarray of int, shape (n, w), or None
        Each draw's working set (indices into H); ``None``: every point, in order (w = m).
    qw : ndarray of shape (n, w)
    max_iter : int
        Outer iterations (each adds one coordinate to the passive set).
    tol : ndarray of shape (n,)
        A coordinate enters when its negative gradient ``q − Hβ`` exceeds this.

    Returns
    -------
    beta : ndarray of shape (n, w)
    ok : ndarray of bool, shape (n,)
        False where a solve broke down (singular passive block) or the iteration limit hit.

    Everything is computed on the passive coordinates compacted to the front (``k`` of them,
    ``k_max`` the largest in the batch, shorter sets padded with the identity): the gradient
    costs ``w·k`` per draw and a passive-set solve ``k³``, so a wide working set costs little
    more than a narrow one and no ``(n, w, w)`` block is formed.
    """
    n, w = qw.shape
    beta = np.zeros((n, w))
    passive = np.zeros((n, w), dtype=bool)
    ok = np.ones(n, dtype=bool)
    running = np.arange(n)

    def points(rows, slots):  # the H indices of the compacted passive coordinates
        return slots if W is None else np.take_along_axis(W[rows], slots, axis=1)

    for _ in range(max_iter):
        if running.size == 0:
            break
        b, P = beta[running], passive[running]
        slots, valid = _compact(P)
        if slots.shape[1] == 0:
            Hb = np.zeros_like(b)
        else:
            cols = points(running, slots)
            bc = np.where(valid, np.take_along_axis(b, slots, axis=1), 0.0)
            rows_h = np.arange(w)[None, :] if W is None else W[running]
            Hb = np.einsum("nik,nk->ni", H[rows_h[:, :, None], cols[:, None, :]], bc)
        cand = np.where(P, -np.inf, qw[running] - Hb)
        j = np.argmax(cand, axis=1)
        enter = cand[np.arange(running.size), j] > tol[running]
        running = running[enter]
        if running.size == 0:
            break
        passive[running, j[enter]] = True
        # inner loop: keep the passive-set solution feasible
        inner = running
        for _ in range(2 * w + 2):
            if inner.size == 0:
                break
            P = passive[inner]
            slots, valid = _compact(P)
            kmax = slots.shape[1]
            cols = points(inner, slots)
            A = np.where(valid[:, :, None] & valid[:, None, :], H[cols[:, :, None], cols[:, None, :]], 0.0)
            pad = np.flatnonzero(~valid.ravel())
            if pad.size:  # the identity on the padding
                r, c = np.divmod(pad, kmax)
                A[r, c, c] = 1.0
            rhs = np.where(valid, np.take_along_axis(qw[inner], slots, axis=1), 0.0)
            try:
                zc = np.linalg.solve(A, rhs[..., None])[..., 0]
            except np.linalg.LinAlgError:
                zc = np.full_like(rhs, np.nan)
                for i in range(inner.size):
                    try:
                        zc[i] = np.linalg.solve(A[i], rhs[i])
                    except np.linalg.LinAlgError:
                        pass
            z = np.zeros((inner.size, w))
            np.put_along_axis(z, slots, np.where(valid, zc, 0.0), axis=1)
            bad = ~np.isfinite(zc).all(axis=1)
            if bad.any():
                ok[inner[bad]] = False
                passive[inner[bad]] = False
                keep = ~bad
                inner, z, P = inner[keep], z[keep], P[keep]
                if inner.size == 0:
                    break
            feasible = ~(P & (z <= 0)).any(axis=1)
            beta[inner[feasible]] = np.where(P[feasible], z[feasible], 0.0)
            inner, z, P = inner[~feasible], z[~feasible], P[~feasible]
            if inner.size == 0:
                break
            b = beta[inner]
            shrink = P & (z <= 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(shrink, b / (b - z), np.inf)
            alpha = np.clip(ratio.min(axis=1), 0.0, 1.0)
            b = b + alpha[:, None] * (z - b)
            drop = P & (b <= 1e-15 * np.abs(b).max(axis=1, keepdims=True))
            b[drop] = 0.0
            passive[inner] = P & ~drop
            beta[inner] = b
        else:
            ok[inner] = False
        running = running[ok[running]]
    else:
        ok[running] = False
    return beta, ok


def working_set_nnls(
    H: np.ndarray,
    Q: np.ndarray,
    *,
    width: int = 24,
    rounds: int = 6,
    rtol: float = 1e-9,
    chunk_elements: int = 2**23,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Exact NNLS duals of many draws of one manifold, on working sets.

    Parameters
    ----------
    H : ndarray of shape (m, m)
        Gram matrix :math:`S^\top S` of the manifold's points.
    Q : ndarray of shape (n, m)
        :math:`q_i = S^\top T_i` of each draw (rows); draws with all :math:`q_{ij} \le 0` are
        interior (β = 0) and may be left out by the caller.
    width : int
        Working-set size w (all m points when m ≤ w).
    rounds : int
        Working-set updates before a draw is given up.
    rtol : float
        KKT tolerance, relative to :math:`\max_j |q_{ij}|`.
    chunk_elements : int
        Bound on the ``(draws, m)`` arrays of the KKT check (memory control).

    Returns
    -------
    support : ndarray of int, shape (n, w)
        Working set of each draw (point indices).
    beta : ndarray of shape (n, w)
        Dual weights on ``support`` (zero elsewhere); rows of failed draws are NaN.
    ok : ndarray of bool, shape (n,)
        Whether the draw passed the KKT check on all m points.
    """
    n, m = Q.shape
    w = min(width, m)
    scale = np.abs(Q).max(axis=1) + 1e-300
    if w == m:
        W = np.broadcast_to(np.arange(m), (n, m)).copy()
    else:
        W = np.argpartition(-Q, w - 1, axis=1)[:, :w]
    beta = np.zeros((n, w))
    ok = np.zeros(n, dtype=bool)
    todo = np.arange(n)
    rows = max(1, chunk_elements // max(1, m))
    for _ in range(rounds):
        if todo.size == 0:
            break
        Wt = W[todo]
        qw = np.take_along_axis(Q[todo], Wt, axis=1)
        b, solved = _batched_lawson_hanson(H, None if w == m else Wt, qw, 3 * w, 1e-13 * scale[todo])
        beta[todo] = b
        # KKT on all m points: g = Hβ − q, with β (supported on W, mostly zero) as a sparse
        # matrix so that the product costs (nonzeros × m), not (draws × w × m)
        viol = np.zeros(todo.size)
        worst = np.zeros((todo.size, w), dtype=np.int64)
        nworst = np.zeros(todo.size, dtype=np.int64)
        for s in range(0, todo.size, rows):
            sl = slice(s, s + rows)
            bs, Ws = np.nan_to_num(b[sl]), Wt[sl]
            nz = bs != 0
            r_idx = np.nonzero(nz)[0]
            B = csr_matrix((bs[nz], (r_idx, Ws[nz])), shape=(bs.shape[0], m))
            g = np.asarray(B @ H) - Q[todo[sl]]
            full = B.toarray()
            v = np.abs(np.minimum(full, g)) / scale[todo[sl], None]
            viol[sl] = v.max(axis=1)
            # for the draws that failed, the candidates to swap in: the most negative
            # gradients outside the support
            fail = np.flatnonzero(viol[sl] > rtol)
            if fail.size == 0 or w == m:
                continue
            gg = np.where(full[fail] > 0, np.inf, g[fail])
            idx = np.argpartition(gg, w - 1, axis=1)[:, :w]
            order = np.argsort(np.take_along_axis(gg, idx, axis=1), axis=1)
            rows_f = s + fail
            worst[rows_f] = np.take_along_axis(idx, order, axis=1)
            nworst[rows_f] = (np.take_along_axis(gg, worst[rows_f], axis=1) < -rtol * scale[todo[rows_f], None]).sum(axis=1)
        good = solved & (viol <= rtol)
        ok[todo[good]] = True
        retry = ~good
        if w == m:  # nothing to swap in: the full problem failed
            break
        # new working set: the support, then the most violating points, then the rest of W
        for i in np.flatnonzero(retry):
            d = todo[i]
            supp = Wt[i][b[i] > 0] if solved[i] else np.zeros(0, dtype=np.int64)
            new = [supp, worst[i][: nworst[i]], Wt[i]]
            merged = np.concatenate(new)
            _, first = np.unique(merged, return_index=True)
            merged = merged[np.sort(first)][:w]
            if merged.size < w:  # pad with further top-q points
                rest = np.argsort(-Q[d])
                rest = rest[~np.isin(rest, merged)]
                merged = np.concatenate([merged, rest[: w - merged.size]])
            W[d] = merged
        todo = todo[retry]
    beta[~ok] = np.nan
    return W, beta, ok


def gram_lawson_hanson(H: np.ndarray, q: np.ndarray, *, rtol: float = 1e-9, max_iter: int | None = None) -> np.ndarray | None:
    r"""Exact NNLS dual of one draw, :math:`\min_{\beta\ge0}\tfrac12\beta^\top H\beta - q^\top\beta`,
    by Lawson–Hanson with an incrementally updated Cholesky factor of the passive block.

    For manifolds whose anchors touch many points (the shuffle control's: supports of
    k ≈ 30–500), the per-draw NNLS on ``S`` re-solves its least-squares problem at every step
    (``m k²`` each, ``m k³`` per draw: 6.9 s at m = 3201, k ≈ 480). Here a point entering the
    passive set adds one row to the factor :math:`L L^\top = H_{PP}` and to :math:`y = L^{-1}q_P`
    (``k²``), the passive solution costs one triangular solve and the gradient one ``m × k``
    product of the passive rows of ``H`` kept side by side; a point leaving refactors the
    block (rare).

    Parameters
    ----------
    H : ndarray of shape (m, m)
        Gram matrix :math:`S^\top S` (symmetric positive semi-definite).
    q : ndarray of shape (m,)
        :math:`S^\top T` of the draw.
    rtol : float
        KKT tolerance relative to :math:`\max_j |q_j|` for the result's check.
    max_iter : int, optional
        Outer iterations (default ``3 m``).

    Returns
    -------
    beta : ndarray of shape (m,), or None
        The solution, checked against the KKT conditions on all points (:math:`H\beta - q \ge
        -\epsilon`, :math:`\beta \ge 0`, complementarity, relative residual ≤ ``rtol``);
        ``None`` when the check fails or the passive block is numerically singular (the caller
        then solves the draw on ``S``, whose conditioning is the square root of ``H``'s).

    The check is in ``H``'s terms, which squares the conditioning: on badly scaled or
    ill-conditioned points a solution can pass it and still be off by ~1e-6 in ``S``'s
    terms. Callers that hold ``S`` re-solve the support on ``S`` and check there
    (:func:`refine_on_points`).
    """
    from scipy.linalg import solve_triangular

    m = q.size
    if not np.isfinite(q).all():
        return None
    scale = float(np.abs(q).max()) + 1e-300
    enter_tol = 1e-13 * scale
    max_iter = 3 * m if max_iter is None else int(max_iter)
    cap = min(m, 64)
    Lbuf = np.zeros((cap, cap))  # the factor of H_PP, lower triangular, in passive order
    HPbuf = np.empty((cap, m))  # the passive rows of H (= columns: H is symmetric)
    passive = np.zeros(cap, dtype=np.int64)
    k = 0
    beta_p = np.zeros(0)
    y = np.zeros(0)  # L⁻¹ q_P, kept with the factor
    g = q.astype(np.float64, copy=True)  # negative gradient q − Hβ
    in_p = np.zeros(m, dtype=bool)

    def refactor(k: int) -> bool:
        idx = passive[:k]
        try:
            Lbuf[:k, :k] = np.linalg.cholesky(H[np.ix_(idx, idx)])
        except np.linalg.LinAlgError:
            return False
        return True

    for _ in range(max_iter):
        cand = np.where(in_p, -np.inf, g)
        j = int(np.argmax(cand))
        if not cand[j] > enter_tol:
            break
        if k == cap:  # grow the buffers
            cap = min(m, 2 * cap)
            L2 = np.zeros((cap, cap))
            L2[:k, :k] = Lbuf[:k, :k]
            H2 = np.empty((cap, m))
            H2[:k] = HPbuf[:k]
            P2 = np.zeros(cap, dtype=np.int64)
            P2[:k] = passive[:k]
            Lbuf, HPbuf, passive = L2, H2, P2
        # add j: extend the Cholesky factor of H_PP by one row
        hj = HPbuf[:k, j]
        row = solve_triangular(Lbuf[:k, :k], hj, lower=True, check_finite=False) if k else hj
        d = float(H[j, j] - row @ row)
        if not d > 1e-12 * max(float(H[j, j]), 1e-300):
            return None  # j depends linearly on the passive points (in H's precision)
        Lbuf[k, :k] = row
        Lbuf[k, k] = np.sqrt(d)
        passive[k] = j
        HPbuf[k] = H[j]
        in_p[j] = True
        y = np.append(y, (q[j] - row @ y) / Lbuf[k, k])  # L y = q_P, extended by one row
        k += 1
        beta_p = np.append(beta_p, 0.0)
        for _ in range(2 * m + 2):  # keep the passive solution feasible
            z = solve_triangular(Lbuf[:k, :k], y, lower=True, trans="T", check_finite=False)
            if (z > 0).all():
                beta_p = z
                break
            shrink = z <= 0
            denom = beta_p - z  # > 0 where β_p > 0 ≥ z; 0 only for β_p = z = 0 (leaves at once)
            step = np.divide(beta_p, denom, out=np.zeros_like(beta_p), where=denom > 0)
            ratio = np.where(shrink, step, np.inf)
            alpha = float(np.clip(ratio.min(), 0.0, 1.0))
            beta_p = beta_p + alpha * (z - beta_p)
            keep = beta_p > 1e-15 * max(float(np.abs(beta_p).max()), 1e-300)
            keep &= ~(shrink & (ratio <= alpha))  # the blocking coordinates leave
            if keep.all():
                return None
            kept = np.flatnonzero(keep)
            in_p[passive[:k][~keep]] = False
            passive[: kept.size] = passive[kept]
            HPbuf[: kept.size] = HPbuf[kept]
            beta_p = beta_p[kept]
            k = kept.size
            if k == 0:
                y = np.zeros(0)
                break
            if not refactor(k):
                return None
            y = solve_triangular(Lbuf[:k, :k], q[passive[:k]], lower=True, check_finite=False)
        else:
            return None
        g = q - beta_p @ HPbuf[:k] if k else q.astype(np.float64, copy=True)
    else:
        return None
    beta = np.zeros(m)
    beta[passive[:k]] = beta_p
    # KKT on all points (convex problem: sufficient), as the working-set solver checks; g is
    # the gradient of the final β (computed at the end of the last step)
    viol = np.abs(np.minimum(beta, -g)).max() / scale
    return beta if viol <= rtol and (beta >= 0).all() else None


def refine_on_points(
    S: np.ndarray, t: np.ndarray, beta: np.ndarray, *, rtol: float = 1e-9, col_norms: np.ndarray | None = None
) -> np.ndarray | None:
    r"""The NNLS solution :math:`\min_{\beta\ge0}\|S\beta - t\|` on the support of ``beta``,
    re-solved and checked in the points' own terms; ``None`` unless it is the solution.

    The least squares on the support's columns are solved by QR on ``S[:, P]`` (conditioning of
    ``S``, not of ``SᵀS``); the result must be positive on the support, and every point must
    satisfy the dual condition :math:`s_j\cdot(t - S\beta) \le` ``rtol``
    :math:`\|s_j\|\,\|t\|` (each point at its own scale, so a point with a small column is
    not judged at the scale of a large one). With both, ``beta`` is the NNLS solution to that
    tolerance (the problem is convex). ``col_norms``: the ``‖s_j‖``, when the caller has them.
    """
    from scipy.linalg import lstsq

    P = np.flatnonzero(beta > 0)
    out = np.zeros(S.shape[1])
    r = np.asarray(t, dtype=np.float64)
    if P.size:
        A = S[:, P]
        x = lstsq(A, t, lapack_driver="gelsy", check_finite=False)[0]
        if not (x > 0).all():
            return None
        out[P] = x
        r = r - A @ x
    g = S.T @ r
    norms = np.sqrt(np.einsum("ij,ij->j", S, S)) if col_norms is None else col_norms
    tol = rtol * norms * float(np.sqrt(t @ t)) + 1e-300
    return out if np.isfinite(g).all() and (g <= tol).all() else None
