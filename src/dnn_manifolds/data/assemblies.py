r"""Neural data as the field stores it: assemblies, point clouds, any array (``docs/data-model.md#data-assemblies``).

* :func:`from_assembly` / :func:`import_assembly` — an :class:`xarray.DataArray` (or a netCDF
  file of one) with a **presentation** dimension and a **neuroid** dimension, as Brain-Score /
  brainio distribute recordings: presentations are grouped into objects by a presentation
  coordinate (``object_coord``, e.g. ``object_name``); optionally neuroids (or presentations)
  into sessions by another (``session_coord``, e.g. ``region``); optionally repetitions
  of one stimulus averaged (``average_by``, e.g. ``stimulus_id``).
* :func:`from_point_clouds` — a list of per-object ``(N, M_i)`` arrays, as point-cloud code
  takes them.
* :func:`as_dataset` — whatever an analysis is given (a manifold dataset, a DataArray, an
  ``(N, M, P)`` array or a list of ``(N, M_i)`` arrays) as a manifold dataset; the analyses
  call it, so they accept all of these.

Missing combinations become the data model's NaN padding: an object with fewer presentations
than the largest gets missing samples, a session with fewer neuroids missing neurons. Anything
else gets the importers' one-line errors (:class:`~dnn_manifolds.data.ManifoldDataError`).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .dataset import DIMS, TUNING, ManifoldDataError, make_dataset
from .files import NETCDF_ENGINE
from .provenance import provenance_attrs

PRESENTATION = "presentation"
NEUROID = "neuroid"
OBJECT_COORD_GUESSES = ("object_name", "object", "object_label", "category_name")
"""Presentation coordinates :func:`as_dataset` takes as the objects when none is named."""

__all__ = ["as_dataset", "from_assembly", "from_point_clouds", "import_assembly", "stack_point_clouds"]


# ----------------------------------------------------------------------------- assemblies


def _coord(da: xr.DataArray, name: str, dims: Sequence[str], *, source: str, option: str) -> tuple[str, np.ndarray]:
    """The values of a 1-d coordinate along one of ``dims``, and that dim."""
    if name not in da.coords:
        along = {d: sorted(str(c) for c in da.coords if da.coords[c].dims == (d,) and c != d) for d in dims}
        raise ManifoldDataError(source, name, f"no such coordinate ({option}); the coordinates are {along}")
    coord = da.coords[name]
    if len(coord.dims) != 1 or coord.dims[0] not in dims:
        raise ManifoldDataError(source, name, f"must be a coordinate along {' or '.join(map(repr, dims))} ({option}); it is along {coord.dims}")
    values = np.asarray(coord.values)
    if values.dtype.kind == "f" and np.isnan(values).any():
        raise ManifoldDataError(source, name, f"has {int(np.isnan(values).sum())} missing (NaN) values ({option})")
    return str(coord.dims[0]), values


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


def _groups(values: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted unique values and, for each, the indices having it (in their order)."""
    uniq, inverse = np.unique(values, return_inverse=True)
    return uniq, [np.flatnonzero(inverse == k) for k in range(uniq.size)]


