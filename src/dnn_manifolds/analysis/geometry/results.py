"""One session's geometry as an :class:`xarray.Dataset`, labelled from the shared variable table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..variables import reasons_json, variable
from .anchors import ANCHOR_STATISTICS, SOLVER_STATUS
from .mft import ManifoldGeometryResult
from .options import HEADLINE

__all__ = ["LAYER_VARIABLES", "OBJECT_VARIABLES", "to_dataset"]

OBJECT_VARIABLES = (
    *ANCHOR_STATISTICS[:2],
    "capacity_ball",
    *ANCHOR_STATISTICS[2:],
    "participation_ratio",
    "spectral_radius",
    "spectral_radius_original",
    "centre_norm",
    "frame_dimension",
    "n_valid_samples",
)
"""Per-object output variables (over dim ``object``), besides the two headlines
``object_capacity`` and ``object_dimension``."""

LAYER_VARIABLES = (
    "capacity",
    "capacity_arithmetic_mean",
    "capacity_direct_harmonic",
    "capacity_semianalytic_harmonic",
    "capacity_ball_harmonic",
    "radius",
    "dimension",
    "centre_correlation",
    "residual_centre_correlation",
)
"""Layer aggregates (scalars per session)."""


def to_dataset(
    res: ManifoldGeometryResult,
    object_ids: Sequence[Any],
    object_labels: Sequence[Any],
    seed_entropy: Sequence[int],
) -> xr.Dataset:
    """Per-object variables over ``object``, layer aggregates as scalars, the centre-rank
    curves over ``k``, the correlation matrices over ``(object, object2)``, solver counts."""
    cres = res.centres

    def var(name, dims, values, **fmt):
        return variable(name, dims, values, analysis="geometry", **fmt)

    data: dict[str, Any] = {name: var(name, "object", res.objects[name]) for name in OBJECT_VARIABLES}
    cap_key, dim_key = HEADLINE[res.method]
    data["object_capacity"] = var(
        "object_capacity", "object", res.objects["object_capacity"], method=res.method, headline=cap_key
    )
    data["object_dimension"] = var(
        "object_dimension", "object", res.objects["object_dimension"], method=res.method, headline=dim_key
    )
    for name in LAYER_VARIABLES:
        data[name] = var(name, (), res.layer[name])
    data.update(
        n_common_directions=var("n_common_directions", (), cres.n_common),
        mean_abs_corrcoef=var("mean_abs_corrcoef", "k", cres.mean_abs_corrcoef),
        mean_square_corrcoef=var("mean_square_corrcoef", "k", cres.mean_square_corrcoef),
        residual_centre_norm=var("residual_centre_norm", ("k", "object"), cres.residual_norms),
        stiefel_n_iter=var("stiefel_n_iter", "k", cres.stiefel_n_iter),
        centre_correlation_matrix=var("centre_correlation_matrix", ("object", "object2"), cres.correlation_before),
        residual_centre_correlation_matrix=var(
            "residual_centre_correlation_matrix", ("object", "object2"), cres.correlation_after
        ),
        solver_count=var("solver_count", "solver_status", [res.solver_counts[s] for s in SOLVER_STATUS]),
        stiefel_converged=var("stiefel_converged", (), cres.stiefel_converged),
        stiefel_max_iter=var("stiefel_max_iter", (), cres.stiefel_max_iter),
        n_neurons=var("n_neurons", (), res.n_neurons),
        wall_time=var("wall_time", (), res.wall_time),
        seed_entropy=var("seed_entropy", (), json.dumps(list(seed_entropy))),
        object_reason=var("object_reason", "object", np.asarray(res.object_reason, dtype=object)),
        result_status=var("result_status", (), res.status),
    )
    sub = np.asarray(cres.subspace, dtype=np.float64)
    data["common_subspace"] = var("common_subspace", ("neuron_used", "common"), sub)
    if res.layer_per_subset is not None:
        n_sub = len(next(iter(res.layer_per_subset.values())))
        for name in LAYER_VARIABLES:
            values = res.layer_per_subset[name]
            data[f"{name}_per_subset"] = var(f"{name}_per_subset", "neuron_subset", values, measure=name)
            sem = float(np.std(values, ddof=1) / np.sqrt(n_sub)) if n_sub > 1 else float("nan")
            data[f"{name}_sem"] = var(f"{name}_sem", (), sem, measure=name)
        data["neurons_per_subset"] = var("neurons_per_subset", (), res.subset_size)
    data["reasons"] = var("reasons", (), reasons_json(data, res.reasons))
    coords = {
        "object": ("object", np.asarray(object_ids)),
        "object_label": ("object", np.asarray(object_labels, dtype=object)),
        "object2": ("object2", np.asarray(object_ids)),
        "k": ("k", cres.k),
        "solver_status": ("solver_status", np.array(SOLVER_STATUS, dtype=object)),
        "neuron_used": ("neuron_used", np.arange(sub.shape[0])),
        "common": ("common", np.arange(sub.shape[1])),
    }
    return xr.Dataset(data, coords=coords)
