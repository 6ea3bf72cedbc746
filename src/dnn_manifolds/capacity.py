r"""Direct (simulated) classification capacity of object manifolds.

For ``P`` object manifolds (all valid samples of each object), random balanced ±1 labels per
object and a random ``n``-dimensional view of the neurons, ask whether an affine hyperplane puts
**every sample** of every object on its object's side. ``f(n)`` is the fraction of random
(projection, labels) draws that are separable, the critical number of features ``N_c`` is the
smallest tested ``n`` with ``f(n) ≥ 0.5`` and the capacity is ``α_c = P / N_c``
(Cohen, Chung, Lee & Sompolinsky 2020; ``analysis.md`` §3).

Public API
----------
* :func:`capacity` — ``capacity(dataset, *, session=None, seed=0, **options) -> xarray.Dataset``:
  one or all sessions of a manifold dataset (:mod:`dnn_manifolds.dataset`), silent neurons
  dropped, missing samples dropped per object.
* :func:`critical_capacity` — ``critical_capacity(points, *, rng=None, **options) ->
  CapacityResult`` on an ndarray of shape ``(n_neurons, n_samples, n_objects)`` (stable name and
  signature; the geometry module's cross-check calls it).
* :func:`separable_fraction` — the estimate ``f(n)`` at one ``n`` (§3.3).
* :func:`is_linearly_separable` — one dichotomy (certified LP, or the cvxpy + Clarabel QP).
* :func:`fit_transition` — probit fit of ``f(n)`` with a profile-likelihood interval.
* :func:`apply_control`, :func:`zscore_neurons` — the control manipulations (§3.8).

Command line
------------
::

    dnn-manifolds capacity IN.nc OUT.nc [--session S ...] [--seed N] [--jobs J]
        [--control {none,shuffle,orth,centers_random,manifold_random,
                    manifold_random_uniform_centers,axes_random,permute_random}]
        [--zscore] [--projection {gaussian,neurons}] [--labels {balanced,iid,sparse}]
        [--method {lp,qp}] [--cutting-plane] [--nested] [--no-tails] [--no-progress]

``--session`` may be repeated; without it every session is analysed and the output has a
``session`` dimension (with exactly one ``--session`` it has a scalar ``session`` coordinate).
``--jobs J`` spreads the repetitions over ``J`` single-threaded processes; the result does not
depend on ``J`` (every repetition draws from its own stream
``SeedSequence([seed, session_index, 0, n, rep])``).

Options (keyword arguments of capacity, critical_capacity and separable_fraction)
---------------------------------------------------------------------------------
``projection`` ("gaussian": fresh Gaussian random projection to ``n`` features per repetition,
the original's ``features_type = 2``; "neurons": ``n`` neurons drawn without replacement,
``features_type = 0``), ``labels`` ("balanced", "iid", "sparse"), ``expected_precision`` (0.05:
at least ``ceil(1/ε) = 20`` and at most ``ceil((0.5/ε)²) = 100`` repetitions, stop when the
standard error ≤ ε), ``precision`` (1, bisection precision), ``jumps`` (coarse step; default by
the original's rule), ``tails`` (probe the curve's tails after bisection, as the original),
``method`` ("lp" certified dense LP with reference fallback; "qp" the reference QP for every
decision), ``cutting_plane`` / ``max_samples`` (§3.5), ``nested`` (nested projections and the
monotone shortcut, below), ``control`` and ``zscore`` (§3.8), ``gamma_tol`` (certificate
tolerance, 1e-9), ``projection_precision`` ("auto", "float64", "float32"), ``jobs``,
``progress``.

Deliberate choices versus the original (``analysis.md`` §10)
-------------------------------------------------------------
* **Solver.** The decision "margin > 0" of the original's hard-margin QP (CPLEX) is made by a
  dense interior-point LP on the box-bounded Gordan dual, in canonical (orthonormalised)
  coordinates, with a certificate either way: a separator re-verified on the original
  points, or a vector ``u ≥ 0`` with ``Aᵀu ≈ 0`` that rules out any separator of normalised
  margin above ``gamma_tol``. When neither certificate is reached, the reference QP (cvxpy +
  Clarabel) decides (status ``fallback``). See :mod:`dnn_manifolds._lp`.
* **Solver failures** are never read as an answer. The original counts a failed solve as
  "not separable"; here it is a missing outcome: it is counted in ``status_count`` (status
  ``failed``) and left out of ``f(n)`` and of the stopping rule (at most ``max_repetitions``
  attempts per ``n``).
* **Cutting plane** (§3.5, off by default, as in the generic driver): it stops as soon as a
  separator of the working set separates all samples (the original refines the margin to 1 %,
  which changes no decision) and, when the working set exceeds ``max_samples`` per object,
  solves the full problem instead of declaring "not separable" (the original's possible false
  negative). Decisions are therefore identical to the full LP.
* **Gram basis.** For ``projection="gaussian"`` with fewer valid samples ``K`` than neurons
  ``N``, ``RᵀX`` is drawn as ``Z Lᵀ`` with ``XᵀX = L Lᵀ`` (pivoted Cholesky of the centred
  data; ``Z`` of size ``n × rank``): the same law, less work. For ``n ≥ rank`` the decision
  equals that of the data themselves (the projection is injective on their span) and no
  projection is drawn. With ``projection_precision="auto"`` (default) a large basis
  (rank × samples ≥ 10⁶) is projected in float32 (twice as fast): the features are then a
  Gaussian projection rounded to float32 (relative 1e-7), and every decision is exact for
  the features actually used (they are what the LP certifies and re-verifies).
* **Nested projections** (``nested=True``, off by default): one Gaussian matrix and one label
  vector per repetition, whose first ``n`` rows are used at every ``n``; separability is then
  monotone in ``n`` for a fixed repetition, so decisions below a proven non-separable ``n`` or
  above a proven separable one need no LP (status ``shortcut``). Each ``f(n)`` keeps its exact
  marginal law, but estimates at different ``n`` become correlated (the original draws afresh
  at every ``n``).
* **Smooth estimate.** Beside the original's first crossing, ``f(n)`` is fitted by a probit
  curve ``Φ((n − N_c)/σ)`` by maximum likelihood on the binomial counts (weighted by
  repetitions), with a 95 % profile-likelihood interval for ``N_c``.
* **Controls with missing samples.** The original's manipulations do not support NaN; here the
  global mean and centres use the valid samples only and ``shuffle`` permutes the valid sample
  columns across objects keeping each object's count (identical to the original without NaN).
  The PCA clipping to ``D = min(N, M)`` of the generic driver is the identity (a centred
  manifold has rank < M) and is not performed. z-scoring uses ddof = 1 over valid entries; a
  constant neuron is left unscaled.
* **Labels.** ``balanced`` gives ``round(P/2)`` objects (half away from zero, as MATLAB) the
  label −1.
* The tested ``n`` range is ``1 … N`` (non-silent neurons), as in the original.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt
import scipy.special as sspec
import xarray as xr

from . import _lp
from ._lp import SeparabilityResult, verify_separator

__all__ = [
    "CONTROLS",
    "PROJECTIONS",
    "LABELINGS",
    "METHODS",
    "STATUSES",
    "CapacityResult",
    "CurveFit",
    "FractionResult",
    "SeparabilityResult",
    "apply_control",
    "capacity",
    "check_options",
    "critical_capacity",
    "default_jumps",
    "fit_transition",
    "is_linearly_separable",
    "register_cli",
    "search_critical_n",
    "separable_fraction",
    "zscore_neurons",
]

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
"""Control manipulations (``analysis.md`` §3.8; the original's ``data_randomization`` 0, 8, 1,
2, 3, 4, 5, 7)."""

PROJECTIONS = ("gaussian", "neurons")
"""Feature choices: fresh Gaussian random projection, or a random subset of neurons."""

LABELINGS = ("balanced", "iid", "sparse")
"""Random labellings (original ``random_labeling_type`` 1, 0, 2)."""

METHODS = ("lp", "qp")
"""Separability solvers: certified dense LP (with QP fallback), or the reference QP."""

STATUSES = (_lp.CERTIFIED, _lp.FALLBACK, _lp.REFERENCE, "shortcut", _lp.FAILED)
"""How each repetition's decision was reached (``status`` dim of ``status_count``)."""

