"""The input manifolds of the geometry: validation and per-object reading (private).

An ``(N, M, P)`` array's objects are its slices ``[:, :, p]``, which are strided (one value per
cache line in a C-ordered array): a pass over one object reads the whole array's cache lines.
So what is computed for every object up front (validation, the extremes, the means) reads the
array in its own order instead, with the same values as per-object passes
(``docs/geometry.md#geometry-performance``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...errors import UserError
from ...validation import ArgumentTypeError

__all__ = [
    "MEAN_BLOCK_NEURONS",
    "as_manifolds",
    "object_means",
    "padded",
    "shuffle_samples",
    "validated",
    "validated_with_means",
]


def as_manifolds(points) -> list[np.ndarray]:
    """Validate the input and return one (n_neurons, n_valid_samples) array per object
    (float32 or float64 as given, other types as float64)."""
    return validated(points)[0]


def validated(points) -> tuple[list[np.ndarray], float, np.ndarray | None]:
    """:func:`as_manifolds`, the largest ``|x|`` of the valid samples (0 for none), and the
    (N, M, P) float array of which the objects are the slices ``[:, :, p]``, unchanged (None
    where they are not: a list, other dtypes, missing samples dropped)."""
    return validated_with_means(points)[:3]


def validated_with_means(points) -> tuple[list[np.ndarray], float, np.ndarray | None, list[np.ndarray] | None]:
    """:func:`validated` and, when the objects are the slices of a C-ordered (N, M, P) float
    array, their means (those of :func:`object_means`, bit for bit) from the same pass over the
    array as the extremes (:func:`_scan`); None otherwise."""
    extremes = None
    whole = None
    means = None
    if isinstance(points, np.ndarray) or not isinstance(points, Sequence):
        arr = np.asarray(points)
        if arr.ndim != 3:
            raise UserError(
                "points must be 3-D (n_neurons, n_samples, n_objects) or a sequence of 2-D "
                f"(n_neurons, n_samples_i) arrays; got shape {arr.shape}"
            )
        if arr.dtype.kind not in "biuf":
            raise ArgumentTypeError(f"points must be numeric; got dtype {arr.dtype}")
        mans = [arr[:, :, p] for p in range(arr.shape[2])]
        if arr.dtype in (np.float32, np.float64) and arr.size and arr.shape[0] * arr.shape[1] > 1:
            # each object's extremes from passes over the whole array in its own order (an
            # object of a C-ordered array is strided, one value per cache line, so per-object
            # reductions would read the whole array once per object); for a C-ordered array
            # one blocked pass that gives the means as well
            if arr.flags.c_contiguous:
                *extremes, means = _scan(arr)
            else:
                extremes = (arr.max(axis=(0, 1)), arr.min(axis=(0, 1)))
            whole = arr
    else:
        mans = [np.asarray(x) for x in points]
        for i, x in enumerate(mans):
            if x.ndim != 2:
                raise UserError(
                    f"points[{i}] must be 2-D (n_neurons, n_samples); got shape {x.shape}"
                )
            if x.dtype.kind not in "biuf":
                raise ArgumentTypeError(f"points[{i}] must be numeric; got dtype {x.dtype}")
        if len({x.shape[0] for x in mans}) > 1:
            raise UserError(
                f"all manifolds need the same n_neurons; got {sorted({x.shape[0] for x in mans})}"
            )
    if len(mans) < 2:
        raise UserError(f"points needs at least 2 objects; got {len(mans)}")
    out = []
    top = 0.0
    for i, x in enumerate(mans):
        # float32 stays float32 (a view of the input, no copy): each object is converted to
        # float64 where it is used, so the input is never held twice (docs/geometry.md)
        x = np.asarray(x, dtype=x.dtype if x.dtype in (np.float32, np.float64) else np.float64)
        if x.size:
            # the usual case: the extremes (no |x| temporaries) are finite exactly when every
            # value is (max and min propagate NaN), so they are the check as well
            if extremes is not None:
                hi, lo = float(extremes[0][i]), float(extremes[1][i])
            else:
                hi, lo = float(x.max()), float(x.min())
            if math.isfinite(hi) and math.isfinite(lo):
                top = max(top, hi, -lo)
                out.append(x)
                continue
        whole = means = None
        if np.isinf(x).any():
            raise UserError(f"object {i}: points contain infinite values")
        nan = np.isnan(x)
        if nan.any():
            col = nan.all(axis=0)
            if (nan & ~col[None, :]).any():
                raise UserError(
                    f"object {i}: NaN may only mark whole missing samples (all neurons NaN)"
                )
            x = x[:, ~col]
        if x.shape[1] < 1:
            raise UserError(f"object {i} has no valid sample")
        if x.size:
            top = max(top, float(x.max()), -float(x.min()))
        out.append(x)
    if out[0].shape[0] < 1:
        raise UserError("points have no neurons")
    return out, top, whole, (None if means is None else list(means))


MEAN_BLOCK_NEURONS = 4
"""Neurons per block in :func:`object_means` (a block of an (N, M, P) array is
``4 × M × P`` values, 3.3 MB at the paper's 2-d size: it stays in cache while transposed)."""


def object_means(mans: list[np.ndarray], whole: np.ndarray | None) -> list[np.ndarray]:
    """Each object's mean sample, ``x.mean(axis=1, dtype=float64)``, bit for bit.

    With ``whole``, the C-ordered (N, M, P) array whose slices the objects are, it is read in
    blocks of :data:`MEAN_BLOCK_NEURONS` neurons, each transposed to (P, n, M) in cache: an
    object's slice is strided (one value per cache line), so object-by-object means read the
    whole array once per object (7 s instead of 2 s at the paper's 2-d size). Each mean is
    still the pairwise sum of the object's row, as on the slice itself. These are the means of
    :func:`_scan`, which :func:`validated_with_means` already takes from its own pass.
    """
    if whole is None or not whole.flags.c_contiguous or len(mans) < 2:
        return [x.mean(axis=1, dtype=np.float64) for x in mans]
    return list(_scan(whole)[2])


def _scan(whole: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each object's largest and smallest value (NaN where it has one) and its mean sample
    (shape (P, N), float64; NaN where a value is), in one pass over a C-ordered (N, M, P) array
    in blocks of :data:`MEAN_BLOCK_NEURONS` neurons: at the paper's 2-d size 1.1 s instead of 3.2 s for
    the extremes and the means as separate passes (``bench/README.md``)."""
    n, _, p = whole.shape
    hi = np.full(p, -np.inf, dtype=whole.dtype)
    lo = np.full(p, np.inf, dtype=whole.dtype)
    means = np.empty((p, n))
    for start in range(0, n, MEAN_BLOCK_NEURONS):
        block = np.ascontiguousarray(whole[start : start + MEAN_BLOCK_NEURONS].transpose(2, 0, 1))
        means[:, start : start + MEAN_BLOCK_NEURONS] = block.mean(axis=2, dtype=np.float64)
        np.maximum(hi, block.max(axis=(1, 2)), out=hi)  # NaN propagates
        np.minimum(lo, block.min(axis=(1, 2)), out=lo)
    return hi, lo, means


def padded(mans: list[np.ndarray]) -> np.ndarray:
    """(N, max M, P) array of the manifolds, NaN-padded."""
    m = max(x.shape[1] for x in mans)
    out = np.full((mans[0].shape[0], m, len(mans)), np.nan)
    for p, x in enumerate(mans):
        out[:, : x.shape[1], p] = x
    return out


def shuffle_samples(mans: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Valid samples dealt at random into the objects, each keeping its count."""
    cols = np.concatenate(mans, axis=1)
    cols = cols[:, rng.permutation(cols.shape[1])]
    bounds = np.cumsum([0] + [x.shape[1] for x in mans])
    return [cols[:, bounds[p] : bounds[p + 1]] for p in range(len(mans))]
