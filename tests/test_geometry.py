"""Tests of the mean-field-theory geometry (dnn_manifolds.analysis.geometry).

Oracles: closed forms and the tables of docs/geometry.md#geometry-reference-values, exact identities, finite differences,
scipy's Lawson–Hanson NNLS and SLSQP as naive references, planted structure.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from scipy.optimize import minimize, nnls

from dnn_manifolds.data import dataset as dsmod
from dnn_manifolds.data import storage
from dnn_manifolds.analysis.geometry.anchors import (
    INTERIOR,
    LAWSON_HANSON,
    PROJECTED_GRADIENT,
    solve_anchor_points,
)
from dnn_manifolds.analysis.geometry.stiefel import CentreCorrelationCost, minimize_stiefel
from dnn_manifolds.cli import main as cli_main
from dnn_manifolds.analysis.geometry import (
    ball_capacity,
    gardner_capacity,
    geometry,
    manifold_geometry,
    optimal_centre_rank,
)

# ----------------------------------------------------------------------------- helpers


def sphere_manifolds(
    n_pairs, dim, radius, n_samples, *, rng, shape="sphere", extra_neurons=0, exact_centres=False
):
    """Objects = D-spheres (or circles/segments) of radius R around centres ±e_i of norm 1.

    Centres come in antipodal pairs so the global mean is 0 and every centre keeps norm 1; the
    axes of every object are orthogonal to all centres and to every other object's axes.
    Returns an array of shape (n_neurons, n_samples, n_objects).
    """
    P = 2 * n_pairs
    N = n_pairs + P * dim + extra_neurons
    X = np.zeros((N, n_samples, P))
    for mu in range(P):
        centre = np.zeros(N)
        centre[mu // 2] = 1.0 if mu % 2 == 0 else -1.0
        axes = np.zeros((N, dim))
        axes[n_pairs + mu * dim + np.arange(dim), np.arange(dim)] = 1.0
        if shape == "circle":
            phi = 2 * np.pi * np.arange(n_samples) / n_samples
            u = np.stack([np.cos(phi), np.sin(phi)])
        elif shape == "segment":
            u = np.array([[-1.0, 1.0]])
        else:
            u = rng.standard_normal((dim, n_samples))
            u /= np.linalg.norm(u, axis=0)
        if exact_centres:  # sample mean exactly at the centre (points slightly off the sphere)
            u = u - u.mean(axis=1, keepdims=True)
        X[:, :, mu] = centre[:, None] + radius * axes @ u
    return X


# ----------------------------------------------------------------------------- closed forms


def test_gardner_capacity_is_two_at_zero_margin():
    assert gardner_capacity(0.0) == pytest.approx(2.0, rel=1e-15)


@pytest.mark.parametrize(
    "kappa, expected",
    [
        (-2, 173.3485),
        (-1, 13.27320),
        (-0.5, 4.770099),
        (0, 2.0),
        (0.5, 0.961205),
        (1, 0.519572),
        (2, 0.200231),
        (3, 0.100002),
        (5, 0.0384615),
        (10, 0.00990099),
    ],
)
def test_gardner_capacity_matches_table(kappa, expected):
    assert gardner_capacity(kappa) == pytest.approx(expected, rel=2e-6)


@pytest.mark.parametrize("kappa", [-3.0, -12.0, -19.5, -20.5, -27.0, -35.0])
def test_gardner_capacity_is_accurate_for_very_negative_margin(kappa):
    mpmath = pytest.importorskip("mpmath")
    with mpmath.workdps(80):  # 80 digits: the closed form's cancellation is harmless there
        k = mpmath.mpf(kappa)
        inv = (1 + k**2) * mpmath.ncdf(k) + k * mpmath.npdf(k)
        expected = float(1 / inv)
    assert gardner_capacity(kappa) == pytest.approx(expected, rel=1e-9)


def test_gardner_capacity_large_margin_limit_is_inverse_square():
    assert gardner_capacity(1e3) * 1e6 == pytest.approx(1.0, rel=2e-6)
    assert gardner_capacity(-40.0) == np.inf  # 1/α₀ underflows, as the original's table


@pytest.mark.parametrize(
    "radius, dim, expected",
    [
        (0.2, 50, 0.35023),
        (0.5, 1, 1.25760),
        (0.5, 2, 0.94986),
        (0.5, 5, 0.57651),
        (0.5, 10, 0.36005),
        (0.5, 50, 0.09259),
        (2, 1, 0.82999),
        (2, 2, 0.51355),
        (2, 50, 0.02488),
        (100, 1, 0.66951),
        (100, 2, 0.40161),
        (100, 5, 0.18239),
    ],
)
def test_ball_capacity_matches_table(radius, dim, expected):
    assert ball_capacity(radius, dim) == pytest.approx(expected, abs=1.5e-5)


@pytest.mark.parametrize("dim", [1, 2, 3, 7.5, 10, 50, 400])
def test_ball_capacity_of_unit_radius_is_two_over_d_plus_one(dim):
    assert ball_capacity(1.0, dim) == pytest.approx(2 / (dim + 1), rel=1e-8)


@pytest.mark.parametrize("kappa", [-0.5, 0.0, 1.0])
def test_ball_capacity_small_radius_gives_gardner(kappa):
    assert ball_capacity(1e-7, 5, kappa) == pytest.approx(gardner_capacity(kappa), rel=1e-5)
    assert ball_capacity(0.0, 5, kappa) == pytest.approx(gardner_capacity(kappa), rel=1e-14)


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_ball_capacity_large_radius_limit(dim):
    assert ball_capacity(1e4, dim) == pytest.approx(1 / (dim + 0.5), rel=1e-3)


def test_ball_capacity_large_dimension_approximation():
    approx = (1 + 0.2**2) * gardner_capacity(0.2 * math.sqrt(50))
    assert ball_capacity(0.2, 50) == pytest.approx(approx, rel=1e-3)


def test_ball_capacity_positive_margin_lowers_capacity():
    a = ball_capacity(np.array([0.5, 0.5, 0.5]), 3.0, np.array([-0.5, 0.0, 0.5]))
    assert a[0] > a[1] > a[2]


def test_ball_capacity_rejects_negative_radius():
    with pytest.raises(ValueError, match="radius and dimension must be >= 0"):
        ball_capacity(-1.0, 2)


# ----------------------------------------------------------------------------- Stiefel


def test_stiefel_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    P, n, k = 15, 14, 3
    X = rng.standard_normal((P, n)) + 2.0 * rng.standard_normal((P, 1)) * rng.standard_normal(n)
    cost = CentreCorrelationCost(X)
    V = np.linalg.qr(rng.standard_normal((n, k)))[0][None]
    _, G = cost.value_and_grad(V)
    for _ in range(3):
        E = rng.standard_normal((1, n, k))
        h = 1e-6
        fd = (cost.value(V + h * E) - cost.value(V - h * E))[0] / (2 * h)
        assert np.sum(G * E) == pytest.approx(fd, rel=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_centre_cost_of_several_starts_is_each_start_alone(k):
    """The batched cost and gradient (one matrix product over all starts for k >= 2) equal
    those of each start on its own, to rounding."""
    rng = np.random.default_rng(k)
    X = rng.standard_normal((12, 11)) + rng.standard_normal((12, 1))
    cost = CentreCorrelationCost(X)
    V = np.linalg.qr(rng.standard_normal((4, 11, k)))[0]
    F, G = cost.value_and_grad(V)
    assert G.shape == V.shape and G.flags.c_contiguous
    for r in range(4):
        f1, g1 = cost.value_and_grad(V[r : r + 1])
        assert F[r] == pytest.approx(f1[0], rel=1e-13)
        np.testing.assert_allclose(G[r], g1[0], rtol=1e-12, atol=1e-12 * np.abs(g1).max())


def test_centre_cost_matches_naive_definition():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((10, 9))
    V = np.linalg.qr(rng.standard_normal((9, 2)))[0]
    cost = CentreCorrelationCost(X)
    R = X - X @ V @ V.T
    norms = np.linalg.norm(R, axis=1)
    rho = (R @ R.T) / np.outer(norms, norms)
    assert cost.value(V[None])[0] == pytest.approx(0.5 * np.sum(rho**2), rel=1e-12)
    assert cost.naive_value(V) == pytest.approx(0.5 * np.sum(rho**2), rel=1e-12)


def test_minimize_stiefel_recovers_top_eigenvalues():
    rng = np.random.default_rng(5)
    A = rng.standard_normal((40, 40))
    A = A + A.T

    def fun(Y):
        AY = A @ Y
        return -0.5 * np.einsum("rnk,rnk->r", Y, AY), -AY

    Y0 = np.linalg.qr(rng.standard_normal((4, 40, 5)))[0]
    res = minimize_stiefel(fun, Y0, xtol=1e-8, gtol=1e-8, max_iter=5000)
    top = np.sort(np.linalg.eigvalsh(A))[-5:].sum()
    np.testing.assert_allclose(res.fun, -0.5 * top, rtol=1e-8)
    np.testing.assert_allclose(
        np.swapaxes(res.x, 1, 2) @ res.x, np.broadcast_to(np.eye(5), (4, 5, 5)), atol=1e-12
    )
    assert np.all(res.status == 0)


def planted_centres(rng, P=64, N=500, rank=3):
    U = np.linalg.qr(rng.standard_normal((N, rank)))[0]
    return U @ rng.standard_normal((rank, P)) + rng.standard_normal((N, P)) / np.sqrt(N)


@pytest.mark.parametrize("method", ["smooth", "point_cloud"])
def test_optimal_rank_recovers_planted_common_subspace(method):
    rng = np.random.default_rng(6)
    C = planted_centres(rng)
    res = optimal_centre_rank(C, method=method, rng=7)
    assert res.n_common == 3
    # the residual correlation drops to the level of independent random directions
    assert res.mean_abs_corrcoef[3] < 2 * math.sqrt(2 / (math.pi * 500))
    assert res.mean_abs_corrcoef[0] > 0.3
    assert res.subspace.shape == (500, 3)
    np.testing.assert_allclose(res.subspace.T @ res.subspace, np.eye(3), atol=1e-10)


def test_optimal_rank_smooth_allows_zero_and_point_cloud_does_not():
    rng = np.random.default_rng(8)
    C = rng.standard_normal((300, 12))  # independent centres: nothing to remove
    smooth = optimal_centre_rank(C, method="smooth", rng=1)
    cloud = optimal_centre_rank(C, method="point_cloud", rng=1)
    assert smooth.n_common == 0
    assert list(smooth.k) == [0, 1, 2, 3]  # stops at k > K + 3
    assert cloud.n_common >= 1
    assert cloud.k[0] == 0 and cloud.mean_abs_corrcoef[0] == pytest.approx(
        smooth.mean_abs_corrcoef[0]
    )


@pytest.mark.parametrize("method", ["smooth", "point_cloud"])
@pytest.mark.parametrize("seed", [0, 1])
def test_probed_ranks_leave_k_and_the_subspace_bit_identical(method, seed):
    """docs/geometry.md#geometry-rank-probes: probing ranks at looser tolerances changes only
    the curve past the last exact rank, never K, the subspace or the curve up to K."""
    rng = np.random.default_rng(20 + seed)
    C = planted_centres(rng, P=16, N=80, rank=2 + seed)
    exact = optimal_centre_rank(C, method=method, rng=seed, max_k=7, probe_factor=1)
    probed = optimal_centre_rank(C, method=method, rng=seed, max_k=7)
    assert probed.n_common == exact.n_common
    assert np.array_equal(probed.subspace, exact.subspace)
    assert np.array_equal(probed.correlation_after, exact.correlation_after)
    K = exact.n_common
    assert np.array_equal(probed.mean_abs_corrcoef[: K + 1], exact.mean_abs_corrcoef[: K + 1])
    assert np.array_equal(probed.k, exact.k)
    past = slice(K + 1, None)
    np.testing.assert_allclose(probed.mean_abs_corrcoef[past], exact.mean_abs_corrcoef[past], rtol=0.1)
    assert probed.stiefel_n_iter[past].sum() < exact.stiefel_n_iter[past].sum()


def test_a_probe_that_may_be_the_best_is_redone_exactly(monkeypatch):
    """With the margin so wide that every probe "may be the best", every rank is redone at the
    given tolerances and the whole result is that of the unprobed search."""
    from dnn_manifolds.analysis.geometry import centres

    rng = np.random.default_rng(3)
    C = planted_centres(rng, P=16, N=80, rank=2)
    exact = optimal_centre_rank(C, method="point_cloud", rng=4, max_k=6, probe_factor=1)
    monkeypatch.setattr(centres, "PROBE_MARGIN", 1e9)
    redone = optimal_centre_rank(C, method="point_cloud", rng=4, max_k=6)
    for field in ("subspace", "mean_abs_corrcoef", "mean_square_corrcoef", "residual_norms", "stiefel_n_iter"):
        assert np.array_equal(getattr(redone, field), getattr(exact, field)), field
    assert redone.stiefel_converged == exact.stiefel_converged


# ----------------------------------------------------------------------------- anchor points


def _frames(rng, n_obj, D, m, scale=1.0, n_ambient=None):
    """Centred point sets in D dims; with ``n_ambient``, the frame of a Gaussian cloud in that
    many dims (well conditioned, as the reference case)."""
    out = []
    for _ in range(n_obj):
        if n_ambient is None:
            Y = scale * rng.standard_normal((D, m))
        else:
            A = rng.standard_normal((n_ambient, m))
            A -= A.mean(axis=1, keepdims=True)
            lam, W = np.linalg.eigh(A.T @ A)
            Y = (W[:, 1:] * np.sqrt(lam[1:])).T * scale / math.sqrt(n_ambient)
        out.append(Y - Y.mean(axis=1, keepdims=True))
    return out


@pytest.mark.parametrize("kappa", [0.0, 0.7, -0.4])
def test_anchor_points_match_exact_nnls(kappa):
    rng = np.random.default_rng(9)
    frames = _frames(rng, 3, 19, 20, scale=4.5, n_ambient=800)  # well conditioned: PG
    draws = [rng.standard_normal((60, 20)) for _ in frames]
    res = solve_anchor_points(frames, draws, kappa)
    n_pg = 0
    for Y, T, a in zip(frames, draws, res):
        S = np.vstack([Y, np.ones((1, Y.shape[1]))])
        for i in range(T.shape[0]):
            Tk = T[i].copy()
            Tk[-1] += kappa
            beta = nnls(S, Tk)[0]
            p = S @ beta
            assert a.delta[i] == pytest.approx(p @ p, rel=1e-7, abs=1e-12)
            if beta.sum() > 0:
                np.testing.assert_allclose(a.anchors[i], p[:-1] / p[-1], rtol=1e-6, atol=1e-8)
        n_pg += np.sum(a.status == PROJECTED_GRADIENT)
    assert n_pg > 0


def test_margin_problem_matches_generic_qp():
    """min ‖V − T‖² s.t. s·V ≤ −κ, solved by SLSQP, against the shifted NNLS."""
    rng = np.random.default_rng(10)
    Y = _frames(rng, 1, 3, 7, scale=0.8)[0]
    S = np.vstack([Y, np.ones((1, 7))])
    kappa = 0.3
    T = rng.standard_normal((8, 4))
    a = solve_anchor_points([Y], [T], kappa)[0]
    for i in range(8):
        sol = minimize(
            lambda v: np.sum((v - T[i]) ** 2),
            T[i],
            jac=lambda v: 2 * (v - T[i]),
            constraints=[
                {"type": "ineq", "fun": lambda v: -kappa - S.T @ v, "jac": lambda v: -S.T}
            ],
            method="SLSQP",
            options={"ftol": 1e-14, "maxiter": 500},
        )
        assert a.delta[i] == pytest.approx(np.sum((sol.x - T[i]) ** 2), rel=1e-5, abs=1e-9)


def test_ill_conditioned_manifolds_use_lawson_hanson():
    rng = np.random.default_rng(11)
    Y = rng.standard_normal((2, 30))  # 30 points in 2 dims: more points than dims + 1
    Y = Y - Y.mean(1, keepdims=True)
    T = rng.standard_normal((50, 3))
    a = solve_anchor_points([Y], [T], 0.0)[0]
    assert set(np.unique(a.status)) <= {INTERIOR, LAWSON_HANSON}
    assert np.any(a.status == LAWSON_HANSON)
    S = np.vstack([Y, np.ones((1, 30))])
    expected = [np.sum((S @ nnls(S, t)[0]) ** 2) for t in T]
    np.testing.assert_allclose(a.delta, expected, rtol=1e-10, atol=1e-14)


# ----------------------------------------------------------------------------- manifold geometry


@pytest.mark.parametrize("kappa", [0.0, 0.5])
def test_points_give_gardner_capacity(kappa):
    rng = np.random.default_rng(12)
    X = rng.standard_normal((50, 1, 40))
    res = manifold_geometry(X, method="smooth", n_t=400, kappa=kappa, rng=1, max_k=0)
    np.testing.assert_allclose(
        res.objects["capacity_semianalytic"], gardner_capacity(kappa), rtol=1e-12
    )
    assert res.layer["capacity"] == pytest.approx(gardner_capacity(kappa), rel=1e-12)
    np.testing.assert_array_equal(res.objects["anchor_radius"], 0.0)
    # the ball formula uses the given κ (the original's point-cloud code used κ = 0, ``docs/differences.md#differences-geometry-kappa``)
    np.testing.assert_allclose(res.objects["capacity_ball"], gardner_capacity(kappa), rtol=1e-12)
    assert np.all(np.isnan(res.objects["anchor_dimension"]))
    # the direct estimate: E[(t0+κ)²₊] over 40 × 400 draws, SE ≈ 1.5 %
    assert res.layer["capacity_direct_harmonic"] == pytest.approx(gardner_capacity(kappa), rel=0.06)


@pytest.mark.parametrize(
    "shape, dim, radius, n_samples, n_t, semianalytic",
    [
        ("circle", 2, 1.0, 200, 1500, 0.691),
        ("circle", 2, 0.5, 200, 1500, 0.958),
        ("circle", 2, 2.0, 200, 1500, 0.567),
        ("sphere", 5, 1.0, 600, 1000, 0.341),
        ("segment", 1, 1.0, 2, 3000, 1.060),
    ],
)
def test_balls_match_ball_capacity(shape, dim, radius, n_samples, n_t, semianalytic):
    rng = np.random.default_rng(13)
    X = sphere_manifolds(2, dim, radius, n_samples, rng=rng, shape=shape)
    res = manifold_geometry(X, method="smooth", n_t=n_t, rng=2, max_k=0)
    expected = ball_capacity(radius, dim)
    assert res.n_common == 0
    assert res.layer["capacity_direct_harmonic"] == pytest.approx(expected, rel=0.05)
    # the semi-analytic alphac_hat overestimates (docs/geometry.md#geometry-reference-values table, ``docs/differences.md#differences-geometry-object-capacity``)
    assert res.layer["capacity_semianalytic_harmonic"] == pytest.approx(semianalytic, rel=0.04)
    # R_M, D_M of the anchor points: the sphere's R and D (docs/geometry.md#geometry-reference-values: ~10 %)
    assert res.layer["radius"] == pytest.approx(radius, rel=0.12)
    assert np.mean(res.objects["anchor_dimension"]) == pytest.approx(dim, rel=0.1)


def test_centre_component_in_manifold_span_is_ignored():
    """``docs/differences.md#differences-geometry-centre`` decision: the centre is treated as orthogonal to the manifold's own span."""
    rng = np.random.default_rng(14)
    X = sphere_manifolds(2, 3, 0.8, 40, rng=rng, exact_centres=True)
    Y = X.copy()
    # move part of object 0's centre into its own axes' span, keeping the centre norm
    theta = 0.6
    axis = np.zeros(X.shape[0])
    axis[2] = 1.0  # first axis of object 0 (neurons 2..4)
    shift = (math.cos(theta) - 1.0) * np.eye(X.shape[0])[0] + math.sin(theta) * axis
    Y[:, :, 0] += shift[:, None]
    Y[:, :, 1] -= shift[:, None]  # keep the global mean at 0
    a = manifold_geometry(X, n_t=200, rng=3, max_k=0)
    b = manifold_geometry(Y, n_t=200, rng=3, max_k=0)
    for key in ("capacity_direct", "capacity_semianalytic", "anchor_radius", "anchor_dimension"):
        np.testing.assert_allclose(a.objects[key], b.objects[key], rtol=1e-8)


