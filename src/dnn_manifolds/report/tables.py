"""Tidy tables of analysis results: one row per result key × measure.

A result is keyed by everything that produced it: the network (with its ``architecture`` and
``weights``, which pair trained and untrained networks of one architecture), the manifold set with its
parameters (``manifold``, ``manifold_set`` and ``replicate``, ``kind``, ``range_factor``,
``n_objects``, ``n_samples``), the layer, the transform, the experiment (``capacity`` and
``geometry`` for the baseline analyses), the analysis and the variant (``variant``, a label,
and one ``variant_<option>`` column per option an experiment changes). Every per-session
analysis output (a capacity or geometry netCDF file, with a ``variant`` dim for experiments)
holds scalar result variables (α_c, N_c, α_M, R_M, D_M, …) and solver status counts.
:func:`tidy_records` turns one such file into rows; :func:`build_table` stacks the rows of a
whole run into a :class:`pandas.DataFrame` with the columns of :data:`COLUMNS` (and the variant
columns after ``variant``), and :func:`write_table` writes it as CSV and netCDF, atomically.

Solver failures are never averaged away silently: each row carries ``solver_failures`` and
``solver_total`` (the numbers of failed and attempted solves in the job that produced it).
``flagged`` is true when the value must not be used as it stands — it is NaN, the analysis
recorded a reason not to trust it (its ``reasons`` variable), or more than
:data:`FLAG_FAILURE_FRACTION` of that job's solves failed — and ``reason`` says which.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ..data.files import atomic_path, read_groups, fast_engine, write_netcdf
from ..errors import UserError

KEY_COLUMNS = (
    "network",
    "architecture",
    "weights",
    "manifold",
    "manifold_set",
    "replicate",
    "kind",
    "range_factor",
    "n_objects",
    "n_samples",
    "layer",
    "layer_index",
    "transform",
    "experiment",
    "analysis",
    "variant",
)
"""The columns that identify a result (the ``variant_<option>`` columns follow them)."""

COLUMNS = (
    *KEY_COLUMNS,
    "measure",
    "value",
    "long_name",
    "solver_failures",
    "solver_total",
    "flagged",
    "seed",
    "dnn_manifolds_version",
    "config_digest",
    "reason",
)
"""Columns of the tidy table, in order. ``reason`` says why a row is flagged ("" otherwise)."""

FLAG_FAILURE_FRACTION = 0.5
"""A job whose solver failure fraction exceeds this is flagged (its values are not trusted)."""

FAILED_STATUS = "failed"
"""Status label that counts as a solver failure in the outputs' status-count variables."""


def solver_counts(ds: xr.Dataset) -> tuple[int, int]:
    """(failed, total) solves recorded in an analysis output.

    Every variable with a dimension whose coordinate lists statuses (a ``"failed"`` entry among
    them) is a status-count table: the capacity's ``status_count`` (n_features × status) and
    the geometry's ``solver_count`` (solver_status). Failures are its ``"failed"`` entries;
    the total is the sum over all statuses.
    """
    failed = total = 0
    for var in ds.data_vars.values():
        for dim in var.dims:
            if dim in ds.coords and ds[dim].dtype.kind in "OUS":
                labels = [str(v) for v in ds[dim].values]
                if FAILED_STATUS in labels:
                    values = np.asarray(var.values, dtype=float)
                    failed += int(np.nansum(var.sel({dim: FAILED_STATUS}).values))
                    total += int(np.nansum(values))
                    break
    return failed, total


def _scalar(value: Any) -> Any:
    arr = np.asarray(value)
    return arr.item() if arr.ndim == 0 else value


def _seed(ds: xr.Dataset) -> Any:
    if "seed" in ds.attrs:
        return _scalar(ds.attrs["seed"])
    if "seed" in ds.variables:
        return _scalar(ds["seed"].values)
    return ""


_KEY_DEFAULTS = {
    "architecture": "",
    "weights": "",
    "manifold": "",
    "manifold_set": "",
    "replicate": 0,
    "kind": "",
    "range_factor": float("nan"),
    "n_objects": -1,
    "n_samples": -1,
    "experiment": "",
    "variant": "baseline",
}


