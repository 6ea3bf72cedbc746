"""The variables the analyses write: one table of names, meanings and units for both.

Every output variable of :func:`~dnn_manifolds.analysis.capacity.capacity` and
:func:`~dnn_manifolds.analysis.geometry.geometry` is labelled from :data:`VARIABLES` through
:func:`variable`, so a name has one meaning across the package, and the tidy tables'
``long_name`` column comes from here too. A ``long_name`` may hold ``{placeholders}`` filled
per output (the confidence level of an interval, the method of a headline).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["UNEXPLAINED", "VARIABLES", "Variable", "reasons_json", "variable"]


class Variable(NamedTuple):
    """Meaning of one output variable."""

    long_name: str
    units: str = "1"


VARIABLES: dict[str, Variable] = {
    # ------------------------------------------------------------------ shared
    "n_objects": Variable("number of objects P"),
    "n_neurons": Variable("number of non-silent neurons N used"),
    "wall_time": Variable("wall-clock time of the computation", "s"),
    "result_status": Variable("status of the result: ok, or a word for what went wrong (see reasons)", ""),
    "reasons": Variable(
        "JSON object: scalar result -> why its value is NaN or must not be trusted", ""
    ),
    # ------------------------------------------------------------------ direct capacity
    "capacity_direct_first_crossing": Variable(
        "direct classification capacity alpha_c = P / N_c (first crossing)"
    ),
    "critical_n_features": Variable(
        "critical number of features N_c: smallest tested n with f(n) >= 0.5"
    ),
    "critical_n_features_fit": Variable("N_c from a maximum-likelihood probit fit of f(n)"),
    "critical_n_features_fit_ci": Variable(
        "{confidence:.0%} profile-likelihood interval of fitted N_c"
    ),
    "capacity_fit": Variable("P / fitted N_c"),
    "capacity_fit_ci": Variable("{confidence:.0%} interval of P / fitted N_c"),
    "fit_width": Variable("width sigma of the probit fit Phi((n - N_c)/sigma)"),
    "fit_status": Variable("probit fit status (ok, step, no_transition, failed)", ""),
    "separable_fraction": Variable(
        "fraction f(n) of random dichotomies that are linearly separable"
    ),
    "n_repetitions": Variable("decided repetitions (random projections x labels) at n"),
    "n_separable": Variable("separable repetitions at n"),
    "n_attempts": Variable("repetitions drawn at n (decided + failed)"),
    "probe_order": Variable(
        "order in which n was probed by the search (1-based; 0 = not probed)"
    ),
    "outcome": Variable(
        "outcome of each repetition: 1 separable, 0 not separable, NaN failed or not drawn"
    ),
    "status_count": Variable("repetitions per decision status"),
    "n_points": Variable("number of valid samples over all objects"),
    "basis_rank": Variable(
        "rows of the projection basis: rank of the median-centred samples at the data's precision"
    ),
    "jumps": Variable("coarse-scan step of the search"),
    "ball_dimension": Variable("dimension of each ball (balls control: rounded measured D_M)"),
    "ball_radius": Variable("absolute radius of each ball (measured R_M times residual centre norm)", "response units"),
    "mean_ball_dimension": Variable("mean dimension of the balls (balls control)"),
    # ------------------------------------------------------------------ geometry, per object
    "capacity_direct": Variable("manifold capacity, direct MFT estimate 1/<Delta>"),
    "capacity_semianalytic": Variable(
        "manifold capacity, semi-analytic 1/<1/(alpha0(t.ds+kappa)(1+|ds|^2))> (alphac_hat)"
    ),
    "capacity_ball": Variable("capacity of a ball with the manifold's radius and dimension"),
    "anchor_radius": Variable(
        "manifold radius R_M = sqrt<|ds|^2> (anchor points, relative to the centre norm)"
    ),
    "anchor_dimension": Variable("manifold dimension D_M = <(t.ds)^2/|ds|^2> (effective_dimension)"),
    "dimension_cosine": Variable("manifold dimension D<t.ds/(|T||ds|)>^2 (effective_dimension2)"),
    "dimension_point_cloud": Variable(
        "manifold dimension D<t_hat.s_hat>^2, uncentred anchors (point-cloud D_M)"
    ),
    "anchor_half_width": Variable("mean half-width <t.ds> (anchor points)"),
    "radius_gaussian": Variable("Gaussian radius sqrt<|ds|^2> of the argmax points"),
    "half_width_gaussian": Variable("Gaussian half-width <t.ds> of the argmax points"),
    "dimension_gaussian": Variable("Gaussian dimension (half_width_gaussian/radius_gaussian)^2"),
    "interior_fraction": Variable("fraction of Gaussian draws in the interior regime"),
    "participation_ratio": Variable("participation-ratio dimension (sum lambda)^2/sum lambda^2"),
    "spectral_radius": Variable("spectral radius sqrt(sum lambda)/|c| (RMS radius)"),
    "spectral_radius_original": Variable(
        "spectral radius as the original: sqrt(sum lambda^2)/|c|^2"
    ),
    "centre_norm": Variable("norm of the object centre after removing the common subspace"),
    "frame_dimension": Variable("rank D of the centred manifold (manifold coordinates)"),
    "n_valid_samples": Variable("number of valid (non-NaN) samples"),
    "object_capacity": Variable(
        "manifold capacity per object (headline of method {method}: {headline})"
    ),
    "object_dimension": Variable(
        "manifold dimension per object (headline of method {method}: {headline})"
    ),
    # ------------------------------------------------------------------ geometry, layer
    "capacity_mft": Variable(
        "manifold capacity alpha_M of the layer: harmonic mean of object_capacity"
    ),
    "capacity_arithmetic_mean": Variable(
        "arithmetic mean of object_capacity (what the original convnet driver stored)"
    ),
    "capacity_direct_harmonic": Variable("harmonic mean of capacity_direct"),
    "capacity_semianalytic_harmonic": Variable("harmonic mean of capacity_semianalytic"),
    "capacity_ball_harmonic": Variable("harmonic mean of capacity_ball"),
    "radius": Variable("manifold radius R_M of the layer: mean of anchor_radius over objects"),
    "dimension": Variable("manifold dimension D_M of the layer: mean of object_dimension"),
    "centre_correlation": Variable("mean |correlation| of object centres before removal (k = 0)"),
    "residual_centre_correlation": Variable(
        "mean |correlation| of residual centres after removing n_common_directions"
    ),
    "n_common_directions": Variable("K, common centre directions removed"),
    "mean_abs_corrcoef": Variable(
        "mean |correlation| of residual centres after removing k directions"
    ),
    "mean_square_corrcoef": Variable(
        "mean squared correlation of residual centres after removing k directions"
    ),
    "residual_centre_norm": Variable(
        "norm of the residual centre after removing k directions", "response units"
    ),
    "stiefel_n_iter": Variable("optimiser iterations of the kept start"),
    "centre_correlation_matrix": Variable("cosine similarity of globally centred object centres"),
    "residual_centre_correlation_matrix": Variable(
        "cosine similarity of residual centres (common subspace removed)"
    ),
    "solver_count": Variable("Gaussian draws per anchor-point solver outcome"),
    "stiefel_converged": Variable("optimiser runs that converged"),
    "stiefel_max_iter": Variable("optimiser runs stopped by the iteration limit"),
    "common_subspace": Variable(
        "orthonormal basis of the common centre subspace removed (rows: the session's non-silent neurons)"
    ),
    "neurons_per_subset": Variable("neurons in each random neuron subset"),
    "object_reason": Variable("why the object's quantities are NaN (empty where defined)", ""),
    "seed_entropy": Variable("numpy SeedSequence entropy of this session's stream", ""),
}
"""Name → meaning of every analysis output variable.