def test_missing_samples_are_dropped():
    rng = np.random.default_rng(15)
    X = rng.standard_normal((30, 8, 4)) + 2 * rng.standard_normal((30, 1, 4))
    Xn = np.concatenate([X, np.full((30, 2, 4), np.nan)], axis=1)
    Xn[:, :, 1] = np.roll(Xn[:, :, 1], 1, axis=1)  # a missing sample first for object 1
    ragged = [X[:, :, p] for p in range(4)]
    a = manifold_geometry(Xn, method="point_cloud", n_t=100, rng=4)
    b = manifold_geometry(ragged, method="point_cloud", n_t=100, rng=4)
    np.testing.assert_allclose(
        a.objects["object_capacity"], b.objects["object_capacity"], rtol=1e-9
    )
    assert a.n_common == b.n_common


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_invalid_values_are_named_whatever_their_place(dtype):
    """The validation (from each object's extremes) rejects +inf, -inf and NaN inside a sample,
    in any object and at any place, and keeps whole missing samples."""
    from dnn_manifolds.analysis.geometry.inputs import validated as _validated
    from dnn_manifolds.errors import UserError

    rng = np.random.default_rng(16)
    X = (rng.standard_normal((12, 5, 3)) + 3.0).astype(dtype)
    mans, top, _ = _validated(X)
    assert top == float(np.abs(X).max()) and all(m.dtype == dtype for m in mans)
    for value, match in ((np.inf, "infinite"), (-np.inf, "infinite"), (np.nan, "NaN may only")):
        for where in ((0, 0, 0), (11, 4, 2), (5, 2, 1)):
            Y = X.copy()
            Y[where] = value
            with pytest.raises(UserError, match=match):
                manifold_geometry(Y, n_t=10, rng=0)
    Y = X.copy()
    Y[:, 3, 1] = np.nan  # a whole missing sample: dropped, the extremes of the rest kept
    mans, top, _ = _validated(Y)
    assert [m.shape[1] for m in mans] == [5, 4, 5] and top == float(np.nanmax(np.abs(Y)))
    Y[:, :, 1] = np.nan
    with pytest.raises(UserError, match="no valid sample"):
        manifold_geometry(Y, n_t=10, rng=0)


