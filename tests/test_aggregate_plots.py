"""Tidy tables (the figures drawn from them: tests/test_report_figures.py)."""

import numpy as np
import pytest
import xarray as xr

from dnn_manifolds.report import tables as aggregate
from dnn_manifolds.data.files import write_netcdf


def _result(tmp_path, name, values, *, failures=0, total=10, seed=7):
    """An analysis output shaped like the capacity's: scalars plus a status-count table."""
    counts = np.array([[total - failures - 2, 2, failures], [5, 0, 0]])
    ds = xr.Dataset(
        {k: ((), v, {"long_name": k.upper()}) for k, v in values.items()}
        | {"status_count": (("n_features", "status"), counts)},
        coords={"status": ["certified", "shortcut", "failed"], "n_features": [10, 20]},
        attrs={"seed": seed, "dnn_manifolds_version": "9.9", "config_digest": "abc"},
    )
    ds["curve"] = ("n_features", np.linspace(0, 1, 2))  # non-scalar: not a measure
    path = tmp_path / f"{name}.nc"
    write_netcdf(ds, path)
    return path


def _entries(tmp_path):
    entries = []
    for i, layer in enumerate(["pixels", "conv1", "fc"]):
        for transform in ["x-translation", "rotation"]:
            cap = _result(tmp_path, f"c{i}{transform}", {"capacity": 0.1 * (i + 1)}, failures=12 if layer == "fc" else 0, total=14)
            geo = _result(tmp_path, f"g{i}{transform}", {"capacity": 0.12 * (i + 1), "radius": 1.0 / (i + 1), "dimension": 10.0 - i, "centre_correlation": 0.3})
            common = dict(network="net", kind="one_d", layer=layer, layer_index=i, transform=transform)
            entries.append(dict(path=cap, analysis="capacity", **common))
            entries.append(dict(path=geo, analysis="geometry", **common))
    return entries


def test_table_has_one_row_per_measure_with_provenance_and_flags(tmp_path):
    table = aggregate.build_table(_entries(tmp_path))
    assert list(table.columns) == list(aggregate.COLUMNS)
    assert (table.architecture == "").all() and (table.weights == "").all()  # keys the entries did not give
    assert len(table) == 3 * 2 * (1 + 4)
    rows = table[(table.layer == "conv1") & (table.measure == "capacity") & (table["transform"] == "rotation")]
    assert dict(zip(rows.analysis, rows.value)) == pytest.approx({"capacity": 0.2, "geometry": 0.24})
    row = rows[rows.analysis == "capacity"].iloc[0]
    assert row.seed == "7" and row.dnn_manifolds_version == "9.9" and row.long_name == "CAPACITY"
    flagged = table[table.flagged]
    assert set(flagged.layer) == {"fc"} and set(flagged.analysis) == {"capacity"}
    assert (flagged.solver_failures == 12).all() and (flagged.solver_total == 19).all()
    assert (table[~table.flagged].solver_failures == 0).all()


def test_table_refuses_missing_inputs(tmp_path):
    entries = _entries(tmp_path)
    entries[3]["path"].unlink()
    with pytest.raises(FileNotFoundError, match="table would be incomplete"):
        aggregate.build_table(entries)


def test_table_round_trips_through_csv_and_netcdf(tmp_path):
    table = aggregate.build_table(_entries(tmp_path))
    aggregate.write_table(table, tmp_path / "t.csv", tmp_path / "t.nc", attrs={"seed": 1})
    back = aggregate.read_table(tmp_path / "t.csv")
    assert back["value"].tolist() == pytest.approx(table["value"].tolist())
    with xr.open_dataset(tmp_path / "t.nc", engine="h5netcdf") as ds:
        assert ds.sizes["row"] == len(table)
        assert set(ds["measure"].values) == set(table["measure"])