_DEFAULTS: dict[str, Any] = {
    "projection": "gaussian",
    "labels": "balanced",
    "expected_precision": 0.05,
    "min_repetitions": None,
    "max_repetitions": None,
    "precision": 1,
    "jumps": None,
    "tails": True,
    "method": "lp",
    "cutting_plane": False,
    "max_samples": 100,
    "nested": False,
    "control": "none",
    "zscore": False,
    "gamma_tol": _lp.GAMMA_TOL,
    "projection_precision": "auto",
    "jobs": 1,
    "progress": False,
}

_NESTED_BLOCK = 64
"""Rows of the nested Gaussian matrix drawn per stream block."""

_FLOAT32_MIN_SIZE = 1_000_000
"""Basis size (rank × valid samples) from which ``projection_precision="auto"`` projects in
float32."""


# ============================================================================ results


@dataclass(frozen=True)
class FractionResult:
    """Estimate of the separable fraction ``f(n)`` at one ``n`` (``analysis.md`` §3.3).

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
    """Direct capacity of one set of manifolds (``analysis.md`` §3.2).

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
    options : dict
        All options used.
    repetitions : dict of int to FractionResult
        Per tested ``n``, the repetitions themselves (outcomes and statuses).
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
    options: dict[str, Any]
    repetitions: dict[int, FractionResult] = field(default_factory=dict, repr=False)

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


# ============================================================================ validation