def tidy_records(ds: xr.Dataset, **key: Any) -> list[dict[str, Any]]:
    """Rows of the tidy table for one analysis output.

    Every numeric 0-d data variable of ``ds`` is a measure (named as in the output; the
    ``analysis`` column tells the capacity's ``capacity`` (α_c) from the geometry's
    ``capacity`` (α_M)); the seed and the solver counts (:func:`solver_counts`) become columns.
    ``key`` holds the key columns (:data:`KEY_COLUMNS`; ``network``, ``layer``,
    ``layer_index``, ``transform`` and ``analysis`` are required, the rest default). An
    experiment's output (a ``variant`` dim) gives rows per variant, with its label and its
    ``variant_<option>`` values. Variables with a ``session`` dim of length 1 are squeezed.
    """
    ds = ds.squeeze(drop=False) if "session" in ds.dims and ds.sizes["session"] == 1 else ds
    key = {**_KEY_DEFAULTS, **key}
    key.setdefault("experiment", key["analysis"])
    if not key["experiment"]:
        key["experiment"] = key["analysis"]
    if "variant" in ds.dims:
        rows = []
        for i in range(ds.sizes["variant"]):
            part = ds.isel(variant=i)
            extra = {
                str(name): _scalar(part[name].values)
                for name in part.coords
                if str(name).startswith("variant_")
            }
            rows += _records(part, {**key, "variant": str(part["variant"].values), **extra})
        return rows
    return _records(ds, key)


def _records(ds: xr.Dataset, key: dict[str, Any]) -> list[dict[str, Any]]:
    failures, total = solver_counts(ds)
    failing = bool(total and failures / total > FLAG_FAILURE_FRACTION)
    reasons = _reasons(ds)
    variant_status = str(key.get("variant_status", "ok"))
    skip = {"seed"}
    rows = []
    for name, var in ds.data_vars.items():
        if name in skip or var.ndim != 0 or var.dtype.kind not in "biuf":
            continue
        value = float(var.values)
        why = [reasons[name]] if name in reasons else []
        if math.isnan(value) and not why:
            why.append("NaN without a recorded reason")
        if failing:
            why.append(f"{failures} of {total} solves failed")
        if variant_status not in ("ok", ""):
            why.append(f"variant not run: {variant_status}")
        rows.append(
            {
                **key,
                "layer_index": int(key["layer_index"]),
                "measure": str(name),
                "value": value,
                "long_name": str(var.attrs.get("long_name", name)),
                "solver_failures": failures,
                "solver_total": total,
                "flagged": bool(why),
                "seed": str(_seed(ds)),
                "dnn_manifolds_version": str(ds.attrs.get("dnn_manifolds_version", "")),
                "config_digest": str(ds.attrs.get("config_digest", "")),
                "reason": "; ".join(why),
            }
        )
    return rows


def _reasons(ds: xr.Dataset) -> dict[str, str]:
    """The output's ``reasons`` (measure → why it is NaN or not to be trusted), if any."""
    if "reasons" not in ds.variables:
        return {}
    try:
        value = json.loads(str(np.asarray(ds["reasons"].values).item()))
    except (ValueError, TypeError):
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _read_result(path: Path) -> xr.Dataset:
    """An analysis output, loaded; a damaged or truncated file is a one-line error naming it."""
    try:
        with xr.open_dataset(path, engine=fast_engine()) as ds:
            return ds.load()
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(
            f"{path}: cannot be read as an analysis result (damaged or truncated netCDF: {first}); "
            "delete it and re-run its job"
        ) from err


