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

__all__ = [
    "BLOCK",
    "SCREEN_COLUMNS",
    "SCREEN_ROWS",
    "basis_fields",
    "column_norms",
    "fields_many",
    "gather_columns",
    "in_basis",
    "screen_product",
]

BLOCK = 4096
"""Samples per block when a float32 basis is converted to float64 for a pass."""

SCREEN_ROWS = 128
"""Rows of a float32 basis per float32 partial product of the screen (added in float64)."""

SCREEN_COLUMNS = 8192
"""Samples per column block of the screen (:func:`screen_product`)."""

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
    y : ndarray of shape (K,), optional
        Labels of the samples (basis order). With a float32 basis, the pass is one float32
        product (a screen, with its own rigorous bound :func:`_screen`) and only the samples
        whose sign the screen leaves open, ``|field_k| ≤`` its bound, are recomputed in
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
    return fields_many(basis, norms, [in_basis(z, w, b)], screen=y is not None)[0]


def in_basis(
    z: np.ndarray | None, w: np.ndarray, b: float
) -> tuple[np.ndarray, float, float, int]:
    """A separator ``(w, b)`` on the features ``Z B`` as ``(ĝ, b, ‖h‖, n)`` on ``B``:
    ``ĝ = fl(Zᵀ w)`` (shape (r,)), ``h = |Z|ᵀ|w|``, ``n`` the rows of ``Z`` (0 without ``Z``)."""
    w = np.asarray(w, dtype=np.float64)
    if z is None:
        return w, float(b), float(np.linalg.norm(w)), 0
    return z.T @ w, float(b), float(np.linalg.norm(np.abs(z).T @ np.abs(w))), z.shape[0]


def fields_many(
    basis: np.ndarray, norms: np.ndarray, separators: list, *, screen: bool = True
) -> list[tuple[np.ndarray, np.ndarray]]:
    r""":func:`basis_fields` of several separators (:func:`in_basis`) in one pass over ``B``.

    The separators' ``ĝ`` are stacked into a ``(m, r)`` matrix, so the pass is one matrix
    product ``(m, r) × (r, K)`` (float32 screen for a float32 ``B`` when ``screen``, else float64
    by blocks): ``m`` checks for little more than the memory traffic of one. Each result
    carries the same guarantee as :func:`basis_fields` for that separator alone, with the same
    float64 values wherever the screen's sign is open; where the screen's value is kept it can
    differ from the one alone in the last bits (a float32 product's rounding depends on how
    many rows it has), always within its bound.
    """
    r, k = basis.shape
    m = len(separators)
    out: list = [None] * m
    live = [
        i
        for i, (g, _, h, _) in enumerate(separators)
        if math.isfinite(h) and np.all(np.isfinite(g))
    ]
    for i in set(range(m)) - set(live):
        out[i] = (np.full(k, np.nan), np.full(k, np.inf))
    if not live:
        return out
    gs = np.stack([separators[i][0] for i in live])
    if basis.dtype == np.float64:
        prod, prod_bound = gs @ basis, None
    elif screen:
        g_norm = np.linalg.norm(gs, axis=1)
        safe = np.where(g_norm > 0, g_norm, 1.0)
        prod = screen_product((gs / safe[:, None]).astype(np.float32), basis)
        prod *= g_norm[:, None]
        prod_bound = _screen_bound(min(r, SCREEN_ROWS), g_norm, norms)
    else:
        prod, prod_bound = np.empty((len(live), k)), None
        for sl in _blocks(k):
            prod[:, sl] = gs @ np.asarray(basis[:, sl], dtype=np.float64)
    for row, i in enumerate(live):
        g, b, h_norm, n_inner = separators[i]
        scale = 2.0 * (n_inner + r + 2) * EPS * (1.0 + 1e-6)
        field = prod[row] + b
        exact_bound = scale * (h_norm * norms + abs(b))
        if prod_bound is None:
            out[i] = (field, exact_bound)
            continue
        bound = prod_bound[row] + exact_bound
        open_ = np.flatnonzero(np.abs(field) <= bound)
        for start in range(0, open_.size, BLOCK):
            cols = open_[start : start + BLOCK]
            field[cols] = g @ gather_columns(basis, cols) + b
            bound[cols] = exact_bound[cols]
        out[i] = (field, bound)
    return out


