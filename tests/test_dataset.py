"""The manifold dataset: building, validation, netCDF round trips, lazy per-session reads."""

import json

import numpy as np
import pytest
import xarray as xr

from dnn_manifolds.data import dataset as dsm
from dnn_manifolds.data import storage
from dnn_manifolds.data.provenance import config_digest, provenance_attrs
from dnn_manifolds.data.dataset import ManifoldDataError


def _tuning(rng, shape=(3, 7, 5, 4)):
    return rng.standard_normal(shape).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(12)


def test_make_dataset_has_named_dims_float32_and_default_titles(rng):
    ds = dsm.make_dataset(_tuning(rng))
    assert ds[dsm.TUNING].dims == dsm.DIMS
    assert ds[dsm.TUNING].dtype == np.float32
    assert list(ds.session.values) == ["session #1", "session #2", "session #3"]
    assert list(ds.object_label.values) == [f"object #{i}" for i in range(4)]


def test_three_dimensional_input_is_one_session(rng):
    arr = rng.standard_normal((6, 5, 3))
    ds = dsm.make_dataset(arr)
    assert ds[dsm.TUNING].sizes["session"] == 1
    np.testing.assert_array_equal(ds[dsm.TUNING].values[0], arr.astype(np.float32))


def _padded(rng):
    """Two sessions: the second has 2 missing neurons; object 1 misses its last 2 samples."""
    arr = _tuning(rng, (2, 7, 5, 4))
    arr[1, 5:] = np.nan
    arr[:, :, 3:, 1] = np.nan
    return arr


def test_round_trip_keeps_values_nans_coords_and_attrs(rng, tmp_path):
    arr = _padded(rng)
    params = rng.standard_normal((2, 5))
    ds = dsm.make_dataset(
        arr,
        sessions=["conv1/x-translation", "conv2/x-translation"],
        object_ids=[11, 22, 33, 44],
        object_labels=["cat", "dog", "car", "cup"],
        session_coords={"network": ["alexnet", "alexnet"], "layer": ["conv1", "conv2"]},
        sample_coords={"transform_param": (("session", "sample"), params)},
        attrs=provenance_attrs(seeds={"templates": 3, "units": 4}, config={"a": 1}),
    )
    path = tmp_path / "d.nc"
    storage.save_dataset(ds, path)
    with storage.load_dataset(path) as back:
        xr.testing.assert_identical(back.load(), ds)
        assert json.loads(back.attrs["seeds"]) == {"templates": 3, "units": 4}
        assert back.attrs["config_digest"] == config_digest({"a": 1})
    assert np.isnan(arr).sum() > 0


def test_saved_tuning_is_compressed_and_chunked_one_session_per_chunk(rng, tmp_path):
    import h5py

    path = tmp_path / "d.nc"
    storage.save_dataset(dsm.make_dataset(_tuning(rng, (3, 8, 5, 4))), path)
    with h5py.File(path) as fh:
        var = fh[dsm.TUNING]
        assert var.chunks == (1, 8, 5, 4)
        assert var.compression == "gzip"
        assert var.shuffle


def test_reading_one_session_reads_only_its_chunk(rng, tmp_path, monkeypatch):
    from xarray.backends import h5netcdf_, netCDF4_

    path = tmp_path / "d.nc"
    arr = _tuning(rng, (4, 6, 5, 3))
    storage.save_dataset(dsm.make_dataset(arr), path)
    ds = storage.load_dataset(path, validate=False)
    reads = []
    for wrapper in (h5netcdf_.H5NetCDFArrayWrapper, netCDF4_.NetCDF4ArrayWrapper):  # either engine

        def spy(self, key, original=wrapper._getitem):
            if self.variable_name == dsm.TUNING:
                reads.append(key)
            return original(self, key)

        monkeypatch.setattr(wrapper, "_getitem", spy)
    values = dsm.session_data(ds, 2, drop_silent=False)
    np.testing.assert_array_equal(values, arr[2].astype(np.float64))
    assert reads, "the session was not read from the file"
    for key in reads:
        first = key[0] if isinstance(key, tuple) else key
        span = range(4)[first] if isinstance(first, slice) else [first]
        assert list(span) == [2], f"read touched sessions {list(span)}"
    ds.close()


def test_write_is_atomic_failed_write_leaves_no_file(rng, tmp_path, monkeypatch):
    ds = dsm.make_dataset(_tuning(rng))
    path = tmp_path / "d.nc"

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(OSError, match="No space"):
        storage.save_dataset(ds, path)
    assert list(tmp_path.iterdir()) == []


