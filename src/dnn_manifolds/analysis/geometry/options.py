"""Options of the mean-field-theory geometry (``docs/geometry.md``) and the methods' constants."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import OptionError
from ..manipulations import DataOptions
from ..options import option

__all__ = ["DEFAULT_N_T", "GeometryOptions", "HEADLINE", "METHODS", "STIEFEL_DEFAULTS"]

METHODS = ("smooth", "point_cloud")
"""The analysis methods: the original's convnet pipeline for smooth manifolds, or its
point-cloud analysis (``docs/geometry.md#geometry-methods``)."""

DEFAULT_N_T = {"smooth": 1000, "point_cloud": 200}
"""Default Gaussian draws per object: the MATLAB convnet pipeline used 1000; the point-cloud
reference's documentation recommends 200."""

HEADLINE = {
    "smooth": ("capacity_semianalytic", "anchor_dimension"),
    "point_cloud": ("capacity_direct", "dimension_point_cloud"),
}
"""Per-object headline (capacity, dimension) variable of each method."""

STIEFEL_DEFAULTS = {
    "smooth": {"max_iter": 10000, "xtol": 1e-6, "gtol": 1e-6, "ftol": 1e-8},
    "point_cloud": {"max_iter": 20000, "xtol": 1e-6, "gtol": 1e-6, "ftol": 1e-8},
}
"""Optimiser settings of the originals (``docs/geometry.md#geometry-centres``)."""

STIEFEL_KEYS = ("max_iter", "xtol", "gtol", "ftol", "probe_factor")
"""Keys of ``stiefel_options``; ``probe_factor`` (default 10, 1 = every rank at the given
tolerances) is the centre-rank search's, see :func:`~dnn_manifolds.analysis.geometry.optimal_centre_rank`."""

CONTROLS = ("none", "shuffle")
"""Controls of the geometry (the original geometry driver's ``data_randomization``)."""


@dataclass(frozen=True)
class GeometryOptions(DataOptions):
    """Options of :func:`~dnn_manifolds.analysis.geometry.geometry` and
    :func:`~dnn_manifolds.analysis.geometry.manifold_geometry` (all validated).

    The seed and ``progress`` are arguments of the functions, not options.
    """

    ANALYSIS = "geometry"

    method: str = option("smooth", "analysis method (headline capacity and dimension, centre-rank rule)", choices=METHODS)
    n_t: int | None = option(
        None,
        "Gaussian draws per object",
        kind=int,
        minimum=1,
        nullable=True,
        none_means="1000 for smooth, 200 for point_cloud, as the originals",
    )
    kappa: float = option(0.0, "margin kappa (> 0 is a positive margin)")
    n_restarts: int = option(10, "optimiser starts per rank k of the common centre subspace", minimum=1)
    max_k: int | None = option(
        None,
        "largest rank of the common centre subspace tried",
        kind=int,
        minimum=0,
        nullable=True,
        none_means="by method: min(ceil(P/2), 46), or #components below 95 % variance + 10",
    )
    control: str = option(
        "none",
        "shuffle: samples dealt at random into the objects (each keeps its count), the common "
        "centre subspace taken from the unshuffled data, as the original's geometry driver",
        choices=CONTROLS,
    )
    zscore: bool = option(False, "z-score each neuron first")
    n_neurons: int | None = option(
        None,
        "analyse random subsets of this many neurons (the common subspace from all of them)",
        kind=int,
        minimum=1,
        nullable=True,
        none_means="all neurons",
    )
    neuron_repeats: int = option(10, "random neuron subsets drawn when n_neurons is set", minimum=1)
    stiefel_options: dict | None = option(
        None,
        "optimiser settings max_iter, xtol, gtol, ftol (defaults: the original's, by method); "
        "probe_factor: ranks are first probed at tolerances this many times looser (default 10; 1: off)",
        kind=dict,
        keys=STIEFEL_KEYS,
        nullable=True,
    )

    def _check(self) -> None:
        for key, val in (self.stiefel_options or {}).items():
            if key == "max_iter":
                ok = not isinstance(val, bool) and isinstance(val, (int, np.integer)) and val >= 1
                want = "an integer >= 1"
            else:
                ok = (
                    not isinstance(val, bool)
                    and isinstance(val, (int, float, np.number))
                    and math.isfinite(val)
                    and val >= 0
                )
                want = "a finite number >= 0"
            if not ok:
                raise OptionError(
                    f"geometry option 'stiefel_options': {key} must be {want}; got {val!r}"
                )

    @property
    def draws(self) -> int:
        """``n_t`` with the method's default resolved."""
        return self.n_t if self.n_t is not None else DEFAULT_N_T[self.method]

    def session_copies(self, itemsize: int = 8) -> int:
        """Bytes per response value of the copies of a session that these options make before
        the per-object geometry, for data stored with ``itemsize`` bytes a value: selections
        and z-scoring a float64 padded copy (8; z-scored in place, or in a copy of a selection:
        8 more), the shuffle control two copies (joined, dealt; float64 after a selection),
        manipulations a float64 padded copy and their result (16), neuron subsets the float64
        projected session (8)."""
        subset = self.n_objects is not None or self.samples_jump != 1
        selects = self.zscore or subset
        out = 8 * selects + 8 * (self.zscore and subset)
        out += 2 * (8 if selects else itemsize) * (self.control == "shuffle")
        return int(out + 16 * self.manipulates + 8 * (self.n_neurons is not None))

    @property
    def stiefel_settings(self) -> dict[str, Any]:
        """The optimiser settings in use: the method's defaults updated by ``stiefel_options``."""
        return {**STIEFEL_DEFAULTS[self.method], **(self.stiefel_options or {})}

    def record(self) -> dict[str, Any]:
        out = self.to_dict()
        out["n_t"] = self.draws
        out["stiefel_options"] = self.stiefel_settings
        return out
