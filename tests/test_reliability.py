"""Reliability: inputs are never replaced, options and sizes are checked before any work, a full
disk is a clean error, every message names the culprit, every NaN carries its reason to the
table, and a failure never steers the N_c search (issue 13)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from dnn_manifolds.analysis import capacity as cap
from dnn_manifolds.analysis.capacity import problem as cap_problem
from dnn_manifolds.analysis.capacity import lp as _lp
from dnn_manifolds.analysis.geometry import geometry
from dnn_manifolds.cli import main
from dnn_manifolds.data import make_dataset, save_dataset
from dnn_manifolds.data.dataset import TUNING, ManifoldDataError
from dnn_manifolds.data.importers import import_data
from dnn_manifolds.errors import UserError
from dnn_manifolds.report.tables import build_table, tidy_records
from dnn_manifolds.workflow.config import ConfigError, check_config


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def small_nc(tmp_path):
    rng = np.random.default_rng(13)
    path = tmp_path / "a.nc"
    save_dataset(make_dataset(rng.standard_normal((2, 10, 3, 4)), sessions=["s0", "s1"]), path)
    return path


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("dnn-manifolds") and err.count("\n") == 1, err
    return err


# ----------------------------------------------------------------------------- inputs kept


@pytest.mark.parametrize("command", ["import", "capacity", "geometry"])
def test_an_output_never_replaces_its_input(tmp_path, small_nc, capsys, command):
    """``import x.npy x.npy``, ``capacity a.nc a.nc``, ``geometry a.nc a.nc``: refused, the
    input untouched (also when the output is spelled differently or is a link to it)."""
    src = small_nc
    if command == "import":
        src = tmp_path / "x.npy"
        np.save(src, np.random.default_rng(1).standard_normal((10, 3, 4)))
    before = _digest(src)
    link = tmp_path / "link.nc"
    link.symlink_to(src)
    for out in (src, tmp_path / "." / src.name, link):
        assert main([command, str(src), str(out), "--quiet"]) == 2
        assert "would replace the input" in _one_line_error(capsys)
        assert _digest(src) == before


def test_repeated_session_is_an_error_in_both_analyses(small_nc, tmp_path, capsys):
    for command in ("capacity", "geometry"):
        out = tmp_path / f"{command}.nc"
        assert main([command, str(small_nc), str(out), "--session", "s0", "--session", "s0", "--quiet"]) == 2
        assert "named more than once" in _one_line_error(capsys)
        assert not out.exists()


# ----------------------------------------------------------------------------- checked before work


@pytest.mark.parametrize(
    "argv",
    [
        ["capacity", "IN", "OUT", "--seed", str(2**64 + 1)],
        ["geometry", "IN", "OUT", "--seed", str(2**64)],
        ["stimuli", "make", "OUT", "--seed", str(2**64)],
        ["train-demo", "IN", "OUT", "--seed", str(2**63)],
    ],
    ids=["capacity", "geometry", "stimuli", "train-demo"],
)
def test_seed_beyond_64_bits_is_refused_before_any_work(small_nc, tmp_path, capsys, argv):
    out = tmp_path / "out.nc"
    argv = [str(small_nc) if a == "IN" else str(out) if a == "OUT" else a for a in argv]
    t0 = time.perf_counter()
    assert main(argv) == 2
    assert "below 2**63" in _one_line_error(capsys)
    assert time.perf_counter() - t0 < 5 and not out.exists()


@pytest.mark.parametrize(
    "command, flags, match",
    [
        ("geometry", ["--n-t", "1000000000"], "needs about .* GiB of memory, more than the .* available; lower n_t"),
        ("capacity", ["--max-repetitions", str(10**12)], "needs about .* GiB of memory.*max_repetitions"),
    ],
)
def test_sizes_beyond_memory_are_refused_before_any_work(small_nc, tmp_path, capsys, command, flags, match):
    import re

    out = tmp_path / "out.nc"
    t0 = time.perf_counter()
    assert main([command, str(small_nc), str(out), "--quiet", *flags]) == 2
    assert re.search(match, _one_line_error(capsys))
    assert time.perf_counter() - t0 < 10 and not out.exists()


def _mat_v73(path: Path, create) -> None:
    with h5py.File(path, "w", userblock_size=512) as fh:
        create(fh)
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: test HDF5 schema 1.00 .")


def test_v73_file_declaring_a_huge_array_is_refused_at_import_and_info(tmp_path, capsys):
    path = tmp_path / "huge_tuning.mat"

    def create(fh):  # 73 TB declared, nothing written (HDF5 allocates chunks lazily)
        d = fh.create_dataset("tuning_function", shape=(10, 100, 100_000, 100_000), dtype="f8", chunks=(1, 1, 100, 100))
        d.attrs["MATLAB_class"] = np.bytes_("double")

    _mat_v73(path, create)
    assert path.stat().st_size < 1_000_000
    for argv in (["import", str(path), str(tmp_path / "o.nc")], ["info", str(path)]):
        assert main(argv) == 2
        err = _one_line_error(capsys)
        assert "declares an array of shape (100000, 100000, 100, 10)" in err and "available" in err


# ----------------------------------------------------------------------------- clear messages


def test_text_and_truncated_npy_files_say_what_is_wrong(tmp_path):
    text = tmp_path / "text.npy"
    text.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(ManifoldDataError, match="not a .npy file") as info:
        import_data(text)
    assert "object" not in str(info.value)
    cut = tmp_path / "cut.npy"
    np.save(cut, np.zeros((3, 4, 5)))
    cut.write_bytes(cut.read_bytes()[:200])
    with pytest.raises(ManifoldDataError, match=r"truncated \(its header declares float64 of shape \(3, 4, 5\)"):
        import_data(cut)


def test_complex_data_is_named_complex_in_every_format(tmp_path):
    z = np.random.default_rng(2).standard_normal((5, 4, 3)) * (1 + 1j)

    def create(fh):
        pair = np.dtype([("real", "<f8"), ("imag", "<f8")])
        data = np.empty(z.T.shape, dtype=pair)
        data["real"], data["imag"] = z.T.real, z.T.imag
        fh.create_dataset("tuning_function", data=data).attrs["MATLAB_class"] = np.bytes_("double")

    _mat_v73(tmp_path / "c73_tuning.mat", create)
    scipy.io.savemat(tmp_path / "c5_tuning.mat", {"tuning_function": z})
    np.save(tmp_path / "c.npy", z)
    for name in ("c73_tuning.mat", "c5_tuning.mat", "c.npy"):
        with pytest.raises(ManifoldDataError, match="must be real-valued; got complex numbers"):
            import_data(tmp_path / name)


def test_logical_arrays_are_accepted_alike_in_v73_v5_and_npy(tmp_path):
    """Binary responses (MATLAB logical, numpy bool) import as 0/1 in every format."""
    b = np.random.default_rng(3).random((2, 6, 4, 3)) < 0.5
    b[:, 0] = True  # no silent session

    def create(fh):
        d = fh.create_dataset("tuning_function", data=b.T.astype(np.uint8))
        d.attrs["MATLAB_class"] = np.bytes_("logical")

    _mat_v73(tmp_path / "b73_tuning.mat", create)
    scipy.io.savemat(tmp_path / "b5_tuning.mat", {"tuning_function": b})
    np.save(tmp_path / "b.npy", b)
    values = [import_data(tmp_path / n)[TUNING].values for n in ("b73_tuning.mat", "b5_tuning.mat", "b.npy")]
    for v in values:
        np.testing.assert_array_equal(v, b.astype(np.float32))


def test_a_file_where_a_directory_is_needed_is_named(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.random.default_rng(4).standard_normal((10, 3, 4)))
    blocker = tmp_path / "results"
    blocker.write_text("not a directory")
    assert main(["import", str(tmp_path / "x.npy"), str(blocker / "x.nc")]) == 2
    err = _one_line_error(capsys)
    assert f"'{blocker}' is a file, where a directory is needed" in err and "File exists" not in err


def test_aggregate_names_a_truncated_analysis_file(tmp_path, small_nc):
    out = tmp_path / "capacity.nc"
    assert main(["capacity", str(small_nc), str(out), "--session", "s0", "--quiet"]) == 0
    out.write_bytes(out.read_bytes()[:2000])
    entry = {"path": out, "network": "n", "kind": "1d", "layer": "l", "layer_index": 0, "transform": "t", "analysis": "capacity"}
    with pytest.raises(UserError, match=f"{out}: cannot be read as an analysis result"):
        build_table([entry])


def _own_config(tmp_path, path) -> dict:
    return {"seed": 1, "networks": {}, "manifolds": {}, "own_data": {"inputs": {"mine": path}}}


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d: (d / "data.txt").write_text("1 2 3") and "data.txt", r"unknown file type '\.txt'"),
        (lambda d: (d / "folder").mkdir() or "folder", "is a directory"),
        (
            lambda d: ((d / "results/own/mine").mkdir(parents=True), np.save(d / "results/own/mine/in.npy", np.ones((3, 2, 2))))
            and "results/own/mine/in.npy",
            "lies under results/",
        ),
    ],
    ids=["txt", "directory", "under-results"],
)
def test_own_data_inputs_are_checked_before_any_job(tmp_path, make, match):
    from dnn_manifolds.workflow.config import apply_defaults

    path = make(tmp_path)
    with pytest.raises(ConfigError, match=f"own_data.inputs.mine.*{match}"):
        check_config(apply_defaults(_own_config(tmp_path, path)), base_dir=tmp_path)


# ----------------------------------------------------------------------------- full disk


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return proc.returncode == 0


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 1 MiB filesystem (tmpfs); skipped where mounting is not permitted."""
    mnt = tmp_path / "disk"
    if not _mount_tmpfs(mnt, "1M"):
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): no real full disk to test on")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


