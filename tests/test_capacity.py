"""Direct capacity: exact separability decisions, f(n), the N_c search, controls, API and CLI.

Oracles share no code with the implementation: hand-made point sets (XOR), the reference QP
(cvxpy + Clarabel), Cover's counting formula, ball-capacity values from ``docs/geometry.md#geometry-reference-values``
(hard-coded as test oracles only), hand-traced search sequences and planted probit curves.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from dnn_manifolds.analysis import capacity as cap
from dnn_manifolds.errors import OptionError
from dnn_manifolds.analysis.capacity import problem as cap_problem
from dnn_manifolds.analysis.capacity import lp as _lp
from dnn_manifolds.data import dataset as dsm
from dnn_manifolds.data import storage
from dnn_manifolds.cli import main as cli_main


@pytest.fixture
def rng():
    return np.random.default_rng(20260)


def _random_points(rng, n_objects, n_neurons):
    """One Gaussian sample per object: (n_neurons, 1, n_objects)."""
    return rng.standard_normal((n_neurons, 1, n_objects))


def _balls(n_objects, dim, radius, n_samples):
    """Spheres of radius ``radius`` (segment for dim = 1, circle polygon for dim = 2) around
    unit centres, every centre and axis along its own neuron (so a Gaussian projection gives
    i.i.d. Gaussian centres and axes, the ball theory's ensemble)."""
    n_neurons = n_objects * (dim + 1)
    x = np.zeros((n_neurons, n_samples, n_objects))
    if dim == 1:
        s = np.linspace(-1.0, 1.0, n_samples)[:, None]
    else:
        th = 2 * np.pi * np.arange(n_samples) / n_samples
        s = np.stack([np.cos(th), np.sin(th)], axis=1)
    for p in range(n_objects):
        x[p * (dim + 1), :, p] = 1.0
        for d in range(dim):
            x[p * (dim + 1) + 1 + d, :, p] = radius * s[:, d]
    return x


# ============================================================================ one dichotomy


XOR = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]])


@pytest.mark.parametrize("method", ["lp", "qp"])
def test_xor_points_are_not_linearly_separable(method):
    res = cap.is_linearly_separable(XOR, np.array([1, 1, -1, -1]), method=method)
    assert res.separable is False
    assert res.status in (_lp.CERTIFIED, _lp.REFERENCE)


@pytest.mark.parametrize("method", ["lp", "qp"])
def test_separable_points_get_a_verified_separator(method):
    y = np.array([1.0, -1.0, 1.0, -1.0])
    res = cap.is_linearly_separable(XOR, y, method=method)
    assert res.separable is True
    assert np.all(y * (res.w @ XOR + res.b) > 0)


def test_reference_qp_reports_the_max_margin():
    # two points at distance 2 along the first axis: max margin 1 (bias needed: offset 5)
    x = np.array([[4.0, 6.0], [3.0, 3.0]])
    res = cap.is_linearly_separable(x, np.array([-1.0, 1.0]), method="qp")
    assert res.separable is True
    assert res.margin == pytest.approx(1.0, rel=1e-5)


def test_lp_decision_with_the_margin_asked_for():
    x = np.array([[4.0, 6.0], [3.0, 3.0]])
    res = cap.is_linearly_separable(x, np.array([-1.0, 1.0]), margin=True)
    assert res.status == _lp.CERTIFIED and res.margin == pytest.approx(1.0, rel=1e-5)


def test_bias_is_unregularised_and_needed():
    # points far from the origin on one line: separable only with a bias
    x = np.array([[100.0, 101.0, 102.0, 103.0]])
    y = np.array([-1.0, -1.0, 1.0, 1.0])
    assert cap.is_linearly_separable(x, y).separable is True
    assert cap.is_linearly_separable(x, np.array([-1.0, 1.0, -1.0, 1.0])).separable is False


@pytest.mark.parametrize("method", ["lp", "qp"])
def test_a_point_with_both_labels_is_not_separable(method):
    x = np.array([[0.0, 1.0, 1.0, 2.0], [0.0, 3.0, 3.0, 2.0]])
    res = cap.is_linearly_separable(x, np.array([1, 1, -1, -1]), method=method)
    assert res.separable is False


