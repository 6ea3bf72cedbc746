r"""Minimisation on the Stiefel manifold and the centre-correlation cost (private).

Two pieces used by :func:`dnn_manifolds.analysis.geometry.optimal_centre_rank`:

* :class:`CentreCorrelationCost` — half the sum of squared correlation coefficients between the
  residual object centres after a rank-``k`` common subspace is projected out, with its
  closed-form gradient in a form that never builds a ``P × P × n × k`` array (``docs/geometry.md#geometry-centres``, ``square_corrcoeff_full_cost``).
* :func:`minimize_stiefel` — the curvilinear search of Wen & Yin (2010): Cayley-transform steps
  that stay on :math:`\{V : V^\top V = I_k\}`, Barzilai–Borwein step sizes and a Zhang–Hager
  non-monotone line search. Several independent starts are run *in lockstep* (one batch of
  matrix products per iteration for all starts still running).

Re-implemented from the paper (Z. Wen and W. Yin, "A feasible method for optimization with
orthogonality constraints", Math. Program. 142, 397–434 (2013); preprint 2010) and the
description in ``docs/geometry.md#geometry-centres``; no code of the GPL ``FOptM`` package is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

CANCELLATION = 1e-4
"""A start whose residual norm² falls below this fraction of some centre's norm² is evaluated
from the residuals themselves (:meth:`CentreCorrelationCost.direct`). The expanded form's error
grows like ``ε P² / ratio²``: about 1e-8 of the cost at this ratio, far less above it."""

_EXTRA_BACKTRACKS = 40
"""Backtracking steps allowed beyond Wen-Yin's five when the fifth try is not sane."""
_MAX_RISE = 1e-3
"""A fifth backtracking try is accepted (as Wen-Yin) unless it raises the cost by more than
this fraction of the reference value."""

_add = np.add.reduce
"""``ndarray.sum`` without its Python wrapper (the same reduction, the same bits)."""


def _sum_last(A):
    """``np.add.reduce(A, axis=-1)`` bit for bit, faster for a short last axis: numpy adds fewer
    than 8 elements in order, which whole-slice additions reproduce (and avoid its slow inner
    loop over a short axis); 8 or more are summed pairwise, so reduced as such."""
    k = A.shape[-1]
    if k < 2 or k >= 8:
        return _add(A, axis=-1)
    s = A[..., 0] + A[..., 1]
    for j in range(2, k):
        s += A[..., j]
    return s


def _left(A, V):
    """``A @ V`` for a matrix ``A`` (p, n) and a batch ``V`` (r, n, k), shape (r, p, k),
    C-ordered. For k ≥ 2 and several starts as one matrix product ``A · [V_1 … V_r]``: numpy's
    batched product calls BLAS once per start, and at the centre searches' sizes (P = 100,
    k = 2–5, 10 starts) the cost and gradient took 1.4–1.7× as long that way. The values equal
    the batched product's to rounding (BLAS blocks the wider product differently: 1e-16
    relative, so the optimiser's path, and the results, change within their tolerance)."""
    r, n, k = V.shape
    if k < 2 or r < 2:
        return A @ V
    flat = A @ V.transpose(1, 0, 2).reshape(n, r * k)
    return np.ascontiguousarray(flat.reshape(A.shape[0], r, k).transpose(1, 0, 2))


def _dot(A, B):
    """Frobenius inner products of two batches of matrices, shape ``(n_starts,)``."""
    return np.einsum("rnk,rnk->r", A, B)

STATUS_CONVERGED = 0
"""The stopping rule on step size, cost change or gradient norm was met."""
STATUS_MAX_ITER = 1
"""The iteration limit was reached first."""


