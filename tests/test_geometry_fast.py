"""Fast paths of the geometry equal the reference paths on small cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from dnn_manifolds.analysis.geometry import anchors, manifold_geometry
from dnn_manifolds.analysis.geometry.active_set import gram_lawson_hanson, refine_on_points, working_set_nnls


def _smooth_points(m: int, dim: int = 60, seed: int = 0) -> np.ndarray:
    """(dim+1, m) points s_j = (y_j, 1) of a rectified smooth 2-d sheet (ill-conditioned)."""
    rng = np.random.default_rng(seed)
    u = np.linspace(-1, 1, m)
    v = np.sin(3 * u)
    prof = np.stack([u, v, u * v, u**2, np.cos(np.pi * u)])
    Y = np.maximum(rng.standard_normal((dim, 5)) @ prof + 0.3, 0.0) * 0.3
    Y -= Y.mean(axis=1, keepdims=True)
    return np.vstack([Y, np.ones((1, m))])


@pytest.mark.parametrize("m, width", [(150, 24), (40, 64), (300, 8)])
def test_working_set_nnls_equals_lawson_hanson(m, width):
    S = _smooth_points(m)
    rng = np.random.default_rng(1)
    T = rng.standard_normal((200, S.shape[0]))
    Q = T @ S
    keep = Q.max(axis=1) > 0
    T, Q = T[keep], Q[keep]
    support, beta, ok = working_set_nnls(S.T @ S, Q, width=width)
    assert ok.mean() > 0.8  # the rest are reported for the per-draw fallback
    for i in np.flatnonzero(ok):
        ref = nnls(S, T[i], maxiter=50 * m)[0]
        b = np.zeros(m)
        b[support[i]] = beta[i]
        assert np.abs(S @ (b - ref)).max() <= 1e-9 * (1 + np.abs(S @ ref).max())
        assert (b >= 0).all()
    assert np.isnan(beta[~ok]).all()


def _general_position(seed: int, m: int = 150, dim: int = 149, n_draws: int = 300):
    """Centred points in general position (a shuffled manifold's frame) and Gaussian draws."""
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((dim, m))
    Y -= Y.mean(axis=1, keepdims=True)
    return Y, rng.standard_normal((n_draws, dim + 1))


def test_manifolds_with_large_supports_skip_the_working_sets_after_a_probe(monkeypatch):
    """Points in general position (the shuffle control's manifolds): anchors touch dozens of
    points, the working sets fail their probe, the other draws go to the per-draw solver, and
    the anchors are the per-draw solver's."""
    Y, T = _general_position(8)
    m = Y.shape[1]
    sizes = []
    real = anchors.working_set_nnls
    monkeypatch.setattr(anchors, "working_set_nnls", lambda H, Q, **kw: sizes.append(len(Q)) or real(H, Q, **kw))
    a = anchors._solve_one_lh(Y, T, 0.0)
    assert sizes == [anchors.PROBE_DRAWS]  # only the probe
    assert (a.status == anchors.LAWSON_HANSON).all()
    S = np.vstack([Y, np.ones((1, m))])
    for i in range(0, 300, 7):
        ref = S @ nnls(S, T[i], maxiter=50 * m)[0]
        assert a.delta[i] == pytest.approx(float(ref @ ref), rel=1e-7, abs=1e-12)
    # the same draws without the probe: identical anchors
    monkeypatch.setattr(anchors, "PROBE_DRAWS", 10**6)
    b = anchors._solve_one_lh(Y, T, 0.0)
    np.testing.assert_allclose(a.delta, b.delta, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("m, dim", [(120, 119), (90, 30), (160, 200)])
def test_gram_lawson_hanson_equals_scipy_nnls(m, dim):
    """The incrementally factored Lawson–Hanson on H gives scipy's NNLS solutions (or None,
    never a wrong answer), on points in general position and on a smooth sheet."""
    rng = np.random.default_rng(m)
    Y = rng.standard_normal((dim, m))
    Y -= Y.mean(axis=1, keepdims=True)
    for S in (np.vstack([Y, np.ones((1, m))]), _smooth_points(m)):
        H = S.T @ S
        solved = 0
        for _ in range(30):
            t = rng.standard_normal(S.shape[0])
            b = gram_lawson_hanson(H, S.T @ t)
            if b is None:
                continue
            solved += 1
            ref = nnls(S, t, maxiter=50 * m)[0]
            assert (b >= 0).all()
            assert np.abs(S @ (b - ref)).max() <= 1e-8 * (1 + np.abs(S @ ref).max())
        assert solved >= 20
    # duplicate points: a dependent column is refused (None) or the answer is still exact
    S = np.vstack([Y[:, [0, 0, 1, 2]], np.ones((1, 4))])
    t = -S[:, 0] * 3
    b = gram_lawson_hanson(S.T @ S, S.T @ t)
    if b is not None:
        ref = nnls(S, t)[0]
        assert np.abs(S @ (b - ref)).max() <= 1e-8 * (1 + np.abs(S @ ref).max())
    assert np.array_equal(gram_lawson_hanson(np.eye(3), -np.ones(3)), np.zeros(3))  # interior
    assert gram_lawson_hanson(np.eye(3), np.array([1.0, np.nan, 0.0])) is None  # refused, not guessed
    assert gram_lawson_hanson(np.eye(3), np.array([1.0, -np.inf, 0.0])) is None


def test_refining_on_the_points_catches_what_the_gram_check_cannot():
    """Solving on H squares the conditioning: on a badly scaled low-rank cloud the Gram solver's
    answer passes its own check but is off in S's terms; re-solved on S it is exact. A point
    whose column is small is judged at its own scale (a large negative q elsewhere must not
    hide its positive gradient): the refinement refuses the wrong answer."""
    rng = np.random.default_rng(15)
    D, m = 48, 100
    worst_gram, worst_refined = 0.0, 0.0
    for _ in range(10):
        Y = (rng.standard_normal((D, 3)) @ rng.standard_normal((3, m)) + 1e-4 * rng.standard_normal((D, m))) * 1e4
        S = np.vstack([Y, np.ones(m)])
        t = rng.standard_normal(D + 1)
        ref = nnls(S, t, maxiter=50 * m)[0]
        b = gram_lawson_hanson(S.T @ S, S.T @ t)
        assert b is not None
        c = refine_on_points(S, t, b)
        assert c is not None
        err = lambda x: np.abs(S @ (x - ref)).max() / (1 + np.abs(S @ ref).max())  # noqa: E731
        worst_gram, worst_refined = max(worst_gram, err(b)), max(worst_refined, err(c))
    assert worst_refined <= 1e-10 < worst_gram
    S, t = np.array([[-1e8, 0.0], [1.0, 1.0]]), np.array([1.0, 1e-6])
    b = gram_lawson_hanson(S.T @ S, S.T @ t)
    assert b is None or refine_on_points(S, t, b) is None or np.allclose(S @ b, S @ nnls(S, t)[0], atol=1e-12)


def test_per_draw_path_on_the_gram_matrix_equals_the_nnls_on_s(monkeypatch):
    """Manifolds of m ≥ GRAM_LH_MIN_POINTS solve their per-draw problems on H first: the same
    anchors as the NNLS on S (here the threshold lowered to a small shuffled-like manifold)."""
    Y, T = _general_position(9)
    calls = []
    real = anchors.gram_lawson_hanson
    monkeypatch.setattr(anchors, "gram_lawson_hanson", lambda H, q: calls.append(1) or real(H, q))
    monkeypatch.setattr(anchors, "GRAM_LH_MIN_POINTS", 100)
    a = anchors._solve_one_lh(Y, T, 0.0)
    assert len(calls) == int((a.status != anchors.INTERIOR).sum()) == 300  # the probe failed: all per-draw
    monkeypatch.setattr(anchors, "GRAM_LH_MIN_POINTS", 10**9)
    b = anchors._solve_one_lh(Y, T, 0.0)
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_allclose(a.delta, b.delta, rtol=1e-9, atol=1e-12)


def test_large_manifold_path_equals_per_draw_path(monkeypatch):
    """The working-set path (m ≥ WORKING_SET_MIN_POINTS) gives the per-draw solver's numbers."""
    rng = np.random.default_rng(3)
    m = 120
    u = np.linspace(-1, 1, m)
    prof = np.stack([u, u**2 - 1 / 3, np.sin(np.pi * u), np.cos(np.pi * u)])
    x = np.stack(
        [np.maximum(rng.standard_normal((300, 1)) + rng.standard_normal((300, 4)) @ prof * 0.6, 0) for _ in range(5)],
        axis=2,
    )
    monkeypatch.setattr(anchors, "WORKING_SET_MIN_POINTS", 10**9)
    ref = manifold_geometry(x, method="smooth", n_t=200, rng=0)
    monkeypatch.setattr(anchors, "WORKING_SET_MIN_POINTS", 100)
    fast = manifold_geometry(x, method="smooth", n_t=200, rng=0)
    assert fast.solver_counts == ref.solver_counts
    for key, val in ref.objects.items():
        np.testing.assert_allclose(fast.objects[key], val, rtol=1e-9, atol=1e-12, err_msg=key)


def test_float32_input_is_analysed_as_float64_without_a_whole_copy():
    """float32 responses give bit-identical results to their float64 copy (each object is
    converted where it is used); the per-object list keeps views of the input."""
    from dnn_manifolds.analysis.geometry.inputs import as_manifolds as _as_manifolds

    rng = np.random.default_rng(5)
    x = np.maximum(rng.standard_normal((200, 30, 6)) + 0.5, 0).astype(np.float32)
    mans = _as_manifolds(x)
    assert all(m.dtype == np.float32 and np.shares_memory(m, x) for m in mans)
    a = manifold_geometry(x, method="smooth", n_t=100, rng=0)
    b = manifold_geometry(x.astype(np.float64), method="smooth", n_t=100, rng=0)
    assert a.layer == b.layer
    for key in a.objects:
        np.testing.assert_array_equal(a.objects[key], b.objects[key], err_msg=key)
    assert a.solver_counts == b.solver_counts


def test_low_rank_frame_spans_a_low_rank_manifold_exactly():
    """On points of rank 6 < r the range finder's frame reproduces the Gram matrix."""
    from dnn_manifolds.analysis.geometry.lowrank import low_rank_frame

    rng = np.random.default_rng(7)
    N, m = 400, 120
    A = rng.standard_normal((N, 6)) @ rng.standard_normal((6, m))
    A -= A.mean(axis=1, keepdims=True)
    basis = np.linalg.qr(rng.standard_normal((N, 2)))[0]
    B = basis.T @ A
    Ap = A - basis @ B
    Y, lam = low_rank_frame(A, B, basis, 2.0, float(np.abs(A).max()), 20, np.random.default_rng(0))
    assert Y.shape == (6, m)
    np.testing.assert_allclose(Y.T @ Y, Ap.T @ Ap / 4.0, atol=1e-9 * np.abs(Ap.T @ Ap).max())
    np.testing.assert_allclose(lam[:6], np.linalg.eigvalsh(Ap.T @ Ap)[::-1][:6], rtol=1e-9)


def test_frame_rank_is_off_by_default_and_validated():
    from dnn_manifolds.errors import OptionError

    rng = np.random.default_rng(8)
    x = np.maximum(rng.standard_normal((150, 60, 4)) + 0.3, 0)
    a = manifold_geometry(x, method="smooth", n_t=50, rng=0)
    b = manifold_geometry(x, method="smooth", n_t=50, rng=0, frame_rank=None)
    assert a.layer == b.layer
    c = manifold_geometry(x, method="smooth", n_t=50, rng=0, frame_rank=8)
    assert (c.objects["frame_dimension"] == 8).all()
    with pytest.raises(OptionError, match="frame_rank"):
        manifold_geometry(x, method="smooth", n_t=50, rng=0, frame_rank=0)
