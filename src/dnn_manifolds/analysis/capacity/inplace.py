r"""Large sessions prepared in place: no copy of the samples (``docs/capacity.md#capacity-lazy``).

Private helper of :func:`.problem.prepare`. A session with many more samples than neurons
(``K ≥ N + 1 +`` :data:`SUBSET_EXTRA`; the paper's 1-d sets at M = 201 have K = 25 728, its 2-d
sets at M = 3201 K = 204 864, against N = 4096) almost always has full affine rank, and then its
Gram basis is the samples themselves (``docs/capacity.md#capacity-gram-basis``). For the lazy
cutting plane (:mod:`.lazy`), which touches the samples only through column gathers and passes
over all columns, the caller's array of shape ``(N, M, P)`` can then serve as the basis *as it
is*: its C-order reshape ``(N, M·P)`` is a view whose column ``m·P + p`` is sample ``m`` of object
``p``. Nothing of the input's size is copied (3.4 GB of float32 at M = 3201, P = 64).

What the copying path does and this one leaves out, and why no decision changes:

* the power-of-two scaling and the median centring: a positive scaling and a translation of all
  samples map to a positive scaling and a translation of the features ``Z X`` (a random
  translation is already part of the Gram basis' law), which change no decision; the LP
  equilibrates and centres each working set itself (:mod:`.canonical`);
* the rank decision on all ``K`` samples (a column-pivoted QR of ``(N+1) × K``, minutes at
  K = 25 728 and tens of GB at K = 204 864): it is made by :func:`.basis.precision_basis` on an
  evenly spaced subset of ``N + 1 +`` :data:`SUBSET_EXTRA` samples (object-major order, so every
  object contributes). A subset at full affine rank ``N + 1`` at the data's precision means the
  samples have it (more samples cannot lose directions), and the samples are the basis, as the
  copying path decides. Otherwise (a rank-deficient subset, missing samples, values outside
  ``[2^-400, 2^400]``, a non-contiguous array) :func:`prepare_in_place` returns ``None`` and the
  copying path decides on all samples.
"""

from __future__ import annotations

import numpy as np

from ..threads import blas_limits
from .basis import TOLERANCE_FACTOR, power_of_two, precision_basis
from .lazy import column_norms

__all__ = ["SUBSET_EXTRA", "in_place_options", "prepare_in_place"]

SUBSET_EXTRA = 256
"""Samples beyond ``N + 1`` in the subset on which the rank is decided."""

_RANGE = 2.0**400
"""Largest (and inverse smallest) magnitude accepted without the copying path's rescaling."""


def in_place_options(opts) -> bool:
    """Whether the options leave the samples as they are and use the lazy cutting plane."""
    return (
        opts.projection == "gaussian"
        and opts.cutting_plane
        and opts.control == "none"
        and not opts.zscore
        and opts.balls == "none"
    )


_EPS64 = float(np.finfo(np.float64).eps) / 2

RANK_MARGIN = 4.0
"""With several BLAS threads, the rank subset's full rank stands only if every candidate rank's
residual ratio is at least this many times the tolerance; otherwise it is redone on one thread."""


def _rank_subset(view: np.ndarray, order: np.ndarray, precision: float, threads: int = 1) -> int:
    """Rank at the data's precision of an evenly spaced subset of the samples (+1, affine).

    The decision is meant to be the one made on one BLAS thread. With ``threads > 1`` the
    pivoted QR runs on that many threads (≈ 2× faster at N = 4096), whose sums round
    differently in the last bits. Its answer stands only when it is a clear full rank: every
    candidate rank's residual ratio (``worst`` of :func:`.basis.precision_basis`) at least
    :data:`RANK_MARGIN` times ``TOLERANCE_FACTOR``, and every sample's QR rounding far below its
    uncertainty (:func:`_rounding_far_below_uncertainty`; float32 data: ≈ 8·10⁻⁶ of it at
    N = 4096). Anything else (a rank cut, float64 data, tiny samples next to a large median) is
    decided on one thread. What is not excluded: rounding that reorders near-tied pivots into a
    span with a residual ratio 4× smaller (not observed; full-rank subsets measured have ratios
    ≥ 2 000 against the tolerance of 64).
    """
    n, k = view.shape
    size = min(k, n + 1 + SUBSET_EXTRA)
    pick = order[np.unique(np.round(np.linspace(0, k - 1, size)).astype(np.int64))]
    sub = np.asarray(view[:, np.sort(pick)], dtype=np.float64)
    sub /= power_of_two(float(np.abs(sub).max()))
    centre = np.median(sub, axis=1, keepdims=True)
    sub -= centre
    magnitude = np.abs(sub) + np.abs(centre)
    if threads > 1 and _rounding_far_below_uncertainty(sub, magnitude, precision):
        with blas_limits(threads):
            _, rank, worst = precision_basis(sub, magnitude, precision)
        # only a clear full rank stands: every candidate rank's residual ratio at least
        # RANK_MARGIN times the tolerance (a rank cut, or the rule's safety branch, is redone)
        if rank == min(n + 1, sub.shape[1]) and np.all(worst[:-1] >= RANK_MARGIN * TOLERANCE_FACTOR):
            return rank
    _, rank, _ = precision_basis(sub, magnitude, precision)
    return rank


