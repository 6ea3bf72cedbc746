r"""Cutting plane over samples without forming the projected samples (``docs/capacity.md#capacity-lazy``).

Private helper of :mod:`.problem`. A repetition's Gaussian features are ``F = Z B``: ``Z`` of
shape ``(n, r)`` (the repetition's draw), ``B`` the basis of shape ``(r, K)`` (the Gram factor,
or the samples themselves when they have full affine rank; ``K`` samples). The cutting plane
(:func:`.problem.run_task`) only ever *solves* on a working set of samples, so only those
columns of ``F`` are formed here,

.. math::

    \hat F_{:,k} = \mathrm{fl}_{64}(Z B_{:,k}) \qquad (k \text{ in the working set}),

at a cost of ``n·r`` per working sample instead of ``n·r·K`` for all of ``F``. A candidate
separator ``(w, b)`` of the working set is checked on **every** sample in the basis'
coordinates: ``w·F_{:,k} + b = g·B_{:,k} + b`` with ``g = Zᵀ w`` (``r`` numbers), one pass over
``B`` (``r·K``) per round. The computed value carries a rounding error of at most

.. math::

    \beta_k = 2(n + r + 2)\,\varepsilon_{64}\,\bigl(\lVert h\rVert\,\lVert B_{:,k}\rVert + |b|\bigr),
    \qquad h = |Z|^\top |w| ,

against the exact ``w·(Z B_{:,k}) + b`` (``|ĝ − g| ≤ γ_n h``, the dot product adds
``γ_{r+1}(|ĝ|·|B_k| + |b|)``, and ``h·|B_k| ≤ ‖h‖ ‖B_k‖``): a sample counts as separated only
when ``y_k(ĝ·B_{:,k} + b) > β_k``. So "separable" is certified for the exact Gaussian projection
of every sample (hence for any float64 evaluation of it), and "not separable" is the certified
LP's answer on the working set, as in the materialised cutting plane. Samples within ``β_k``
of the hyperplane count as violated and can join the working set, where the LP sees their
features explicitly.

``B`` may be stored in float32 (the data as given, without a float64 copy): the pass then
converts it to float64 in column blocks of :data:`BLOCK` samples, so no more than one block
is ever held in float64.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BLOCK", "basis_fields", "column_norms", "gather_columns"]

BLOCK = 4096
"""Samples per block when a float32 basis is converted to float64 for a pass."""

EPS = float(np.finfo(np.float64).eps)


def _blocks(k: int, block: int = BLOCK):
    for start in range(0, k, block):
        yield slice(start, min(k, start + block))


def gather_columns(basis: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Columns ``cols`` of ``basis`` as a float64 array of shape (r, len(cols)) (exact)."""
    return np.asarray(basis[:, cols], dtype=np.float64)


def column_norms(basis: np.ndarray) -> np.ndarray:
    """``‖B_{:,k}‖`` for every column, in float64, block by block (shape (K,))."""
    k = basis.shape[1]
    out = np.empty(k)
    for sl in _blocks(k):
        blk = np.asarray(basis[:, sl], dtype=np.float64)
        out[sl] = np.sqrt(np.einsum("ij,ij->j", blk, blk))
    return out


