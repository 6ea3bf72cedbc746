"""Neural data as the field stores it: presentation × neuroid assemblies (Brain-Score /
brainio), feature matrices with labels, lists of per-object (N, M_i) arrays, DataArrays — and
the analyses accepting them directly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from dnn_manifolds import cli
from dnn_manifolds.analysis.capacity import capacity
from dnn_manifolds.analysis.geometry import geometry
from dnn_manifolds.data import (
    ManifoldDataError,
    as_dataset,
    from_assembly,
    from_point_clouds,
    import_assembly,
    import_features,
    load_dataset,
    make_dataset,
)
from dnn_manifolds.data.inputs import import_any

OBJECTS = np.array(["car"] * 4 + ["dog"] * 3 + ["face"] * 4)  # 11 stimuli, unequal objects
REGION = np.array(["V4"] * 3 + ["IT"] * 5)


def assembly(reps=2, seed=0, time_bin=True) -> xr.DataArray:
    """A Brain-Score-like assembly: 11 stimuli × reps presentations, 8 neuroids in two regions."""
    rng = np.random.default_rng(seed)
    n = OBJECTS.size
    values = rng.standard_normal((n * reps, REGION.size))
    coords = {
        "stimulus_id": ("presentation", np.tile([f"s{i:02d}" for i in range(n)], reps)),
        "object_name": ("presentation", np.tile(OBJECTS, reps)),
        "repetition": ("presentation", np.repeat(np.arange(reps), n)),
        "neuroid_id": ("neuroid", [f"n{i}" for i in range(REGION.size)]),
        "region": ("neuroid", REGION),
    }
    da = xr.DataArray(values, dims=("presentation", "neuroid"), coords=coords, name="neural")
    if time_bin:
        da = da.expand_dims(time_bin=[0], axis=2)
    return da


# ----------------------------------------------------------------------------- assemblies


def test_objects_sessions_and_padding():
    da = assembly(reps=1)
    ds = from_assembly(da, object_coord="object_name", session_coord="region")
    assert dict(ds["tuning"].sizes) == {"session": 2, "neuron": 5, "sample": 4, "object": 3}
    assert list(ds["session"].values) == ["IT", "V4"] and list(ds["object_label"].values) == ["car", "dog", "face"]
    t = ds["tuning"].values
    values = da.squeeze("time_bin").values
    # IT = neuroids 3..7; "dog" = presentations 4, 5, 6; its 4th sample is missing
    np.testing.assert_allclose(t[0, :, :3, 1], values[4:7, 3:].T, rtol=1e-6)
    assert np.isnan(t[0, :, 3, 1]).all() and not np.isnan(t[0, :, 3, 0]).any()
    assert np.isnan(t[1, 3:]).all()  # V4 has 3 neuroids: two missing neurons
    np.testing.assert_array_equal(ds["presentation"].values[0, :, 1], [4, 5, 6, -1])


def test_repetitions_are_averaged_by_stimulus_and_multiindex_works():
    da = assembly(reps=3)
    mi = da.set_index(presentation=["stimulus_id", "object_name", "repetition"], neuroid=["neuroid_id", "region"])
    ds = from_assembly(mi, object_coord="object_name", average_by="stimulus_id")
    assert dict(ds["tuning"].sizes) == {"session": 1, "neuron": 8, "sample": 4, "object": 3}
    values = da.squeeze("time_bin").values
    np.testing.assert_allclose(ds["tuning"].values[0, :, 0, 2], values[[7, 18, 29]].mean(axis=0), rtol=1e-6)
    assert ds["n_repetitions"].values[0, 0, 2] == 3 and list(ds["session"].values) == ["neural"]


def test_sessions_by_a_presentation_coordinate():
    da = assembly(reps=2).assign_coords(day=("presentation", np.repeat(["mon", "tue"], 11)))
    ds = from_assembly(da, object_coord="object_name", session_coord="day")
    assert list(ds["session"].values) == ["mon", "tue"] and ds.sizes["neuron"] == 8
    np.testing.assert_allclose(ds["tuning"].values[1, :, 0, 0], da.squeeze("time_bin").values[11], rtol=1e-6)


def test_nan_responses_are_averaged_over_and_otherwise_rejected():
    da = assembly(reps=2).copy()
    da[0, 0, 0] = np.nan  # one repetition of stimulus s00 missing for neuroid 0
    ds = from_assembly(da, object_coord="object_name", average_by="stimulus_id")
    np.testing.assert_allclose(ds["tuning"].values[0, 0, 0, 0], da.values[11, 0, 0], rtol=1e-6)
    with pytest.raises(ManifoldDataError, match="scattered NaN"):
        from_assembly(da, object_coord="object_name")


@pytest.mark.parametrize(
    ("change", "kwargs", "message"),
    [
        (lambda d: d, {"object_coord": "object"}, r"variable 'object': no such coordinate \(object_coord\); the coordinates are \{'presentation': \['object_name'"),
        (lambda d: d, {"object_coord": "region"}, r"'region': must be a coordinate along 'presentation' \(object_coord\)"),
        (lambda d: d, {"object_coord": "object_name", "average_by": "object_name", "session_coord": "nope"}, r"'nope': no such coordinate \(session_coord\)"),
        (lambda d: d.rename(neuroid="unit"), {"object_coord": "object_name"}, r"has no 'neuroid' dimension \(neuroid_dim\)"),
        (lambda d: xr.concat([d, d], "time_bin"), {"object_coord": "object_name"}, r"has further dims \{'time_bin': 2\}"),
        (lambda d: d.assign_coords(object_name=("presentation", ["a"] * 22)), {"object_coord": "object_name"}, "at least 2 objects"),
        (lambda d: d.assign_coords(stimulus_id=("presentation", ["x"] * 22)), {"object_coord": "object_name", "average_by": "stimulus_id"},
         r"stimulus 'x' belongs to several objects \['car', 'dog', 'face'\]"),
    ],
)
def test_bad_assemblies_give_one_line(change, kwargs, message):
    with pytest.raises(ManifoldDataError, match=message) as err:
        from_assembly(change(assembly()), **kwargs)
    assert "\n" not in str(err.value)


def test_netcdf_assemblies_import_and_analyse_with_one_command(tmp_path, capsys):
    path = tmp_path / "assembly.nc"
    assembly(reps=2).to_netcdf(path, engine="h5netcdf")
    ds = import_assembly(path, object_coord="object_name", session_coord="region", average_by="stimulus_id")
    assert ds.attrs["source_file"] == "assembly.nc" and ds.sizes["session"] == 2
    assembly(reps=1).drop_vars(["stimulus_id", "neuroid_id"]).to_netcdf(tmp_path / "classic.nc", engine="scipy")
    assert import_assembly(tmp_path / "classic.nc", object_coord="object_name").sizes["sample"] == 4
    # one command: read the assembly and analyse it
    assert cli.main(["geometry", str(path), str(tmp_path / "geo.nc"), "--object-coord", "object_name",
                     "--session-coord", "region", "--average-by", "stimulus_id", "--n-t", "20", "--quiet"]) == 0
    with xr.open_dataset(tmp_path / "geo.nc", engine="h5netcdf") as geo:
        assert list(geo["session"].values) == ["IT", "V4"]
    assert cli.main(["import", str(path), str(tmp_path / "out.nc"), "--object-coord", "object_name", "--quiet"]) == 0
    with load_dataset(tmp_path / "out.nc") as out:
        assert out.sizes["sample"] == 8  # repetitions kept as samples
    assert cli.main(["import", str(path), str(tmp_path / "bad.nc")]) == 2
    err = capsys.readouterr().err
    assert "'neural' is a presentation × neuroid assembly: name the presentation coordinate" in err
    assert not (tmp_path / "bad.nc").exists()


# ----------------------------------------------------------------------------- features


def test_feature_matrices_with_labels_files_and_columns(tmp_path):
    rng = np.random.default_rng(1)
    feats = rng.standard_normal((9, 6))
    labels = ["b", "a", "b", "c", "a", "a", "c", "b", "b"]
    np.save(tmp_path / "features.npy", feats)
    (tmp_path / "labels.txt").write_text("\n".join(labels) + "\n\n")
    ds = import_features(tmp_path / "features.npy", tmp_path / "labels.txt")
    assert dict(ds["tuning"].sizes) == {"session": 1, "neuron": 6, "sample": 4, "object": 3}
    assert list(ds["object_label"].values) == ["a", "b", "c"]
    np.testing.assert_allclose(ds["tuning"].values[0, :, :3, 0], feats[[1, 4, 5]].T, rtol=1e-6)
    assert np.isnan(ds["tuning"].values[0, :, 3, 0]).all()  # "a" has 3 stimuli, "b" 4
    np.testing.assert_array_equal(ds["stimulus"].values[0, :, 1], [0, 2, 7, 8])
    # thingsvision's file_names.txt: the objects are the images' folders
    (tmp_path / "file_names.txt").write_text("\n".join(f"images/{lab}/{i}.jpg" for i, lab in enumerate(labels)))
    by_folder = import_features(tmp_path / "features.npy", tmp_path / "file_names.txt", labels_from="parent")
    np.testing.assert_array_equal(by_folder["tuning"].values, ds["tuning"].values)
    # a CSV holding the labels in a column
    table = pd.DataFrame(feats, columns=[f"f{i}" for i in range(6)]).assign(label=labels)
    table.to_csv(tmp_path / "features.csv", index=False)
    in_csv = import_features(tmp_path / "features.csv", labels_column="label")
    np.testing.assert_allclose(in_csv["tuning"].values, ds["tuning"].values, rtol=1e-6)
    import h5py

    with h5py.File(tmp_path / "features.h5", "w") as fh:
        fh["features"] = feats
    assert import_any(tmp_path / "features.h5", labels=tmp_path / "labels.txt").sizes["neuron"] == 6
    (tmp_path / "short.txt").write_text("a\nb\n")
    with pytest.raises(ManifoldDataError, match="has 2 labels but the features have 9 rows"):
        import_features(tmp_path / "features.npy", tmp_path / "short.txt")
    with pytest.raises(ManifoldDataError, match=r"columns \['label'\] are not numeric"):
        import_features(tmp_path / "features.csv", tmp_path / "labels.txt")
    assert cli.main(["import", str(tmp_path / "features.npy"), str(tmp_path / "f.nc"), "--labels-file",
                     str(tmp_path / "labels.txt"), "--quiet"]) == 0


# ----------------------------------------------------------------------------- the Python API


def test_analyses_accept_point_cloud_lists_data_arrays_and_assemblies():
    rng = np.random.default_rng(2)
    clouds = [rng.standard_normal((30, m)) + 3 * rng.standard_normal((30, 1)) for m in (5, 7, 6, 4)]
    ds = from_point_clouds(clouds)
    assert ds.sizes["sample"] == 7 and np.isnan(ds["tuning"].values[0, :, 6, 0]).all()
    kw = dict(n_t=30, seed=1, method="point_cloud")
    a = geometry(clouds, **kw)
    b = geometry(ds, **kw)
    np.testing.assert_array_equal(a["capacity"].values, b["capacity"].values)
    c1 = capacity(clouds, seed=1, expected_precision=0.25)
    c2 = capacity(ds, seed=1, expected_precision=0.25)
    np.testing.assert_array_equal(c1["critical_n_features"].values, c2["critical_n_features"].values)
    from dnn_manifolds.analysis.capacity import critical_capacity

    r1 = critical_capacity(clouds, rng=4, expected_precision=0.25)
    padded = np.full((30, 7, 4), np.nan)
    for p, cloud in enumerate(clouds):
        padded[:, : cloud.shape[1], p] = cloud
    r2 = critical_capacity(padded, rng=4, expected_precision=0.25)
    assert r1.critical_n_features == r2.critical_n_features and r1.capacity == r2.capacity
    # a DataArray in the data model's dims, in any order
    da = ds["tuning"].isel(session=0).transpose("object", "neuron", "sample")
    np.testing.assert_array_equal(geometry(da, **kw)["capacity"].values, b["capacity"].values)
    # an assembly: its object coordinate is found by name
    asm = assembly(reps=1)
    np.testing.assert_array_equal(
        geometry(asm, n_t=20, seed=0)["capacity"].values,
        geometry(from_assembly(asm, object_coord="object_name"), n_t=20, seed=0)["capacity"].values)
    assert as_dataset(ds) is ds
    with pytest.raises(ManifoldDataError, match="has 29 neurons \\(rows\\) but object 0 has 30"):
        from_point_clouds([clouds[0], clouds[1][:29]])
    with pytest.raises(ManifoldDataError, match="a presentation × neuroid assembly needs its objects"):
        as_dataset(asm.drop_vars("object_name"))
    with pytest.raises(ManifoldDataError, match="expected a manifold dataset"):
        capacity("my.nc")
    one = make_dataset(rng.standard_normal((5, 3, 2)))
    assert as_dataset(one["tuning"]).sizes["session"] == 1
