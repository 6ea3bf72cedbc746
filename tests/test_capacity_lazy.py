"""Direct capacity at large sizes: the lazy cutting plane (features of the working set only,
separators checked in the basis' coordinates) and sessions prepared in place (no copy).

Oracles: the materialised cutting plane and the full LP on the same draws (every decision must
agree), an extended-precision evaluation of the fields (the rounding bound must hold), and the
copying preparation of the same data.
"""

from __future__ import annotations

import numpy as np
import pytest

from dnn_manifolds.analysis import capacity as cap
from dnn_manifolds.analysis.capacity import inplace, lazy
from dnn_manifolds.analysis.capacity import problem as cap_problem
from dnn_manifolds.analysis.capacity.repetitions import resolve_key
from dnn_manifolds.analysis.capacity.separability import decide


def _arcs(n_neurons, n_samples, n_objects, seed=0, dtype=np.float32):
    """Smooth rectified 1-d arcs around correlated centres (a small version of the benchmark's data)."""
    g = np.random.default_rng(seed)
    s = 1.0 / np.sqrt(n_neurons)
    centres = g.standard_normal((n_neurons, 3)) @ g.standard_normal((3, n_objects)) * s
    centres += g.standard_normal((n_neurons, n_objects)) * s
    th = np.linspace(-1, 1, n_samples)
    prof = np.stack([th, th**2 - 1 / 3, np.sin(np.pi * th)])
    axes = (
        g.standard_normal((n_neurons, 3, n_objects))
        * s
        * np.array([1.5, 0.8, 0.5])[None, :, None]
    )
    x = centres[:, None, :] + np.einsum("nkp,km->nmp", axes, prof)
    return np.maximum(x + 0.3 * s, 0.0).astype(dtype)


def _materialised(problem, n, rep):
    feats, y_obj, rng = cap_problem._features(problem, n, rep)
    y = y_obj[problem.obj_index]
    opts = problem.opts
    return (
        cap_problem._cutting_plane(problem, feats, y, rng).separable,
        decide(feats, y, method="lp", gamma_tol=opts.gamma_tol).separable,
    )


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("nested", [False, True])
def test_lazy_cutting_plane_decides_as_the_materialised_one_and_the_full_lp(
    precision, nested
):
    x = _arcs(60, 9, 16, dtype=np.float64)
    opts = cap.CapacityOptions(
        cutting_plane=True, max_samples=7, projection_precision=precision, nested=nested
    )
    problem = cap_problem.prepare(x, resolve_key(3), opts)
    assert problem.lazy and problem.order is None
    outcomes = []
    for n in (10, 18, 26, 70):  # 70 > rank: the basis itself
        for rep in range(12):
            lazy_dec = cap_problem.run_task(problem, n, rep)[0]
            cut, full = _materialised(problem, n, rep)
            assert lazy_dec == cut == full, (n, rep)
            outcomes.append(lazy_dec)
    assert any(outcomes) and not all(outcomes)  # both answers occur


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_basis_fields_are_within_their_rounding_bound(dtype):
    g = np.random.default_rng(1)
    basis = (g.standard_normal((50, 300)) * 10.0 ** g.uniform(-3, 3, 300)).astype(dtype)
    norms = lazy.column_norms(basis)
    z = g.standard_normal((20, 50)).astype(np.float32).astype(np.float64)
    w = g.standard_normal(20) * 1e5
    b = 3.0
    exact = (z.astype(np.longdouble).T @ w.astype(np.longdouble)) @ basis.astype(
        np.longdouble
    ) + b
    y = np.sign(g.standard_normal(300))
    for labels in (None, y):
        field, bound = lazy.basis_fields(basis, norms, z, w, b, y=labels)
        assert np.all(np.abs(field.astype(np.longdouble) - exact) <= bound)
        tight = bound < 1e-9 * (np.abs(exact) + 1)
        # float64 everywhere, or the screen's wider bound only where it already fixes the sign
        assert np.all(tight | (np.abs(field) > bound)) and (
            labels is not None or tight.all()
        )
    # the float32 screen's bound is wider, and samples it cannot place get the float64 value
    if dtype == np.float32:
        tight = lazy.basis_fields(basis, norms, z, w, b)[1]
        wide = lazy.basis_fields(basis, norms, z, w, b, y=y)[1]
        assert np.all(wide >= tight)


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5, 7, 9])
def test_screen_product_is_within_its_bound_however_it_is_cut_up(m, monkeypatch):
    # rows not a multiple of the chunk, columns not a multiple of the block, a strided basis
    monkeypatch.setattr(lazy, "SCREEN_COLUMNS", 64)
    g = np.random.default_rng(m)
    full = (g.standard_normal((300, 2 * 333)) * 10.0 ** g.uniform(-2, 2, 2 * 333)).astype(np.float32)
    basis = full[:, ::2]  # (300, 333), every other column
    gs = g.standard_normal((m, 300))
    g32 = (gs / np.linalg.norm(gs, axis=1, keepdims=True)).astype(np.float32)
    prod = lazy.screen_product(g32, basis)
    assert prod.shape == (m, 333) and prod.dtype == np.float64
    exact = g32.astype(np.longdouble) @ basis.astype(np.longdouble)
    bound = lazy._screen_bound(lazy.SCREEN_ROWS, np.ones(m), lazy.column_norms(basis))
    assert np.all(np.abs(prod - exact) <= bound)
    # each row as it would be alone, to the screen's rounding
    for i in range(m):
        alone = lazy.screen_product(g32[i : i + 1], basis)[0]
        assert np.all(np.abs(prod[i] - alone) <= 2 * bound[i])