def test_silent_and_missing_neurons_are_dropped_from_session_data(rng):
    arr = _padded(rng)
    arr[0, 2] = np.where(np.isnan(arr[0, 2]), np.nan, 0.0)  # silent neuron in session 0
    ds = dsm.make_dataset(arr)
    assert dsm.session_data(ds, 0).shape == (6, 5, 4)
    assert dsm.session_data(ds, "session #2").shape == (5, 5, 4)
    per_object = dsm.object_samples(dsm.session_data(ds, 0))
    assert [p.shape[1] for p in per_object] == [5, 3, 5, 5]


def test_session_data_in_the_stored_precision_is_the_same_data(rng, tmp_path):
    """dtype=None keeps float32 (no float64 copy of a large session); the values, the silent
    neurons dropped and the checks are those of the float64 read, and the analyses that read
    sessions this way give the same results as from the float64 data."""
    arr = _padded(rng)
    arr[0, 2] = np.where(np.isnan(arr[0, 2]), np.nan, 0.0)  # silent neuron in session 0
    path = storage.save_dataset(dsm.make_dataset(arr), tmp_path / "d.nc")
    with storage.load_dataset(path) as ds:
        assert ds[dsm.TUNING].dtype == np.float32
        for s in (0, 1):
            native, wide = dsm.session_data(ds, s, dtype=None), dsm.session_data(ds, s)
            assert native.dtype == np.float32 and wide.dtype == np.float64
            np.testing.assert_array_equal(native.astype(np.float64), wide)
        from dnn_manifolds.analysis.capacity import capacity
        from dnn_manifolds.analysis.geometry import geometry

        wide_ds = ds.load().astype({dsm.TUNING: np.float64})
        for run in (lambda d: geometry(d, n_t=20, seed=1, progress=False), lambda d: capacity(d, seed=1, progress=False)):
            a, b = run(ds), run(wide_ds)
            for name in ("capacity",):
                np.testing.assert_array_equal(a[name].values, b[name].values)


def test_silent_neuron_mask_uses_all_valid_entries(rng):
    values = rng.standard_normal((3, 4, 2))
    values[:, 0, 0] = np.nan  # every sample index ... not all: only (0, 0) missing
    values[1] = 0.0
    values[1, 0, 0] = np.nan
    assert dsm.silent_neuron_mask(values).tolist() == [True, False, True]


def test_unknown_session_lists_available(rng):
    ds = dsm.make_dataset(_tuning(rng))
    with pytest.raises(ValueError, match=r"unknown session 'nope'.*session #1"):
        dsm.resolve_session(ds, "nope")
    with pytest.raises(ValueError, match="unknown session 7"):
        dsm.resolve_session(ds, 7)
    assert dsm.resolve_session(ds, "1") == 1


# ----------------------------------------------------------------------------- bad data


def _bad_cases():
    rng = np.random.default_rng(0)
    good = rng.standard_normal((2, 5, 4, 3))

    def mod(fn):
        arr = good.copy()
        fn(arr)
        return arr

    no_sample = mod(lambda a: a.__setitem__((1, slice(None), slice(None), 2), np.nan))
    scattered = mod(lambda a: a.__setitem__((0, 1, 2, 0), np.nan))
    silent = mod(lambda a: a.__setitem__((1,), 0.0))
    infs = mod(lambda a: a.__setitem__((0, 0, 0, 0), np.inf))
    return [
        ("2-d array", rng.standard_normal((5, 4)), "3 dimensions .* got 2 dimensions"),
        ("5-d array", rng.standard_normal((2, 2, 5, 4, 3)), "got 5 dimensions"),
        ("one object", rng.standard_normal((5, 4, 1)), "at least 2 objects"),
        ("object without sample", no_sample, r"object\(s\) \[2\] have no valid sample"),
        ("scattered NaN", scattered, "scattered NaN"),
        ("silent session", silent, "no non-silent neuron"),
        ("Inf", infs, "infinite"),
        ("strings", np.array([["a", "b"], ["c", "d"]]), "must be numeric"),
        ("complex", rng.standard_normal((4, 3, 2)) * 1j, "must be real-valued; got complex"),
    ]


@pytest.mark.parametrize("name,arr,message", _bad_cases(), ids=[c[0] for c in _bad_cases()])
def test_bad_data_is_rejected_with_a_message_naming_the_problem(name, arr, message):
    with pytest.raises(ManifoldDataError, match=message) as info:
        dsm.make_dataset(arr, source="in.mat")
    assert str(info.value).startswith("in.mat: variable 'tuning': ")
    assert "\n" not in str(info.value)


def test_titles_of_wrong_length_are_rejected(rng):
    with pytest.raises(ManifoldDataError, match="'data_titles': has 2 titles but the data have 3"):
        dsm.make_dataset(_tuning(rng), sessions=["a", "b"])


def test_duplicate_titles_are_rejected(rng):
    with pytest.raises(ManifoldDataError, match="unique"):
        dsm.make_dataset(_tuning(rng), sessions=["a", "b", "a"])


