r"""Selections and manipulations of a session's manifolds, shared by both analyses.

The paper tests what drives the capacity by changing the manifolds and measuring again
(``docs/capacity.md#capacity-manipulations``). Every change here acts on one session's
``(n_neurons, n_samples, n_objects)`` array (missing samples are NaN columns) before an
analysis runs, and is chosen by the options of :class:`DataOptions`, which both
:class:`~dnn_manifolds.analysis.capacity.CapacityOptions` and
:class:`~dnn_manifolds.analysis.geometry.GeometryOptions` extend:

* **finite-size selections** — the first ``n_objects`` objects; every ``samples_jump``-th
  sample (0: the centre sample only); (geometry) random subsets of ``n_neurons`` neurons;
* **manipulations preserving the correlations** (the original's
  ``calc_low_dimension_manifolds_preserving_correlations``): with the global mean ``g`` and the
  common centre subspace ``V`` (from the geometry of the unchanged data), every sample is split
  as ``x = g + VVᵀ(x − g) + c̃_μ + δx``, residual centre ``c̃_μ`` and in-manifold deviation
  ``δx``; then ``c̃_μ → f·c̃_μ`` (``centre_scale``), ``δx`` is clipped to its top ``D``
  principal directions per object (``clip_dimension``) or permuted across neurons per object
  (``permute_axes``), and the parts are added back — the common components and the global mean
  stay as they were;
* **balls with the measured geometry** (:func:`ball_manifolds`, the "spheres" control):
  per object a ball with the object's centre, the top ``⌊D_M⌋`` or ``⌈D_M⌉`` principal axes of
  its manifold and the measured radius.

Quantities that come from the geometry of the unchanged data (the common subspace, R_M, D_M,
centre norms) are passed as a :class:`SessionReference`, read from a geometry result by
:meth:`SessionReference.from_geometry`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from ..errors import OptionError, UserError
from .options import Options, option

__all__ = [
    "DataOptions",
    "SessionReference",
    "apply_data_options",
    "ball_manifolds",
    "preserve_correlations",
    "select_objects",
    "select_samples",
]

ROUNDINGS = ("none", "floor", "ceil", "round")
"""How a ball's dimension is made an integer from the measured D_M (``none``: no balls)."""


@dataclass(frozen=True)
class DataOptions(Options):
    """Selections and manipulations of the data before an analysis (both analyses)."""

    n_objects: int | None = option(
        None, "analyse only the first n_objects objects", kind=int, minimum=2, nullable=True, none_means="all"
    )
    samples_jump: int = option(
        1, "keep every samples_jump-th sample (1: all; 0: the centre sample only, M odd)", minimum=0
    )
    centre_scale: float = option(
        1.0,
        "multiply the residual centres (global mean and common subspace removed) by this factor",
        minimum=0.0,
        exclusive_minimum=True,
    )
    clip_dimension: int | None = option(
        None,
        "clip each manifold to its top D principal directions (keeping centres and common components)",
        kind=int,
        minimum=1,
        nullable=True,
        none_means="no clipping",
    )
    permute_axes: bool = option(
        False,
        "permute each manifold's deviations across neurons, keeping centres and common components",
    )

    @property
    def manipulates(self) -> bool:
        """Whether a manipulation preserving the correlations is asked for."""
        return self.centre_scale != 1.0 or self.clip_dimension is not None or self.permute_axes


# ----------------------------------------------------------------------------- reference