def build_table(entries: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Stack the rows of many analysis outputs.

    Parameters
    ----------
    entries : iterable of mapping
        Each with ``path`` (an analysis netCDF file), ``group`` (the manifold set's group in
        it, for the workflow's multi-set files) and its key columns (the keyword arguments of
        :func:`tidy_records`); other fields are ignored.

    Raises
    ------
    FileNotFoundError
        If a listed file is missing (the table never silently shrinks to what exists).
    """
    rows: list[dict[str, Any]] = []
    files: dict[str, dict[str, xr.Dataset]] = {}
    for entry in entries:
        path = Path(entry["path"])
        key = {k: entry[k] for k in KEY_COLUMNS if k in entry}
        if not path.exists():
            raise FileNotFoundError(f"{path}: analysis result missing; the table would be incomplete")
        group = entry.get("group")
        if group is None:
            rows.extend(tidy_records(_read_result(path), **key))
            continue
        if str(path) not in files:
            files.clear()  # entries come file by file: keep one file's groups in memory
            files[str(path)] = read_groups(path)
        groups = files[str(path)]
        if group not in groups:
            raise FileNotFoundError(f"{path}: no result of manifold set {group!r}; the table would be incomplete")
        rows.extend(tidy_records(groups[group], **key))
    return _frame(rows).sort_values(
        ["network", "kind", "manifold", "experiment", "analysis", "variant", "transform", "layer_index", "measure"],
        kind="stable",
    ).reset_index(drop=True)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table of ``rows``: the fixed columns, the ``variant_<option>`` columns after
    ``variant``."""
    extra = sorted({k for row in rows for k in row if k.startswith("variant_")})
    columns = [*KEY_COLUMNS, *extra, *COLUMNS[len(KEY_COLUMNS):]]
    return pd.DataFrame(rows, columns=columns)


def write_table(table: pd.DataFrame, csv_path: str | os.PathLike, nc_path: str | os.PathLike | None = None, *, attrs: Mapping[str, Any] | None = None) -> None:
    """Write the tidy table as CSV (and netCDF with a ``row`` dim), atomically."""
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g")
    if nc_path is not None:
        ds = xr.Dataset.from_dataframe(table.reset_index(drop=True).rename_axis("row"))
        for name in ds.data_vars:
            if ds[name].dtype == object:
                ds[name] = ds[name].astype(str)
        ds.attrs.update(dict(attrs or {}))
        write_netcdf(ds, nc_path, engine=fast_engine())


def read_table(csv_path: str | os.PathLike) -> pd.DataFrame:
    """Read a tidy table written by :func:`write_table`."""
    table = pd.read_csv(
        csv_path,
        keep_default_na=False,
        na_values=["nan", "NaN", ""],
        dtype={"seed": str, "config_digest": str, "variant": str, "experiment": str, "reason": str},
    )
    if "reason" in table.columns:
        table["reason"] = table["reason"].fillna("")
    return table


def wide(table: pd.DataFrame, measures: Sequence[str]) -> pd.DataFrame:
    """Pivot selected measures to columns, one row per result key (every key column, the
    analysis apart, so that the capacity's and the geometry's measures of one session sit in
    one row: name them ``<analysis>.<measure>``)."""
    keys = [c for c in table.columns if c in KEY_COLUMNS or c.startswith("variant_")]
    keys = [c for c in keys if c not in ("experiment", "analysis")]
    sub = table[table["measure"].isin(list(measures))].copy()
    sub["column"] = sub["analysis"] + "." + sub["measure"]
    sub[keys] = sub[keys].fillna("")
    return sub.pivot_table(index=keys, columns="column", values="value", aggfunc="first").reset_index()


def to_json_summary(table: pd.DataFrame) -> str:
    """A short JSON summary (counts and flagged jobs) for logs and the report."""
    flagged = table[table["flagged"].astype(bool)][
        ["network", "manifold", "layer", "transform", "experiment", "variant"]
    ].drop_duplicates()
    return json.dumps(
        {
            "rows": int(len(table)),
            "networks": sorted(table["network"].unique().tolist()),
            "flagged_jobs": flagged.to_dict(orient="records"),
        },
        indent=2,
    )


def own_data_table(paths: Sequence[str | os.PathLike], *, name: str) -> pd.DataFrame:
    """Tidy table of a user's data set: capacity/geometry results over all its sessions.

    The ``network`` column holds the data set's name, ``layer`` the session title,
    ``layer_index`` the session's position, ``kind`` "own" and ``transform`` "".
    """
    rows: list[dict[str, Any]] = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: analysis result missing; the table would be incomplete")
        analysis = path.stem
        ds = _read_result(path)
        if "session" not in ds.dims:
            ds = ds.expand_dims("session")
        for i, title in enumerate(ds["session"].values):
            rows.extend(
                tidy_records(
                    ds.isel(session=i),
                    network=name,
                    manifold=name,
                    manifold_set=name,
                    kind="own",
                    layer=str(title),
                    layer_index=i,
                    transform="",
                    analysis=analysis,
                )
            )
    return _frame(rows)