def test_spectral_measures_of_isotropic_cross_polytope():
    D, R = 4, 0.7
    P = 4
    N = 2 + P * D
    X = np.zeros((N, 2 * D, P))
    for mu in range(P):
        c = np.zeros(N)
        c[mu // 2] = (-1) ** mu
        for i in range(D):
            e = np.zeros(N)
            e[2 + mu * D + i] = R
            X[:, 2 * i, mu] = c + e
            X[:, 2 * i + 1, mu] = c - e
    res = manifold_geometry(X, n_t=20, rng=0, max_k=0)
    np.testing.assert_allclose(res.objects["participation_ratio"], D, rtol=1e-10)
    np.testing.assert_allclose(res.objects["spectral_radius"], R, rtol=1e-10)
    np.testing.assert_allclose(
        res.objects["spectral_radius_original"], R**2 / math.sqrt(D), rtol=1e-10
    )


@pytest.mark.parametrize("method", ["smooth", "point_cloud"])
@pytest.mark.parametrize("n_objects", [2, 3, 5])
def test_small_number_of_objects_works(method, n_objects):
    rng = np.random.default_rng(16)
    X = rng.standard_normal((40, 10, n_objects)) + 3 * rng.standard_normal((40, 1, n_objects))
    res = manifold_geometry(X, method=method, n_t=50, rng=5)
    assert np.all(np.isfinite(res.objects["object_capacity"]))
    assert 0 < res.layer["capacity"] < 2
    assert res.n_common <= max(0, n_objects - 2)
    if method == "point_cloud" and n_objects > 2:
        assert res.n_common >= 1


def test_layer_capacity_is_harmonic_mean():
    rng = np.random.default_rng(17)
    X = rng.standard_normal((60, 6, 6)) * np.array(
        [0.2, 0.5, 1, 2, 3, 4]
    ) + 3 * rng.standard_normal((60, 1, 6))
    res = manifold_geometry(X, n_t=100, rng=6)
    a = res.objects["object_capacity"]
    assert res.layer["capacity"] == pytest.approx(1 / np.mean(1 / a), rel=1e-12)
    assert res.layer["capacity_arithmetic_mean"] == pytest.approx(np.mean(a), rel=1e-12)
    assert res.layer["capacity"] < res.layer["capacity_arithmetic_mean"]


def test_random_point_clouds_reference_values_small():
    """Gaussian clouds (the public reference case, scaled down): known MFT values."""
    rng = np.random.default_rng(18)
    X = rng.standard_normal((2000, 20, 40))
    res = manifold_geometry(X, method="point_cloud", n_t=200, rng=7)
    # R_M: points (x−c)/‖c‖ with ‖x−c‖²/‖c‖² ≈ (M−1) → anchors shrink it; D_M below M−1
    assert 0.8 < res.layer["radius"] < 4.4
    assert 5 < res.layer["dimension"] < 19
    # capacity agrees with the ball of the same R_M and D_M within ~5 %
    assert res.layer["capacity"] == pytest.approx(res.layer["capacity_ball_harmonic"], rel=0.06)
    assert res.solver_counts["failed"] == 0


# ----------------------------------------------------------------------------- API, CLI, errors


def small_dataset(rng, n_sessions=2):
    X = rng.standard_normal((n_sessions, 30, 6, 5)) + 2 * rng.standard_normal(
        (n_sessions, 30, 1, 5)
    )
    return dsmod.make_dataset(
        X.astype(np.float32),
        sessions=[f"layer{s}" for s in range(n_sessions)],
        session_coords={
            "network": ["net"] * n_sessions,
            "layer": [f"l{s}" for s in range(n_sessions)],
            "transform": ["x"] * n_sessions,
        },
    )


def test_geometry_dataset_layout_and_determinism():
    ds = small_dataset(np.random.default_rng(19))
    out = geometry(ds, n_t=40, seed=3)
    assert out.sizes["session"] == 2 and out.sizes["object"] == 5 and out.sizes["object2"] == 5
    assert out["object_capacity"].dims == ("session", "object")
    assert out["centre_correlation_matrix"].dims == ("session", "object", "object2")
    assert (
        out["capacity"].attrs["units"] == "1" and "harmonic" in out["capacity"].attrs["long_name"]
    )
    assert out.attrs["method"] == "smooth" and out.attrs["seed"] == 3
    assert int(out["solver_count"].sum()) == 2 * 5 * 40
    again = geometry(ds, n_t=40, seed=3)
    xr.testing.assert_equal(out.drop_vars("wall_time"), again.drop_vars("wall_time"))
    other = geometry(ds, n_t=40, seed=4)
    assert not np.allclose(other["object_capacity"].values, out["object_capacity"].values)
    one = geometry(ds, session="layer1", n_t=40, seed=3)
    assert "session" not in one.dims
    np.testing.assert_array_equal(
        one["object_capacity"].values, out["object_capacity"].sel(session="layer1").values
    )


def test_cli_geometry_writes_netcdf(tmp_path, capsys):
    ds = small_dataset(np.random.default_rng(20))
    src = tmp_path / "in.nc"
    storage.save_dataset(ds, src)
    dst = tmp_path / "out" / "geo.nc"
    rc = cli_main(
        [
            "geometry",
            str(src),
            str(dst),
            "--session",
            "layer0",
            "--method",
            "point_cloud",
            "--n-t",
            "30",
            "--seed",
            "2",
            "--quiet",
        ]
    )
    assert rc == 0
    with xr.open_dataset(dst, engine="h5netcdf") as out:
        assert "session" not in out.dims
        assert out.attrs["method"] == "point_cloud" and out.attrs["n_t"] == 30
        expected = geometry(ds, session="layer0", method="point_cloud", n_t=30, seed=2)
        np.testing.assert_allclose(
            out["object_capacity"].values, expected["object_capacity"].values
        )
    rc = cli_main(["geometry", str(src), str(dst), "--n-t", "30"])
    assert rc == 0
    with xr.open_dataset(dst, engine="h5netcdf") as out:
        assert out.sizes["session"] == 2
        assert list(out["session"].values) == ["layer0", "layer1"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "exact"}, "geometry option 'method': must be one of"),
        ({"n_t": 0}, "geometry option 'n_t': must be an integer >= 1"),
        ({"n_t": 2.5}, "geometry option 'n_t': must be an integer >= 1"),
        ({"kappa": float("nan")}, "geometry option 'kappa': must be a finite number"),
        ({"session": "nope"}, "unknown session 'nope'"),
        ({"session": [0, 0]}, r"named more than once"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"stiefel_options": {"tol": 1}}, r"unknown key\(s\) \['tol'\]"),
        ({"stiefel_options": {"max_iter": 0}}, "max_iter must be an integer >= 1"),
        ({"n_restarts": 0}, "geometry option 'n_restarts': must be an integer >= 1"),
        ({"max_k": -1}, "geometry option 'max_k': must be an integer >= 0"),
        ({"bogus": 1}, r"unknown geometry option\(s\) \['bogus'\]"),
    ],
)
def test_geometry_rejects_bad_arguments(kwargs, match):
    ds = small_dataset(np.random.default_rng(21), n_sessions=1)
    with pytest.raises(ValueError, match=match):
        geometry(ds, **kwargs)