def test_verify_separator_rejects_a_point_on_the_hyperplane():
    x = np.array([[-1.0, 0.0, 1.0]])
    y = np.array([-1.0, -1.0, 1.0])
    assert _lp.verify_separator(x, y, np.array([1.0]), -0.5)
    assert not _lp.verify_separator(x, y, np.array([1.0]), 0.0)  # x = 0 lies on it


def test_nan_columns_are_dropped():
    x = np.array([[0.0, 1.0, np.nan, 5.0], [0.0, 1.0, np.nan, 5.0]])
    # without the NaN column the points lie on a line in label order -1, -1, 1
    assert cap.is_linearly_separable(x, np.array([-1.0, -1.0, 1.0, 1.0])).separable is True


def _random_instance(rng, i):
    n_points = int(rng.integers(4, 40))
    n_features = int(rng.integers(1, 16))
    kind = i % 4
    if kind == 0:  # plain Gaussian
        x = rng.standard_normal((n_features, n_points))
    elif kind == 1:  # large offset, tiny spread
        x = 50.0 + 1e-3 * rng.standard_normal((n_features, n_points))
    elif kind == 2:  # rank-deficient, with duplicated points
        x = rng.standard_normal((n_features, 2)) @ rng.standard_normal((2, n_points))
        x[:, : n_points // 3] = x[:, :1]
    else:  # small manifolds: objects of 4 samples share a label
        n_obj = max(2, n_points // 4)
        c = rng.standard_normal((n_features, n_obj))
        x = np.repeat(c, 4, axis=1) + 0.4 * rng.standard_normal((n_features, 4 * n_obj))
        y = np.repeat(np.where(rng.random(n_obj) < 0.5, -1.0, 1.0), 4)
        return x, y
    y = np.where(rng.random(n_points) < 0.5, -1.0, 1.0)
    return x, y


def test_lp_decision_equals_qp_decision_on_random_instances(rng):
    n_sep = n_not = 0
    for i in range(240):
        x, y = _random_instance(rng, i)
        fast = _lp.lp_separability(x, y, fallback=False)
        ref = _lp.qp_separability(x, y)
        assert ref.separable is not None, ref.message
        assert fast.status == _lp.CERTIFIED, fast.message
        assert fast.separable == ref.separable, (i, x.shape)
        n_sep += ref.separable
        n_not += not ref.separable
    # the oracle comparison is only meaningful with both answers well represented
    assert n_sep >= 50 and n_not >= 50


def test_lp_falls_back_to_the_reference_when_unsure(monkeypatch):
    monkeypatch.setattr(_lp, "gordan_ipm", lambda a, **kw: _lp._IPMOutcome(None, None, 0, "forced"))
    res = cap.is_linearly_separable(XOR, np.array([1, 1, -1, -1]))
    assert res.separable is False and res.status == _lp.FALLBACK
    res = cap.is_linearly_separable(XOR, np.array([1, -1, 1, -1]))
    assert res.separable is True and res.status == _lp.FALLBACK


def test_solver_failures_are_counted_not_read_as_answers(monkeypatch, rng):
    def failed(*args, **kwargs):
        return _lp.SeparabilityResult(None, _lp.FAILED, "forced failure")

    monkeypatch.setattr(cap_problem, "decide", failed)
    res = cap.separable_fraction(_random_points(rng, 8, 10), 3, rng=0)
    assert math.isnan(res.fraction)
    assert res.n_repetitions == 0 and res.n_attempts == 100
    assert res.status_count[_lp.FAILED] == 100
    assert np.all(np.isnan(res.outcomes))


# ============================================================================ f(n) at one n


def _cover_fraction(n_points, n_features):
    """Cover (1965) with a bias: fraction of the 2^P dichotomies of P points in general
    position in n dims that an affine hyperplane realises."""
    return 2.0 ** (1 - n_points) * sum(math.comb(n_points - 1, k) for k in range(n_features + 1))


@pytest.mark.parametrize("n_features", [15, 19])
def test_separable_fraction_of_random_points_matches_cover(rng, n_features):
    points = _random_points(rng, 40, 60)
    res = cap.separable_fraction(
        points, n_features, rng=1, labels="iid", min_repetitions=300, max_repetitions=300
    )
    expected = _cover_fraction(40, n_features)
    assert res.n_repetitions == 300
    # 300 draws: SE <= 0.029; 0.1 is > 3.4 SE
    assert abs(res.fraction - expected) < 0.1


def test_adaptive_repetitions_follow_the_stopping_rule(rng):
    points = _random_points(rng, 40, 60)
    eps = 0.05
    for n in (5, 19, 40):
        res = cap.separable_fraction(points, n, rng=2)
        out = res.outcomes
        assert 20 <= res.n_repetitions <= 100
        # oracle: the first count >= 20 whose standard error is <= eps, else 100
        stop = 100
        for k in range(20, 101):
            p = out[:k].mean()
            if math.sqrt(p * (1 - p) / k) <= eps:
                stop = k
                break
        assert res.n_repetitions == stop
    assert cap.separable_fraction(points, 40, rng=2).n_repetitions == 20  # f = 1


def test_balanced_labels_give_half_away_from_zero_negatives():
    g = np.random.default_rng(0)
    assert (cap_problem._draw_labels(g, 5, "balanced") == -1).sum() == 3
    assert (cap_problem._draw_labels(g, 6, "balanced") == -1).sum() == 3
    assert (cap_problem._draw_labels(g, 7, "sparse") == -1).sum() == 1


def test_cutting_plane_gives_the_same_decisions_as_the_full_lp(rng):
    x = _balls(12, 2, 1.5, 12)  # f(18) ≈ 0.2 (measured over 200 repetitions)
    full = cap.separable_fraction(x, 18, rng=5, max_repetitions=30, min_repetitions=30)
    cut = cap.separable_fraction(
        x, 18, rng=5, max_repetitions=30, min_repetitions=30, cutting_plane=True, max_samples=6
    )
    assert 0 < full.fraction < 1
    np.testing.assert_array_equal(full.outcomes, cut.outcomes)


def test_neuron_subsampling_uses_distinct_neurons(rng):
    points = _random_points(rng, 30, 20)
    # all 20 neurons: same decision in every repetition as the data themselves
    res = cap.separable_fraction(points, 20, rng=0, projection="neurons")
    assert res.n_repetitions >= 20 and 0.0 <= res.fraction <= 1.0
    y_all_n = cap.separable_fraction(points, 20, rng=0, projection="gaussian")
    np.testing.assert_array_equal(res.outcomes, y_all_n.outcomes)


# ============================================================================ search


def test_search_on_a_step_function_returns_the_step_and_the_probe_sequence():
    calls = []

    def step(n):
        calls.append(n)
        return 1.0 if n >= 37 else 0.0

    n_c, probes = cap.search_critical_n(step, 64, jumps=10)
    assert n_c == 37
    # hand-traced: coarse 10..40 stops at the first 1; bisection 35, 38, 37, 36
    assert probes == [10, 20, 30, 40, 35, 38, 37, 36]
    assert calls == probes  # each n evaluated once


def test_search_bisects_on_strictly_above_half_but_picks_first_at_least_half():
    table = {n: min(1.0, max(0.0, (n - 30) / 20)) for n in range(1, 101)}
    n_c, probes = cap.search_critical_n(table.__getitem__, 100, jumps=25, tails=False)
    assert n_c == 40  # f(40) = 0.5 exactly: >= 0.5
    assert table[40] == 0.5 and 40 in probes


def test_search_tail_probes_fill_the_curve_without_moving_n_c():
    table = {n: min(1.0, 0.1 + n / 100) for n in range(1, 201)}
    with_tails = cap.search_critical_n(table.__getitem__, 200, jumps=50, tails=True)
    without = cap.search_critical_n(table.__getitem__, 200, jumps=50, tails=False)
    assert with_tails[0] == without[0] == 40
    assert min(with_tails[1]) < min(without[1])  # probed down towards n = 1


def test_default_jumps_follow_the_original_rule():
    assert [cap.default_jumps(n) for n in (50, 300, 640, 2000, 4096)] == [10, 100, 128, 500, 512]


# ============================================================================ capacity vs theory


@pytest.mark.parametrize("n_objects", [64, 128])
def test_random_points_have_capacity_two(rng, n_objects):
    res = cap.critical_capacity(_random_points(rng, n_objects, n_objects), rng=3)
    assert 1.85 <= res.capacity <= 2.15
    assert 1.85 <= res.capacity_fit <= 2.15
    assert res.fit.ci_low <= res.fit.critical_n_features <= res.fit.ci_high
    assert res.status_count[:, STATUS_INDEX[_lp.FAILED]].sum() == 0


STATUS_INDEX = {s: i for i, s in enumerate(cap.STATUSES)}


# α_B(κ=0, R, D) from docs/geometry.md#geometry-reference-values (test oracles only; R = 1 is 2/(D+1)).
# Finite size: P = 32 objects, balanced labels; the first crossing has a step of 1 feature
# out of ~30 (3 %) and f(n) an SE of 0.05 near N_c (seeds 4-7 stayed within 4.5 %); the
# 12-gon's circumradius is 1 but its inradius 0.966, which raises α by ~1 %. Tolerance 8 %.
@pytest.mark.parametrize(
    "dim, radius, n_samples, alpha_b",
    [
        (1, 1.0, 2, 1.0),  # segment: 2/(1+1)
        (1, 0.5, 2, 1.25760),
        (1, 2.0, 2, 0.82999),
        (2, 1.0, 12, 2.0 / 3.0),  # circle (12-gon): 2/(2+1)
    ],
)
def test_balls_match_ball_capacity(dim, radius, n_samples, alpha_b):
    res = cap.critical_capacity(_balls(32, dim, radius, n_samples), rng=4)
    assert res.capacity == pytest.approx(alpha_b, rel=0.08)
    assert res.capacity_fit == pytest.approx(alpha_b, rel=0.08)


def test_nested_projections_are_monotone_per_repetition_and_agree_with_cover(rng):
    res = cap.critical_capacity(_random_points(rng, 64, 64), rng=6, nested=True)
    assert 1.85 <= res.capacity <= 2.15
    assert res.status_count[:, STATUS_INDEX["shortcut"]].sum() > 0
    ns = sorted(res.repetitions)
    for rep in range(20):
        seq = [
            res.repetitions[n].outcomes[rep] for n in ns if len(res.repetitions[n].outcomes) > rep
        ]
        assert all(a <= b for a, b in zip(seq, seq[1:]))


def test_missing_samples_are_dropped_per_object(rng):
    x = _balls(10, 1, 1.0, 3)
    padded = np.concatenate([x, np.full((x.shape[0], 2, x.shape[2]), np.nan)], axis=1)
    a = cap.critical_capacity(x, rng=7, tails=False, expected_precision=0.1)
    b = cap.critical_capacity(padded, rng=7, tails=False, expected_precision=0.1)
    np.testing.assert_array_equal(a.n_features, b.n_features)
    np.testing.assert_array_equal(a.fraction, b.fraction)


# ============================================================================ fit


def test_probit_fit_recovers_a_planted_transition():
    from scipy.stats import norm

    n = np.arange(40, 61, 2)
    m = np.full(n.shape, 2000)
    k = np.round(m * norm.cdf((n - 50.3) / 3.0)).astype(int)
    fit = cap.fit_transition(n, k, m)
    assert fit.status == "ok"
    assert fit.critical_n_features == pytest.approx(50.3, abs=0.05)
    assert fit.width == pytest.approx(3.0, rel=0.02)
    assert fit.ci_low < 50.3 < fit.ci_high and fit.ci_high - fit.ci_low < 0.5


def test_probit_fit_without_a_transition_is_nan():
    fit = cap.fit_transition([10, 20], [0, 0], [20, 20])
    assert fit.status == "no_transition" and math.isnan(fit.critical_n_features)


# ============================================================================ controls


def _manifolds(rng, n_neurons=30, n_samples=4, n_objects=6):
    return rng.standard_normal((n_neurons, n_samples, n_objects)) + 2 * rng.standard_normal(
        (n_neurons, 1, n_objects)
    )


def _centred_centres(x):
    g = x.mean(axis=(1, 2), keepdims=True)
    return (x - g).mean(axis=1)


def test_orth_control_makes_orthogonal_centres_with_the_same_norms(rng):
    x = _manifolds(rng)
    y = cap.apply_control(x, "orth", rng=0)
    c0, c1 = _centred_centres(x), y.mean(axis=1)
    gram = c1.T @ c1
    np.testing.assert_allclose(np.linalg.norm(c1, axis=0), np.linalg.norm(c0, axis=0))
    np.testing.assert_allclose(gram - np.diag(np.diag(gram)), 0.0, atol=1e-10)
    # axes unchanged
    np.testing.assert_allclose(y - y.mean(axis=1, keepdims=True), x - x.mean(axis=1, keepdims=True))


@pytest.mark.parametrize("control", ["centers_random", "manifold_random", "axes_random"])
def test_random_centre_and_axes_controls_keep_centre_norms(rng, control):
    x = _manifolds(rng)
    y = cap.apply_control(x, control, rng=1)
    c0, c1 = _centred_centres(x), y.mean(axis=1)
    np.testing.assert_allclose(np.linalg.norm(c1, axis=0), np.linalg.norm(c0, axis=0))
    # the per-object centred manifold keeps its singular values
    for p in range(x.shape[2]):
        s0 = np.linalg.svd(x[:, :, p] - x[:, :, p].mean(1, keepdims=True), compute_uv=False)
        s1 = np.linalg.svd(y[:, :, p] - y[:, :, p].mean(1, keepdims=True), compute_uv=False)
        np.testing.assert_allclose(s0, s1, atol=1e-10)
    if control == "axes_random":
        np.testing.assert_allclose(c1, c0, atol=1e-12)
    else:
        assert not np.allclose(c1, c0)


def test_uniform_centre_control_gives_equal_norms(rng):
    y = cap.apply_control(_manifolds(rng), "manifold_random_uniform_centers", rng=2)
    norms = np.linalg.norm(y.mean(axis=1), axis=0)
    np.testing.assert_allclose(norms, norms.mean())


def test_shuffle_and_permute_controls_keep_the_samples(rng):
    x = _manifolds(rng)
    x[:, 3, 1] = np.nan  # a missing sample stays missing
    centred = x - np.nanmean(x, axis=(1, 2), keepdims=True)
    y = cap.apply_control(x, "shuffle", rng=3)
    assert np.isnan(y[:, 3, 1]).all() and np.isnan(y).sum() == x.shape[0]

    def cols(a):
        flat = a.transpose(0, 2, 1).reshape(a.shape[0], -1)
        return np.sort(flat[:, ~np.isnan(a).any(0).T.ravel()], axis=1)

    np.testing.assert_allclose(cols(y), cols(centred))
    z = cap.apply_control(x, "permute_random", rng=3)
    for p in range(x.shape[2]):
        ok = ~np.isnan(x[0, :, p])
        np.testing.assert_allclose(
            np.sort(z[:, ok, p], axis=0), np.sort(centred[:, ok, p], axis=0), atol=1e-12
        )


def test_zscore_gives_zero_mean_unit_std(rng):
    z = cap.zscore_neurons(_manifolds(rng))
    flat = z.reshape(z.shape[0], -1)
    np.testing.assert_allclose(flat.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(flat.std(axis=1, ddof=1), 1.0)


def test_shuffled_control_lowers_the_capacity_of_separated_manifolds(rng):
    # tight clouds of 4 samples around 16 random centres in 100 dims: nearly points (α ≈ 2);
    # shuffling the samples across objects destroys the grouping (64 random points with
    # grouped labels: capacity per object far below)
    x = rng.standard_normal((100, 1, 16)) + 0.2 * rng.standard_normal((100, 4, 16))
    plain = cap.critical_capacity(x, rng=8, tails=False, expected_precision=0.1)
    shuffled = cap.critical_capacity(
        x, rng=8, tails=False, expected_precision=0.1, control="shuffle"
    )
    assert plain.capacity > 1.2
    assert shuffled.capacity < 0.8


# ============================================================================ errors


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"control": "scramble"}, ValueError, "capacity option 'control': must be one of"),
        ({"projection": "pca"}, ValueError, "capacity option 'projection': must be one of"),
        ({"labels": "half"}, ValueError, "capacity option 'labels': must be one of"),
        ({"method": "simplex"}, ValueError, "capacity option 'method': must be one of"),
        ({"expected_precision": 0.0}, ValueError, "expected_precision"),
        ({"jobs": 0}, ValueError, "jobs must be a positive integer"),
        ({"tails": "yes"}, OptionError, "capacity option 'tails': must be true or false"),
        ({"jumps": -5}, ValueError, "capacity option 'jumps': must be an integer >= 1"),
        ({"min_repetitions": 50, "max_repetitions": 10}, ValueError, "must not exceed"),
        ({"bogus": 1}, OptionError, r"unknown capacity option\(s\) \['bogus'\]"),
    ],
)
def test_bad_options_raise_clear_errors(rng, kwargs, error, match):
    with pytest.raises(error, match=match):
        cap.critical_capacity(_random_points(rng, 6, 4), rng=0, **kwargs)