def from_assembly(
    assembly: xr.DataArray,
    *,
    object_coord: str,
    session_coord: str | None = None,
    average_by: str | None = None,
    presentation_dim: str = PRESENTATION,
    neuroid_dim: str = NEUROID,
    title: str | None = None,
    source: str = "<assembly>",
    attrs: dict[str, Any] | None = None,
) -> xr.Dataset:
    """A manifold dataset from a presentation × neuroid assembly.

    Parameters
    ----------
    assembly : xarray.DataArray
        Responses with dims ``presentation_dim`` and ``neuroid_dim`` (any order); other
        dims must have size 1 (e.g. one ``time_bin``) and are dropped. Coordinates may be
        plain or levels of a MultiIndex (brainio's in-memory assemblies).
    object_coord : str
        Presentation coordinate whose values are the objects (P = its distinct values, sorted);
        each object's presentations (or averaged stimuli) are its samples, in their order.
    session_coord : str, optional
        A neuroid coordinate (e.g. ``region``: each value's neuroids are one session, padded
        with missing neurons to the largest) or a presentation coordinate (e.g. a recording
        day: each value's presentations are one session). Sessions are titled by its values.
    average_by : str, optional
        Presentation coordinate identifying the stimulus (e.g. ``stimulus_id``): the
        presentations sharing a value are repetitions and are averaged (NaN-aware) into one
        sample. Each stimulus must belong to one object.
    presentation_dim, neuroid_dim : str
        Names of the two dims.
    title : str, optional
        Title of the single session when ``session_coord`` is not given (default: the
        assembly's name, else ``"assembly"``).
    source : str
        Origin, for error messages.

    Returns
    -------
    xarray.Dataset
        ``tuning`` (session, neuron, sample, object) with sample coordinate ``presentation``
        (session, sample, object: the index into ``presentation_dim`` of each sample — the
        first repetition when averaging — or −1 for padding) and, when averaging,
        ``n_repetitions``; object ids are the values of ``object_coord`` when they are
        integers, else 0 … P−1, with ``object_label`` the values.

    Raises
    ------
    ManifoldDataError
        Missing dims or coordinates, extra dims, a stimulus in two objects, or data that
        break the data model (fewer than 2 objects, scattered NaN, …).
    """
    if not isinstance(assembly, xr.DataArray):
        raise ManifoldDataError(source, "assembly", f"must be an xarray.DataArray; got {type(assembly).__name__}")
    variable = str(assembly.name) if assembly.name is not None else "assembly"
    for dim, option in ((presentation_dim, "presentation_dim"), (neuroid_dim, "neuroid_dim")):
        if dim not in assembly.dims:
            raise ManifoldDataError(source, variable, f"has no {dim!r} dimension ({option}); its dims are {tuple(map(str, assembly.dims))}")
    extra = [d for d in assembly.dims if d not in (presentation_dim, neuroid_dim)]
    big = {str(d): int(assembly.sizes[d]) for d in extra if assembly.sizes[d] != 1}
    if big:
        raise ManifoldDataError(
            source, variable,
            f"has further dims {big}; select or average them first (e.g. assembly.sel(time_bin=...) or .mean('time_bin'))",
        )
    da = assembly.squeeze([d for d in extra], drop=True) if extra else assembly
    pdims = (presentation_dim,)
    _, objects = _coord(da, object_coord, pdims, source=source, option="object_coord")
    session_dim, sessions = (None, None)
    if session_coord is not None:
        session_dim, sessions = _coord(da, session_coord, (presentation_dim, neuroid_dim), source=source, option="session_coord")
    stimuli = None
    if average_by is not None:
        _, stimuli = _coord(da, average_by, pdims, source=source, option="average_by")
    values = np.asarray(da.transpose(presentation_dim, neuroid_dim).values)
    if values.dtype.kind not in "biuf":
        raise ManifoldDataError(source, variable, f"must be numeric; got {values.dtype}")
    dtype = np.result_type(values.dtype, np.float32)
    n_pres, n_neuroids = values.shape

    # sessions: (title, neuroid indices, presentation indices)
    if sessions is None:
        name = title or (variable if assembly.name is not None else "assembly")
        parts = [(name, np.arange(n_neuroids), np.arange(n_pres))]
    else:
        uniq, groups = _groups(sessions)
        if session_dim == neuroid_dim:
            parts = [(str(u), g, np.arange(n_pres)) for u, g in zip(uniq, groups)]
        else:
            parts = [(str(u), np.arange(n_neuroids), g) for u, g in zip(uniq, groups)]
    obj_values, _ = _groups(objects)
    n_objects = obj_values.size

    samples = []  # per session: per object: list of (presentation indices of one sample)
    for s_title, _, pres in parts:
        per_object: list[list[np.ndarray]] = [[] for _ in range(n_objects)]
        obj_index = np.searchsorted(obj_values, objects[pres])
        if stimuli is None:
            for i, p in zip(pres, obj_index):
                per_object[p].append(np.array([i]))
        else:
            uniq_stim, first = np.unique(stimuli[pres], return_index=True)
            for k in np.argsort(first):  # stimuli in order of first appearance
                members = pres[stimuli[pres] == uniq_stim[k]]
                owners = np.unique(objects[members])
                if owners.size > 1:
                    raise ManifoldDataError(
                        source, average_by,
                        f"stimulus {_py(uniq_stim[k])!r} belongs to several objects {owners.tolist()} ({object_coord})",
                    )
                per_object[int(np.searchsorted(obj_values, owners[0]))].append(members)
        samples.append(per_object)
    n_neurons = max(len(neur) for _, neur, _ in parts)
    n_samples = max(1, max(len(lst) for per in samples for lst in per))
    tuning = np.full((len(parts), n_neurons, n_samples, n_objects), np.nan, dtype=dtype)
    pres_coord = np.full((len(parts), n_samples, n_objects), -1, dtype=np.int64)
    reps = np.zeros((len(parts), n_samples, n_objects), dtype=np.int64)
    for s, ((_, neur, _), per_object) in enumerate(zip(parts, samples)):
        for p, lst in enumerate(per_object):
            for m, members in enumerate(lst):
                block = values[np.ix_(members, neur)].astype(dtype)
                if members.size > 1:
                    with warnings.catch_warnings():  # an all-NaN column stays NaN, silently
                        warnings.simplefilter("ignore", RuntimeWarning)
                        row = np.nanmean(block, axis=0)
                else:
                    row = block[0]
                tuning[s, :neur.size, m, p] = row
                pres_coord[s, m, p] = members[0]
                reps[s, m, p] = members.size
    ids = obj_values.astype(np.int64) if obj_values.dtype.kind in "iu" else np.arange(n_objects)
    sample_coords: dict[str, Any] = {"presentation": (("session", "sample", "object"), pres_coord)}
    if stimuli is not None:
        sample_coords["n_repetitions"] = (("session", "sample", "object"), reps)
    base_attrs = provenance_attrs(source_format="assembly", object_coord=object_coord,
                                  session_coord=session_coord or "", average_by=average_by or "")
    base_attrs.update(attrs or {})
    return make_dataset(
        tuning,
        sessions=[t for t, _, _ in parts],
        object_ids=ids,
        object_labels=[str(v) for v in obj_values],
        sample_coords=sample_coords,
        attrs=base_attrs,
        source=source,
        variable=variable,
    )