def test_check_points_keeps_float32_without_a_copy():
    x = _arcs(10, 4, 3)
    assert np.shares_memory(cap_problem.check_points(x, keep_float32=True), x)
    assert cap_problem.check_points(x).dtype == np.float64
    bad = x.copy()
    bad[0, 0, 0] = np.inf
    with pytest.raises(Exception, match="infinite"):
        cap_problem.check_points(bad, keep_float32=True)


def test_in_place_session_decides_as_the_copying_path():
    x = _arcs(24, 25, 12)  # K = 300 >= N + 257
    opts = cap.CapacityOptions(cutting_plane=True, max_samples=9)
    key = resolve_key(4)
    eps = 2.0**-24
    lean = inplace.prepare_in_place(x, key, opts, eps)
    assert lean is not None and np.shares_memory(lean.basis, x)
    copied = cap_problem._prepare(x.astype(np.float64), key, opts, eps)
    assert copied.order is None and copied.rank == lean.rank == 24
    seen = set()
    for n in (4, 8, 12, 30):
        for rep in range(10):
            a = cap_problem.run_task(lean, n, rep)
            b = cap_problem.run_task(copied, n, rep)
            assert a[0] == b[0], (n, rep)
            seen.add(a[0])
    assert seen == {True, False}
    # the public entry point takes the in-place path and gives the copying path's result
    res = cap.separable_fraction(
        x, 8, rng=4, cutting_plane=True, max_samples=9, precision=eps
    )
    ref = [cap_problem.run_task(copied, 8, r)[0] for r in range(res.n_attempts)]
    np.testing.assert_array_equal(res.outcomes, np.array(ref, dtype=float))


def test_in_place_path_is_declined_when_it_does_not_apply():
    key = resolve_key(0)
    opts = cap.CapacityOptions(cutting_plane=True)
    x = _arcs(24, 25, 12)
    assert (
        inplace.prepare_in_place(x[:, :5], key, opts, 2.0**-24) is None
    )  # K too small
    holes = x.copy()
    holes[:, 3, 2] = np.nan
    assert (
        inplace.prepare_in_place(holes, key, opts, 2.0**-24) is None
    )  # missing samples
    low_rank = np.repeat(x[:3], 8, axis=0)  # 24 neurons, affine rank <= 3
    assert inplace.prepare_in_place(low_rank, key, opts, 2.0**-24) is None
    assert (
        inplace.prepare_in_place(x, key, cap.CapacityOptions(), 2.0**-24) is None
    )  # no cutting plane
    assert (
        inplace.prepare_in_place(
            x, key, cap.CapacityOptions(cutting_plane=True, zscore=True), 2.0**-24
        )
        is None
    )