def test_options_fill_defaults_and_reject_bad_values():
    opts = cap.CapacityOptions.from_mapping({"nested": True})
    assert opts.nested is True and opts.repetition_bounds == (20, 100)
    assert opts.record()["min_repetitions"] == 20 and opts.to_dict()["min_repetitions"] is None
    assert opts.replace(expected_precision=0.1).repetition_bounds == (10, 25)
    with pytest.raises(OptionError, match="capacity option 'control': must be one of"):
        cap.CapacityOptions.from_mapping({"control": "scramble"})
    with pytest.raises(OptionError, match="must not exceed"):
        cap.CapacityOptions(min_repetitions=50, max_repetitions=10)
    with pytest.raises(Exception):  # frozen
        opts.nested = False


def test_bad_points_raise_clear_errors(rng):
    with pytest.raises(ValueError, match="at least 2 objects"):
        cap.critical_capacity(rng.standard_normal((5, 3, 1)), rng=0)
    with pytest.raises(ValueError, match="must be 3-D"):
        cap.critical_capacity(rng.standard_normal((5, 3)), rng=0)
    bad = rng.standard_normal((5, 3, 4))
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        cap.critical_capacity(bad, rng=0)
    gone = rng.standard_normal((5, 3, 4))
    gone[:, :, 2] = np.nan
    with pytest.raises(ValueError, match="at least one sample without NaN"):
        cap.critical_capacity(gone, rng=0)