def _open_netcdf(path: Path, variable: str) -> xr.Dataset:
    errors = []
    for engine in (NETCDF_ENGINE, "scipy"):  # netCDF-4/HDF5, then netCDF-3 classic
        try:
            return xr.open_dataset(path, engine=engine, cache=False)
        except Exception as err:  # several unrelated types for files of the other format
            errors.append(f"{engine}: {err}")
    raise ManifoldDataError(str(path), variable, f"cannot be read as netCDF ({'; '.join(errors)[:300]})")


def import_assembly(
    path: str | os.PathLike,
    *,
    object_coord: str,
    session_coord: str | None = None,
    average_by: str | None = None,
    variable: str | None = None,
    presentation_dim: str = PRESENTATION,
    neuroid_dim: str = NEUROID,
) -> xr.Dataset:
    """Read a netCDF assembly (e.g. a brainio ``.nc`` file) into a manifold dataset.

    ``variable`` names the data variable; by default the one variable with both dims. The
    other arguments are those of :func:`from_assembly`; the single session (without
    ``session_coord``) is titled by the variable's name.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    raw = _open_netcdf(path, variable or "assembly")
    with raw:
        both = [str(v) for v in raw.data_vars if {presentation_dim, neuroid_dim} <= set(raw[v].dims)]
        if variable is None:
            if len(both) != 1:
                raise ManifoldDataError(
                    str(path), "assembly",
                    f"{'no' if not both else 'several'} data variables have dims {presentation_dim!r} and "
                    f"{neuroid_dim!r} ({both or sorted(map(str, raw.data_vars))}); name one with --variable",
                )
            variable = both[0]
        if variable not in raw.data_vars:
            raise ManifoldDataError(str(path), variable, f"is missing; the file has {sorted(map(str, raw.data_vars))}")
        try:
            da = raw[variable].load()
        except (OSError, RuntimeError) as err:
            raise ManifoldDataError(str(path), variable, f"cannot be read: truncated or damaged ({err})") from err
    attrs = provenance_attrs(source_file=path.name, source_format="assembly", object_coord=object_coord,
                             session_coord=session_coord or "", average_by=average_by or "")
    name = variable if variable != "__xarray_dataarray_variable__" else path.stem
    return from_assembly(da, object_coord=object_coord, session_coord=session_coord, average_by=average_by,
                         presentation_dim=presentation_dim, neuroid_dim=neuroid_dim, title=name,
                         source=str(path), attrs=attrs)


# ----------------------------------------------------------------------------- point clouds, any input


def from_point_clouds(
    clouds: Sequence[np.ndarray],
    *,
    labels: Sequence[str] | None = None,
    title: str = "session #1",
    source: str = "<point clouds>",
) -> xr.Dataset:
    """A one-session manifold dataset from per-object ``(N, M_i)`` arrays.

    Objects with fewer samples than the largest are padded with missing (NaN) samples; all
    must have the same N (neurons, rows).
    """
    tuning = stack_point_clouds(clouds, source=source)
    return make_dataset(tuning, sessions=[title], object_labels=labels, source=source, variable="points")


def stack_point_clouds(clouds: Sequence[np.ndarray], *, source: str = "<point clouds>") -> np.ndarray:
    """Per-object ``(N, M_i)`` arrays as one ``(N, max M_i, P)`` array, NaN-padded samples.

    Raises
    ------
    ManifoldDataError
        If an entry is not a 2-d numeric array with samples, the N differ, or there are fewer
        than 2 objects.
    """
    clouds = list(clouds)
    arrays = []
    for i, cloud in enumerate(clouds):
        arr = np.asarray(cloud)
        if arr.ndim != 2:
            raise ManifoldDataError(source, f"object {i}", f"must be a 2-d (n_neurons, n_samples) array; got shape {arr.shape}")
        if arr.dtype.kind not in "biuf":
            raise ManifoldDataError(source, f"object {i}", f"must be numeric; got {arr.dtype}")
        if arr.shape[1] < 1:
            raise ManifoldDataError(source, f"object {i}", "has no samples (0 columns)")
        arrays.append(arr)
    if len(arrays) < 2:
        raise ManifoldDataError(source, "objects", f"needs at least 2 objects to form dichotomies; got {len(arrays)}")
    n = {a.shape[0] for a in arrays}
    if len(n) != 1:
        first = arrays[0].shape[0]
        bad = next(i for i, a in enumerate(arrays) if a.shape[0] != first)
        raise ManifoldDataError(
            source, f"object {bad}",
            f"has {arrays[bad].shape[0]} neurons (rows) but object 0 has {first}; every object needs the same N",
        )
    dtype = np.result_type(*[a.dtype for a in arrays], np.float32)
    m = max(a.shape[1] for a in arrays)
    tuning = np.full((arrays[0].shape[0], m, len(arrays)), np.nan, dtype=dtype)
    for p, a in enumerate(arrays):
        tuning[:, : a.shape[1], p] = a
    return tuning


def as_dataset(data: Any, *, source: str = "<data>") -> xr.Dataset:
    """What an analysis is given, as a manifold dataset.

    Parameters
    ----------
    data : xarray.Dataset, xarray.DataArray, ndarray or list of ndarray
        * a manifold dataset (returned as it is);
        * a DataArray with dims ``(neuron, sample, object)`` or ``(session, neuron, sample,
          object)`` (any order), or an assembly with ``presentation`` and ``neuroid`` dims
          and one of the presentation coordinates :data:`OBJECT_COORD_GUESSES` (use
          :func:`from_assembly` to choose the coordinates yourself);
        * an array of shape (N, M, P) or (S, N, M, P);
        * a list of per-object (N, M_i) arrays (:func:`from_point_clouds`).

    Raises
    ------
    ManifoldDataError
        If ``data`` is none of these or breaks the data model.
    """
    if isinstance(data, xr.Dataset):
        return data
    if isinstance(data, xr.DataArray):
        dims = set(map(str, data.dims))
        if {"neuron", "sample", "object"} <= dims and dims <= set(DIMS):
            order = [d for d in DIMS if d in dims]
            da = data.transpose(*order)
            labels = [str(v) for v in da["object_label"].values] if "object_label" in da.coords else None
            ids = np.asarray(da["object"].values) if "object" in da.coords and da["object"].dtype.kind in "iu" else None
            titles = None
            if "session" in da.coords:
                titles = [str(v) for v in np.atleast_1d(da["session"].values)]
            return make_dataset(da.values, sessions=titles, object_ids=ids, object_labels=labels,
                                source=source, variable=str(data.name or TUNING))
        if {PRESENTATION, NEUROID} <= dims:
            guess = next((c for c in OBJECT_COORD_GUESSES if c in data.coords and data.coords[c].dims == (PRESENTATION,)), None)
            if guess is None:
                raise ManifoldDataError(
                    source, str(data.name or "assembly"),
                    f"a presentation × neuroid assembly needs its objects: none of the presentation coordinates "
                    f"{list(OBJECT_COORD_GUESSES)} exists; use dnn_manifolds.data.from_assembly(assembly, object_coord=...)",
                )
            return from_assembly(data, object_coord=guess, source=source)
        raise ManifoldDataError(
            source, str(data.name or "data"),
            f"a DataArray needs dims (neuron, sample, object) [with session], or presentation and neuroid; "
            f"got {tuple(map(str, data.dims))}",
        )
    if isinstance(data, np.ndarray):
        return make_dataset(data, source=source, variable="array")
    if isinstance(data, (list, tuple)) and data and all(hasattr(c, "shape") or isinstance(c, (list, tuple)) for c in data):
        return from_point_clouds(data, source=source)
    raise ManifoldDataError(
        source, "data",
        "expected a manifold dataset (xarray.Dataset), a DataArray, an (N, M, P) array or a list of (N, M_i) "
        f"arrays; got {type(data).__name__}",
    )
