"""The pivoted-Cholesky frame (``analysis/geometry/frames.py``) agrees with the eigenbasis frame."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from dnn_manifolds.analysis.geometry import anchors, frames, manifold_geometry
from dnn_manifolds.analysis.geometry.anchors import anchor_statistics, solve_anchor_points
from dnn_manifolds.analysis.geometry.mft import _frame
from dnn_manifolds.analysis.theory import inverse_gardner
from dnn_manifolds.errors import OptionError


def _low_rank(N=300, m=80, rank=6, offset=0.0, seed=0):
    """(N, m) centred points of rank ``rank`` (smooth profiles), with the largest sample norm
    before centring when the samples sit at ``offset`` from the origin."""
    rng = np.random.default_rng(seed)
    u = np.linspace(-1, 1, m)
    prof = np.stack([np.cos(k * np.pi * u) * 0.7**k for k in range(1, rank + 1)])
    x = rng.standard_normal((N, rank)) @ prof + offset * rng.standard_normal((N, 1))
    c = x.mean(axis=1, keepdims=True)
    return x - c, float(np.sqrt((x * x).sum(axis=0).max()))


def _both(A, basis, size, cnorm=2.0):
    B = basis.T @ A
    Ye, lam = _frame(A, B, basis, cnorm, size)
    Yc, mom = _frame(A, B, basis, cnorm, size, cholesky=True)
    return Ye, lam, Yc, mom


@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_cholesky_frame_reproduces_the_eigenbasis_frame_of_a_low_rank_manifold(offset):
    """Rank-deficient points (rank 6 of 80), also far from the origin (rounding floor): same
    dimension, same Gram matrix, same spectral moments."""
    A, size = _low_rank(offset=offset)
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.standard_normal((A.shape[0], 2)))[0]
    Ye, lam, Yc, mom = _both(A, basis, size)
    assert Ye.shape == Yc.shape == (6, 80)
    scale = np.abs(Ye.T @ Ye).max()
    np.testing.assert_allclose(Yc.T @ Yc, Ye.T @ Ye, atol=1e-10 * scale)
    np.testing.assert_allclose(mom, (lam.sum(), (lam**2).sum()), rtol=1e-10)


@pytest.mark.parametrize("full", [False, True])
def test_cholesky_frame_gives_its_gram_matrix_and_the_anchors_do_not_change(full):
    """The frame's Gram matrix from the factorisation (G with the Schur block taken out) is
    YᵀY up to rounding, for a rank-deficient frame (points left out of the pivots) and a
    full-rank one (centred: one point left out); the anchor problems solved with it give the
    same anchors."""
    A, size = _low_rank(N=300, m=80, rank=6, seed=4)
    if full:
        A = np.random.default_rng(4).standard_normal((300, 80))
        A -= A.mean(axis=1, keepdims=True)
    rank = 79 if full else 6
    basis = np.zeros((300, 0))
    B = basis.T @ A
    Y, mom = _frame(A, B, basis, 2.0, size, cholesky=True)
    Y2, mom2, YtY = _frame(A, B, basis, 2.0, size, cholesky=True, gram=True)
    np.testing.assert_array_equal(Y, Y2)
    assert mom == mom2 and Y.shape[0] == rank
    scale = np.abs(Y.T @ Y).max()
    np.testing.assert_allclose(YtY, Y.T @ Y, rtol=0, atol=1e-12 * scale)
    assert _frame(A, B, basis, 2.0, size, gram=True)[2] is None  # the eigenbasis frame: none
    T = np.random.default_rng(5).standard_normal((200, Y.shape[0] + 1))
    plain = anchors._solve_one_lh(Y, T, 0.0)
    reused = anchors._solve_one_lh(Y, T, 0.0, gram=YtY)
    np.testing.assert_array_equal(plain.status, reused.status)
    np.testing.assert_allclose(reused.delta, plain.delta, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(reused.anchors, plain.anchors, rtol=1e-9, atol=1e-9)


def test_cholesky_frame_of_mostly_removed_spread_and_of_a_point():
    """The explicit branch (most spread in the removed subspace) and a manifold without extent."""
    A, size = _low_rank(N=200, m=60, rank=4, seed=2)
    basis = np.linalg.qr(A[:, :2])[0]  # most of the spread is removed
    Ye, lam, Yc, mom = _both(A, basis, size)
    assert Yc.shape == Ye.shape
    np.testing.assert_allclose(Yc.T @ Yc, Ye.T @ Ye, atol=1e-10 * np.abs(Ye.T @ Ye).max())
    zero = np.zeros((50, 30))
    Y0, mom0 = _frame(zero, np.zeros((0, 30)), np.zeros((50, 0)), 1.0, 1.0, cholesky=True)
    assert Y0.shape == (0, 30) and mom0 == (0.0, 0.0)


def test_top_eigenvalue_is_lanczos_exact():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 300))
    G = X.T @ X
    assert frames.top_eigenvalue(G) == pytest.approx(np.linalg.eigvalsh(G)[-1], rel=1e-12)
    assert frames.top_eigenvalue(np.zeros((5, 5))) == 0.0


def test_anchor_statistics_are_basis_free():
    """The Cholesky frame is the eigenbasis frame rotated: with the draws rotated alike, every
    anchor statistic agrees to rounding (so a new basis only means new draws)."""
    rng = np.random.default_rng(4)
    N, m = 120, 150
    u = np.linspace(-1, 1, m)
    prof = np.stack([u, u**2 - 1 / 3, np.sin(np.pi * u), np.cos(np.pi * u)])
    x = np.maximum(rng.standard_normal((N, 1)) + rng.standard_normal((N, 4)) @ prof * 0.6, 0)
    c = x.mean(axis=1, keepdims=True)
    A = x - c
    Ye, _, Yc, _ = _both(A, np.zeros((N, 0)), float(np.sqrt((x * x).sum(0).max())), float(np.linalg.norm(c)))
    D = Ye.shape[0]
    assert Yc.shape[0] == D
    O = Yc @ np.linalg.pinv(Ye)  # Yc = O Ye
    np.testing.assert_allclose(O @ O.T, np.eye(D), atol=1e-6)
    Te = rng.standard_normal((300, D + 1))
    Tc = np.hstack([Te[:, :D] @ O.T, Te[:, D:]])
    for kappa in (0.0, 0.3):
        se = anchor_statistics(solve_anchor_points([Ye], [Te], kappa)[0], kappa, inverse_gardner)
        sc = anchor_statistics(solve_anchor_points([Yc], [Tc], kappa)[0], kappa, inverse_gardner)
        for key in se:
            assert sc[key] == pytest.approx(se[key], rel=1e-6, abs=1e-9), key


def _sheets(P=4, N=150, m=60, seed=5):
    rng = np.random.default_rng(seed)
    u = np.linspace(-1, 1, m)
    prof = np.stack([u, np.sin(3 * u), u**2 - 1 / 3, np.cos(np.pi * u)])
    return np.stack(
        [np.maximum(rng.standard_normal((N, 1)) + rng.standard_normal((N, 4)) @ prof * 0.5, 0) for _ in range(P)], axis=2
    )


def test_frame_option_auto_is_eigen_for_small_and_cholesky_for_large_manifolds(monkeypatch):
    x = _sheets()
    eig = manifold_geometry(x, method="smooth", n_t=100, rng=0, frame="eigen")
    auto = manifold_geometry(x, method="smooth", n_t=100, rng=0)
    assert auto.layer == eig.layer  # small manifolds: bit for bit the eigenbasis results
    for key in eig.objects:
        np.testing.assert_array_equal(auto.objects[key], eig.objects[key], err_msg=key)
    chol = manifold_geometry(x, method="smooth", n_t=100, rng=0, frame="cholesky")
    monkeypatch.setattr(frames, "CHOLESKY_MIN_POINTS", 10)
    from dnn_manifolds.analysis.geometry import mft

    monkeypatch.setattr(mft, "CHOLESKY_MIN_POINTS", 10)
    auto_big = manifold_geometry(x, method="smooth", n_t=100, rng=0)
    assert auto_big.layer == chol.layer
    # other basis, other draws: the same quantities within their Monte-Carlo spread
    for key in ("capacity", "radius", "dimension"):
        assert chol.layer[key] == pytest.approx(eig.layer[key], rel=0.1), key
    for key in ("participation_ratio", "spectral_radius", "spectral_radius_original"):
        np.testing.assert_allclose(chol.objects[key], eig.objects[key], rtol=1e-9, err_msg=key)
    with pytest.raises(OptionError, match="frame"):
        manifold_geometry(x, method="smooth", n_t=10, rng=0, frame="qr")


def test_wide_retry_gives_the_per_draw_solutions(monkeypatch):
    """The second working-set pass of large manifolds solves the same NNLS problems."""
    rng = np.random.default_rng(6)
    m, dim = 300, 60
    u = np.linspace(-1, 1, m)
    prof = np.stack([u, np.sin(3 * u), u * np.sin(3 * u), u**2, np.cos(np.pi * u)])
    Y = np.maximum(rng.standard_normal((dim, 5)) @ prof + 0.3, 0.0) * 0.3
    Y -= Y.mean(axis=1, keepdims=True)
    T = rng.standard_normal((300, dim + 1))
    monkeypatch.setattr(anchors, "WIDE_RETRY_MIN_POINTS", 100)
    monkeypatch.setattr(anchors, "WIDE_RETRY", (12, 30))
    monkeypatch.setattr(anchors, "PROBE_DRAWS", 10**6)  # no probe: the narrow pass fails most draws here
    calls = []
    real = anchors.working_set_nnls
    monkeypatch.setattr(anchors, "working_set_nnls", lambda H, Q, **kw: calls.append(kw) or real(H, Q, width=kw.get("width", 4), rounds=kw.get("rounds", 1)))
    a = anchors._solve_one_lh(Y, T, 0.0)
    assert len(calls) == 2  # the first pass (narrow, one round here) left draws for the second
    S = np.vstack([Y, np.ones((1, m))])
    for i in np.flatnonzero(a.status == anchors.LAWSON_HANSON):
        ref = S @ nnls(S, T[i], maxiter=50 * m)[0]
        delta = float(ref @ ref)
        assert a.delta[i] == pytest.approx(delta, rel=1e-7, abs=1e-12)
    # with the probe: it is judged on both passes (the narrow one alone fails most draws
    # here), so the other draws get both passes too, and the anchors are the same
    monkeypatch.undo()
    monkeypatch.setattr(anchors, "WIDE_RETRY_MIN_POINTS", 100)
    monkeypatch.setattr(anchors, "WIDE_RETRY", (12, 30))
    calls.clear()
    monkeypatch.setattr(anchors, "working_set_nnls", lambda H, Q, **kw: calls.append(len(Q)) or real(H, Q, width=kw.get("width", 4), rounds=kw.get("rounds", 1)))
    b = anchors._solve_one_lh(Y, T, 0.0)
    assert len(calls) == 4 and calls[0] == anchors.PROBE_DRAWS  # probe: narrow, wide; the rest: narrow, wide
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_allclose(a.delta, b.delta, rtol=1e-9, atol=1e-12)