class CentreCorrelationCost:
    r"""Squared correlation coefficients of residual centres, as a function of the subspace V.

    Parameters
    ----------
    centres : ndarray of shape (n_objects, n_dims)
        Row μ is the (reduced) centre :math:`x_\mu`.

    Notes
    -----
    With :math:`c = XV` (shape ``(P, k)``), residual squared norms
    :math:`c^0_\mu = \|x_\mu\|^2 - \|c_\mu\|^2`, weights :math:`w = 1/c^0` and residual Gram
    :math:`A = XX^\top - cc^\top`,

    .. math::

        F(V) = \tfrac12 \sum_{\mu\nu} \frac{A_{\mu\nu}^2}{c^0_\mu c^0_\nu}
             = \tfrac12\Big(P + \sum_{\mu\ne\nu}\rho_{\mu\nu}^2\Big).

    Expanding the square, :math:`2F = w^\top (C\circ C) w - 2\|X^\top W c\|_F^2 +
    \|c^\top W c\|_F^2` with :math:`C = XX^\top` and :math:`W = \mathrm{diag}(w)`; only
    :math:`w^\top (C\circ C) w` touches a ``P × P`` matrix, and that matrix is formed once.
    The gradient is :math:`\nabla_V F = X^\top g` with

    .. math::

        g = -2W(XZ - cG) + 2\,\mathrm{diag}(w^2 \circ h)\,c,\quad Z = X^\top W c,\;
        G = c^\top W c,\; h = (C\circ C)w - 2\,\mathrm{rowsum}(c\circ XZ)
        + \mathrm{rowsum}(cG\circ c),

    which equals the matrix form ``−2Xᵀ(A⊘B)c + 2Xᵀdiag((A²⊘B²)c⁰)c`` of ``docs/geometry.md#geometry-centres``.
    All operations are batched over a leading "start" axis of ``V``.
    """

    def __init__(self, centres: np.ndarray):
        self.X = np.ascontiguousarray(centres, dtype=np.float64)
        self.XT = np.ascontiguousarray(self.X.T)
        C = self.X @ self.X.T
        self.diag = np.diag(C).copy()
        self.threshold = CANCELLATION * self.diag
        self.C2 = C * C

    def residual_sq_norms(self, V: np.ndarray) -> np.ndarray:
        """Squared residual centre norms ``‖x_μ − V Vᵀ x_μ‖²``, shape ``(..., n_objects)``
        (from the residuals themselves: no cancellation when V captures most of a centre)."""
        R = self.X - (self.X @ V) @ np.swapaxes(V, -1, -2)
        return np.einsum("...pn,...pn->...p", R, R)

    def value(self, V: np.ndarray) -> np.ndarray:
        """Cost F for each start; ``V`` has shape (n_starts, n_dims, k)."""
        return self.value_and_grad(V, grad=False)[0]

    def value_and_grad(self, V: np.ndarray, grad: bool = True):
        """Cost and Euclidean gradient for each start (``V`` of shape (n_starts, n_dims, k)).

        The expanded form above is fast but cancels catastrophically when V captures most of
        some centre (a residual norm² below :data:`CANCELLATION` of the centre's norm², as when
        one outlier dominates every centre); those starts are evaluated by :meth:`direct`
        instead, which builds the residuals themselves.
        """
        X, XT = self.X, self.XT
        c = _left(X, V)  # (r, P, k)
        c0 = self.diag - _sum_last(c * c)
        if (c0 < self.threshold).any():
            return self._split(V, c0, grad)
        # guard against a vanishing residual (the cost is infinite there)
        w = 1.0 / np.maximum(c0, 1e-300)
        Wc = w[..., None] * c
        Z = _left(XT, Wc)  # (r, n, k)
        G = c.transpose(0, 2, 1) @ Wc  # (r, k, k)
        C2w = w @ self.C2  # (r, P)
        F = 0.5 * (_add(w * C2w, axis=1) - 2.0 * _add(Z * Z, axis=(1, 2)) + _add(G * G, axis=(1, 2)))
        if not grad:
            return F, None
        XZ = _left(X, Z)  # (r, P, k)
        D = XZ - c @ G  # W⁻¹·(direct part)/(−2) = XZ − cG
        h = C2w - _sum_last((XZ + D) * c)  # C2w − 2 c·XZ + c·cG
        g = (2.0 * w * w * h)[..., None] * c - 2.0 * w[..., None] * D
        return F, _left(XT, g)

    def _split(self, V, c0, grad):
        """Starts that cancel by :meth:`direct`, the others by the expanded form."""
        exact = np.any(c0 < self.threshold, axis=1)
        F = np.empty(V.shape[0])
        G = np.empty_like(V) if grad else None
        F[exact], g_exact = self.direct(V[exact], grad=grad)
        if grad:
            G[exact] = g_exact
        rest = ~exact
        if rest.any():
            F[rest], g_rest = self.value_and_grad(V[rest], grad=grad)
            if grad:
                G[rest] = g_rest
        return F, G

    def direct(self, V: np.ndarray, grad: bool = True):
        r"""Cost and gradient from the residuals ``R = X − X V Vᵀ`` (``O(P² n)`` per start).

        With ``A = R Rᵀ``, ``a = diag(A)``, ``ρ = A / √(a aᵀ)``: ``F = ½ Σ ρ²`` and
        ``∇_V F = −(Xᵀ M V + Mᵀ X V)``, ``M = 2 (B − diag(h)) R``, ``B = A / (a aᵀ)``,
        ``h_μ = Σ_ν ρ_μν² / a_μ``. A residual that vanishes exactly makes F infinite.
        """
        X = self.X
        XV = X @ V  # (r, P, k)
        R = X - XV @ np.swapaxes(V, 1, 2)  # (r, P, n)
        A = R @ np.swapaxes(R, 1, 2)  # (r, P, P)
        a = np.einsum("rpp->rp", A).copy()
        a = np.maximum(a, np.finfo(np.float64).tiny)
        inv = 1.0 / a
        B = A * inv[:, :, None] * inv[:, None, :]
        rho2 = A * B
        F = 0.5 * rho2.sum(axis=(1, 2))
        if not grad:
            return F, None
        h = rho2.sum(axis=2) * inv
        Gm = B.copy()
        idx = np.arange(Gm.shape[1])
        Gm[:, idx, idx] -= h
        M = 2.0 * (Gm @ R)  # (r, P, n)
        grad_v = -(self.XT @ (M @ V) + np.swapaxes(M, 1, 2) @ XV)
        return F, grad_v

    def naive_value(self, V: np.ndarray) -> float:
        """Reference value ½ Σ_{μν} A²/(c⁰c⁰) from the P × P residual Gram (for tests)."""
        R = self.X - self.X @ V @ V.T
        A = R @ R.T
        c0 = np.diag(A)
        return 0.5 * float(np.sum(A * A / np.outer(c0, c0)))


