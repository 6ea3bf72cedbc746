"""The warm process of local runs (dnn_manifolds.workflow.warm): a job run by a forked child
writes what the job run in its own process writes; failures, incompatible jobs and a vanished
parent are handled."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from dnn_manifolds.data import make_dataset, read_groups, save_dataset
from dnn_manifolds.workflow import warm
from dnn_manifolds.workflow.jobs import run_logged_job

RUN = "dnn_manifolds.workflow.jobs:run_logged_job"


def _dataset(path: Path) -> Path:
    rng = np.random.default_rng(0)
    tuning = rng.standard_normal((1, 20, 3, 4)) + 3 * rng.standard_normal((1, 20, 1, 4))
    save_dataset(make_dataset(tuning, sessions=["layer/transform"]), path)
    return path


def _job(analysis: str, dataset: Path, output: Path) -> dict:
    return {
        "analysis": analysis,
        "experiment": analysis,
        "sets": [{"key": {"network": "net", "manifold": "tiny"}, "options": {"n_t": 50} if analysis == "geometry" else {}, "grid": None}],
        "datasets": [str(dataset)],
        "session": "layer/transform",
        "seed": 3,
        "output": str(output),
        "progress": False,
    }


@pytest.fixture
def warm_process(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in warm.THREAD_VARIABLES:
        monkeypatch.setenv(var, "1")
    monkeypatch.delenv(warm.SOCKET_ENV, raising=False)
    started = warm.start(threads=1, log=tmp_path / "logs/warm.log")
    assert started is not None, (tmp_path / "logs/warm.log").read_text()
    yield started
    started.stop()


def _same_results(a: Path, b: Path) -> None:
    ga, gb = read_groups(a), read_groups(b)
    assert list(ga) == list(gb)
    for name in ga:
        for var in ga[name].data_vars:
            if "time" in var:
                continue
            np.testing.assert_array_equal(ga[name][var].values, gb[name][var].values, err_msg=var)


@pytest.mark.parametrize("analysis", ["capacity", "geometry"])
def test_a_warm_job_writes_what_the_job_in_its_own_process_writes(warm_process, tmp_path, analysis):
    data = _dataset(tmp_path / "tiny.nc")
    reply = warm.run_in_warm_process(RUN, {"job": _job(analysis, data, tmp_path / "warm.nc"), "log_path": "logs/warm_job.log"})
    assert reply is not None and reply["status"] == "ok" and reply["cpu_s"] > 0
    log = (tmp_path / "logs/warm_job.log").read_text()
    assert f"a child of the warm process {warm_process.process.pid}" in log and "warm child:" in log
    run_logged_job(_job(analysis, data, tmp_path / "own.nc"), str(tmp_path / "logs/own_job.log"))
    assert "running in its own process" in (tmp_path / "logs/own_job.log").read_text()
    _same_results(tmp_path / "warm.nc", tmp_path / "own.nc")


def test_a_failing_warm_job_raises_with_the_childs_traceback(warm_process, tmp_path):
    job = _job("capacity", tmp_path / "missing.nc", tmp_path / "out.nc")
    with pytest.raises(RuntimeError, match="missing.nc: no such file"):
        warm.run_in_warm_process(RUN, {"job": job, "log_path": "logs/bad.log"})
    assert "FileNotFoundError" in (tmp_path / "logs/bad.log").read_text()
    assert not (tmp_path / "out.nc").exists()


def test_incompatible_jobs_and_unknown_functions_run_nothing(warm_process, tmp_path, monkeypatch):
    data = _dataset(tmp_path / "tiny.nc")
    kwargs = {"job": _job("capacity", data, tmp_path / "out.nc"), "log_path": "logs/x.log"}
    assert warm.run_in_warm_process("os:system", {"command": "true"}) is None
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")  # not the warm process's thread setting
    assert warm.run_in_warm_process(RUN, kwargs) is None
    assert not (tmp_path / "out.nc").exists() and not (tmp_path / "logs/x.log").exists()


def test_without_a_warm_process_nothing_is_used(tmp_path, monkeypatch, warm_process):
    socket_dir = Path(warm_process.directory)
    warm_process.stop()
    assert warm.SOCKET_ENV not in os.environ and not socket_dir.exists()
    kwargs = {"job": _job("capacity", tmp_path / "tiny.nc", tmp_path / "out.nc"), "log_path": "logs/x.log"}
    assert warm.run_in_warm_process(RUN, kwargs) is None
    monkeypatch.setenv(warm.SOCKET_ENV, str(socket_dir / "socket"))  # announced but gone
    assert warm.run_in_warm_process(RUN, kwargs) is None


def test_the_warm_process_ends_when_the_process_that_started_it_is_gone(tmp_path):
    code = textwrap.dedent(
        f"""
        import os
        from dnn_manifolds.workflow import warm
        w = warm.start(threads=1, log={str(tmp_path / "warm.log")!r})
        print(w.process.pid, flush=True)
        os._exit(0)  # killed, no stop(): the warm process must notice
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(pid, 9)
    pytest.fail("the warm process outlived its parent by 30 s")


def test_a_warm_process_that_cannot_start_is_no_error(tmp_path, monkeypatch):
    monkeypatch.delenv(warm.SOCKET_ENV, raising=False)
    blocker = tmp_path / "logs"
    blocker.write_text("a file where the log folder would go")
    assert warm.start(threads=1, log=blocker / "warm.log") is None
    assert warm.SOCKET_ENV not in os.environ


def test_the_key_covers_the_installed_distributions(monkeypatch):
    key = warm.compatibility_key()
    assert any(name.startswith("numpy-") for name in warm._installed())
    monkeypatch.setattr(warm, "_installed", lambda: ["numpy-0.0.1.dist-info"])
    assert warm.compatibility_key() != key


def test_a_cancelled_warm_job_leaves_no_file(warm_process, tmp_path):
    """The job's process killed while its child writes: the child removes its temporary file
    and ends, and no output appears."""
    from dnn_manifolds.data.files import SLOW_WRITE_ENV

    data = _dataset(tmp_path / "tiny.nc")
    kwargs = {"job": _job("capacity", data, tmp_path / "out.nc"), "log_path": "logs/cancelled.log"}
    code = f"from dnn_manifolds.workflow import warm; warm.run_in_warm_process({RUN!r}, {kwargs!r})"
    env = dict(os.environ, **{SLOW_WRITE_ENV: "60"})
    job = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".out.nc.*.tmp")):  # the child is in its slow write
            assert job.poll() is None and time.monotonic() < deadline, "the job never started writing"
            time.sleep(0.1)
    finally:
        job.kill()
        job.wait()
    deadline = time.monotonic() + 30
    while list(tmp_path.glob(".out.nc.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not list(tmp_path.glob(".out.nc.*.tmp")), "the cancelled child left its temporary file"
    assert not (tmp_path / "out.nc").exists()


def test_unfinished_atomic_writes_can_be_removed_before_an_abrupt_end(tmp_path):
    """What a cancelled child does when its job does not unwind in time (os._exit follows)."""
    from dnn_manifolds.data.files import atomic_path, remove_pending_temporaries

    with atomic_path(tmp_path / "done.nc") as tmp:
        tmp.write_bytes(b"complete")
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.nc") as tmp:
        tmp.write_bytes(b"partial")
        remove_pending_temporaries()
        assert not tmp.exists()
        raise RuntimeError("the job is ended here")
    assert (tmp_path / "done.nc").read_bytes() == b"complete"
    assert not (tmp_path / "out.nc").exists() and not list(tmp_path.glob(".*.tmp"))