def check_options(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate capacity options (as given to :func:`capacity`); return them with defaults.

    For callers that want to reject a bad configuration before any work (the workflow).

    Raises
    ------
    ValueError
        A known option with a bad value (the message names it).
    TypeError
        An unknown option.
    """
    return _check_options(dict(options or {}), where="capacity")


def _check_options(options: dict[str, Any], *, where: str) -> dict[str, Any]:
    """Merge ``options`` with the defaults and validate them; return the merged dict."""
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
        raise TypeError(
            f"{where}() got unknown option(s) {unknown}; known options: {sorted(_DEFAULTS)}"
        )
    opts = dict(_DEFAULTS)
    opts.update(options)
    for name, allowed in (
        ("projection", PROJECTIONS),
        ("labels", LABELINGS),
        ("method", METHODS),
        ("control", CONTROLS),
        ("projection_precision", ("auto", "float64", "float32")),
    ):
        if opts[name] is None and name == "control":
            opts[name] = "none"
        if opts[name] not in allowed:
            raise ValueError(f"{name} must be one of {list(allowed)}; got {opts[name]!r}")
    eps = opts["expected_precision"]
    if not isinstance(eps, (int, float)) or not 0 < eps <= 0.5:
        raise ValueError(f"expected_precision must be in (0, 0.5]; got {eps!r}")
    if opts["min_repetitions"] is None:
        opts["min_repetitions"] = math.ceil(1 / eps - 1e-9)
    if opts["max_repetitions"] is None:
        opts["max_repetitions"] = math.ceil((0.5 / eps) ** 2 - 1e-9)
    for name in ("min_repetitions", "max_repetitions", "precision", "max_samples", "jobs"):
        value = opts[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}")
        opts[name] = int(value)
    if opts["min_repetitions"] > opts["max_repetitions"]:
        raise ValueError(
            f"min_repetitions ({opts['min_repetitions']}) must not exceed max_repetitions "
            f"({opts['max_repetitions']})"
        )
    jumps = opts["jumps"]
    if jumps is not None:
        if isinstance(jumps, bool) or not isinstance(jumps, (int, np.integer)) or jumps < 1:
            raise ValueError(f"jumps must be a positive integer or None; got {jumps!r}")
        opts["jumps"] = int(jumps)
    if not 0 < float(opts["gamma_tol"]) < 1e-3:
        raise ValueError(f"gamma_tol must be in (0, 1e-3); got {opts['gamma_tol']!r}")
    for name in ("tails", "cutting_plane", "nested", "zscore", "progress"):
        opts[name] = bool(opts[name])
    return opts


def _check_points(points: Any) -> np.ndarray:
    """Validate ``points`` of shape (n_neurons, n_samples, n_objects); return float64."""
    arr = np.asarray(points)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"points must be a numeric array; got dtype {arr.dtype}")
    if arr.ndim != 3:
        raise ValueError(
            "points must be 3-D (n_neurons, n_samples, n_objects); " f"got shape {tuple(arr.shape)}"
        )
    arr = arr.astype(np.float64, copy=False)
    n_neurons, n_samples, n_objects = arr.shape
    if n_objects < 2:
        raise ValueError(
            f"points needs at least 2 objects (P >= 2) to form dichotomies; got P = {n_objects}"
        )
    if n_neurons < 1 or n_samples < 1:
        raise ValueError(f"points is empty: shape {tuple(arr.shape)}")
    if np.isinf(arr).any():
        raise ValueError(f"points contains {int(np.isinf(arr).sum())} infinite values")
    valid = ~np.isnan(arr).any(axis=0)
    empty = np.flatnonzero(~valid.any(axis=0))
    if empty.size:
        raise ValueError(
            f"every object needs at least one sample without NaN; objects {empty.tolist()[:10]} "
            "have none"
        )
    return arr


# ============================================================================ controls


def _valid_mask(points: np.ndarray) -> np.ndarray:
    """(n_samples, n_objects) mask of samples without NaN."""
    return ~np.isnan(points).any(axis=0)


def apply_control(points: np.ndarray, control: str, *, rng: Any = None) -> np.ndarray:
    r"""Apply a control manipulation to manifold data (``calc_low_dimension_manifold``, §3.8).

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
        raise ValueError(f"control must be one of {list(CONTROLS)}; got {control!r}")
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
            raise ValueError(
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


def zscore_neurons(points: np.ndarray) -> np.ndarray:
    """z-score each neuron over all valid (sample, object) entries (ddof = 1).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)

    Returns
    -------
    ndarray of the same shape; a neuron with zero spread is only centred.
    """
    x = np.array(points, dtype=np.float64, copy=True)
    mean = np.nanmean(x, axis=(1, 2), keepdims=True)
    count = np.sum(~np.isnan(x), axis=(1, 2), keepdims=True)
    std = np.sqrt(np.nansum((x - mean) ** 2, axis=(1, 2), keepdims=True) / np.maximum(count - 1, 1))
    std[std == 0] = 1.0
    return (x - mean) / std


# ============================================================================ one dichotomy


def is_linearly_separable(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    method: str = "lp",
    margin: bool = False,
    gamma_tol: float = _lp.GAMMA_TOL,
    clarabel_settings: dict | None = None,
) -> SeparabilityResult:
    r"""Whether labelled points are linearly separable with an unregularised bias.

    .. math::

        \exists\, (w, b):\ y_k\,(w\cdot x_k + b) \ge 1 \quad \forall k

    Parameters
    ----------
    points : ndarray of shape (n_features, n_points)
        Columns are points (the dataset's neuron-first layout). Columns with NaN are dropped
        (the original's handling of missing samples).
    labels : ndarray of shape (n_points,)
        ±1.
    method : {"lp", "qp"}
        ``"lp"``: certified dense interior-point LP (status ``"certified"``), falling back to
        the reference QP when unsure (``"fallback"``). ``"qp"``: the original's hard-margin
        QP in cvxpy solved by Clarabel (``"reference"``), which also returns the margin.
    margin : bool
        With ``method="lp"``, also solve the reference QP for the max margin when the points
        are separable (the LP decides; the QP only adds ``margin``).
    gamma_tol : float
        Normalised-margin tolerance of the LP certificates.
    clarabel_settings : dict, optional
        Extra Clarabel settings for the QP.

    Returns
    -------
    SeparabilityResult
        ``separable`` is ``None`` (status ``"failed"``) when no solver could decide.

    Examples
    --------
    >>> import numpy as np
    >>> xor = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])
    >>> is_linearly_separable(xor, np.array([1, 1, -1, -1])).separable
    False
    >>> is_linearly_separable(xor, np.array([1, -1, 1, -1])).separable
    True
    """
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"points must be 2-D (n_features, n_points); got shape {tuple(x.shape)}")
    y = np.asarray(labels, dtype=np.float64)
    if y.shape != (x.shape[1],):
        raise ValueError(
            f"labels must have shape (n_points,) = ({x.shape[1]},); got {tuple(y.shape)}"
        )
    if not np.all(np.abs(y) == 1):
        raise ValueError("labels must be +1 or -1")
    if method not in METHODS:
        raise ValueError(f"method must be one of {list(METHODS)}; got {method!r}")
    if np.isinf(x).any():
        raise ValueError("points contains infinite values")
    keep = ~np.isnan(x).any(axis=0)
    x, y = x[:, keep], y[keep]
    if x.shape[1] == 0:
        raise ValueError("points has no column without NaN")
    res = _decide(x, y, method=method, gamma_tol=gamma_tol, clarabel_settings=clarabel_settings)
    if margin and res.separable and math.isnan(res.margin):
        ref = _lp.qp_separability(x, y, clarabel_settings=clarabel_settings)
        res = dataclasses.replace(
            res, margin=ref.margin, message=f"{res.message}; margin: {ref.message}"
        )
    return res


def _decide(x, y, *, method, gamma_tol, clarabel_settings=None) -> SeparabilityResult:
    if method == "qp":
        return _lp.qp_separability(x, y, clarabel_settings=clarabel_settings)
    return _lp.lp_separability(x, y, gamma_tol=gamma_tol, clarabel_settings=clarabel_settings)


# ============================================================================ the problem


@dataclass
class _Problem:
    """Everything one repetition needs (inherited by worker processes)."""

    key: tuple[int, ...]
    x: np.ndarray  # (N, K) centred valid samples, object-major
    basis: np.ndarray | None  # (rank, K) Gram factor for Gaussian projections
    basis32: np.ndarray | None  # float32 copy when projections are computed in float32
    rank: int
    obj_index: np.ndarray  # (K,)
    obj_starts: np.ndarray  # (P + 1,)
    n_objects: int
    opts: dict[str, Any]


def _prepare(points: np.ndarray, key: tuple[int, ...], opts: dict[str, Any]) -> _Problem:
    """Drop missing samples, apply control and z-score, build the Gram basis.

    The Gram basis is a pivoted Cholesky factor of the centred samples' Gram matrix (LAPACK
    ``dpstrf``, default tolerance): directions whose singular value is below about
    ``sqrt(K ε)`` times the largest are dropped, a perturbation at the float32 level.
    """
    if opts["control"] != "none":
        ctrl_rng = np.random.default_rng(np.random.SeedSequence(list(key) + [3]))
        points = apply_control(points, opts["control"], rng=ctrl_rng)
    if opts["zscore"]:
        points = zscore_neurons(points)
    n_neurons, n_samples, n_objects = points.shape
    valid = _valid_mask(points)
    counts = valid.sum(axis=0)
    x = points.transpose(0, 2, 1)[:, valid.T]  # object-major columns (column-major order)
    x = x - x.mean(axis=1, keepdims=True)  # translation: changes no decision
    k = x.shape[1]
    obj_index = np.repeat(np.arange(n_objects), counts)
    obj_starts = np.concatenate([[0], np.cumsum(counts)])
    basis = None
    rank = n_neurons  # rows of the projected basis (see CapacityResult.rank)
    if opts["projection"] == "gaussian":
        if k < n_neurons:
            gram = x.T @ x
            c, piv, r, info = sla.lapack.dpstrf(gram, lower=1)
            if info < 0:
                raise RuntimeError(f"pivoted Cholesky failed (LAPACK info {info})")
            lower = np.tril(c)[:, :r]
            factor = np.empty((k, r))
            factor[piv - 1] = lower
            basis = np.ascontiguousarray(factor.T)  # (r, K): x has the Gram matrix basisᵀ basis
            rank = int(r)
        else:
            basis = x
    basis32 = None
    precision = opts["projection_precision"]
    if basis is not None and (
        precision == "float32" or (precision == "auto" and basis.size >= _FLOAT32_MIN_SIZE)
    ):
        basis32 = basis.astype(np.float32)
    return _Problem(key, x, basis, basis32, rank, obj_index, obj_starts, n_objects, opts)


def _project(problem: _Problem, rng: np.random.Generator, n_rows: int) -> np.ndarray:
    """``Z @ basis`` with a fresh standard Gaussian ``Z`` of shape (n_rows, rank)."""
    if problem.basis32 is not None:
        z = rng.standard_normal((n_rows, problem.rank), dtype=np.float32)
        return (z @ problem.basis32).astype(np.float64)
    return rng.standard_normal((n_rows, problem.rank)) @ problem.basis


def _draw_labels(rng: np.random.Generator, n_objects: int, labeling: str) -> np.ndarray:
    """Random object labels (``sample_random_labels``)."""
    if labeling == "balanced":
        y = np.ones(n_objects)
        y[rng.permutation(n_objects)[: int(math.floor(n_objects / 2 + 0.5))]] = -1.0
    elif labeling == "iid":
        y = np.where(rng.random(n_objects) < 0.5, -1.0, 1.0)
    else:  # sparse
        y = np.ones(n_objects)
        y[rng.integers(n_objects)] = -1.0
    return y


def _features(
    problem: _Problem, n: int, rep: int
) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """Features ``(n', K)`` and object labels of repetition ``rep`` at ``n``, plus its stream."""
    key = list(problem.key)
    opts = problem.opts
    gaussian = opts["projection"] == "gaussian"
    if not opts["nested"]:
        rng = np.random.default_rng(np.random.SeedSequence(key + [0, n, rep]))
        y_obj = _draw_labels(rng, problem.n_objects, opts["labels"])
        if gaussian:
            feats = problem.basis if n >= problem.rank else _project(problem, rng, n)
        else:
            feats = problem.x[np.sort(rng.choice(problem.x.shape[0], n, replace=False))]
        return feats, y_obj, rng
    # nested: one label vector, one Gaussian matrix / neuron order per repetition
    lab_rng = np.random.default_rng(np.random.SeedSequence(key + [1, rep, 0]))
    y_obj = _draw_labels(lab_rng, problem.n_objects, opts["labels"])
    rng = np.random.default_rng(np.random.SeedSequence(key + [2, n, rep]))
    if gaussian:
        if n >= problem.rank:
            return problem.basis, y_obj, rng
        blocks = []
        for b in range(math.ceil(n / _NESTED_BLOCK)):
            g = np.random.default_rng(np.random.SeedSequence(key + [1, rep, b + 1]))
            blocks.append(_project(problem, g, _NESTED_BLOCK))
        return np.concatenate(blocks)[:n], y_obj, rng
    order = lab_rng.permutation(problem.x.shape[0])
    return problem.x[np.sort(order[:n])], y_obj, rng


def _cutting_plane(problem: _Problem, feats, y, rng) -> SeparabilityResult:
    """Exact cutting plane over samples (§3.5, with the deviations in the module docstring)."""
    opts = problem.opts
    starts = problem.obj_starts
    active = np.zeros(feats.shape[1], dtype=bool)
    for p in range(problem.n_objects):
        m = starts[p + 1] - starts[p]
        active[starts[p] + rng.choice(m, min(5, m), replace=False)] = True
    used_fallback = False
    total_iter = 0
    while True:
        res = _decide(
            feats[:, active], y[active], method=opts["method"], gamma_tol=opts["gamma_tol"]
        )
        total_iter += res.n_iter
        used_fallback |= res.status == _lp.FALLBACK
        if res.separable is not True:  # not separable on a subset ⇒ not separable; or failed
            break
        if verify_separator(feats, y, res.w, res.b):
            break
        field_ = y * (res.w @ feats + res.b)
        field_[active] = np.inf
        added = False
        per_object = np.add.reduceat(active, starts[:-1])
        if per_object.max() >= opts["max_samples"]:
            res = _decide(feats, y, method=opts["method"], gamma_tol=opts["gamma_tol"])
            used_fallback |= res.status == _lp.FALLBACK
            break
        for p in range(problem.n_objects):
            seg = field_[starts[p] : starts[p + 1]]
            j = int(np.argmin(seg))
            if np.isfinite(seg[j]):
                active[starts[p] + j] = True
                added = True
        if not added:  # cannot happen: some sample is violated and inactive
            res = _decide(feats, y, method=opts["method"], gamma_tol=opts["gamma_tol"])
            break
    if used_fallback and res.status == _lp.CERTIFIED:
        res = SeparabilityResult(res.separable, _lp.FALLBACK, res.message, res.w, res.b)
    return res


def _run_task(problem: _Problem, n: int, rep: int) -> tuple[bool | None, str]:
    """Decide repetition ``rep`` at ``n``; return (separable or None, status)."""
    feats, y_obj, rng = _features(problem, n, rep)
    y = y_obj[problem.obj_index]
    if problem.opts["cutting_plane"]:
        res = _cutting_plane(problem, feats, y, rng)
    else:
        res = _decide(feats, y, method=problem.opts["method"], gamma_tol=problem.opts["gamma_tol"])
    return res.separable, res.status


# ---------------------------------------------------------------------------- runners

_WORKER: dict[str, Any] = {}


def _worker_init(problem: _Problem) -> None:
    from threadpoolctl import threadpool_limits

    _WORKER["problem"] = problem
    _WORKER["limits"] = threadpool_limits(limits=1)


def _worker_task(task: tuple[int, int]) -> tuple[bool | None, str]:
    return _run_task(_WORKER["problem"], *task)


class _Runner:
    """Runs repetitions serially or over ``jobs`` single-threaded worker processes."""

    def __init__(self, problem: _Problem, jobs: int):
        self.problem = problem
        self.jobs = jobs
        self.pool: ProcessPoolExecutor | None = None
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self.pool = ProcessPoolExecutor(
                max_workers=jobs, mp_context=ctx, initializer=_worker_init, initargs=(problem,)
            )

    def outcomes(
        self, n: int, known: Callable[[int], bool | None], n_max: int, needed: Callable[[], int]
    ):
        """Yield ``(rep, (separable, status))`` for ``rep = 0, 1, …`` in order, lazily.

        ``known(rep)`` gives a decision that needs no solver (the monotone shortcut) or
        ``None``. With a pool, up to ``max(2·jobs, needed())`` repetitions are in flight ahead
        of the consumer (``needed()`` = repetitions certainly still required); the consumer
        stops when it likes, and results never depend on how far ahead the pool ran.
        """
        if self.pool is None:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                for rep in range(n_max):
                    short = known(rep)
                    if short is not None:
                        yield rep, (short, "shortcut")
                    else:
                        yield rep, _run_task(self.problem, n, rep)
            return
        pending: deque = deque()
        next_rep = 0
        try:
            while True:
                window = max(2 * self.jobs, needed())
                while next_rep < n_max and len(pending) < window:
                    short = known(next_rep)
                    item = (
                        (short, "shortcut")
                        if short is not None
                        else self.pool.submit(_worker_task, (n, next_rep))
                    )
                    pending.append((next_rep, item))
                    next_rep += 1
                if not pending:
                    return
                rep, item = pending.popleft()
                yield rep, (item if isinstance(item, tuple) else item.result())
        finally:
            for _, item in pending:
                if not isinstance(item, tuple):
                    item.cancel()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


# ============================================================================ one n


class _Estimator:
    """Adaptive repetitions at one ``n`` (§3.3), with the nested monotone cache."""

    def __init__(self, problem: _Problem, runner: _Runner):
        self.problem = problem
        self.runner = runner
        self.opts = problem.opts
        self.sep_from: dict[int, int] = {}  # rep -> smallest n proven separable
        self.nonsep_to: dict[int, int] = {}  # rep -> largest n proven not separable

    def _shortcut(self, n: int, rep: int) -> bool | None:
        if not self.opts["nested"]:
            return None
        if rep in self.sep_from and n >= self.sep_from[rep]:
            return True
        if rep in self.nonsep_to and n <= self.nonsep_to[rep]:
            return False
        return None

    def estimate(self, n: int) -> FractionResult:
        opts = self.opts
        eps = opts["expected_precision"]
        lo, hi = opts["min_repetitions"], opts["max_repetitions"]
        outcomes: list[tuple[bool | None, str]] = []
        n_decided = n_sep = 0

        def needed() -> int:
            return max(0, lo - n_decided)

        stream = self.runner.outcomes(n, lambda r: self._shortcut(n, r), hi, needed)
        try:
            for _, out in stream:
                outcomes.append(out)
                if out[0] is not None:
                    n_decided += 1
                    n_sep += bool(out[0])
                if n_decided >= lo:
                    p = n_sep / n_decided
                    if math.sqrt(p * (1 - p) / n_decided) <= eps:
                        break
        finally:
            stream.close()
        # the monotone cache learns only from kept repetitions (independent of jobs)
        if opts["nested"]:
            for r, (o, _) in enumerate(outcomes):
                if o is True:
                    self.sep_from[r] = min(self.sep_from.get(r, n), n)
                elif o is False:
                    self.nonsep_to[r] = max(self.nonsep_to.get(r, n), n)
        vals = np.array([np.nan if o is None else float(o) for o, _ in outcomes])
        decided_n = int(np.sum(~np.isnan(vals)))
        n_sep = int(np.nansum(vals))
        counts = {s: 0 for s in STATUSES}
        for _, s in outcomes:
            counts[s] += 1
        return FractionResult(
            n_features=int(n),
            fraction=n_sep / decided_n if decided_n else math.nan,
            n_repetitions=decided_n,
            n_separable=n_sep,
            n_attempts=len(outcomes),
            outcomes=vals,
            status_count=counts,
            statuses=tuple(st for _, st in outcomes),
        )


def _resolve_key(rng: Any) -> tuple[int, ...]:
    """Turn ``rng`` (int, SeedSequence, Generator or None) into an integer stream key."""
    if isinstance(rng, (bool, np.bool_)):
        raise TypeError("rng must be an int, SeedSequence, Generator or None; got a bool")
    if isinstance(rng, (int, np.integer)):
        if rng < 0:
            raise ValueError(f"rng seed must be non-negative; got {rng}")
        return (int(rng),)
    if isinstance(rng, np.random.SeedSequence):
        ent = rng.entropy
        ent = list(ent) if isinstance(ent, (list, tuple, np.ndarray)) else [int(ent)]
        return tuple(int(e) for e in ent) + tuple(int(k) for k in rng.spawn_key)
    if rng is None or isinstance(rng, np.random.Generator):
        g = np.random.default_rng(rng)
        return (int(g.integers(0, 2**63 - 1)),)
    raise TypeError(
        f"rng must be an int, SeedSequence, Generator or None; got {type(rng).__name__}"
    )


def separable_fraction(
    points: np.ndarray, n_features: int, *, rng: Any = None, **options
) -> FractionResult:
    """Fraction of random dichotomies that are separable with ``n`` random features (§3.3).

    Per repetition: a fresh random view of ``n_features`` features (Gaussian projection or
    neuron subset), random object labels, one exact separability decision over all valid
    samples. Repetitions continue until at least ``min_repetitions`` are decided and the
    standard error ``sqrt(p(1−p)/n_rep)`` is at most ``expected_precision``, or
    ``max_repetitions`` were drawn.

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)
        Missing samples are NaN columns.
    n_features : int
        ``n``, between 1 and ``n_neurons``.
    rng : int, SeedSequence, Generator or None
        Root of the per-repetition streams (keyword-only).
    **options
        See the module docstring.

    Returns
    -------
    FractionResult
    """
    opts = _check_options(options, where="separable_fraction")
    pts = _check_points(points)
    n_neurons = pts.shape[0]
    if isinstance(n_features, bool) or not isinstance(n_features, (int, np.integer)):
        raise TypeError(f"n_features must be an integer; got {n_features!r}")
    if not 1 <= n_features <= n_neurons:
        raise ValueError(
            f"n_features must be between 1 and n_neurons = {n_neurons}; got {n_features}"
        )
    problem = _prepare(pts, _resolve_key(rng), opts)
    runner = _Runner(problem, opts["jobs"])
    try:
        return _Estimator(problem, runner).estimate(int(n_features))
    finally:
        runner.close()


# ============================================================================ search


def default_jumps(n_neurons: int) -> int:
    """Coarse-scan step of ``check_binary_dichotomies_capacity2`` for ``n_neurons`` features."""
    if n_neurons < 100:
        return 10
    if n_neurons < 1024:
        return 100 if n_neurons % 100 == 0 else 128
    return 500 if n_neurons % 500 == 0 else 512


def search_critical_n(
    evaluate: Callable[[int], float],
    n_max: int,
    *,
    jumps: int,
    precision: int = 1,
    tails: bool = True,
) -> tuple[float, list[int]]:
    """The original's search for ``N_c`` (``check_binary_dichotomies_capacity2``, §3.2).

    Parameters
    ----------
    evaluate : callable
        ``evaluate(n) -> f(n)``; called at most once per ``n``.
    n_max : int
        Largest ``n`` (the number of neurons).
    jumps : int
        Coarse step.
    precision : int
        Bisection stops when the bracket is at most this wide.
    tails : bool
        Also probe the tails of the curve (phases b and c), as the original.

    Returns
    -------
    n_c : float
        Smallest probed ``n`` with ``f(n) ≥ 0.5`` (NaN if none).
    probes : list of int
        Probed ``n`` in order.
    """
    sep: dict[int, float] = {}
    probes: list[int] = []

    def probe(n: int) -> float:
        if n not in sep:
            sep[n] = float(evaluate(n))
            probes.append(n)
        return sep[n]

    coarse = sorted(set(list(range(jumps, n_max - n_max % jumps + 1, jumps)) + [n_max]))
    n = coarse[0]
    for n in coarse:
        if probe(n) == 1:
            break
    max_n = n
    zeros = [m for m, v in sep.items() if v == 0]
    min_n = max(zeros) if zeros else 0

    def extremes():
        finite = sorted((m, v) for m, v in sep.items() if not math.isnan(v))
        if not finite:
            return math.nan, 0, math.nan, 0
        min_v = min(v for _, v in finite)
        max_v = max(v for _, v in finite)
        min_i = next(m for m, v in finite if v == min_v)
        max_i = next(m for m, v in finite if v == max_v)
        return min_v, min_i, max_v, max_i

    min_v, min_i, max_v, max_i = extremes()
    n1 = n2 = None
    while True:
        cond_a = max_n - min_n > precision
        cond_b = tails and min_v > 0 and min_i - 1 > precision and math.ceil((min_i + 1) / 2) != n
        cond_c = (
            tails
            and max_v < 1
            and n_max - max_i > precision
            and math.ceil((max_i + n_max) / 2) != n
        )
        if cond_a:
            n = math.ceil((max_n + min_n) / 2)
        elif cond_b:
            n = math.ceil((min_i + 1) / 2)
        elif cond_c:
            n = math.ceil((max_i + n_max) / 2)
        else:
            break
        if n == n1 or n == n2:
            break
        value = probe(n)
        min_v, min_i, max_v, max_i = extremes()
        if cond_a:
            if value > 0.5:
                max_n = n
            else:
                min_n = n
        n2, n1 = n1, n
    crossing = [m for m in sorted(sep) if sep[m] >= 0.5]
    return (float(crossing[0]) if crossing else math.nan), probes


# ============================================================================ curve fit


def fit_transition(
    n_features: Sequence[float],
    n_separable: Sequence[int],
    n_repetitions: Sequence[int],
    *,
    confidence: float = 0.95,
) -> CurveFit:
    r"""Fit ``f(n) = Φ((n − N_c)/σ)`` to binomial counts by maximum likelihood.

    .. math::

        \ell(N_c, \sigma) = \sum_i k_i \log \Phi(z_i) + (m_i - k_i) \log \Phi(-z_i),
        \qquad z_i = (n_i - N_c)/\sigma,

    so each tested ``n`` weighs by its repetitions ``m_i``. The interval is where the profile
    deviance ``2[\ell_{max} - \max_\sigma \ell(N_c, \sigma)]`` stays below the χ²₁ quantile.

    Parameters
    ----------
    n_features, n_separable, n_repetitions : sequence of shape (n_tested,)
        Tested ``n``, separable counts ``k_i`` and decided repetitions ``m_i`` (entries with
        ``m_i = 0`` are ignored).
    confidence : float
        Level of the interval.

    Returns
    -------
    CurveFit

    Examples
    --------
    >>> fit = fit_transition([10, 20, 30], [5, 50, 95], [100, 100, 100])
    >>> round(fit.critical_n_features, 3)
    20.0
    """
    n = np.asarray(n_features, dtype=np.float64)
    k = np.asarray(n_separable, dtype=np.float64)
    m = np.asarray(n_repetitions, dtype=np.float64)
    if not (n.shape == k.shape == m.shape) or n.ndim != 1:
        raise ValueError("n_features, n_separable and n_repetitions must be 1-D of equal length")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    keep = m > 0
    n, k, m = n[keep], k[keep], m[keep]
    nan = math.nan
    if n.size == 0 or np.all(k == 0) or np.all(k == m):
        return CurveFit(nan, nan, nan, nan, confidence, "no_transition")
    span = float(n.max() - n.min()) or 1.0
    s_lo, s_hi = math.log(1e-3), math.log(10.0 * max(span, float(n.max())))
    step = not np.any((k > 0) & (k < m))

    def nll(c: float, log_s: float) -> float:
        z = (n - c) / math.exp(log_s)
        return -float(np.sum(k * sspec.log_ndtr(z) + (m - k) * sspec.log_ndtr(-z)))

    def profile(c: float) -> tuple[float, float]:
        res = sopt.minimize_scalar(
            lambda ls: nll(c, ls), bounds=(s_lo, s_hi), method="bounded", options={"xatol": 1e-6}
        )
        return float(res.fun), float(res.x)

    res = sopt.minimize_scalar(
        lambda c: profile(c)[0],
        bracket=None,
        bounds=(float(n.min()) - span, float(n.max()) + span),
        method="bounded",
        options={"xatol": 1e-6},
    )
    c_hat = float(res.x)
    best, log_s = profile(c_hat)
    # polish jointly (the bounded scalar search can stop on a flat plateau)
    joint = sopt.minimize(
        lambda t: nll(t[0], t[1]),
        x0=[c_hat, log_s],
        method="Nelder-Mead",
        options={"xatol": 1e-7, "fatol": 1e-10, "maxiter": 2000},
    )
    if joint.fun < best and s_lo <= joint.x[1] <= s_hi:
        c_hat, log_s, best = float(joint.x[0]), float(joint.x[1]), float(joint.fun)
    if not math.isfinite(best):
        return CurveFit(nan, nan, nan, nan, confidence, "failed")
    crit = float(sspec.chdtri(1, 1 - confidence))

    def excess(c: float) -> float:
        return 2.0 * (profile(c)[0] - best) - crit

    def bound(direction: float) -> float:
        limit = float(n.max()) * 2.0 if direction > 0 else 0.0
        width = max(math.exp(log_s), 0.5)
        prev = c_hat
        while True:
            nxt = c_hat + direction * width
            if (direction > 0 and nxt >= limit) or (direction < 0 and nxt <= limit):
                nxt = limit
            if excess(nxt) > 0:
                return float(sopt.brentq(excess, min(prev, nxt), max(prev, nxt), xtol=1e-6))
            if nxt == limit:
                return nan
            prev = nxt
            width *= 2.0

    lo, hi = bound(-1.0), bound(+1.0)
    return CurveFit(c_hat, lo, hi, math.exp(log_s), confidence, "step" if step else "ok")


# ============================================================================ N_c


def critical_capacity(points: np.ndarray, *, rng: Any = None, **options) -> CapacityResult:
    r"""Direct capacity ``α_c = P / N_c`` of manifolds given as an array (``analysis.md`` §3).

    Searches ``n`` as the original (coarse jumps until ``f(n) = 1``, bisection to
    ``precision``, optional tail probes; :func:`search_critical_n`), estimating each ``f(n)``
    with :func:`separable_fraction`'s adaptive repetitions. ``N_c`` is the smallest tested
    ``n`` with ``f(n) ≥ 0.5``; a probit fit of the whole curve gives a smooth ``N_c`` with a
    confidence interval (:func:`fit_transition`).

    Parameters
    ----------
    points : ndarray of shape (n_neurons, n_samples, n_objects)
        Responses; missing samples are NaN columns (dropped per object). No neuron filter is
        applied here (:func:`capacity` drops silent neurons); ``n_neurons`` bounds the search.
    rng : int, SeedSequence, Generator or None
        Root of the random streams (keyword-only). Repetition ``rep`` at ``n`` uses
        ``SeedSequence([*key, 0, n, rep])``, so results do not depend on ``jobs``; an int or a
        SeedSequence gives reproducible results.
    **options
        ``projection``, ``labels``, ``expected_precision``, ``min_repetitions``,
        ``max_repetitions``, ``precision``, ``jumps``, ``tails``, ``method``,
        ``cutting_plane``, ``max_samples``, ``nested``, ``control``, ``zscore``,
        ``gamma_tol``, ``projection_precision``, ``jobs``, ``progress`` (see the module
        docstring).

    Returns
    -------
    CapacityResult

    Notes
    -----
    Random points (one sample per object) in general position give ``α_c ≈ 2`` (Cover's
    theorem with a bias: ``f`` crosses ½ at ``P = 2(n + 1)``); ``D``-dimensional balls of
    radius ``R`` approach the ball capacity ``α_B(R, D)``, ``2/(D+1)`` for ``R = 1``.
    """
    t0 = time.perf_counter()
    opts = _check_options(options, where="critical_capacity")
    pts = _check_points(points)
    key = _resolve_key(rng)
    return _critical_capacity(pts, key, opts, t0=t0)


def _critical_capacity(
    pts: np.ndarray, key: tuple[int, ...], opts: dict, *, t0: float, desc: str = "capacity"
) -> CapacityResult:
    n_neurons = pts.shape[0]
    problem = _prepare(pts, key, opts)
    jumps = opts["jumps"] or default_jumps(n_neurons)
    runner = _Runner(problem, opts["jobs"])
    estimator = _Estimator(problem, runner)
    results: dict[int, FractionResult] = {}
    bar = None
    if opts["progress"]:
        from tqdm.auto import tqdm

        bar = tqdm(desc=desc, unit=" n", leave=False)

    def evaluate(n: int) -> float:
        res = estimator.estimate(n)
        results[n] = res
        if bar is not None:
            bar.update(1)
            bar.set_postfix(n=n, f=f"{res.fraction:.2f}", reps=res.n_repetitions)
        return res.fraction

    try:
        n_c, probes = search_critical_n(
            evaluate, n_neurons, jumps=jumps, precision=opts["precision"], tails=opts["tails"]
        )
    finally:
        runner.close()
        if bar is not None:
            bar.close()
    ns = np.array(sorted(results), dtype=np.int64)
    order = {n: i + 1 for i, n in enumerate(probes)}
    rs = [results[n] for n in ns]
    n_rep = np.array([r.n_repetitions for r in rs], dtype=np.int64)
    n_sep = np.array([r.n_separable for r in rs], dtype=np.int64)
    fit = fit_transition(ns, n_sep, n_rep)
    return CapacityResult(
        capacity=pts.shape[2] / n_c if math.isfinite(n_c) else math.nan,
        critical_n_features=n_c,
        fit=fit,
        n_objects=pts.shape[2],
        n_neurons=n_neurons,
        n_points=int(problem.x.shape[1]),
        rank=int(problem.rank),
        n_features=ns,
        fraction=np.array([r.fraction for r in rs], dtype=np.float64),
        n_repetitions=n_rep,
        n_separable=n_sep,
        n_attempts=np.array([r.n_attempts for r in rs], dtype=np.int64),
        probe_order=np.array([order[n] for n in ns], dtype=np.int64),
        status_count=np.array(
            [[r.status_count[s] for s in STATUSES] for r in rs], dtype=np.int64
        ).reshape(len(rs), len(STATUSES)),
        jumps=int(jumps),
        wall_time=time.perf_counter() - t0,
        options={k: v for k, v in opts.items() if k not in ("progress",)},
        repetitions={int(n): results[n] for n in ns},
    )


# ============================================================================ dataset level


def _result_dataset(res: CapacityResult) -> xr.Dataset:
    """Label one session's result (dims ``n_features``, ``status``, ``bound``)."""
    one = {"units": "1"}
    nf = "n_features"
    n_rep_max = int(res.options["max_repetitions"])
    outcome = np.full((len(res.n_features), n_rep_max), np.nan)
    for i, n in enumerate(res.n_features):
        vals = res.repetitions[int(n)].outcomes
        outcome[i, : len(vals)] = vals
    ds = xr.Dataset(
        {
            "capacity": (
                (),
                res.capacity,
                {
                    "long_name": "direct classification capacity alpha_c = P / N_c (first crossing)",
                    **one,
                },
            ),
            "critical_n_features": (
                (),
                res.critical_n_features,
                {
                    "long_name": "critical number of features N_c: smallest tested n with f(n) >= 0.5",
                    **one,
                },
            ),
            "critical_n_features_fit": (
                (),
                res.fit.critical_n_features,
                {"long_name": "N_c from a maximum-likelihood probit fit of f(n)", **one},
            ),
            "critical_n_features_fit_ci": (
                ("bound",),
                [res.fit.ci_low, res.fit.ci_high],
                {
                    "long_name": f"{res.fit.confidence:.0%} profile-likelihood interval of fitted N_c",
                    **one,
                },
            ),
            "capacity_fit": ((), res.capacity_fit, {"long_name": "P / fitted N_c", **one}),
            "capacity_fit_ci": (
                ("bound",),
                list(res.capacity_fit_ci),
                {"long_name": f"{res.fit.confidence:.0%} interval of P / fitted N_c", **one},
            ),
            "fit_width": (
                (),
                res.fit.width,
                {"long_name": "width sigma of the probit fit Phi((n - N_c)/sigma)", **one},
            ),
            "fit_status": (
                (),
                res.fit.status,
                {"long_name": "probit fit status (ok, step, no_transition, failed)"},
            ),
            "separable_fraction": (
                (nf,),
                res.fraction,
                {
                    "long_name": "fraction f(n) of random dichotomies that are linearly separable",
                    **one,
                },
            ),
            "n_repetitions": (
                (nf,),
                res.n_repetitions,
                {"long_name": "decided repetitions (random projections x labels) at n", **one},
            ),
            "n_separable": (
                (nf,),
                res.n_separable,
                {"long_name": "separable repetitions at n", **one},
            ),
            "n_attempts": (
                (nf,),
                res.n_attempts,
                {"long_name": "repetitions drawn at n (decided + failed)", **one},
            ),
            "probe_order": (
                (nf,),
                res.probe_order,
                {
                    "long_name": "order in which n was probed by the search (1-based; 0 = not probed)",
                    **one,
                },
            ),
            "outcome": (
                (nf, "repetition"),
                outcome,
                {
                    "long_name": "outcome of each repetition: 1 separable, 0 not separable, "
                    "NaN failed or not drawn",
                    **one,
                },
            ),
            "status_count": (
                (nf, "status"),
                res.status_count,
                {"long_name": "repetitions per decision status", **one},
            ),
            "n_objects": ((), res.n_objects, {"long_name": "number of objects P", **one}),
            "n_neurons": (
                (),
                res.n_neurons,
                {"long_name": "number of non-silent neurons N (largest n searched)", **one},
            ),
            "n_points": (
                (),
                res.n_points,
                {"long_name": "number of valid samples over all objects", **one},
            ),
            "basis_rank": (
                (),
                res.rank,
                {
                    "long_name": "rank of the centred samples if fewer samples than neurons, else N",
                    **one,
                },
            ),
            "jumps": ((), res.jumps, {"long_name": "coarse-scan step of the search", **one}),
            "wall_time": ((), res.wall_time, {"long_name": "wall-clock time", "units": "s"}),
        },
        coords={
            nf: (nf, res.n_features, {"long_name": "number of features n", **one}),
            "status": ("status", list(STATUSES), {"long_name": "decision status"}),
            "bound": ("bound", ["lower", "upper"]),
            "repetition": ("repetition", np.arange(n_rep_max)),
        },
    )
    return ds


def capacity(
    dataset: xr.Dataset,
    *,
    session: int | str | Sequence[int | str] | None = None,
    seed: int = 0,
    **options,
) -> xr.Dataset:
    """Direct capacity of the object manifolds of one or more sessions of a manifold dataset.

    Parameters
    ----------
    dataset : xarray.Dataset
        A manifold dataset (:mod:`dnn_manifolds.dataset`): ``tuning`` with dims
        ``(session, neuron, sample, object)``.
    session : int, str, sequence of them, or None
        Session title(s) or index(es). A single session gives an output without a ``session``
        dim (scalar ``session`` coordinate); a sequence or ``None`` (all sessions) gives a
        ``session`` dim.
    seed : int
        Base seed (non-negative). Session ``s`` (its index in the dataset) uses the stream key
        ``(seed, s)``, so a session's result does not depend on which others are analysed.
    **options
        See :func:`critical_capacity`.

    Returns
    -------
    xarray.Dataset
        Scalars ``capacity`` (α_c), ``critical_n_features`` (N_c), ``critical_n_features_fit``
        and ``capacity_fit`` with intervals over dim ``bound``, the curve
        ``separable_fraction`` with ``n_repetitions``, ``n_separable``, ``n_attempts``,
        ``probe_order`` over dim ``n_features``, ``status_count`` over (``n_features``,
        ``status``), ``n_objects``, ``n_neurons``, ``wall_time``; all options, the seed and
        provenance in attrs.
    """
    from . import dataset as dsmod

    opts = _check_options(options, where="capacity")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    titles = [str(t) for t in dataset["session"].values]
    single = session is not None and (isinstance(session, (str, int, np.integer)))
    if session is None:
        indices = list(range(len(titles)))
    elif single:
        indices = [dsmod.resolve_session(dataset, session)]
    else:
        indices = [dsmod.resolve_session(dataset, s) for s in session]
        if not indices:
            raise ValueError("session must name at least one session; got an empty list")
        if len(set(indices)) != len(indices):
            raise ValueError(f"session lists a session more than once: {list(session)}")
    parts = []
    for s in indices:
        t0 = time.perf_counter()
        values = dsmod.session_data(dataset, s)
        pts = _check_points(values)
        res = _critical_capacity(pts, (int(seed), int(s)), opts, t0=t0, desc=titles[s])
        part = _result_dataset(res)
        part = part.assign_coords(session=titles[s])
        for name in dsmod.SESSION_COORDS:
            if name in dataset.coords:
                part = part.assign_coords({name: str(dataset[name].values[s])})
        parts.append(part)
    if single:
        out = parts[0]
    else:
        fill = {
            name: 0
            for name in (
                "n_repetitions",
                "n_separable",
                "n_attempts",
                "probe_order",
                "status_count",
            )
        }
        out = xr.concat(
            parts,
            dim="session",
            join="outer",
            fill_value=fill,
            data_vars="all",
            coords="different",
            compat="equals",
        )
        for name in ("separable_fraction",):
            out[name].attrs = parts[0][name].attrs
    stored = {k: v for k, v in opts.items() if k != "progress"}
    out.attrs = dsmod.provenance_attrs(
        seeds={"capacity": int(seed)},
        config={"analysis": "capacity", **stored},
        analysis="direct classification capacity (analysis.md section 3)",
        seed=int(seed),
        options=json.dumps(stored, sort_keys=True),
        input_config_digest=str(dataset.attrs.get("config_digest", "")),
        stream_key="SeedSequence([seed, session_index, 0, n, rep])",
    )
    return out


# ============================================================================ CLI


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}") from err
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer; got {text!r}")
    return value