@dataclass(frozen=True)
class StiefelResult:
    """Result of :func:`minimize_stiefel` for a batch of starts.

    Attributes
    ----------
    x : ndarray of shape (n_starts, n, k)
        Orthonormal minimisers (``xᵀx = I_k``).
    fun : ndarray of shape (n_starts,)
        Cost at ``x``.
    grad_norm : ndarray of shape (n_starts,)
        Frobenius norm of the projected gradient ``G − x Gᵀ x`` at the last iterate.
    n_iter : ndarray of int, shape (n_starts,)
        Iterations used.
    status : ndarray of int, shape (n_starts,)
        :data:`STATUS_CONVERGED` (0) or :data:`STATUS_MAX_ITER` (1).
    """

    x: np.ndarray
    fun: np.ndarray
    grad_norm: np.ndarray
    n_iter: np.ndarray
    status: np.ndarray


class _Cayley:
    """Cayley steps ``X(τ) = (I + τ/2 W)⁻¹ (I − τ/2 W) X``, ``W = G Xᵀ − X Gᵀ``, from one iterate
    (batched over starts): the products that do not depend on τ are formed once and reused by
    every backtracking try. Low-rank form ``X − τ U (I + τ/2 VᵀU)⁻¹ VᵀX`` with ``U = [G, X]``,
    ``V = [X, −G]`` when ``low_rank``."""

    def __init__(self, X, G, low_rank, eye):
        self.X, self.low_rank, self.eye = X, low_rank, eye
        if low_rank:
            self.U = np.concatenate([G, X], axis=2)  # (r, n, 2k)
            Vt = np.concatenate([X, -G], axis=2).transpose(0, 2, 1)
            self.VU = Vt @ self.U  # (r, 2k, 2k)
            self.VX = Vt @ X  # (r, 2k, k)
        else:
            self.W = G @ X.transpose(0, 2, 1) - X @ G.transpose(0, 2, 1)

    def step(self, tau, sel=None):
        """``X(τ)`` for all starts, or for the starts ``sel`` (``tau`` then of their size)."""
        t = tau[:, None, None]
        X = self.X if sel is None else self.X[sel]
        if self.low_rank:
            U, VU, VX = (self.U, self.VU, self.VX) if sel is None else (self.U[sel], self.VU[sel], self.VX[sel])
            return X - t * (U @ np.linalg.solve(self.eye + 0.5 * t * VU, VX))
        W = self.W if sel is None else self.W[sel]
        return np.linalg.solve(self.eye + 0.5 * t * W, (self.eye - 0.5 * t * W) @ X)