SRC = str(Path(__import__("dnn_manifolds").__file__).resolve().parents[1])  # the code under test


def _cli(*args, env_extra=None):
    env = dict(os.environ, PYTHONPATH=SRC)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "dnn_manifolds.cli", *map(str, args)], capture_output=True, text=True, env=env)


def test_full_disk_is_a_clean_error_with_nothing_left_behind(tmp_path, tiny_disk):
    """A netCDF write that does not fit a real (tmpfs) disk: exit 2, one line, no file, no
    hidden temporary file (HDF5 used to segfault, exit 139)."""
    src = tmp_path / "big.npy"
    np.save(src, np.random.default_rng(5).standard_normal((4, 300, 20, 20)))  # 1.9 MB as float32
    proc = _cli("import", src, tiny_disk / "out.nc")
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert proc.stderr.count("\n") == 1 and "No space left" not in proc.stdout
    assert "only" in proc.stderr and "free" in proc.stderr
    assert list(tiny_disk.iterdir()) == []


def test_disk_filling_during_the_write_is_a_clean_error(tmp_path, tiny_disk):
    """The free-space check passed but the disk fills while writing (a real ENOSPC from the
    kernel, no faked exception): still a one-line error and no leftover."""
    src = tmp_path / "big.npy"
    np.save(src, np.random.default_rng(6).standard_normal((4, 300, 20, 20)))
    script = (
        "import sys; import dnn_manifolds.data.files as f; f.free_space = lambda p: 1 << 40; "
        "from dnn_manifolds.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    env = dict(os.environ, PYTHONPATH=SRC)
    proc = subprocess.run([sys.executable, "-c", script, "import", str(src), str(tiny_disk / "out.nc")], capture_output=True, text=True, env=env)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "No space left on device" in proc.stderr and proc.stderr.count("\n") == 1
    assert list(tiny_disk.iterdir()) == []


# ----------------------------------------------------------------------------- NaN has a reason


def _table_rows(ds, analysis):
    return {r["measure"]: r for r in tidy_records(ds, network="n", kind="own", layer="l", layer_index=0, transform="", analysis=analysis)}


def test_capacity_beyond_the_tested_range_is_explained_in_the_table():
    """N = 1 neuron (and N < M): N_c > N, so α_c is NaN — with status and reason, and the
    table row is flagged with that reason."""
    rng = np.random.default_rng(7)
    for shape in ((1, 5, 6), (3, 8, 6)):
        out = cap.capacity(make_dataset(rng.standard_normal(shape)), session=0, seed=1)
        assert math.isnan(float(out["capacity"])) and str(out["result_status"].values) == "not_reached"
        reasons = json.loads(str(out["reasons"].values))
        assert f"up to N = {shape[0]}" in reasons["capacity"]
        rows = _table_rows(out, "capacity")
        assert rows["capacity"]["flagged"] and "N_c > N" in rows["capacity"]["reason"]
        assert not rows["n_objects"]["flagged"] and rows["n_objects"]["reason"] == ""
        for row in rows.values():  # every NaN of the table has a specific reason
            if math.isnan(row["value"]):
                assert row["flagged"] and row["reason"] and "without a recorded reason" not in row["reason"]


def test_point_objects_have_no_dimension_and_the_table_says_why():
    out = geometry(make_dataset(np.random.default_rng(8).standard_normal((10, 1, 5))), session=0, n_t=50)
    assert float(out["capacity"]) == pytest.approx(2.0)  # points: α₀(0) = 2 exactly
    rows = _table_rows(out, "geometry")
    assert math.isnan(rows["dimension"]["value"]) and "a point" in rows["dimension"]["reason"]
    assert not rows["capacity"]["flagged"]


def test_failures_never_steer_the_search():
    """All repetitions failing at a bisection probe: the bracket stays, no N_c is claimed."""
    truth = {n: (1.0 if n >= 37 else 0.0) for n in range(1, 65)}
    blind = {n: (math.nan if n == 35 else v) for n, v in truth.items()}
    n_c, probes = cap.search_critical_n(blind.__getitem__, 64, jumps=10)
    # coarse 10..40 (f(40) = 1), first bisection probe 35 is NaN: the bisection stops there
    assert probes[:5] == [10, 20, 30, 40, 35] and 38 not in probes and 37 not in probes
    status, reason = cap.search.crossing_status({n: blind[n] for n in probes}, 64)
    assert status == "failed" and "n = 35" in reason and "(30, 40]" in reason
    # before the fix NaN counted as "not separable" and moved the bracket's lower end
    assert cap.search_critical_n(truth.__getitem__, 64, jumps=10)[0] == 37


def test_a_session_whose_decisions_all_fail_near_n_c_is_flagged(monkeypatch):
    real = cap_problem.decide

    def flaky(x, y, **kw):
        if x.shape[0] in (5, 6, 7, 8, 9):
            return _lp.SeparabilityResult(None, _lp.FAILED, "forced")
        return real(x, y, **kw)

    monkeypatch.setattr(cap_problem, "decide", flaky)
    points = np.random.default_rng(9).standard_normal((40, 1, 16))  # N_c ≈ 7 for 16 points
    res = cap.critical_capacity(points, rng=0, jumps=10)
    assert res.status == "failed" and math.isnan(res.capacity) and "every repetition failed" in res.reason


def test_absurd_jobs_are_refused_before_any_work(small_nc, tmp_path, capsys):
    """``--jobs 1000000000`` would fork a billion workers: refused with one line."""
    out = tmp_path / "out.nc"
    for analysis in ("capacity", "geometry"):
        assert main([analysis, str(small_nc), str(out), "--jobs", "1000000000", "--quiet"]) == 2
        assert "jobs must be at most" in _one_line_error(capsys) and not out.exists()
