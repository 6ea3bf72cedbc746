r"""Control manipulations of manifold data: randomisations that keep some structure.

The original's ``calc_low_dimension_manifold`` (``docs/capacity.md#capacity-controls``): each
control keeps part of the data's structure (the centre norms, the manifolds' shapes, their
axes) and randomises the rest, so that comparing an analysis on the data and on a control
shows what the result depends on. Shared by both analyses. ``(n_neurons, n_samples,
n_objects)`` arrays with missing samples as NaN columns, which stay NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UserError

__all__ = ["CONTROLS", "apply_control", "zscore_neurons"]

CONTROLS = (
    "none",
    "shuffle",
    "orth",
    "centers_random",
    "manifold_random",
    "manifold_random_uniform_centers",
    "axes_random",
    "permute_random",
)
"""Control manipulations (``docs/capacity.md#capacity-controls``; the original's ``data_randomization`` 0, 8, 1,
2, 3, 4, 5, 7)."""


def _valid_mask(points: np.ndarray) -> np.ndarray:
    """(n_samples, n_objects) mask of samples without NaN."""
    return ~np.isnan(points).any(axis=0)


def apply_control(points: np.ndarray, control: str, *, rng: Any = None) -> np.ndarray:
    r"""Apply a control manipulation to manifold data (``calc_low_dimension_manifold``, ``docs/capacity.md#capacity-controls``).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)
        Missing samples are NaN columns; they stay NaN.
    control : str
        One of :data:`CONTROLS`:

        * ``"none"``: unchanged (no centring either);
        * ``"shuffle"``: permute the valid samples across objects (each object keeps its count);
        * ``"orth"``: centres replaced by orthonormal directions (QR of the centres) with the
          original norms (needs ``n_neurons ≥ n_objects``);
        * ``"centers_random"``: centres replaced by Gaussian directions with the original norms;
        * ``"manifold_random"``: random centres as above and each manifold's axes permuted
          across neurons (a random neuron permutation per object);
        * ``"manifold_random_uniform_centers"``: as above, all centres with the mean norm;
        * ``"axes_random"``: original centres, axes permuted across neurons;
        * ``"permute_random"``: axes and centre permuted together (a whole object's responses
          permuted across neurons).

        Every control except ``"none"`` first subtracts the global mean (over valid samples)
        and does not add it back, as the original.
    rng : int, Generator or None
        Randomness (keyword-only).

    Returns
    -------
    ndarray of shape (n_neurons, n_samples, n_objects)
    """
    if control not in CONTROLS:
        raise UserError(f"control must be one of {list(CONTROLS)}; got {control!r}")
    rng = np.random.default_rng(rng)
    x = np.array(points, dtype=np.float64, copy=True)
    if control == "none":
        return x
    n_neurons, n_samples, n_objects = x.shape
    valid = _valid_mask(x)
    counts = valid.sum(axis=0)
    cols = x.transpose(0, 2, 1)[:, valid.T]  # (N, K) valid columns, object-major
    cols -= cols.mean(axis=1, keepdims=True)
    if control == "shuffle":
        cols = cols[:, rng.permutation(cols.shape[1])]
    starts = np.concatenate([[0], np.cumsum(counts)])
    centres = np.stack(
        [cols[:, starts[p] : starts[p + 1]].mean(axis=1) for p in range(n_objects)], axis=1
    )
    norms = np.linalg.norm(centres, axis=0)
    if control == "orth":
        if n_neurons < n_objects:
            raise UserError(
                f"control 'orth' needs at least as many neurons as objects; got "
                f"{n_neurons} neurons and {n_objects} objects"
            )
        q, _ = np.linalg.qr(centres, mode="reduced")
        new_centres = q * norms
    elif control in ("centers_random", "manifold_random", "manifold_random_uniform_centers"):
        g = rng.standard_normal(centres.shape)
        target = norms if control != "manifold_random_uniform_centers" else norms.mean()
        new_centres = g / np.linalg.norm(g, axis=0) * target
    else:
        new_centres = centres
    out = np.full_like(x, np.nan)
    for p in range(n_objects):
        d_f = cols[:, starts[p] : starts[p + 1]] - centres[:, p : p + 1]
        perm = rng.permutation(n_neurons)
        if control in ("manifold_random", "manifold_random_uniform_centers", "axes_random"):
            block = d_f[perm] + new_centres[:, p : p + 1]
        elif control == "permute_random":
            block = d_f[perm] + new_centres[perm, p : p + 1]
        else:
            block = d_f + new_centres[:, p : p + 1]
        out[:, valid[:, p], p] = block
    return out


def zscore_neurons(points: np.ndarray, *, overwrite: bool = False) -> np.ndarray:
    """z-score each neuron over all valid (sample, object) entries (ddof = 1).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)
    overwrite : bool, default False
        Z-score ``points`` in place when it is already a float64 array (a private copy of the
        caller's), instead of a copy of it.

    Returns
    -------
    ndarray of the same shape; a neuron with zero spread is only centred. The only full-size
    array made is the float64 copy (none with ``overwrite``): the statistics are taken over
    blocks of neurons (:func:`zscore_parameters`) and the scaling is done in place.
    """
    if overwrite and isinstance(points, np.ndarray) and points.dtype == np.float64:
        x = points
    else:
        x = np.array(points, dtype=np.float64, copy=True)
    mean, std = zscore_parameters(x)
    x -= mean
    x /= std
    return x


ZSCORE_BLOCK_ELEMENTS = 2**22
"""Values per block of neurons in :func:`zscore_parameters` (a block's temporaries are
this size, not the session's)."""


def zscore_parameters(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron mean and standard deviation (ddof = 1, 1 for a constant neuron) over valid
    entries, each of shape (n_neurons, 1, 1): ``zscore_neurons(x) == (x - mean) / std``.

    A C-ordered ``x`` is reduced over blocks of neurons (each neuron's reductions are those of
    the whole array, so the values are the same bit for bit), so that no temporary is the size
    of ``x``: at the paper's 2-d size ``x`` is 6.7 GB of float64, and NaN-aware means copy
    their input.
    """
    n = x.shape[0]
    # blocks for C-ordered arrays only: there each neuron's values are one contiguous run,
    # reduced alike in a block and in the whole (in other orders a block could change the
    # order of the sums)
    step = max(1, ZSCORE_BLOCK_ELEMENTS // max(1, x[:1].size)) if x.flags.c_contiguous else max(n, 1)
    mean = np.empty((n, 1, 1))
    std = np.empty((n, 1, 1))
    for start in range(0, n, step):
        blk = x[start : start + step]
        mu = np.nanmean(blk, axis=(1, 2), keepdims=True)
        count = np.sum(~np.isnan(blk), axis=(1, 2), keepdims=True)
        std[start : start + step] = np.sqrt(
            np.nansum((blk - mu) ** 2, axis=(1, 2), keepdims=True) / np.maximum(count - 1, 1)
        )
        mean[start : start + step] = mu
    std[std == 0] = 1.0
    return mean, std


# ============================================================================ one dichotomy
