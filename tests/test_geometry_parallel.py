"""The geometry's chunks over worker processes (``jobs``): identical results, errors surfaced."""

from __future__ import annotations

import multiprocessing
import os

import numpy as np
import pytest

from dnn_manifolds.analysis.geometry import geometry, inputs, manifold_geometry, mft
from dnn_manifolds.analysis.geometry.parallel import run_chunks
from dnn_manifolds.errors import UserError

fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")


def _toy(n_objects=7, n_samples=(9, 14, 20), n_neurons=40, seed=3):
    """Manifolds of different sizes (so that the frames, and the draws' shapes, differ)."""
    rng = np.random.default_rng(seed)
    out = []
    for p in range(n_objects):
        m = n_samples[p % len(n_samples)]
        centre = rng.standard_normal((n_neurons, 1)) * 2.0
        axes = rng.standard_normal((n_neurons, 3)) * 0.6
        out.append(centre + axes @ rng.standard_normal((3, m)))
    return out


def _same(a, b) -> bool:
    return (
        all(np.array_equal(a.objects[k], b.objects[k], equal_nan=True) for k in a.objects)
        and a.layer.keys() == b.layer.keys()
        and all(np.array_equal(a.layer[k], b.layer[k], equal_nan=True) for k in a.layer)
        and a.solver_counts == b.solver_counts
    )


def _draw_chunks(jobs, rng):
    """Chunk c draws c + 2 normals; its result is them and the worker's pid."""
    return dict(
        run_chunks(
            6,
            lambda c: c + 2,
            lambda c, size, g: g.standard_normal(size),
            lambda c, size, draws: (draws.copy(), os.getpid()),
            rng,
            jobs,
        )
    )


@fork
@pytest.mark.parametrize("jobs", [2, 3])
def test_draws_are_made_in_chunk_order_whatever_the_workers(jobs):
    serial_rng, rng = np.random.default_rng(5), np.random.default_rng(5)
    serial = _draw_chunks(1, serial_rng)
    parallel = _draw_chunks(jobs, rng)
    assert sorted(parallel) == list(range(6))
    for c in range(6):
        np.testing.assert_array_equal(parallel[c][0], serial[c][0])
    assert {pid for _, pid in parallel.values()} - {os.getpid()}, "nothing ran in a worker"
    assert all(pid == os.getpid() for _, pid in serial.values())
    # the generator is left where a serial run leaves it
    assert rng.standard_normal() == serial_rng.standard_normal()


@fork
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_geometry_is_identical_with_workers(monkeypatch, dtype):
    points = [x.astype(dtype) for x in _toy()]
    # small chunks, so that 7 objects make 4 chunks (2 objects each, at most 20 samples)
    monkeypatch.setattr(mft, "CHUNK_ELEMENTS", 2 * 30 * 20)
    serial = manifold_geometry(points, n_t=30, rng=11)
    for jobs in (2, 3):
        assert _same(manifold_geometry(points, n_t=30, rng=11, jobs=jobs), serial)


@fork
def test_geometry_api_and_neuron_subsets_with_workers(monkeypatch):
    monkeypatch.setattr(mft, "CHUNK_ELEMENTS", 30 * 20)
    points = _toy(n_objects=5)
    serial = manifold_geometry(points, n_t=30, rng=2, n_neurons=30, neuron_repeats=2)
    assert _same(manifold_geometry(points, n_t=30, rng=2, n_neurons=30, neuron_repeats=2, jobs=2), serial)
    x = np.stack([p[:, :9] for p in points], axis=2)
    a, b = geometry(x, n_t=30, seed=4), geometry(x, n_t=30, seed=4, jobs=2)
    for name in ("object_capacity", "object_dimension", "capacity", "radius", "dimension"):
        np.testing.assert_array_equal(a[name].values, b[name].values)


@fork
def test_a_worker_error_is_raised_with_its_traceback():
    def prepare(c):
        if c == 3:
            raise ValueError("bad chunk three")
        return c

    with pytest.raises(ValueError, match="bad chunk three") as info:
        list(run_chunks(5, prepare, lambda c, s, g: g.random(), lambda c, s, d: d, np.random.default_rng(0), 2))
    assert any("geometry worker process, chunk 3" in note for note in info.value.__notes__)


@fork
def test_a_dead_worker_is_reported():
    def prepare(c):
        if c == 2:
            os._exit(9)  # as if killed for memory
        return c

    with pytest.raises(RuntimeError, match="ended unexpectedly"):
        list(run_chunks(4, prepare, lambda c, s, g: g.random(), lambda c, s, d: d, np.random.default_rng(0), 2))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_jobs_is_validated(bad):
    with pytest.raises(UserError, match="jobs"):
        manifold_geometry(_toy(n_objects=2), n_t=10, rng=0, jobs=bad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(10, 33, 5), (7, 300, 3), (1, 4, 2)])