@pytest.mark.parametrize("n", [0, 5])
def test_n_features_out_of_range(rng, n):
    with pytest.raises(ValueError, match="n_features must be between 1 and n_neurons = 4"):
        cap.separable_fraction(_random_points(rng, 6, 4), n, rng=0)


def test_orth_control_needs_enough_neurons(rng):
    with pytest.raises(ValueError, match="at least as many neurons as objects"):
        cap.apply_control(rng.standard_normal((3, 2, 5)), "orth", rng=0)


def _dataset(rng, n_sessions=2):
    t = rng.standard_normal((n_sessions, 24, 2, 12))
    t[:, 20:] = 0.0  # silent neurons
    return dsm.make_dataset(t, sessions=[f"layer{s}" for s in range(n_sessions)])


def test_unknown_session_and_bad_seed_raise(rng):
    ds = _dataset(rng)
    with pytest.raises(ValueError, match="unknown session"):
        cap.capacity(ds, session="conv9")
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        cap.capacity(ds, session=0, seed=-1)


# ============================================================================ API, determinism, CLI


def test_capacity_dataset_output(rng):
    ds = _dataset(rng)
    out = cap.capacity(ds, seed=5)
    assert out.sizes["session"] == 2
    assert list(out.session.values) == ["layer0", "layer1"]
    assert int(out.n_neurons.sel(session="layer0")) == 20  # silent neurons dropped
    assert int(out.n_objects.sel(session="layer0")) == 12
    for name in ("capacity", "critical_n_features", "separable_fraction", "status_count"):
        assert out[name].attrs["long_name"] and "units" in out[name].attrs
    a0 = float(out.capacity.sel(session="layer0"))
    assert a0 == pytest.approx(12 / float(out.critical_n_features.sel(session="layer0")))
    assert (
        out.attrs["seed"] == 5 and "options" in out.attrs and "dnn_manifolds_version" in out.attrs
    )
    one = cap.capacity(ds, session="layer1", seed=5)
    assert "session" not in one.dims and str(one.session.values) == "layer1"
    # a session's result does not depend on which other sessions are analysed
    assert float(one.capacity) == float(out.capacity.sel(session="layer1"))
    sel = out.sel(session="layer1").dropna("n_features", subset=["separable_fraction"])
    np.testing.assert_array_equal(sel.separable_fraction.values, one.separable_fraction.values)