def screen_product(g32: np.ndarray, basis: np.ndarray) -> np.ndarray:
    r"""The float32 screen's product ``Σ_c fl₃₂(ĝ₃₂[:, c] · B[c, :])``, shape (m, K), float64.

    ``c`` runs over chunks of :data:`SCREEN_ROWS` rows of ``B``; each chunk's product is a
    float32 matrix product and the chunks' results are added in float64 (the sums
    :func:`_screen_bound` bounds whatever the order of summation inside a chunk). How the
    product is cut up is a matter of speed only (measured at r = 4096, K = 204 864, one core,
    ``bench/README.md``): rows of ``ĝ₃₂`` are padded with zeros to a multiple of 4 (OpenBLAS
    runs m = 7, 11 slower than m = 8, 12), up to three rows are done as matrix–vector
    products on each chunk while it is in cache (m = 2 as one matrix product took 0.26 s, as two
    matrix–vector products 0.17 s), and the columns of ``B`` go in blocks of
    :data:`SCREEN_COLUMNS`, so the float64 sums of a block stay in cache.
    """
    m = g32.shape[0]
    r, k = basis.shape
    out = np.empty((m, k))
    rows = [slice(s, min(r, s + SCREEN_ROWS)) for s in range(0, r, SCREEN_ROWS)]
    vectors = m <= 3
    if vectors:
        lhs = [g32[i] for i in range(m)]  # 1-d: matrix-vector products
    else:
        padded = np.zeros((-(-m // 4) * 4, r), dtype=np.float32)
        padded[:m] = g32
        lhs = [padded]
    for c0 in range(0, k, SCREEN_COLUMNS):
        cols = slice(c0, min(k, c0 + SCREEN_COLUMNS))
        parts = [np.empty(g.shape[:-1] + (cols.stop - c0,), dtype=np.float32) for g in lhs]
        sums = [np.zeros(part.shape) for part in parts]
        for sl in rows:
            chunk = basis[sl, cols]  # read once for all of lhs
            for g, part, acc in zip(lhs, parts, sums):
                np.matmul(g[..., sl], chunk, out=part)
                acc += part
        if vectors:
            out[:, cols] = sums
        else:
            out[:, cols] = sums[0][:m]
    return out


def _screen_bound(r: int, g_norm: np.ndarray, norms: np.ndarray) -> np.ndarray:
    r"""Bound of the float32 screen (:func:`fields_many`), shape (m, K).

    ``ĝ`` is scaled to unit norm and rounded to float32 (``|ĝ₃₂ − ĝ/‖ĝ‖| ≤ u₃₂ |ĝ|/‖ĝ‖``). The
    product runs over chunks of ``q`` = :data:`SCREEN_ROWS` rows of ``B``: a float32 dot
    product of length ``q`` errs by at most ``γ_q |ĝ₃₂,c|·|B_{c,k}|`` (whatever the order of
    summation), and the chunks' results are added in float64. Summed over the chunks
    (Cauchy–Schwarz twice), the value ``‖ĝ‖ Σ_c fl₃₂(ĝ₃₂,c·B_{c,k}) + b`` is within
    ``(q + 2) u₃₂ (1 + 10^{-6}) ‖ĝ‖ ‖B_k‖`` of ``ĝ·B_k + b`` (``u₃₂ = 2^{-24}``), plus float64
    roundings (the chunk sums, the scaling, the bias) covered by ``β_k``. ``r`` is passed as
    ``q`` when it is smaller. The chunks keep the bound ``r/q`` times tighter than one float32
    product (fewer samples to recompute) at the same memory traffic.
    """
    u32 = float(np.finfo(np.float32).eps) / 2
    return (r + 2) * u32 * (1.0 + 1e-6) * g_norm[:, None] * norms[None, :]