def basis_fields(
    basis: np.ndarray,
    norms: np.ndarray,
    z: np.ndarray | None,
    w: np.ndarray,
    b: float,
    z_abs: np.ndarray | None = None,
    y: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Values ``w·(Z B_{:,k}) + b`` of every sample and their rounding bounds ``β_k``.

    Parameters
    ----------
    basis : ndarray of shape (r, K), float32 or float64
        ``B`` (any memory layout; never copied whole).
    norms : ndarray of shape (K,)
        ``‖B_{:,k}‖`` (:func:`column_norms`).
    z : ndarray of shape (n, r), or None
        The repetition's Gaussian matrix in float64; ``None`` when the features are ``B`` itself.
    w : ndarray of shape (n,) (or (r,) when ``z`` is None)
        Separator weights on the features.
    b : float
        Its bias.
    z_abs : ndarray of shape (n, r), optional
        ``|Z|``, if already at hand.
    y : ndarray of shape (K,), optional
        Labels of the samples (basis order). With a float32 basis, the pass is one float32
        product (a screen, with its own rigorous bound :func:`_screen`) and only the samples
        whose sign the screen leaves open, ``|y_k field_k| ≤`` its bound, are recomputed in
        float64 from their columns. Without ``y`` every block is converted to float64.

    Returns
    -------
    field : ndarray of shape (K,)
        ``ĝ·B_{:,k} + b`` (``ĝ = fl(Zᵀ w)``), or the screen's value where its sign is already
        certain.
    bound : ndarray of shape (K,)
        A bound on ``|field_k − (w·Z B_{:,k} + b)|``: ``β_k`` (module docstring), or the screen's
        bound where the screen's value is kept.
    """
    w = np.asarray(w, dtype=np.float64)
    if z is None:
        g = w
        h_norm = float(np.linalg.norm(w))
        n_inner = 0
    else:
        z64 = np.asarray(z, dtype=np.float64)
        g = z64.T @ w
        z_abs = np.abs(z64) if z_abs is None else z_abs
        h_norm = float(np.linalg.norm(z_abs.T @ np.abs(w)))
        n_inner = z.shape[0]
    r, k = basis.shape
    scale = 2.0 * (n_inner + r + 2) * EPS * (1.0 + 1e-6)
    if not math.isfinite(h_norm):
        return np.full(k, np.nan), np.full(k, np.inf)
    if basis.dtype == np.float64:
        field = g @ basis + b
    elif y is not None:
        field, bound = _screen(basis, norms, g, b)
        bound += scale * (h_norm * norms + abs(b))
        open_ = np.flatnonzero(np.abs(field) <= bound)
        if open_.size:
            exact = np.empty(open_.size)
            for start in range(0, open_.size, BLOCK):
                cols = open_[start : start + BLOCK]
                exact[start : start + cols.size] = g @ gather_columns(basis, cols)
            field[open_] = exact + b
            bound[open_] = scale * (h_norm * norms[open_] + abs(b))
        return field, bound
    else:
        field = np.empty(k)
        for sl in _blocks(k):
            field[sl] = g @ np.asarray(basis[:, sl], dtype=np.float64)
        field += b
    return field, scale * (h_norm * norms + abs(b))


def _screen(basis: np.ndarray, norms: np.ndarray, g: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    r"""``ĝ·B_{:,k} + b`` by one float32 product over a float32 ``B``, with a rigorous bound.

    ``ĝ`` is scaled to unit norm and rounded to float32 (``|ĝ₃₂ − ĝ/‖ĝ‖| ≤ u₃₂ |ĝ|/‖ĝ‖``); any
    float32 dot product of length ``r`` errs by at most ``γ_r |ĝ₃₂|·|B_k|`` (whatever the order
    of summation), so the value ``‖ĝ‖ fl₃₂(ĝ₃₂·B_k) + b`` is within
    ``(r + 2) u₃₂ (1 + 10^{-6}) ‖ĝ‖ ‖B_k‖`` of ``ĝ·B_k + b`` (Cauchy–Schwarz; ``u₃₂ = 2^{-24}``),
    plus the float64 rounding of the scaling and the bias, covered by the caller's ``β_k``.
    """
    g_norm = float(np.linalg.norm(g))
    if g_norm == 0.0:
        return np.full(basis.shape[1], float(b)), np.zeros(basis.shape[1])
    g32 = (g / g_norm).astype(np.float32)
    field = (g32 @ basis).astype(np.float64)
    field *= g_norm
    field += b
    u32 = float(np.finfo(np.float32).eps) / 2
    bound = (basis.shape[0] + 2) * u32 * (1.0 + 1e-6) * g_norm * norms
    return field, bound
