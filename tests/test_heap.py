"""Freed memory kept for reuse during an analysis (``dnn_manifolds.analysis.heap``)."""

from __future__ import annotations

import numpy as np
import pytest

from dnn_manifolds.analysis import heap
from dnn_manifolds.analysis.geometry import manifold_geometry

glibc = pytest.mark.skipif(not heap.available(), reason="glibc's malloc only")


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


@glibc
def test_freed_memory_is_kept_inside_and_given_back_after():
    """Inside, a freed 256 MB block stays in the process (reused, no new faults); nested uses
    keep it until the outermost ends; afterwards it is returned, and a large block is mapped
    and unmapped again as usual."""
    heap._glibc().malloc_trim(0)  # no free pages left resident by earlier tests
    base = _rss_kb()
    with heap.reused_heap():
        with heap.reused_heap():
            a = np.ones(2**25)
            del a
        inner_done = _rss_kb()  # the inner block has ended, the outer still runs
        b = np.ones(2**25)  # the same pages again
        del b
        inside = _rss_kb()
    after = _rss_kb()
    assert inner_done - base > 200_000 and inside - base > 200_000
    assert after - base < 100_000
    c = np.ones(2**25)  # mapped afresh and unmapped when freed, as usual
    del c
    assert _rss_kb() - base < 100_000


@glibc
def test_disabled_changes_nothing():
    heap._glibc().malloc_trim(0)
    base = _rss_kb()
    with heap.reused_heap(enabled=False):
        a = np.ones(2**25)
        del a
        assert _rss_kb() - base < 100_000


@pytest.mark.parametrize(
    "name, value",
    [
        ("MALLOC_TRIM_THRESHOLD_", "1048576"),
        ("MALLOC_MMAP_THRESHOLD_", "65536"),
        ("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536"),
    ],
)
def test_malloc_settings_of_the_environment_are_left_alone(monkeypatch, name, value):
    heap._glibc.cache_clear()
    try:
        monkeypatch.setenv(name, value)
        assert not heap.available()
        monkeypatch.delenv(name)
        monkeypatch.setenv("MALLOC_ARENA_MAX", "2")  # not one of the settings it changes
        heap._glibc.cache_clear()
        assert heap.available() == heap.sys.platform.startswith("linux")
    finally:
        heap._glibc.cache_clear()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_geometry_values_do_not_depend_on_the_memory_policy(dtype):
    rng = np.random.default_rng(3)
    x = np.maximum(rng.standard_normal((300, 40, 5)) + 0.4, 0).astype(dtype)
    a = manifold_geometry(x, method="smooth", n_t=60, rng=1)
    b = manifold_geometry(x, method="smooth", n_t=60, rng=1, reuse_memory=False)
    assert a.layer == b.layer
    for key in a.objects:
        np.testing.assert_array_equal(a.objects[key], b.objects[key], err_msg=key)


@pytest.mark.parametrize("bad", ["no", 0, None])
def test_reuse_memory_must_be_a_bool(bad):
    from dnn_manifolds.errors import OptionError

    x = np.random.default_rng(0).standard_normal((20, 6, 3))
    with pytest.raises(OptionError, match="reuse_memory must be True or False"):
        manifold_geometry(x, n_t=10, rng=0, reuse_memory=bad)