Two entries are stored under another name: both analyses call their headline ``capacity``
(α_c and α_M); they are labelled by ``capacity_direct_first_crossing`` and ``capacity_mft``
(see :data:`ALIASES`).
"""

ALIASES = {"capacity": {"capacity": "capacity_direct_first_crossing", "geometry": "capacity_mft"}}
"""Variables whose meaning depends on the analysis: name → analysis → table entry."""


_DERIVED = {
    "_per_subset": "{} (per random neuron subset)",
    "_sem": "standard error over random neuron subsets of: {}",
}
"""Suffixes of variables derived from another one (``measure=`` names it)."""


def variable(
    name: str, dims: str | tuple[str, ...], values: Any, *, analysis: str | None = None, **fmt: Any
) -> tuple[tuple[str, ...], Any, dict[str, str]]:
    """``(dims, values, attrs)`` for :class:`xarray.Dataset`, labelled from :data:`VARIABLES`.

    Parameters
    ----------
    name : str
        Variable name (a key of :data:`VARIABLES`, or of :data:`ALIASES` with ``analysis``).
    dims : str or tuple of str
        Its dimensions (``()`` for a scalar).
    values : array-like
    analysis : str, optional
        Needed for the names in :data:`ALIASES`.
    **fmt
        Values of the ``{placeholders}`` of the long name.
    """
    key = ALIASES.get(name, {}).get(analysis or "", name)
    for suffix, template in _DERIVED.items():
        if key not in VARIABLES and key.endswith(suffix) and "measure" in fmt:
            base = fmt["measure"]
            meta = VARIABLES[ALIASES.get(base, {}).get(analysis or "", base)]
            attrs = {"long_name": template.format(meta.long_name)}
            if meta.units:
                attrs["units"] = meta.units
            dims = (dims,) if isinstance(dims, str) else tuple(dims)
            return dims, np.asarray(values), attrs
    if key not in VARIABLES:
        raise KeyError(f"no metadata for output variable {name!r} (analysis {analysis!r})")
    meta = VARIABLES[key]
    attrs = {"long_name": meta.long_name.format(**fmt) if fmt else meta.long_name}
    if meta.units:
        attrs["units"] = meta.units
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    return dims, np.asarray(values) if not isinstance(values, str) else values, attrs


UNEXPLAINED = "NaN without a recorded reason"
"""Reason given to a NaN scalar that the analysis did not explain (never expected: the tests
check that every NaN of the hard cases has a specific reason)."""


def reasons_json(data: dict[str, tuple], reasons: dict[str, str]) -> str:
    """The ``reasons`` variable: ``reasons`` plus an entry for every 0-d numeric NaN in
    ``data`` (``name -> (dims, values, attrs)``) that has none, as sorted JSON."""
    import json

    out = {k: v for k, v in reasons.items() if v}
    for name, (dims, values, _attrs) in data.items():
        if dims or isinstance(values, str):
            continue
        arr = np.asarray(values)
        if arr.dtype.kind == "f" and np.isnan(arr) and name not in out:
            out[name] = UNEXPLAINED
    return json.dumps(out, sort_keys=True)