def test_rank_subset_decides_as_on_one_thread(monkeypatch):
    x = _arcs(24, 25, 12)
    n, m, p = x.shape
    view = x.reshape(n, m * p)
    order = inplace.object_major_order(m, p)
    one = inplace._rank_subset(view, order, 2.0**-24, 1)
    assert one == 25 and inplace._rank_subset(view, order, 2.0**-24, 2) == one
    low = np.repeat(view[:3], 8, axis=0)
    assert inplace._rank_subset(low, order, 2.0**-24, 2) == inplace._rank_subset(low, order, 2.0**-24, 1) <= 4
    # a multi-threaded result near the tolerance is not trusted: the one-thread QR decides
    calls = []
    real = inplace.precision_basis

    def near(sub, mag, precision):
        basis, rank, worst = real(sub, mag, precision)
        calls.append(1)
        if len(calls) == 1:  # the multi-threaded try: pretend one ratio sits at the tolerance
            worst = worst.copy()
            worst[3] = inplace.TOLERANCE_FACTOR * 1.5
            return basis, 3, worst
        return basis, rank, worst

    monkeypatch.setattr(inplace, "precision_basis", near)
    assert inplace._rank_subset(view, order, 2.0**-24, 2) == one
    assert len(calls) == 2
    # a full rank whose smallest ratio is under RANK_MARGIN x the tolerance: redone as well
    calls.clear()

    def close_call(sub, mag, precision):
        basis, rank, worst = real(sub, mag, precision)
        calls.append(1)
        if len(calls) == 1:
            worst = worst.copy()
            worst[5] = inplace.TOLERANCE_FACTOR * inplace.RANK_MARGIN * 0.9
        return basis, rank, worst

    monkeypatch.setattr(inplace, "precision_basis", close_call)
    assert inplace._rank_subset(view, order, 2.0**-24, 2) == one
    assert len(calls) == 2
    # float64 data: one thread only (no multi-threaded try); float32 data take it
    monkeypatch.setattr(inplace, "precision_basis", real)
    limits = []
    real_limits = inplace.blas_limits
    monkeypatch.setattr(inplace, "blas_limits", lambda t: limits.append(t) or real_limits(t))
    assert inplace._rank_subset(view.astype(np.float64), order, 2.0**-53, 2) == one
    assert limits == []
    assert inplace._rank_subset(view, order, 2.0**-24, 2) == one
    assert limits == [2]


def test_lockstep_groups_grow_only_with_certainly_needed_work(monkeypatch):
    from dnn_manifolds.analysis.capacity.repetitions import LOCKSTEP, LOCKSTEP_MAX, still_needed, stops

    # the stopping rule (at least 20 decided, standard error <= 0.05, at most 100)
    assert still_needed(0, 0, 20, 100, 0.05) == 20
    assert still_needed(20, 0, 20, 100, 0.05) == 0 and still_needed(20, 20, 20, 100, 0.05) == 0
    assert still_needed(20, 10, 20, 100, 0.05) == 38
    # against the rule itself, every state, several precisions: k agreeing outcomes can stop
    # it, and no k - 1 outcomes, whatever they are, can (ties of the square root included)
    for eps, lo, hi in [(0.05, 20, 100), (0.02, 50, 625), (0.1, 10, 25)]:
        for d in range(0, hi + 1, 7):
            for s_ in range(0, d + 1, 3):
                k = still_needed(d, s_, lo, hi, eps)
                assert stops(d + k, s_, lo, eps) or stops(d + k, s_ + k, lo, eps) or d + k == hi
                assert k == 0 or not any(stops(d + k - 1, s_ + j, lo, eps) for j in range(k))
    # simulate the runner's groups: the group sizes depend on what is certainly needed
    x = _arcs(24, 25, 12)
    problem = cap_problem.prepare(x, resolve_key(0), cap.CapacityOptions(cutting_plane=True))
    assert problem.lazy
    from dnn_manifolds.analysis.capacity import repetitions

    sizes = []
    real_group = repetitions._Group
    monkeypatch.setattr(repetitions, "_Group", lambda r, task: sizes.append(len(task[1])) or real_group(r, task))
    runner = repetitions.Runner(problem, 1)
    try:
        out = list(runner.outcomes(8, lambda r: None, 100, lambda: 20))[:20]
    finally:
        runner.close()
    assert len(out) == 20 and sizes[:2] == [10, 10]  # 20 certainly needed: two equal groups
    assert max(sizes) <= LOCKSTEP_MAX and LOCKSTEP < LOCKSTEP_MAX


def test_lockstep_repetitions_decide_as_each_alone_and_jobs_change_nothing():
    x = _arcs(24, 25, 12)
    opts = cap.CapacityOptions(cutting_plane=True, max_samples=9)
    problem = cap_problem.prepare(x, resolve_key(6), opts, precision=2.0**-24)
    assert problem.lazy and problem.order is not None
    tasks = [(n, rep) for n in (5, 9, 30) for rep in range(5)]
    together = cap_problem.run_lockstep(problem, tasks)
    alone = [cap_problem._lazy_cutting_plane(problem, n, rep) for n, rep in tasks]
    assert [r.separable for r in together] == [r.separable for r in alone]
    assert [r.status for r in together] == [r.status for r in alone]
    assert {r.separable for r in together} == {True, False}
    serial = cap.separable_fraction(
        x, 9, rng=6, cutting_plane=True, max_samples=9, precision=2.0**-24
    )
    pooled = cap.separable_fraction(
        x, 9, rng=6, cutting_plane=True, max_samples=9, precision=2.0**-24, jobs=2
    )
    np.testing.assert_array_equal(serial.outcomes, pooled.outcomes)
    assert serial.outcomes.size == serial.n_attempts == pooled.n_attempts
    assert serial.statuses == pooled.statuses
