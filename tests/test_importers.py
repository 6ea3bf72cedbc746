"""Own-data import: MATLAB v7.3 and v5 tuning files, NumPy, netCDF; the CLI; the bad-input catalogue."""

import json

import h5py
import numpy as np
import pytest
import scipy.io
import xarray as xr

from dnn_manifolds.data import dataset as dsm
from dnn_manifolds.data import storage
from dnn_manifolds.cli import main
from dnn_manifolds.data.dataset import ManifoldDataError
from dnn_manifolds.data.importers import import_data

TITLES = ["V1 session", "IT session", "a third"]


def write_mat_v73(path, tuning, titles=None, *, variable="tuning_function"):
    """Write a file laid out as MATLAB's ``save -v7.3`` does: HDF5 with a 512-byte user block,
    arrays stored with reversed axes, MATLAB_class attributes, and a cell array of strings as
    object references into ``#refs#``."""
    with h5py.File(path, "w", userblock_size=512) as fh:
        data = fh.create_dataset(variable, data=np.asarray(tuning).transpose())
        data.attrs["MATLAB_class"] = np.bytes_("double")
        if titles is not None:
            refs_group = fh.create_group("#refs#")
            refs = []
            for i, title in enumerate(titles):
                chars = np.array([[ord(c)] for c in title], dtype=np.uint16).T  # MATLAB 1×n char
                d = refs_group.create_dataset(f"t{i}", data=chars.transpose())
                d.attrs["MATLAB_class"] = np.bytes_("char")
                refs.append(d.ref)
            cell = fh.create_dataset(
                "data_titles", data=np.array([refs], dtype=h5py.ref_dtype)
            )  # MATLAB [S, 1] cell → HDF5 (1, S)
            cell.attrs["MATLAB_class"] = np.bytes_("cell")
    with open(path, "r+b") as fh:  # MATLAB's header text in the user block
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .")


def write_mat_v5(path, tuning, titles=None, *, variable="tuning_function"):
    contents = {variable: np.asarray(tuning, dtype=np.float64)}
    if titles is not None:
        cell = np.empty((len(titles), 1), dtype=object)
        for i, t in enumerate(titles):
            cell[i, 0] = t
        contents["data_titles"] = cell
    scipy.io.savemat(path, contents, format="5")


@pytest.fixture
def tuning():
    rng = np.random.default_rng(3)
    arr = rng.standard_normal((3, 6, 5, 4))
    arr[2, 4:] = np.nan  # session 3 has only 4 neurons
    arr[:, :, 3:, 2] = np.nan  # object 3 has only 3 samples
    return arr


def test_v73_and_v5_files_import_to_identical_datasets(tmp_path, tuning):
    write_mat_v73(tmp_path / "a_tuning.mat", tuning, TITLES)
    write_mat_v5(tmp_path / "b_tuning.mat", tuning, TITLES)
    a = import_data(tmp_path / "a_tuning.mat")
    b = import_data(tmp_path / "b_tuning.mat")
    xr.testing.assert_equal(a, b)
    assert list(a.session.values) == TITLES
    np.testing.assert_array_equal(a[dsm.TUNING].values, tuning.astype(np.float32))


def test_v73_axis_order_is_restored(tmp_path):
    arr = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5) + 1
    write_mat_v73(tmp_path / "x.mat", arr)
    ds = import_data(tmp_path / "x.mat")
    assert ds[dsm.TUNING].shape == (2, 3, 4, 5)
    assert ds[dsm.TUNING].values[1, 2, 3, 4] == arr[1, 2, 3, 4]


def test_three_dimensional_mat_is_one_session_with_default_title(tmp_path):
    arr = np.random.default_rng(1).standard_normal((6, 5, 4))
    write_mat_v5(tmp_path / "one.mat", arr)
    ds = import_data(tmp_path / "one.mat")
    assert list(ds.session.values) == ["session #1"]
    np.testing.assert_array_equal(ds[dsm.TUNING].values[0], arr.astype(np.float32))


def test_npy_npz_and_netcdf_inputs(tmp_path, tuning):
    np.save(tmp_path / "t.npy", tuning)
    np.savez(tmp_path / "t.npz", tuning_function=tuning, data_titles=np.array(TITLES))
    xr.Dataset({"tuning_function": (("s", "n", "m", "p"), tuning)}).to_netcdf(
        tmp_path / "foreign.nc", engine="h5netcdf"
    )
    ref = import_data(tmp_path / "t.npz")
    assert list(ref.session.values) == TITLES
    np.testing.assert_array_equal(import_data(tmp_path / "t.npy")[dsm.TUNING].values, ref[dsm.TUNING].values)
    np.testing.assert_array_equal(import_data(tmp_path / "foreign.nc")[dsm.TUNING].values, ref[dsm.TUNING].values)
    storage.save_dataset(ref, tmp_path / "own.nc")
    xr.testing.assert_identical(import_data(tmp_path / "own.nc"), ref)


def test_cli_import_then_info(tmp_path, tuning, capsys):
    write_mat_v73(tmp_path / "in.mat", tuning, TITLES)
    out = tmp_path / "out.nc"
    assert main(["import", str(tmp_path / "in.mat"), str(out)]) == 0
    assert "3 sessions × 6 neurons × 5 samples × 4 objects" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["shape"] == {"session": 3, "neuron": 6, "sample": 5, "object": 4}
    third = info["sessions"][2]
    assert third["title"] == "a third"
    assert third["missing_neurons"] == 2 and third["neurons_used"] == 4
    assert third["missing_samples"] == 2
    assert main(["info", str(out)]) == 0
    assert "'IT session': 6 neurons used" in capsys.readouterr().out


