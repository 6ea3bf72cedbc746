"""Options of the direct capacity (``docs/capacity.md``), and the names they choose between."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ...errors import OptionError
from ..controls import CONTROLS
from ..manipulations import ROUNDINGS, DataOptions
from ..options import option
from . import lp as _lp

__all__ = [
    "LABELINGS",
    "METHODS",
    "PROJECTIONS",
    "PROJECTION_PRECISIONS",
    "STATUSES",
    "CapacityOptions",
]

PROJECTIONS = ("gaussian", "neurons")
"""Feature choices: fresh Gaussian random projection, or a random subset of neurons."""

LABELINGS = ("balanced", "iid", "sparse")
"""Random labellings (original ``random_labeling_type`` 1, 0, 2)."""

METHODS = ("lp", "qp")
"""Separability solvers: certified dense LP (with QP fallback), or the reference QP."""

PROJECTION_PRECISIONS = ("auto", "float64", "float32")
"""Arithmetic of the Gaussian projections."""

STATUSES = (_lp.CERTIFIED, _lp.FALLBACK, _lp.REFERENCE, "shortcut", _lp.FAILED)
"""How each repetition's decision was reached (``status`` dim of ``status_count``)."""


@dataclass(frozen=True)
class CapacityOptions(DataOptions):
    """Options of :func:`~dnn_manifolds.analysis.capacity.capacity` (all keyword, all validated).

    Execution settings (``jobs``, ``progress``) and the seed are arguments of the functions,
    not options: they never change a result. The selections and manipulations of the data
    (``n_objects``, ``samples_jump``, ``centre_scale``, ``clip_dimension``, ``permute_axes``)
    are shared with the geometry (:class:`~dnn_manifolds.analysis.manipulations.DataOptions`).
    """

    ANALYSIS = "capacity"

    projection: str = option(
        "gaussian",
        "random features: a fresh Gaussian projection to n features per repetition, or n neurons drawn without replacement",
        choices=PROJECTIONS,
    )
    labels: str = option("balanced", "random labelling of the objects", choices=LABELINGS)
    expected_precision: float = option(
        0.05,
        "target standard error of f(n): repetitions stop once it is reached (at least ceil(1/eps), at most ceil((0.5/eps)^2))",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=0.5,
    )
    min_repetitions: int | None = option(
        None, "fewest decided repetitions per n", kind=int, minimum=1, nullable=True, none_means="ceil(1/expected_precision)"
    )
    max_repetitions: int | None = option(
        None, "most repetitions per n", kind=int, minimum=1, nullable=True, none_means="ceil((0.5/expected_precision)^2)"
    )
    precision: int = option(1, "width of the final bisection bracket of the N_c search", minimum=1)
    jumps: int | None = option(
        None, "step of the coarse scan of n", kind=int, minimum=1, nullable=True, none_means="the original's rule from N"
    )
    tails: bool = option(True, "probe the tails of f(n) after the bisection, as the original")
    method: str = option(
        "lp", "separability solver: certified dense LP (reference QP as fallback) or the reference QP for every decision", choices=METHODS
    )
    cutting_plane: bool = option(
        False, "cutting plane over samples (same decisions as the full problem)"
    )
    max_samples: int = option(
        100, "working-set size per object above which the cutting plane solves the full problem", minimum=1
    )
    nested: bool = option(
        False, "nested projections with the monotone shortcut (faster; estimates at different n correlated)"
    )
    control: str = option("none", "control manipulation applied to the data first", choices=CONTROLS)
    zscore: bool = option(False, "z-score each neuron first")
    gamma_tol: float = option(
        _lp.GAMMA_TOL,
        "normalised-margin tolerance of the LP certificates",
        minimum=0.0,
        exclusive_minimum=True,
        maximum=1e-3,
        exclusive_maximum=True,
    )
    projection_precision: str = option(
        "auto", "arithmetic of the Gaussian projections (auto: float32 for large bases)", choices=PROJECTION_PRECISIONS
    )

    balls: str = option(
        "none",
        "capacity of balls with each object's centre, measured radius and floor/ceil/round of its "
        "measured dimension instead of the manifolds (the spheres control; needs the geometry)",
        choices=ROUNDINGS,
    )

    def _check(self) -> None:
        if self.balls != "none" and (self.manipulates or self.control != "none" or self.zscore):
            raise OptionError(
                "capacity option 'balls' replaces the manifolds by balls: it cannot be combined with "
                "control, zscore or the manipulations"
            )
        lo, hi = self.repetition_bounds
        if lo > hi:
            raise OptionError(
                f"capacity option 'min_repetitions' ({lo}) must not exceed max_repetitions ({hi})"
            )

    @property
    def repetition_bounds(self) -> tuple[int, int]:
        """(fewest, most) repetitions per ``n``, defaults resolved from ``expected_precision``."""
        eps = self.expected_precision
        lo = self.min_repetitions if self.min_repetitions is not None else math.ceil(1 / eps - 1e-9)
        hi = (
            self.max_repetitions
            if self.max_repetitions is not None
            else math.ceil((0.5 / eps) ** 2 - 1e-9)
        )
        return lo, hi

    def record(self) -> dict[str, Any]:
        out = self.to_dict()
        out["min_repetitions"], out["max_repetitions"] = self.repetition_bounds
        return out