def test_validate_rejects_wrong_dims(rng):
    ds = xr.Dataset({dsm.TUNING: (("a", "b", "c", "d"), _tuning(rng))})
    with pytest.raises(ManifoldDataError, match="must have dims"):
        dsm.validate_dataset(ds)
    with pytest.raises(ManifoldDataError, match="is missing"):
        dsm.validate_dataset(xr.Dataset({"other": ("x", [1.0])}))


def test_provenance_attrs_are_netcdf_safe(tmp_path, rng):
    attrs = provenance_attrs(seeds={"a": 1}, config={"x": [1, 2]}, extra_list=["a", "b"], flag=True)
    ds = dsm.make_dataset(_tuning(rng), attrs=attrs)
    storage.save_dataset(ds, tmp_path / "p.nc")
    with storage.load_dataset(tmp_path / "p.nc") as back:
        assert json.loads(back.attrs["extra_list"]) == ["a", "b"]
        assert back.attrs["dnn_manifolds_version"]
        assert json.loads(back.attrs["config"]) == {"x": [1, 2]}


def test_truncated_netcdf_is_a_clear_error(rng, tmp_path):
    path = tmp_path / "d.nc"
    storage.save_dataset(dsm.make_dataset(_tuning(rng, (3, 40, 9, 6))), path)
    data = path.read_bytes()
    bad = tmp_path / "bad.nc"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ManifoldDataError, match=r"bad\.nc: variable 'tuning': cannot be read"):
        storage.load_dataset(bad)


def _result_like(rng):
    """A dataset shaped like an analysis result: scalars, strings, NaNs, ints, a matrix."""
    return xr.Dataset(
        {
            "capacity": ((), 0.25),
            "object_capacity": ("object", np.array([0.1, np.nan, 0.3])),
            "object_reason": ("object", np.array(["", "no valid samples", ""], dtype=object)),
            "centre_correlation_matrix": (("object", "object2"), rng.standard_normal((3, 3))),
            "n_valid_samples": ("object", np.array([5, 0, 5], dtype=np.int64)),
            "reasons": ((), json.dumps({"1": "no valid samples"})),
        },
        coords={"object": [3, 7, 9], "object2": [3, 7, 9]},
        attrs={"key_network": "alexnet", "converged": True, "seed_entropy": str(2**70)},
    )


def test_results_written_by_the_fast_engine_read_back_identical_with_either_engine(rng, tmp_path):
    from dnn_manifolds.data import files

    groups = {"affine_1d": _result_like(rng), "cloud": _result_like(rng)}
    path = files.write_netcdf_groups(groups, tmp_path / "job.nc", attrs={"analysis": "geometry"})
    back = files.read_groups(path)
    assert list(back) == ["affine_1d", "cloud"]
    for name, ds in groups.items():
        with xr.open_dataset(path, group=name, engine="h5netcdf") as other:
            xr.testing.assert_identical(back[name], other.load())
        np.testing.assert_array_equal(back[name]["object_reason"].values, ds["object_reason"].values)
        np.testing.assert_array_equal(back[name]["centre_correlation_matrix"].values, ds["centre_correlation_matrix"].values)
        assert back[name].attrs["key_network"] == "alexnet"
    single = files.write_result(groups["cloud"], tmp_path / "one.nc")
    with xr.open_dataset(single, engine="h5netcdf") as other:
        xr.testing.assert_identical(files.read_result(single), other.load())


def test_results_written_by_h5netcdf_read_the_same_as_before(rng, tmp_path, monkeypatch):
    """Results of earlier versions (written with h5netcdf) read through today's readers as
    h5netcdf itself reads them."""
    from dnn_manifolds.data import files

    ds = _result_like(rng)
    old = files.write_netcdf(ds, tmp_path / "old.nc", engine="h5netcdf")
    with xr.open_dataset(old, engine="h5netcdf") as ref:
        xr.testing.assert_identical(files.read_result(old), ref.load())
    with monkeypatch.context() as patch:  # the grouped writer as it was: h5netcdf
        patch.setattr(files, "fast_engine", lambda: "h5netcdf")
        grouped = files.write_netcdf_groups({"affine_1d": ds, "cloud": ds}, tmp_path / "old_groups.nc")
    assert files.fast_engine() == "netcdf4"
    back = files.read_groups(grouped)
    assert list(back) == ["affine_1d", "cloud"]
    for name in back:
        with xr.open_dataset(grouped, group=name, engine="h5netcdf") as ref:
            xr.testing.assert_identical(back[name], ref.load())


def test_a_dataset_reads_the_same_through_load_dataset_and_h5netcdf(rng, tmp_path):
    ds = dsm.make_dataset(_tuning(rng))
    path = storage.save_dataset(ds, tmp_path / "d.nc")
    with storage.load_dataset(path) as fast, xr.open_dataset(path, engine="h5netcdf") as ref:
        xr.testing.assert_identical(fast.load(), ref.load())