# ----------------------------------------------------------------------------- bad input


def _good(shape=(2, 5, 4, 3)):
    return np.random.default_rng(0).standard_normal(shape)


def _with(fn, shape=(2, 5, 4, 3)):
    arr = _good(shape)
    fn(arr)
    return arr


BAD_MAT_CASES = {
    "wrong number of dimensions": (
        lambda p: write_mat_v73(p, _good((5, 4))),
        "tuning_function.*got 2 dimensions",
    ),
    "fewer than 2 objects": (
        lambda p: write_mat_v5(p, _good((5, 4, 1))),
        "at least 2 objects",
    ),
    "object with no valid sample": (
        lambda p: write_mat_v73(p, _with(lambda a: a.__setitem__((0, slice(None), slice(None), 1), np.nan))),
        "have no valid sample",
    ),
    "Inf values": (
        lambda p: write_mat_v5(p, _with(lambda a: a.__setitem__((1, 2, 3, 0), -np.inf))),
        "infinite",
    ),
    "non-numeric data": (
        lambda p: scipy.io.savemat(p, {"tuning_function": np.array(["abc", "def"])}),
        "must be a numeric array",
    ),
    "titles of the wrong length": (
        lambda p: write_mat_v73(p, _good(), ["only one"]),
        "'data_titles': has 1 titles but the data have 2 sessions",
    ),
    "session with no non-silent neuron": (
        lambda p: write_mat_v5(p, _with(lambda a: a.__setitem__((1,), 0.0))),
        "no non-silent neuron",
    ),
    "missing variable": (
        lambda p: write_mat_v73(p, _good(), variable="responses"),
        r"'tuning_function': is missing; the file has \['responses'\]",
    ),
    "missing variable v5": (
        lambda p: write_mat_v5(p, _good(), variable="responses"),
        r"'tuning_function': is missing; the file has \['responses'\]",
    ),
}


def _truncate(path, writer):
    writer(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


@pytest.mark.parametrize("case", sorted(BAD_MAT_CASES))
def test_bad_mat_file_gets_one_line_error_and_no_output(tmp_path, capsys, case):
    writer, message = BAD_MAT_CASES[case]
    src = tmp_path / "bad_tuning.mat"
    writer(src)
    out = tmp_path / "out" / "bad.nc"
    assert main(["import", str(src), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith(f"dnn-manifolds: error: {src}: variable '")
    import re

    assert re.search(message, err), err
    assert not out.exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


@pytest.mark.parametrize(
    "writer",
    [
        lambda p: write_mat_v73(p, _good((2, 40, 30, 20))),
        lambda p: write_mat_v5(p, _good((2, 40, 30, 20))),
    ],
    ids=["v7.3", "v5"],
)
def test_truncated_mat_file_is_unreadable_error(tmp_path, capsys, writer):
    src = tmp_path / "cut.mat"
    _truncate(src, writer)
    out = tmp_path / "cut.nc"
    assert main(["import", str(src), str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{src}: variable 'tuning_function': cannot be read" in err
    assert not out.exists()


def test_unreadable_garbage_and_unknown_suffix(tmp_path, capsys):
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 10)
    assert main(["import", str(tmp_path / "junk.mat"), str(tmp_path / "o.nc")]) == 2
    assert "cannot be read" in capsys.readouterr().err
    (tmp_path / "x.csv").write_text("1,2\n")
    assert main(["import", str(tmp_path / "x.csv"), str(tmp_path / "o.nc")]) == 2
    assert "unknown file type '.csv'" in capsys.readouterr().err
    assert main(["import", str(tmp_path / "absent.mat"), str(tmp_path / "o.nc")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert not (tmp_path / "o.nc").exists()


def test_object_arrays_in_npy_are_refused(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ManifoldDataError, match="numeric array"):
        import_data(tmp_path / "obj.npy")


def test_existing_output_is_untouched_when_import_fails(tmp_path, capsys):
    out = tmp_path / "keep.nc"
    out.write_bytes(b"previous result")
    write_mat_v5(tmp_path / "bad.mat", _good((5, 4, 1)))
    assert main(["import", str(tmp_path / "bad.mat"), str(out)]) == 2
    assert out.read_bytes() == b"previous result"


def test_unwritable_output_location_is_a_clean_error(tmp_path, capsys):
    write_mat_v5(tmp_path / "ok.mat", _good())
    blocker = tmp_path / "results"
    blocker.write_text("a file where a directory should be")
    out = blocker / "sub" / "ok.nc"
    assert main(["import", str(tmp_path / "ok.mat"), str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dnn-manifolds: error:") and "\n" not in err
    assert str(blocker / "sub" / "ok.nc") in err
    assert blocker.read_text() == "a file where a directory should be"


def test_disk_full_during_write_leaves_no_output(tmp_path, capsys, monkeypatch):
    write_mat_v5(tmp_path / "ok.mat", _good())
    real = xr.Dataset.to_netcdf

    def full_disk(self, path, *args, **kwargs):
        real(self, path, *args, **kwargs)  # the bytes went out, then the disk filled up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", full_disk)
    out = tmp_path / "o" / "ok.nc"
    assert main(["import", str(tmp_path / "ok.mat"), str(out)]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert not out.exists()
    assert not out.parent.exists() or [p.name for p in out.parent.iterdir()] == []