def test_same_seed_same_result_and_jobs_do_not_matter(rng):
    points = _random_points(rng, 24, 24)
    a = cap.critical_capacity(points, rng=11)
    b = cap.critical_capacity(points, rng=11)
    c = cap.critical_capacity(points, rng=11, jobs=2)
    for other in (b, c):
        assert other.critical_n_features == a.critical_n_features
        np.testing.assert_array_equal(other.n_features, a.n_features)
        np.testing.assert_array_equal(other.fraction, a.fraction)
        np.testing.assert_array_equal(other.n_repetitions, a.n_repetitions)
    e = cap.critical_capacity(points, rng=11, nested=True)
    f = cap.critical_capacity(points, rng=11, nested=True, jobs=2)
    np.testing.assert_array_equal(e.n_features, f.n_features)
    np.testing.assert_array_equal(e.fraction, f.fraction)
    np.testing.assert_array_equal(e.status_count, f.status_count)
    d = cap.critical_capacity(points, rng=12)
    assert not (
        np.array_equal(d.n_features, a.n_features) and np.array_equal(d.fraction, a.fraction)
    )


def test_cli_writes_the_capacity_of_every_session(tmp_path, rng):
    ds = _dataset(rng)
    src = tmp_path / "in.nc"
    storage.save_dataset(ds, src)
    out = tmp_path / "out.nc"
    assert cli_main(["capacity", str(src), str(out), "--seed", "5", "--quiet"]) == 0
    with xr.open_dataset(out, engine="h5netcdf") as res:
        assert res.sizes["session"] == 2
        direct = cap.capacity(storage.load_dataset(src), seed=5)
        np.testing.assert_array_equal(res.capacity.values, direct.capacity.values)
        np.testing.assert_array_equal(
            res.separable_fraction.values, direct.separable_fraction.values
        )
    one = tmp_path / "one.nc"
    assert (
        cli_main(
            ["capacity", str(src), str(one), "--session", "layer1", "--jobs", "2", "--quiet"]
        )
        == 0
    )
    with xr.open_dataset(one, engine="h5netcdf") as res:
        assert "session" not in res.dims


def test_cli_unknown_session_fails_cleanly(tmp_path, rng, capsys):
    src = tmp_path / "in.nc"
    storage.save_dataset(_dataset(rng), src)
    out = tmp_path / "out.nc"
    assert cli_main(["capacity", str(src), str(out), "--session", "conv9", "--quiet"]) == 2
    assert "unknown session" in capsys.readouterr().err
    assert not out.exists()