def _orthonormalise(X):
    Q, R = np.linalg.qr(X)
    sign = np.sign(np.diagonal(R, axis1=-2, axis2=-1))
    sign[sign == 0] = 1.0
    return Q * sign[:, None, :]


def minimize_stiefel(
    fun: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    X0: np.ndarray,
    *,
    xtol: float = 1e-6,
    gtol: float = 1e-6,
    ftol: float = 1e-12,
    max_iter: int = 1000,
    rho: float = 1e-4,
    eta: float = 0.2,
    gamma: float = 0.85,
    tau0: float = 1e-3,
    nt: int = 5,
) -> StiefelResult:
    r"""Minimise F(X) subject to XᵀX = I by the Wen–Yin curvilinear BB method, batched.

    .. math:: \min_{X \in \mathbb{R}^{n\times k}} F(X) \quad\text{s.t.}\quad X^\top X = I_k

    Parameters
    ----------
    fun : callable
        ``fun(X)`` with ``X`` of shape (n_starts, n, k) returns ``(F, G)``: costs of shape
        (n_starts,) and Euclidean gradients of shape (n_starts, n, k).
    X0 : ndarray of shape (n_starts, n, k)
        Orthonormal starting points.
    xtol, gtol, ftol : float
        Stop when (relative step < xtol and relative cost change < ftol), or projected-gradient
        norm < gtol, or the means of the last ``nt`` steps and cost changes are below 10·xtol
        and 10·ftol. At iterations 1–2 a met criterion instead tightens all three by 10×.
    max_iter : int
        Iteration limit per start.
    rho, eta, gamma, tau0 : float
        Armijo parameter, backtracking factor, non-monotone averaging weight, first step.

    Returns
    -------
    StiefelResult

    Notes
    -----
    Each iteration: Cayley step :math:`X(\tau) = (I+\frac\tau2 W)^{-1}(I-\frac\tau2 W)X`,
    :math:`W = GX^\top - XG^\top` (low-rank form with ``[G, X]`` when ``k < n/2``); accept when
    :math:`F(X(\tau)) \le C - \tau\rho\|\nabla F\|^2` or after 5 tries, else
    :math:`\tau \leftarrow \eta\tau`; then alternate the two Barzilai–Borwein step sizes and
    update the Zhang–Hager reference value :math:`C`. All starts advance together; a start that
    has stopped is left out of the products.

    References
    ----------
    Z. Wen, W. Yin, Math. Program. 142, 397–434 (2013), Algorithm 2 (curvilinear search with
    BB steps); ``docs/geometry.md#geometry-centres``.
    """
    X0 = np.array(X0, dtype=np.float64, copy=True)
    r, n, k = X0.shape
    low_rank = k < n / 2
    eye = np.eye(2 * k if low_rank else n)
    # final values per start (written when a start stops, or at the end)
    X_out = X0.copy()
    F_out = np.empty(r)
    nrm_out = np.empty(r)
    n_iter = np.zeros(r, dtype=int)
    status = np.full(r, STATUS_MAX_ITER, dtype=int)
    # state of the starts still running ("active"), kept compact
    idx = np.arange(r)
    X = X0
    F, G = fun(X)
    dtX = G - X @ (G.transpose(0, 2, 1) @ X)
    nrmG = np.sqrt(_dot(dtX, dtX))
    Q = 1.0  # the Zhang-Hager weight is the same for every start
    Cval = F.copy()
    tau = np.full(r, float(tau0))
    xt = np.full(r, float(xtol))
    gt = np.full(r, float(gtol))
    ft = np.full(r, float(ftol))
    hist = np.zeros((r, nt, 2))
    sqrt_n = np.sqrt(n)
    itr = 0
    # (non-finite BB ratios are replaced below; the warnings are noise)
    with np.errstate(divide="ignore", invalid="ignore"):
        for itr in range(1, max_iter + 1):
            deriv = rho * nrmG**2
            cayley = _Cayley(X, G, low_rank, eye)
            Xn = cayley.step(tau)
            Fn, Gn = fun(Xn)
            ok = Fn <= Cval - tau * deriv
            if not ok.all():
                pending = np.flatnonzero(~ok)
                for nls in range(2, 6 + _EXTRA_BACKTRACKS):
                    tau[pending] *= eta
                    Xt = cayley.step(tau[pending], pending)
                    Ft, Gt = fun(Xt)
                    armijo = Ft <= Cval[pending] - tau[pending] * deriv[pending]
                    # Wen-Yin accept the 5th try regardless; a 5th try that still raises the cost
                    # far above the reference value (a landscape far sharper than the step, as
                    # when one direction dominates the centres) keeps backtracking instead
                    sane = np.isfinite(Ft) & (Ft <= Cval[pending] + _MAX_RISE * np.abs(Cval[pending]))
                    acc = armijo | ((nls >= 5) & sane) | (nls >= 5 + _EXTRA_BACKTRACKS)
                    done = pending[acc]
                    Xn[done], Fn[done], Gn[done] = Xt[acc], Ft[acc], Gt[acc]
                    pending = pending[~acc]
                    if pending.size == 0:
                        break
            dtn = Gn - Xn @ (Gn.transpose(0, 2, 1) @ Xn)
            nrmG = np.sqrt(_dot(dtn, dtn))
            S = Xn - X
            SS = _dot(S, S)
            XDiff = np.sqrt(SS) / sqrt_n
            FDiff = np.abs(F - Fn) / (np.abs(F) + 1.0)
            Y = dtn - dtX
            SY = np.abs(_dot(S, Y))
            tau = SS / SY if itr % 2 == 0 else SY / _dot(Y, Y)
            tau = np.minimum(np.maximum(np.where(np.isfinite(tau), tau, tau0), 1e-20), 1e20)
            X, F, G, dtX = Xn, Fn, Gn, dtn
            slot = (itr - 1) % nt
            hist[:, slot, 0] = XDiff
            hist[:, slot, 1] = FDiff
            m = min(nt, itr)
            mean_hist = _add(hist[:, :m], axis=1) / m  # the last nt iterations
            stop = (
                ((XDiff < xt) & (FDiff < ft))
                | (nrmG < gt)
                | ((mean_hist[:, 0] < 10 * xt) & (mean_hist[:, 1] < 10 * ft))
            )
            Qn = gamma * Q + 1.0
            Cval = (gamma * Q * Cval + F) / Qn
            Q = Qn
            if itr <= 2:
                xt = np.where(stop, 0.1 * xt, xt)
                ft = np.where(stop, 0.1 * ft, ft)
                gt = np.where(stop, 0.1 * gt, gt)
                continue
            if stop.any():
                fin = idx[stop]
                X_out[fin], F_out[fin], nrm_out[fin] = X[stop], F[stop], nrmG[stop]
                n_iter[fin] = itr
                status[fin] = STATUS_CONVERGED
                keep = ~stop
                idx = idx[keep]
                if not idx.size:
                    break
                X, F, G, dtX, nrmG = X[keep], F[keep], G[keep], dtX[keep], nrmG[keep]
                Cval, tau = Cval[keep], tau[keep]
                xt, gt, ft, hist = xt[keep], gt[keep], ft[keep], hist[keep]
    if idx.size:
        X_out[idx], F_out[idx], nrm_out[idx] = X, F, nrmG
        n_iter[idx] = itr
    X, F, nrmG = X_out, F_out, nrm_out

    # final feasibility check (the Cayley steps preserve orthonormality up to rounding)
    err = np.linalg.norm(np.swapaxes(X, 1, 2) @ X - np.eye(k), axis=(1, 2))
    fix = err > 1e-13
    if fix.any():
        X[fix] = _orthonormalise(X[fix])
        F[fix] = fun(X[fix])[0]
    return StiefelResult(x=X, fun=F, grad_norm=nrmG, n_iter=n_iter, status=status)