@pytest.mark.parametrize(
    "points, match",
    [
        (np.zeros((5, 4)), "points must be 3-D"),
        (np.zeros((5, 4, 1)), "at least 2 objects"),
        (
            np.where(np.eye(5, 4)[:, :, None] > 0, np.nan, 1.0) * np.ones((5, 4, 3)),
            "whole missing samples",
        ),
    ],
)
def test_manifold_geometry_rejects_bad_points(points, match):
    with pytest.raises(ValueError, match=match):
        manifold_geometry(points, n_t=5)


def test_cli_bad_arguments_exit_with_one_line_error(tmp_path, capsys):
    ds = small_dataset(np.random.default_rng(22), n_sessions=1)
    src = tmp_path / "in.nc"
    storage.save_dataset(ds, src)
    dst = tmp_path / "out.nc"
    for args, match in (
        (["--method", "bogus"], "invalid choice: 'bogus'"),
        (["--session", "missing"], "unknown session"),
        (["--n-t", "0"], "'n_t': must be"),
    ):
        assert cli_main(["geometry", str(src), str(dst), "--quiet", *args]) == 2
        err = capsys.readouterr().err
        assert match in err and err.count("\n") == 1
        assert not dst.exists()


# ----------------------------------------------------------------------------- theory vs simulation


