"""One entry point for a user's data file, whatever its form (``docs/data-model.md#data-assemblies``).

:func:`import_any` reads an assembly when ``object_coord`` is given
(:func:`~dnn_manifolds.data.assemblies.import_assembly`), a feature matrix when ``labels`` or
``labels_column`` is given (:func:`~dnn_manifolds.data.features.import_features`), and
otherwise the formats of :func:`~dnn_manifolds.data.importers.import_data`. The command line
(``dnn-manifolds import``) and the workflow (``own_data.inputs``) both use it.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from ..errors import UserError
from .assemblies import NEUROID, PRESENTATION, import_assembly
from .dataset import ManifoldDataError
from .features import import_features
from .importers import DATA_VARIABLE, import_data

__all__ = ["import_any"]

ASSEMBLY_KEYS = ("object_coord", "session_coord", "average_by", "presentation_dim", "neuroid_dim")
FEATURE_KEYS = ("labels", "labels_column", "labels_from")


def import_any(
    path: str | os.PathLike,
    *,
    variable: str | None = None,
    object_coord: str | None = None,
    session_coord: str | None = None,
    average_by: str | None = None,
    presentation_dim: str = PRESENTATION,
    neuroid_dim: str = NEUROID,
    labels: str | os.PathLike | None = None,
    labels_column: str | None = None,
    labels_from: str = "value",
) -> xr.Dataset:
    """Read a user's data file into a manifold dataset (see the module docstring).

    Raises
    ------
    UserError
        When assembly and feature options are mixed, or options are given that the chosen
        form does not use.
    ManifoldDataError
        From the importer; a netCDF assembly read without ``object_coord`` says so.
    """
    assembly = object_coord is not None
    features = labels is not None or labels_column is not None
    if assembly and features:
        raise UserError("object_coord (an assembly) and labels / labels_column (features) exclude each other")
    if not assembly and (session_coord or average_by):
        raise UserError("session_coord and average_by need object_coord (an assembly)")
    if assembly:
        return import_assembly(path, object_coord=object_coord, session_coord=session_coord, average_by=average_by,
                               variable=variable, presentation_dim=presentation_dim, neuroid_dim=neuroid_dim)
    if features:
        return import_features(path, labels, labels_column=labels_column, labels_from=labels_from, variable=variable)
    try:
        return import_data(path, variable=variable or DATA_VARIABLE)
    except ManifoldDataError as err:
        hint = _assembly_hint(Path(path), presentation_dim, neuroid_dim)
        if hint:
            raise ManifoldDataError(err.source, err.variable, f"{err.problem}; {hint}") from err
        raise


def _assembly_hint(path: Path, presentation_dim: str, neuroid_dim: str) -> str | None:
    """A hint when a netCDF file without ``tuning`` is a presentation × neuroid assembly."""
    if path.suffix.lower() not in (".nc", ".nc4", ".netcdf", ".h5"):
        return None
    try:
        with xr.open_dataset(path, engine="h5netcdf", cache=False) as raw:
            for name, var in raw.data_vars.items():
                if {presentation_dim, neuroid_dim} <= set(var.dims):
                    coords = sorted(str(c) for c in raw.coords if raw.coords[c].dims == (presentation_dim,))
                    return (f"{name!r} is a {presentation_dim} × {neuroid_dim} assembly: name the presentation "
                            f"coordinate of its objects with object_coord (--object-coord), one of {coords}")
    except Exception:  # not readable as netCDF-4: the importer's own message stands
        return None
    return None