@dataclass(frozen=True)
class SessionReference:
    """What the manipulations need from the geometry of a session's unchanged data.

    Attributes
    ----------
    subspace : ndarray of shape (n_neurons, K)
        Orthonormal basis of the common centre subspace (in the session's non-silent neurons).
    radius : ndarray of shape (n_objects,)
        R_M of each object (relative to its residual centre norm).
    dimension : ndarray of shape (n_objects,)
        D_M of each object used for balls (the geometry's ``dimension_cosine``).
    centre_norm : ndarray of shape (n_objects,)
        Norm of each object's residual centre (global mean and common subspace removed).
    """

    subspace: np.ndarray
    radius: np.ndarray
    dimension: np.ndarray
    centre_norm: np.ndarray

    @classmethod
    def from_geometry(cls, result: xr.Dataset) -> SessionReference:
        """From one session of a geometry result (:func:`~dnn_manifolds.analysis.geometry.geometry`)."""
        if "common_subspace" not in result:
            raise UserError(
                "the reference geometry result has no 'common_subspace'; it was written by an "
                "older version: recompute it"
            )
        if "session" in result.dims:
            if result.sizes["session"] != 1:
                raise UserError("a session reference needs a geometry result of one session")
            result = result.isel(session=0)
        if "variant" in result.dims:
            result = result.isel(variant=0)
        k = int(result["n_common_directions"].values)
        sub = np.asarray(result["common_subspace"].values, dtype=np.float64)[:, :k]
        return cls(
            subspace=sub,
            radius=np.asarray(result["anchor_radius"].values, dtype=np.float64),
            dimension=np.asarray(result["dimension_cosine"].values, dtype=np.float64),
            centre_norm=np.asarray(result["centre_norm"].values, dtype=np.float64),
        )

    def check(self, points: np.ndarray) -> None:
        n, _, p = points.shape
        if self.subspace.shape[0] != n or self.radius.shape[0] != p:
            raise UserError(
                f"the reference geometry is for {self.subspace.shape[0]} neurons and "
                f"{self.radius.shape[0]} objects, the data have {n} and {p}: it belongs to another session"
            )


# ----------------------------------------------------------------------------- selections


def select_objects(points: np.ndarray, n_objects: int | None) -> np.ndarray:
    """The first ``n_objects`` objects (all when ``None``)."""
    if n_objects is None:
        return points
    if n_objects > points.shape[2]:
        raise OptionError(
            f"option 'n_objects': {n_objects} objects asked for, the data have {points.shape[2]}"
        )
    return points[:, :, :n_objects]


