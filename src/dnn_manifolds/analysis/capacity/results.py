"""Results of the direct capacity: per-``n`` estimates, the probit fit, the whole search.

:func:`to_dataset` labels a :class:`CapacityResult` as an :class:`xarray.Dataset` (dims
``n_features``, ``status``, ``bound``, ``repetition``) from the shared variable table
(:mod:`dnn_manifolds.analysis.variables`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from ..variables import reasons_json, variable
from .options import STATUSES, CapacityOptions

__all__ = ["CapacityResult", "CurveFit", "FractionResult", "to_dataset"]


@dataclass(frozen=True)
class FractionResult:
    """Estimate of the separable fraction ``f(n)`` at one ``n`` (``docs/capacity.md#capacity-repetitions``).

    Attributes
    ----------
    n_features : int
        ``n``.
    fraction : float
        Separable fraction over the decided repetitions (NaN if none was decided).
    n_repetitions : int
        Decided repetitions (those counted in ``fraction``).
    n_separable : int
        Separable repetitions among them.
    n_attempts : int
        Repetitions drawn (decided + failed).
    outcomes : ndarray of shape (n_attempts,)
        1.0 separable, 0.0 not separable, NaN failed, in repetition order.
    status_count : dict of str to int
        Repetitions per status (:data:`STATUSES`).
    statuses : tuple of str
        Status of each repetition, in order.
    """

    n_features: int
    fraction: float
    n_repetitions: int
    n_separable: int
    n_attempts: int
    outcomes: np.ndarray = field(repr=False)
    status_count: dict[str, int]
    statuses: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class CurveFit:
    r"""Probit fit ``f(n) ≈ Φ((n − N_c)/σ)`` of the separable fraction.

    Attributes
    ----------
    critical_n_features : float
        Fitted ``N_c`` (the ``n`` where the fitted curve crosses 0.5).
    ci_low, ci_high : float
        Profile-likelihood confidence interval of ``N_c`` (NaN where the likelihood does not
        fall enough within ``[0, 2·max n]``).
    width : float
        Fitted ``σ``.
    confidence : float
        Confidence level of the interval.
    status : str
        ``"ok"``; ``"step"`` (no tested ``n`` has a fraction strictly between 0 and 1: the
        curve is a step, ``σ`` sits at its lower bound and ``N_c`` anywhere in the gap);
        ``"no_transition"`` (all fractions 0 or all 1: no fit, NaN); ``"failed"``.
    """

    critical_n_features: float
    ci_low: float
    ci_high: float
    width: float
    confidence: float
    status: str


@dataclass(frozen=True)
class CapacityResult:
    """Direct capacity of one set of manifolds (``docs/capacity.md#capacity-search``).

    Attributes
    ----------
    capacity : float
        ``α_c = P / N_c`` (NaN if ``f(n) ≥ 0.5`` was never reached).
    critical_n_features : float
        ``N_c``: smallest tested ``n`` with ``f(n) ≥ 0.5`` (the original's rule).
    fit : CurveFit
        Smooth estimate of ``N_c`` from the whole curve.
    n_objects, n_neurons, n_points : int
        ``P``, ``N``, valid samples ``K`` in all.
    rank : int
        Rows of the basis that Gaussian projections act on: the rank of the centred samples
        when ``K < N`` (Gram basis), else ``N``.
    n_features : ndarray of int, shape (n_tested,)
        Tested ``n``, increasing.
    fraction, n_repetitions, n_separable, n_attempts, probe_order : ndarray, shape (n_tested,)
        Per tested ``n``: ``f(n)``, decided repetitions, separable ones, attempts, and the
        1-based order in which ``n`` was probed.
    status_count : ndarray of int, shape (n_tested, len(STATUSES))
        Repetitions per status.
    jumps : int
        Coarse step used.
    wall_time : float
        Seconds.
    options : CapacityOptions
        The options used.
    repetitions : dict of int to FractionResult
        Per tested ``n``, the repetitions themselves (outcomes and statuses).
    ball_dimensions, ball_radii : ndarray of shape (n_objects,) or None
        With ``balls``: each ball's dimension and absolute radius.
    status : str
        ``"ok"``, ``"not_reached"`` (``f(n) < 0.5`` up to ``N``: ``N_c > N``, ``α_c < P/N``) or
        ``"failed"`` (``N_c`` could not be placed: every repetition failed at an ``n`` where it
        could lie); ``capacity`` and ``critical_n_features`` are NaN unless ``"ok"``.
    reason : str
        Why, in one line ("" when ok).
    """

    capacity: float
    critical_n_features: float
    fit: CurveFit
    n_objects: int
    n_neurons: int
    n_points: int
    rank: int
    n_features: np.ndarray
    fraction: np.ndarray
    n_repetitions: np.ndarray
    n_separable: np.ndarray
    n_attempts: np.ndarray
    probe_order: np.ndarray
    status_count: np.ndarray
    jumps: int
    wall_time: float
    options: CapacityOptions
    repetitions: dict[int, FractionResult] = field(default_factory=dict, repr=False)
    ball_dimensions: np.ndarray | None = field(default=None, repr=False)
    ball_radii: np.ndarray | None = field(default=None, repr=False)
    status: str = "ok"
    reason: str = ""

    @property
    def capacity_fit(self) -> float:
        """``P`` divided by the fitted ``N_c`` (NaN when the fit has none)."""
        return _per(self.n_objects, self.fit.critical_n_features)

    @property
    def capacity_fit_ci(self) -> tuple[float, float]:
        """Confidence interval of :attr:`capacity_fit` (``P / ci_high``, ``P / ci_low``)."""
        return (_per(self.n_objects, self.fit.ci_high), _per(self.n_objects, self.fit.ci_low))


def _per(n_objects: int, n_features: float) -> float:
    """``P / n`` for a positive finite ``n``, else NaN."""
    return n_objects / n_features if math.isfinite(n_features) and n_features > 0 else math.nan


def to_dataset(res: CapacityResult) -> xr.Dataset:
    """One session's result as a dataset (dims ``n_features``, ``status``, ``bound``,
    ``repetition``)."""
    nf = "n_features"
    n_rep_max = res.options.repetition_bounds[1]
    outcome = np.full((len(res.n_features), n_rep_max), np.nan)
    for i, n in enumerate(res.n_features):
        vals = res.repetitions[int(n)].outcomes
        outcome[i, : len(vals)] = vals
    conf = {"confidence": res.fit.confidence}

    def var(name, dims, values, **fmt):
        return variable(name, dims, values, analysis="capacity", **fmt)

    data = {
        "capacity": var("capacity", (), res.capacity),
        "critical_n_features": var("critical_n_features", (), res.critical_n_features),
        "critical_n_features_fit": var("critical_n_features_fit", (), res.fit.critical_n_features),
        "critical_n_features_fit_ci": var(
            "critical_n_features_fit_ci", "bound", [res.fit.ci_low, res.fit.ci_high], **conf
        ),
        "capacity_fit": var("capacity_fit", (), res.capacity_fit),
        "capacity_fit_ci": var("capacity_fit_ci", "bound", list(res.capacity_fit_ci), **conf),
        "fit_width": var("fit_width", (), res.fit.width),
        "fit_status": var("fit_status", (), res.fit.status),
        "separable_fraction": var("separable_fraction", nf, res.fraction),
        "n_repetitions": var("n_repetitions", nf, res.n_repetitions),
        "n_separable": var("n_separable", nf, res.n_separable),
        "n_attempts": var("n_attempts", nf, res.n_attempts),
        "probe_order": var("probe_order", nf, res.probe_order),
        "outcome": var("outcome", (nf, "repetition"), outcome),
        "status_count": var("status_count", (nf, "status"), res.status_count),
        "n_objects": var("n_objects", (), res.n_objects),
        "n_neurons": var("n_neurons", (), res.n_neurons),
        "n_points": var("n_points", (), res.n_points),
        "basis_rank": var("basis_rank", (), res.rank),
        "jumps": var("jumps", (), res.jumps),
        "wall_time": var("wall_time", (), res.wall_time),
    }
    if res.ball_dimensions is not None:
        data["ball_dimension"] = var("ball_dimension", "object", res.ball_dimensions)
        data["ball_radius"] = var("ball_radius", "object", res.ball_radii)
        data["mean_ball_dimension"] = var("mean_ball_dimension", (), float(np.mean(res.ball_dimensions)))
    data["result_status"] = var("result_status", (), res.status)
    data["reasons"] = var("reasons", (), reasons_json(data, _reasons(res)))
    coords = {
        nf: (nf, res.n_features, {"long_name": "number of features n", "units": "1"}),
        "status": ("status", list(STATUSES), {"long_name": "decision status"}),
        "bound": ("bound", ["lower", "upper"]),
        "repetition": ("repetition", np.arange(n_rep_max)),
    }
    return xr.Dataset(data, coords=coords)


def _reasons(res: CapacityResult) -> dict[str, str]:
    """Why each NaN scalar of a capacity result is NaN."""
    out: dict[str, str] = {}
    if res.status != "ok":
        out["capacity"] = out["critical_n_features"] = res.reason
    fit = res.fit
    why = {
        "no_transition": "probit fit: no transition (every tested f(n) is 0, or every one is 1)",
        "failed": "probit fit failed (the likelihood could not be evaluated)",
        "step": "probit fit: the curve is a step (no tested f(n) strictly between 0 and 1)",
    }.get(fit.status, "")
    if math.isnan(fit.critical_n_features) or fit.status in ("no_transition", "failed"):
        out["critical_n_features_fit"] = out["capacity_fit"] = why or "probit fit: no estimate"
    if math.isnan(fit.width):
        out["fit_width"] = why or "probit fit: no width"
    return out


FILL_VALUES = {name: 0 for name in ("n_repetitions", "n_separable", "n_attempts", "probe_order", "status_count")}
"""Fill values where sessions' curves cover different ``n`` (counts are 0 there; the rest NaN)."""