def test_mft_capacity_agrees_with_direct_capacity():
    """α_M of random circles against the simulated critical capacity P/N_c.

    P = 40 circles (M = 12 points, R = 1, random orientations) in N = 400 dims. Tolerance 8 %:
    finite-size effects at P = 40 (the transition is a few neurons wide), the N_c resolution
    (1 neuron ≈ 1.7 %) and the Monte-Carlo error of α_M (≈ 1 %). Measured: direct MFT 0.672,
    semi-analytic 0.689, simulation 40/59 = 0.678, α_B(1, 2) = 0.667.
    """
    from dnn_manifolds.analysis import capacity
    rng = np.random.default_rng(23)
    P, M, N, R = 40, 12, 400, 1.0
    phi = 2 * np.pi * np.arange(M) / M
    X = np.empty((N, M, P))
    for mu in range(P):
        Q = np.linalg.qr(rng.standard_normal((N, 3)))[0]
        X[:, :, mu] = Q[:, :1] + R * (Q[:, 1:2] * np.cos(phi) + Q[:, 2:3] * np.sin(phi))
    theory = manifold_geometry(X, method="smooth", n_t=300, rng=8, max_k=0)
    direct = capacity.critical_capacity(X, rng=9)
    alpha_c = float(direct.capacity)
    assert theory.layer["capacity_direct_harmonic"] == pytest.approx(alpha_c, rel=0.08)
    assert theory.layer["capacity"] == pytest.approx(alpha_c, rel=0.08)


# ----------------------------------------------------------------------------- private scipy entry


def test_private_scipy_nnls_entry_point_agrees_with_public_nnls(monkeypatch):
    """The anchor solver calls scipy's compiled Lawson-Hanson directly (a private entry point,
    measured faster than the public wrapper on many small problems). Guard it: it must exist in
    the pinned scipy, return what the public nnls returns, and the public fallback must give
    the same answers when it is gone."""
    from dnn_manifolds.analysis.geometry import anchors

    assert anchors._nnls_compiled is not None, "scipy.optimize._slsqplib.nnls is gone: the fallback runs"
    rng = np.random.default_rng(5)
    for _ in range(20):
        A = np.ascontiguousarray(rng.standard_normal((12, 7)))
        b = rng.standard_normal(12)
        np.testing.assert_allclose(anchors._lawson_hanson(A, b, 100), nnls(A, b)[0], atol=1e-12)
    monkeypatch.setattr(anchors, "_nnls_compiled", None)
    np.testing.assert_allclose(anchors._lawson_hanson(A, b, 100), nnls(A, b)[0], atol=1e-12)