def select_samples(points: np.ndarray, jump: int) -> np.ndarray:
    """Every ``jump``-th sample starting at the first (``(M − 1) % jump == 0`` so that the last
    is kept too); ``jump = 0``: only the centre sample (M odd), i.e. each object as a point."""
    m = points.shape[1]
    if jump == 1:
        return points
    if jump == 0:
        if m % 2 == 0:
            raise OptionError(f"option 'samples_jump' 0 keeps the centre sample and needs an odd M; got M = {m}")
        return points[:, m // 2 : m // 2 + 1, :]
    if (m - 1) % jump:
        raise OptionError(
            f"option 'samples_jump': {jump} must divide M − 1 = {m - 1} (so that both ends are kept)"
        )
    return points[:, ::jump, :]


# ----------------------------------------------------------------------------- manipulations


def _split(points: np.ndarray, subspace: np.ndarray):
    """Global mean, common components, residual centres and deviations of valid samples."""
    valid = ~np.isnan(points).any(axis=0)  # (M, P)
    g = np.nanmean(points.reshape(points.shape[0], -1), axis=1)  # mean over valid entries
    x0 = np.where(valid[None], points - g[:, None, None], 0.0)
    common = np.einsum("nk,kmp->nmp", subspace, np.einsum("nk,nmp->kmp", subspace, x0))
    resid = x0 - common
    counts = valid.sum(axis=0)
    centres = resid.sum(axis=1) / counts  # (N, P): invalid entries are 0
    dev = np.where(valid[None], resid - centres[:, None, :], 0.0)
    return valid, g, common, centres, dev


def preserve_correlations(
    points: np.ndarray,
    subspace: np.ndarray,
    *,
    centre_scale: float = 1.0,
    dimension: int | None = None,
    permute_axes: bool = False,
    rng: Any = None,
) -> np.ndarray:
    r"""Change the manifolds keeping the global mean and the common centre components.

    Each valid sample is written ``x = g + VVᵀ(x − g) + c̃_μ + δx`` (``g`` the global mean,
    ``V`` the common subspace, ``c̃_μ`` the object's residual centre, ``δx`` its deviation);
    returns ``g + VVᵀ(x − g) + f·c̃_μ + δx'`` with ``δx'`` the deviations clipped to their top
    ``dimension`` principal directions (per object) and/or permuted across neurons (one random
    permutation per object).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)
        NaN columns mark missing samples; they stay NaN.
    subspace : ndarray of shape (n_neurons, K)
        Orthonormal common subspace (K may be 0).
    centre_scale, dimension, permute_axes : see :class:`DataOptions`.
    rng : seed or Generator
        For ``permute_axes``.
    """
    x = np.asarray(points, dtype=np.float64)
    valid, g, common, centres, dev = _split(x, np.asarray(subspace, dtype=np.float64).reshape(x.shape[0], -1))
    rng = np.random.default_rng(rng)
    out = np.full_like(x, np.nan)
    for p in range(x.shape[2]):
        d = dev[:, valid[:, p], p]
        if dimension is not None and d.size:
            u, s, vt = np.linalg.svd(d, full_matrices=False)
            d = (u[:, :dimension] * s[:dimension]) @ vt[:dimension]
        if permute_axes:
            d = d[rng.permutation(d.shape[0])]
        out[:, valid[:, p], p] = (
            g[:, None] + common[:, valid[:, p], p] + centre_scale * centres[:, p : p + 1] + d
        )
    return out


def ball_manifolds(
    points: np.ndarray, reference: SessionReference, rounding: str
) -> tuple[np.ndarray, list[np.ndarray]]:
    r"""Balls with the measured geometry of each object (the "spheres" control).

    Ball μ is centred on the object's centre ``c_μ`` (mean of its valid samples) and spans the
    top ``D_μ`` principal directions ``u_1 … u_D`` of the object's centred samples,
    ``{c_μ + A_μ s : ‖s‖ ≤ 1}`` with ``A_μ = R_μ ‖c̃_μ‖ [u_1 … u_D]``: the measured radius
    ``R_μ`` is relative to the residual centre norm ``‖c̃_μ‖``, so the ball has the manifold's
    absolute size. ``D_μ = floor/ceil/round`` of the measured dimension (``dimension_cosine``),
    clipped to the manifold's rank.

    Returns
    -------
    centres : ndarray of shape (n_neurons, n_objects)
    axes : list of ndarray, one (n_neurons, D_μ) per object
    """
    if rounding not in ROUNDINGS[1:]:
        raise OptionError(f"option 'balls': must be one of {list(ROUNDINGS)}; got {rounding!r}")
    x = np.asarray(points, dtype=np.float64)
    reference.check(x)
    valid = ~np.isnan(x).any(axis=0)
    fn = {"floor": math.floor, "ceil": math.ceil, "round": lambda v: math.floor(v + 0.5)}[rounding]
    centres = np.empty((x.shape[0], x.shape[2]))
    axes = []
    for p in range(x.shape[2]):
        m = x[:, valid[:, p], p]
        centres[:, p] = m.mean(axis=1)
        dev = m - centres[:, p : p + 1]
        u, s, _ = np.linalg.svd(dev, full_matrices=False)
        rank = int(np.sum(s > s[0] * 1e-10)) if s.size and s[0] > 0 else 0
        d_meas = reference.dimension[p]
        dim = 0 if not np.isfinite(d_meas) else int(min(max(fn(float(d_meas)), 0), rank))
        radius = reference.radius[p] * reference.centre_norm[p]
        radius = float(radius) if np.isfinite(radius) else 0.0
        axes.append(u[:, :dim] * radius)
    return centres, axes


# ----------------------------------------------------------------------------- in one call


def apply_data_options(
    points: np.ndarray,
    options: DataOptions,
    *,
    reference: SessionReference | None = None,
    subspace: np.ndarray | None = None,
    rng: Any = None,
) -> np.ndarray:
    """Apply the selections and manipulations of ``options`` to one session's points.

    The manipulations need the common subspace: ``subspace`` if given, else that of
    ``reference``; without either, asking for one is an :class:`OptionError`. Selections come
    first, so a reference must describe the selected data (the workflow computes references of
    the unselected data only for unselected variants).
    """
    x = select_samples(select_objects(points, options.n_objects), options.samples_jump)
    if options.manipulates:
        if subspace is None:
            if reference is None:
                raise OptionError(
                    f"{options.ANALYSIS} options centre_scale, clip_dimension and permute_axes "
                    "need the common centre subspace of the unchanged data: give the session's "
                    "geometry result as the reference"
                )
            reference.check(x)
            subspace = reference.subspace
        x = preserve_correlations(
            x,
            subspace,
            centre_scale=options.centre_scale,
            dimension=options.clip_dimension,
            permute_axes=options.permute_axes,
            rng=rng,
        )
    return x