def _rounding_far_below_uncertainty(sub: np.ndarray, magnitude: np.ndarray, precision: float) -> bool:
    """Whether the QR's rounding of every augmented sample (≈ (N + 2) ε_64 ‖[x_k; c]‖, c the
    median sample norm as in :func:`.basis.precision_basis`) is far below that sample's
    uncertainty (``precision · ‖|x_k| + |m|‖``): by 64 · :data:`RANK_MARGIN`."""
    n = sub.shape[0]
    sq = np.einsum("ij,ij->j", sub, sub)
    aug = np.sqrt(sq + float(np.median(np.sqrt(sq))) ** 2)
    unc = np.sqrt(np.einsum("ij,ij->j", magnitude, magnitude))
    return bool(np.all(64 * RANK_MARGIN * (n + 2) * _EPS64 * aug <= precision * unc))


def object_major_order(n_samples: int, n_objects: int) -> np.ndarray:
    """The ``(N, M·P)`` view's column of each object-major position: ``p·M + m -> m·P + p``."""
    return (np.arange(n_samples)[None, :] * n_objects + np.arange(n_objects)[:, None]).ravel()


def prepare_in_place(points: np.ndarray, key: tuple[int, ...], opts, precision: float, *, threads: int = 1):
    """A :class:`.problem.Problem` whose basis is a view of ``points`` (shape (N, M, P)), or
    ``None`` when the session does not qualify (module docstring); ``threads`` BLAS threads for
    the rank subset (:func:`_rank_subset` keeps the one-thread decision)."""
    from .problem import _FLOAT32_MIN_SIZE, Problem

    if not in_place_options(opts) or not isinstance(points, np.ndarray):
        return None
    if points.dtype not in (np.float32, np.float64) or not points.flags.c_contiguous:
        return None
    n_neurons, n_samples, n_objects = points.shape
    k = n_samples * n_objects
    if k < n_neurons + 1 + SUBSET_EXTRA:
        return None
    view = points.reshape(n_neurons, k)
    top, low = 0.0, np.inf
    for start in range(0, n_neurons, 256):
        blk = np.abs(view[start : start + 256])
        if np.isnan(blk).any():
            return None
        top = max(top, float(blk.max()))
        nonzero = blk[blk > 0]
        if nonzero.size:
            low = min(low, float(nonzero.min()))
    if not (top < _RANGE and (low == np.inf or low > 1.0 / _RANGE)):
        return None
    order = object_major_order(n_samples, n_objects)
    if _rank_subset(view, order, precision, threads) <= n_neurons:
        return None
    obj_index = np.repeat(np.arange(n_objects), n_samples)
    obj_starts = np.arange(n_objects + 1) * n_samples
    choice = opts.projection_precision
    float32 = choice == "float32" or (
        choice == "auto" and view.size >= _FLOAT32_MIN_SIZE
    )
    return Problem(
        key,
        view,
        view,
        view
        if float32
        else None,  # marks float32 draws of Z; the lazy path reads `basis`
        n_neurons,
        obj_index,
        obj_starts,
        n_objects,
        opts,
        order=order,
        basis_norms=column_norms(view),
    )