def _cli(args: argparse.Namespace) -> int:
    from . import dataset as dsmod
    from .cli import session_argument
    from .fileio import write_netcdf

    ds = dsmod.load_dataset(args.input)
    try:
        session = session_argument(args.session)
        if args.seed < 0:
            raise ValueError(f"--seed must be a non-negative integer; got {args.seed}")
        out = capacity(
            ds,
            session=session,
            seed=args.seed,
            projection=args.projection,
            labels=args.labels,
            method=args.method,
            control=args.control,
            zscore=args.zscore,
            cutting_plane=args.cutting_plane,
            nested=args.nested,
            tails=not args.no_tails,
            jobs=args.jobs,
            progress=not args.no_progress,
        )
        out.attrs["input_file"] = str(args.input)
        write_netcdf(out, args.output)
    finally:
        ds.close()
    return 0


def register_cli(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``capacity`` subcommand."""
    p = subparsers.add_parser(
        "capacity",
        help="direct classification capacity (N_c search over random projections)",
        description="Direct (simulated) capacity alpha_c = P / N_c of the object manifolds of a "
        "manifold dataset (Cohen et al. 2020). Writes a netCDF file atomically.",
    )
    p.add_argument("input", metavar="IN.nc", help="manifold dataset (netCDF)")
    p.add_argument("output", metavar="OUT.nc", help="output netCDF file")
    p.add_argument(
        "--session",
        action="append",
        metavar="S",
        help="session title or index; repeat for several (default: all sessions)",
    )
    p.add_argument("--seed", type=int, default=0, help="base random seed (default 0)")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        help="worker processes for the repetitions " "(default 1; results do not depend on it)",
    )
    p.add_argument("--control", choices=CONTROLS, default="none", help="control manipulation")
    p.add_argument("--zscore", action="store_true", help="z-score each neuron first")
    p.add_argument(
        "--projection",
        choices=PROJECTIONS,
        default="gaussian",
        help="random features: Gaussian projection (default) or neuron subsets",
    )
    p.add_argument("--labels", choices=LABELINGS, default="balanced", help="random labelling")
    p.add_argument(
        "--method",
        choices=METHODS,
        default="lp",
        help="separability solver: certified LP (default) or reference QP (slow)",
    )
    p.add_argument(
        "--cutting-plane", action="store_true", help="cutting plane over samples (same decisions)"
    )
    p.add_argument(
        "--nested",
        action="store_true",
        help="nested projections with the monotone shortcut (faster; correlated f(n))",
    )
    p.add_argument(
        "--no-tails", action="store_true", help="skip the tail probes after the bisection"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress display")
    p.set_defaults(func=_cli)
