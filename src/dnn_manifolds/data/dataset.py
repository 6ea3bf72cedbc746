r"""The manifold dataset: responses of neurons to samples of object manifolds, as xarray.

Data model
----------
One :class:`xarray.Dataset` holds everything an analysis needs. Its main variable,
``tuning`` (float32, or float64 when float32 would change the data: :func:`storage_dtype`),
has the dimensions

``(session, neuron, sample, object)``  — S × N × M × P,

the same array as the original's ``tuning_function [N_SESSIONS, N_NEURONS, N_SAMPLES,
N_OBJECTS]`` (``docs/data-model.md#data-import-matlab``). A *session* is one independent population: a
(network, layer, transform) combination for DNN data, or one recording session for a user's
own data. Each object's ``M`` samples are the points of its manifold.

Missing values
--------------
NaN marks *missing* entries, and only where the original allows them:

* a **missing neuron**: a session with fewer neurons than the largest is padded with NaN
  neurons (the whole neuron is NaN in that session, for every sample and object);
* a **missing sample**: an object with fewer samples than the largest is padded with NaN
  samples (the whole sample is NaN for that object in that session, for every neuron).

Any other NaN (a scattered missing value), and any ±Inf, is rejected by
:func:`validate_dataset`. Every object must have at least one valid sample in every session,
there must be at least two objects, and every session must have at least one non-silent
neuron.

Silent neurons
--------------
A neuron is *silent* in a session when its mean square response over the session's valid
(sample, object) entries is zero (or it is missing); :func:`session_data` drops silent neurons,
as the original's filter does (``docs/data-model.md#data-silent-neurons``). **Deliberate deviation:** the original
averages over objects without skipping NaN and then over samples with ``nanmean``, so when
missing samples are scattered such that every sample index is missing for some object, every
neuron is dropped. We average over all valid entries instead, which agrees with the original
whenever the original keeps any neuron and does not discard a whole session in the edge case.

Coordinates
-----------
``session`` (str titles, unique), optional per-session ``network``, ``layer``, ``transform``;
``object`` (int ids) with ``object_label`` (str); ``sample`` (int index) with optional
transform-parameter coordinates over ``(session, sample)`` or ``(session, sample, object)``.

Provenance
----------
Attributes (netCDF-safe: strings and numbers; dicts are JSON strings): ``dnn_manifolds_version``,
``created``, ``seeds`` (JSON), ``config_digest`` and whatever the producer adds
(see :func:`provenance_attrs`).

On disk
-------
netCDF-4 (HDF5) via h5netcdf, zlib+shuffle compressed, ``tuning`` chunked one session per
chunk so that reading one session reads only its chunk. Written atomically
(:mod:`dnn_manifolds.data.storage`, through :func:`dnn_manifolds.data.files.write_netcdf`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from ..errors import UserError
from .provenance import provenance_attrs

TUNING = "tuning"
"""Name of the main variable."""

DIMS = ("session", "neuron", "sample", "object")
"""Dimensions of the main variable, in order."""

TUNING_ATTRS = {"long_name": "response of each neuron to each sample of each object", "units": "1"}
"""Attributes of the main variable."""

SESSION_COORDS = ("network", "layer", "transform")
"""Optional per-session string coordinates used for DNN data."""


class ManifoldDataError(UserError):
    """Bad manifold data. The message is one line: ``SOURCE: variable 'VAR': PROBLEM``.

    Attributes
    ----------
    source : str
        The file (or other origin) the data came from.
    variable : str
        The variable that is wrong.
    problem : str
        What is wrong with it.
    """

    def __init__(self, source: str, variable: str, problem: str):
        self.source = str(source)
        self.variable = str(variable)
        self.problem = str(problem)
        super().__init__(f"{self.source}: variable '{self.variable}': {self.problem}")


# ----------------------------------------------------------------------------- building


def make_dataset(
    tuning: np.ndarray,
    *,
    sessions: Sequence[str] | None = None,
    object_ids: Sequence[int] | None = None,
    object_labels: Sequence[str] | None = None,
    session_coords: Mapping[str, Sequence[str]] | None = None,
    sample_coords: Mapping[str, tuple[Sequence[str], np.ndarray]] | None = None,
    attrs: Mapping[str, Any] | None = None,
    source: str = "<array>",
    variable: str = TUNING,
    dtype: str = "auto",
) -> xr.Dataset:
    """Build and validate a manifold dataset.

    Parameters
    ----------
    tuning : array-like of shape (n_sessions, n_neurons, n_samples, n_objects) or (n_neurons, n_samples, n_objects)
        Responses (numbers or logical 0/1). A 3-D array is one session.
    sessions : sequence of str, optional
        One unique title per session; default ``"session #1"``, ``"session #2"``, … as the
        original.
    object_ids : sequence of int, optional
        Object identifiers (e.g. template image indices); default ``0 … P-1``.
    object_labels : sequence of str, optional
        Object names (e.g. categories); default ``"object #<id>"``.
    session_coords : mapping of str to sequence of str, optional
        Extra per-session coordinates, e.g. ``{"network": [...], "layer": [...],
        "transform": [...]}``.
    sample_coords : mapping of str to (dims, array), optional
        Sample coordinates such as transform parameters, each with dims drawn from
        ``("session", "sample", "object")`` plus, optionally, a trailing ``"param"`` dim.
    attrs : mapping, optional
        Dataset attributes (provenance). Defaults to :func:`provenance_attrs`.
    source : str
        Where the data came from, used in error messages.
    variable : str
        Name of the data variable in the source (e.g. ``tuning_function``), used in error
        messages.
    dtype : {"auto", "float32", "float64"}
        Storage precision of ``tuning``. ``"auto"`` keeps float32 unless that would change the
        data (:func:`storage_dtype`; the reason for float64 is recorded in the attribute
        ``tuning_precision``); ``"float32"`` rounds regardless.

    Returns
    -------
    xarray.Dataset
        Validated dataset with variable ``tuning`` of dims :data:`DIMS`.

    Raises
    ------
    ManifoldDataError
        If the data break a rule of the data model (see the module docstring).
    """
    arr, why = _as_float_array(tuning, source=source, variable=variable, dtype=dtype)
    if arr.ndim == 3:
        arr = arr[np.newaxis]
    if arr.ndim != 4:
        raise ManifoldDataError(
            source,
            variable,
            f"must have 3 dimensions (neuron, sample, object) or 4 (session, neuron, sample, "
            f"object); got {arr.ndim} dimensions, shape {tuple(arr.shape)}",
        )
    n_sessions, n_neurons, n_samples, n_objects = arr.shape
    coords = _coords(
        arr.shape,
        sessions=sessions,
        object_ids=object_ids,
        object_labels=object_labels,
        session_coords=session_coords,
        sample_coords=sample_coords,
        source=source,
    )

    ds = xr.Dataset(
        {TUNING: (DIMS, arr, dict(TUNING_ATTRS))},
        coords=coords,
        attrs=dict(attrs) if attrs is not None else provenance_attrs(),
    )
    if why:
        ds.attrs["tuning_precision"] = f"float64: {why}"
    validate_dataset(ds, source=source, variable=variable)
    return ds


def _coords(
    shape: tuple[int, int, int, int],
    *,
    sessions,
    object_ids,
    object_labels,
    session_coords,
    sample_coords,
    source: str,
) -> dict[str, Any]:
    """The coordinates of a dataset of ``shape`` (session, neuron, sample, object), checked."""
    n_sessions, n_neurons, n_samples, n_objects = shape
    if sessions is None:
        sessions = [f"session #{s + 1}" for s in range(n_sessions)]
    sessions = [str(s) for s in sessions]
    if len(sessions) != n_sessions:
        raise ManifoldDataError(
            source,
            "data_titles",
            f"has {len(sessions)} titles but the data have {n_sessions} sessions",
        )
    if len(set(sessions)) != len(sessions):
        dup = sorted({s for s in sessions if sessions.count(s) > 1})
        raise ManifoldDataError(source, "data_titles", f"titles must be unique; repeated: {dup}")
    if object_ids is None:
        object_ids = np.arange(n_objects)
    object_ids = np.asarray(object_ids)
    if object_ids.shape != (n_objects,):
        raise ManifoldDataError(
            source, "object_ids", f"needs {n_objects} ids (one per object); got {object_ids.size}"
        )
    if object_labels is None:
        object_labels = [f"object #{int(i)}" for i in object_ids]
    object_labels = [str(lab) for lab in object_labels]
    if len(object_labels) != n_objects:
        raise ManifoldDataError(
            source,
            "object_labels",
            f"needs {n_objects} labels (one per object); got {len(object_labels)}",
        )

    coords: dict[str, Any] = {
        "session": ("session", np.array(sessions, dtype=object)),
        "neuron": ("neuron", np.arange(n_neurons)),
        "sample": ("sample", np.arange(n_samples)),
        "object": ("object", object_ids),
        "object_label": ("object", np.array(object_labels, dtype=object)),
    }
    for name, values in (session_coords or {}).items():
        values = [str(v) for v in values]
        if len(values) != n_sessions:
            raise ManifoldDataError(
                source, name, f"needs {n_sessions} values (one per session); got {len(values)}"
            )
        coords[name] = ("session", np.array(values, dtype=object))
    for name, (dims, values) in (sample_coords or {}).items():
        coords[name] = (tuple(dims), np.asarray(values))
    return coords


FLOAT32_TOLERANCE = 1e-5
"""Largest change that storing in float32 may make to a value, relative to the range of its
neuron in its session (``docs/data-model.md#data-precision``); beyond it the data are kept in
float64."""

DTYPES = ("auto", "float32", "float64")
"""Storage choices of :func:`make_dataset`."""


def storage_dtype(arr: np.ndarray) -> tuple[np.dtype, str]:
    """The dtype a tuning array needs, and why (``docs/data-model.md#data-precision``).

    float32 when the data are float32 (or smaller) already, or when rounding them to float32
    changes no value by more than :data:`FLOAT32_TOLERANCE` of its neuron's range in its
    session (max − min over valid entries), overflows nothing and moves no nonzero value into
    float32's subnormal range or to zero; float64 otherwise. ``arr`` has shape
    (session, neuron, sample, object) and is finite except for NaN.
    """
    if arr.size == 0 or arr.dtype.kind == "b" or (arr.dtype.kind == "f" and arr.dtype.itemsize <= 4):
        return np.dtype(np.float32), ""
    if arr.dtype.kind in "iu" and arr.size and int(np.abs(arr).max()) <= 2**24:
        return np.dtype(np.float32), ""
    x = np.asarray(arr, dtype=np.float64)
    tiny = float(np.finfo(np.float32).tiny)
    big = float(np.finfo(np.float32).max)
    with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN (missing) neurons
        mag = np.abs(x)
        if np.any(mag > big):
            return np.dtype(np.float64), (
                f"values up to {np.nanmax(mag):.3g} exceed float32's range (3.4e38)"
            )
        small = (mag < tiny) & (mag > 0)
        if small.any():
            return np.dtype(np.float64), (
                f"{int(small.sum())} nonzero values below {tiny:.3g} (e.g. "
                f"{float(x[small].flat[0]):.3g}) would underflow in float32"
            )
        err = np.abs(x.astype(np.float32).astype(np.float64) - x)
        lo = np.nanmin(x, axis=(2, 3), keepdims=True)
        hi = np.nanmax(x, axis=(2, 3), keepdims=True)
        span = np.where(np.isfinite(hi - lo), hi - lo, 0.0)
        worst = np.nanmax(np.where(span > 0, err / np.where(span > 0, span, 1.0), 0.0))
    if worst > FLOAT32_TOLERANCE:
        return np.dtype(np.float64), (
            f"float32 would change values by up to {worst:.2g} of their neuron's range "
            f"(tolerance {FLOAT32_TOLERANCE:g})"
        )
    return np.dtype(np.float32), ""


def _as_float_array(
    values: Any, *, source: str, variable: str, dtype: str = "auto"
) -> tuple[np.ndarray, str]:
    """Convert to the storage float array (see :func:`storage_dtype`); reject non-numeric data
    and ±Inf. Returns the array and why float64 was needed ("" for float32)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise ManifoldDataError(
            source, variable, f"must be real-valued; got complex numbers ({arr.dtype})"
        )
    if arr.dtype.kind not in "biuf":
        raise ManifoldDataError(
            source, variable, f"must be numeric; got data of type {arr.dtype} ({arr.dtype.kind!r})"
        )
    if dtype not in DTYPES:
        raise UserError(f"dtype must be one of {list(DTYPES)}; got {dtype!r}")
    with np.errstate(over="ignore", invalid="ignore"):
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
            wide = arr
            arr = arr.astype(np.float64)
            if np.isinf(arr).sum() > np.isinf(wide).sum():
                raise ManifoldDataError(
                    source, variable, "values exceed the float64 range (|x| > 1.8e308)"
                )
        if arr.dtype.kind == "f" and np.isinf(arr).any():
            raise ManifoldDataError(
                source, variable, f"contains {int(np.isinf(arr).sum())} infinite values"
            )
    if dtype == "auto":
        shaped = arr[np.newaxis] if arr.ndim == 3 else arr
        chosen, why = storage_dtype(shaped) if shaped.ndim == 4 else (np.dtype(np.float32), "")
    else:
        chosen, why = np.dtype(dtype), ("asked for" if dtype == "float64" else "")
    with np.errstate(over="ignore", invalid="ignore"):
        out = arr.astype(chosen)
    if np.isinf(out).any():  # float32 asked for, values beyond its range
        raise ManifoldDataError(
            source,
            variable,
            f"{int(np.isinf(out).sum())} values exceed the float32 range (|x| > 3.4e38); "
            "store them as float64",
        )
    return out, why


# ----------------------------------------------------------------------------- validation


def missing_masks(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Missing-neuron and missing-sample masks of one session.

    Parameters
    ----------
    values : ndarray of shape (n_neurons, n_samples, n_objects)

    Returns
    -------
    neuron_missing : ndarray of bool, shape (n_neurons,)
        True where the neuron is NaN for every sample of every object.
    sample_missing : ndarray of bool, shape (n_samples, n_objects)
        True where the sample is NaN for every present neuron.
    """
    nan = np.isnan(values)
    neuron_missing = nan.all(axis=(1, 2))
    present = nan[~neuron_missing]
    if present.shape[0] == 0:
        sample_missing = np.ones(values.shape[1:], dtype=bool)
    else:
        sample_missing = present.all(axis=0)
    return neuron_missing, sample_missing


def validate_dataset(
    ds: xr.Dataset, *, source: str = "<dataset>", variable: str = TUNING
) -> None:
    """Check a dataset against the data model; raise :class:`ManifoldDataError` if it breaks it.

    Checks, in order: the ``tuning`` variable exists with dims :data:`DIMS` and a numeric
    dtype; at least 2 objects; unique session titles; per session, no ±Inf, NaN only as whole
    missing neurons or whole missing samples, at least one valid sample per object, and at
    least one non-silent neuron. Sessions are checked one at a time (bounded memory).
    ``variable`` is the name used for the data in error messages (the source file's name for
    it, e.g. ``tuning_function``).
    """
    if TUNING not in ds.data_vars:
        raise ManifoldDataError(
            source, variable, f"is missing; the dataset has {sorted(map(str, ds.data_vars))}"
        )
    var = ds[TUNING]
    if tuple(var.dims) != DIMS:
        raise ManifoldDataError(
            source, variable, f"must have dims {DIMS}; got {tuple(map(str, var.dims))}"
        )
    if var.dtype.kind not in "biuf":
        raise ManifoldDataError(source, variable, f"must be numeric; got dtype {var.dtype}")
    n_objects = var.sizes["object"]
    if n_objects < 2:
        raise ManifoldDataError(
            source, variable, f"needs at least 2 objects to form dichotomies; got {n_objects}"
        )
    if var.sizes["sample"] < 1 or var.sizes["neuron"] < 1 or var.sizes["session"] < 1:
        raise ManifoldDataError(source, variable, f"is empty: sizes {dict(var.sizes)}")
    titles = [str(s) for s in ds["session"].values]
    if len(set(titles)) != len(titles):
        raise ManifoldDataError(source, "session", "session titles must be unique")
    for s, title in enumerate(titles):
        values = np.asarray(var.isel(session=s).values, dtype=np.float64)
        _validate_session(
            values, source=source, variable=variable, title=title, object_ids=ds["object"].values
        )


def _validate_session(
    values: np.ndarray, *, source: str, variable: str, title: str, object_ids
) -> None:
    if np.isinf(values).any():
        raise ManifoldDataError(
            source, variable, f"session {title!r} contains {int(np.isinf(values).sum())} infinite values"
        )
    neuron_missing, sample_missing = missing_masks(values)
    allowed = neuron_missing[:, None, None] | sample_missing[None, :, :]
    stray = np.isnan(values) & ~allowed
    if stray.any():
        n, m, p = np.argwhere(stray)[0]
        raise ManifoldDataError(
            source,
            variable,
            f"session {title!r} has {int(stray.sum())} scattered NaN values (first at neuron {n}, "
            f"sample {m}, object {p}); NaN may only mark a whole missing neuron or a whole "
            "missing sample",
        )
    empty = np.flatnonzero(sample_missing.all(axis=0))
    if empty.size:
        raise ManifoldDataError(
            source,
            variable,
            f"session {title!r}: object(s) {[_py(object_ids[i]) for i in empty]} have no valid sample",
        )
    if not silent_neuron_mask(values).any():
        raise ManifoldDataError(
            source, variable, f"session {title!r} has no non-silent neuron (all responses are zero or missing)"
        )


def _py(value):
    return value.item() if isinstance(value, np.generic) else value


def silent_neuron_mask(values: np.ndarray) -> np.ndarray:
    """Neurons to keep in one session: mean square response over valid entries > 0.

    Parameters
    ----------
    values : ndarray of shape (n_neurons, n_samples, n_objects)

    Returns
    -------
    ndarray of bool, shape (n_neurons,)
        True for the neurons to keep (not silent, not missing).

    Notes
    -----
    The original (``docs/data-model.md#data-silent-neurons``) keeps neuron *i* iff
    ``nanmean_m(mean_p(X[i, m, p]**2)) > 0``; we use the NaN-aware mean over all valid
    entries (see the module docstring for why).
    """
    values = np.asarray(values)
    # "mean square > 0" is "some valid entry is nonzero": decided exactly, so tiny responses
    # (1e-200, whose squares underflow) are not mistaken for silence
    nonzero = (values != 0) & ~np.isnan(values)
    return nonzero.any(axis=(1, 2))


# ----------------------------------------------------------------------------- access


def resolve_session(ds: xr.Dataset, session: int | str) -> int:
    """Index of a session given by title or by position (0-based int, or a digit string).

    Raises
    ------
    ValueError
        If no session matches, naming the available ones.
    """
    titles = [str(s) for s in ds["session"].values]
    if isinstance(session, (int, np.integer)) and not isinstance(session, bool):
        if 0 <= session < len(titles):
            return int(session)
    elif isinstance(session, str):
        if session in titles:
            return titles.index(session)
        if session.isdigit() and int(session) < len(titles):
            return int(session)
    shown = titles if len(titles) <= 20 else titles[:20] + ["…"]
    raise UserError(
        f"unknown session {session!r}; the dataset has {len(titles)} sessions: {shown} "
        f"(give a title or an index 0–{len(titles) - 1})"
    )


def session_data(
    ds: xr.Dataset, session: int | str, *, drop_silent: bool = True, dtype: Any = np.float64
) -> np.ndarray:
    """Responses of one session as an array (float64 by default), silent neurons dropped.

    Parameters
    ----------
    ds : xarray.Dataset
        A manifold dataset (possibly lazily loaded: only this session is read).
    session : int or str
        Session title or index (see :func:`resolve_session`).
    drop_silent : bool, default True
        Drop silent and missing neurons (:func:`silent_neuron_mask`).
    dtype : numpy dtype or None, default float64
        The returned array's type; ``None`` keeps the stored one (float32 or float64), for
        analyses that convert per object and would otherwise hold a float64 copy of a large
        session (6.7 GB for the paper's 2-d sets at M = 3201, N = 4096). Converting float32 to
        float64 is exact, so either gives the same numbers to an analysis that computes in
        float64.

    Returns
    -------
    ndarray of shape (n_neurons, n_samples, n_objects)
        Missing samples stay NaN (whole columns); analyses drop them per object. When every
        neuron is kept, no copy is made beyond the read (and the conversion, if any).

    Raises
    ------
    ManifoldDataError
        If this session breaks the data model (it is checked as it is read, so a dataset
        opened with ``load_dataset(..., validate=False)`` is still never analysed unchecked).
    """
    index = resolve_session(ds, session)
    values = ds[TUNING].isel(session=index).values
    values = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    _validate_session(
        values,
        source=str(ds.encoding.get("source", "<dataset>")),
        variable=TUNING,
        title=str(ds["session"].values[index]),
        object_ids=ds["object"].values,
    )
    if drop_silent:
        keep = silent_neuron_mask(values)
        if not keep.all():
            values = values[keep]
    return values


def object_samples(values: np.ndarray) -> list[np.ndarray]:
    """Split one session into per-object arrays of valid samples.

    Parameters
    ----------
    values : ndarray of shape (n_neurons, n_samples, n_objects)

    Returns
    -------
    list of ndarray, one per object, each of shape (n_neurons, n_valid_samples)
    """
    valid = ~np.isnan(values).any(axis=0)
    return [values[:, valid[:, p], p] for p in range(values.shape[2])]


def summarize(ds: xr.Dataset) -> dict[str, Any]:
    """Shape, sessions, NaN counts and silent neurons of a dataset (for ``dnn-manifolds info``)."""
    var = ds[TUNING]
    out: dict[str, Any] = {
        "shape": {d: int(var.sizes[d]) for d in DIMS},
        "dtype": str(var.dtype),
        "sessions": [],
        "attrs": {k: _py(v) for k, v in ds.attrs.items() if k != "config"},
    }
    for s, title in enumerate(ds["session"].values):
        values = np.asarray(var.isel(session=s).values, dtype=np.float64)
        neuron_missing, sample_missing = missing_masks(values)
        keep = silent_neuron_mask(values)
        row = {
            "title": str(title),
            "nan_values": int(np.isnan(values).sum()),
            "missing_neurons": int(neuron_missing.sum()),
            "missing_samples": int(sample_missing.sum()),
            "silent_neurons": int((~keep & ~neuron_missing).sum()),
            "neurons_used": int(keep.sum()),
        }
        for name in SESSION_COORDS:
            if name in ds.coords:
                row[name] = str(ds[name].values[s])
        out["sessions"].append(row)
    return out