def test_object_means_read_in_blocks_are_those_of_the_slices(dtype, shape):
    rng = np.random.default_rng(sum(shape))
    x = (rng.standard_normal(shape) * 5 + 3).astype(dtype)
    mans, _, whole = inputs.validated(x)
    assert whole is x
    blocked = inputs.object_means(mans, whole)
    # the validation's own pass gives the same means (and the same extremes)
    *_, fused = inputs.validated_with_means(x)
    for p in range(shape[2]):
        np.testing.assert_array_equal(blocked[p], x[:, :, p].mean(axis=1, dtype=np.float64))
        np.testing.assert_array_equal(fused[p], blocked[p])
    assert inputs.validated_with_means(x)[1] == float(np.abs(x).max())
    # another memory order: the extremes from reductions, the means left to object_means
    assert inputs.validated_with_means(np.asfortranarray(x))[3] is None
    # a missing sample makes the objects copies: no blocks
    x[:, 1, 0] = np.nan
    assert inputs.validated(x)[2] is None and inputs.validated_with_means(x)[3] is None


@fork
def test_cli_jobs_gives_the_same_file(monkeypatch, tmp_path):
    import xarray as xr

    from dnn_manifolds.cli import main
    from dnn_manifolds.data import make_dataset, save_dataset

    monkeypatch.setattr(mft, "CHUNK_ELEMENTS", 2 * 30 * 6)
    rng = np.random.default_rng(8)
    src = tmp_path / "in.nc"
    save_dataset(make_dataset(rng.standard_normal((1, 12, 6, 5)) + 2.0, sessions=["s0"]), src)
    outs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"geo{jobs}.nc"
        assert main(["geometry", str(src), str(out), "--n-t", "30", "--jobs", jobs, "--quiet"]) == 0
        outs.append(out)
    with xr.open_dataset(outs[0]) as a, xr.open_dataset(outs[1]) as b:
        for name in ("object_capacity", "object_dimension", "anchor_radius", "capacity", "solver_count"):
            np.testing.assert_array_equal(a[name].values, b[name].values)


class _Sizes:
    """A stand-in for a dataset of the paper's 2-d size (only its sizes are read)."""

    data_vars = {"tuning": None}

    def __init__(self, dtype=np.float32, **sizes):
        self.sizes = {"session": 1, "neuron": 4096, "sample": 3201, "object": 64, **sizes}
        self.dtype = np.dtype(dtype)

    def __getitem__(self, name):
        return self


def test_memory_check_admits_the_paper_size_and_counts_workers(monkeypatch):
    """The 2-d layer at M = 3201 peaks at 3.9 GB (4.4 GB with two workers): it must not be
    refused on a machine of 16 GB; the estimate grows with the workers and the copies."""
    from dnn_manifolds import validation
    from dnn_manifolds.analysis.geometry import GeometryOptions
    from dnn_manifolds.analysis.geometry.api import check_resources

    monkeypatch.setattr(validation, "available_memory", lambda: 4.3e9)
    check_resources(_Sizes(), GeometryOptions())
    with pytest.raises(UserError, match="over 2 workers.*lower n_t or jobs"):
        check_resources(_Sizes(), GeometryOptions(), jobs=2)
    with pytest.raises(UserError, match="GiB of memory"):
        check_resources(_Sizes(np.float64), GeometryOptions())
    with pytest.raises(UserError, match="GiB of memory"):
        check_resources(_Sizes(), GeometryOptions(control="shuffle"))
    monkeypatch.setattr(validation, "available_memory", lambda: 5.0e9)
    check_resources(_Sizes(), GeometryOptions(), jobs=2)


@pytest.mark.parametrize("order", ["C", "F"])
def test_zscore_in_blocks_is_exact_and_makes_no_full_size_temporary(monkeypatch, order):
    """Neuron blocks (C order) give the statistics of the whole array bit for bit; in place,
    the z-scoring allocates far less than the array (it is 6.7 GB at the paper's 2-d size)."""
    import tracemalloc

    from dnn_manifolds.analysis import controls

    rng = np.random.default_rng(21)
    x = np.asarray(rng.standard_normal((400, 50, 20)) * 2 + 1, order=order)
    x[:, 3, 1] = np.nan
    x[7] = 5.0  # a constant neuron: only centred
    whole = controls.zscore_neurons(x)  # one block (the default is larger than x)
    monkeypatch.setattr(controls, "ZSCORE_BLOCK_ELEMENTS", 3000)
    np.testing.assert_array_equal(controls.zscore_neurons(x), whole)
    y = x.copy(order=order)
    tracemalloc.start()
    out = controls.zscore_neurons(y, overwrite=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out is y
    np.testing.assert_array_equal(out, whole)
    if order == "C":
        assert peak < 0.1 * x.nbytes, peak


def _in_daemon(queue):
    out = _draw_chunks(2, np.random.default_rng(5))
    queue.put([(c, out[c][0].tolist(), out[c][1]) for c in sorted(out)])


@fork
def test_a_daemonic_process_runs_the_chunks_itself():
    """A multiprocessing pool's worker (daemonic) may not have children: jobs > 1 runs there
    serially instead of failing, with the same draws."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_daemon, args=(queue,), daemon=True)
    proc.start()
    got = queue.get(timeout=60)
    proc.join(timeout=60)
    serial = _draw_chunks(1, np.random.default_rng(5))
    assert [c for c, _, _ in got] == list(range(6))
    for c, draws, pid in got:
        assert draws == serial[c][0].tolist() and pid == proc.pid
