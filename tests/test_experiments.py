"""The paper's controls, manipulations and sweeps: selections and manipulations of the data,
the capacity of balls, geometry controls and neuron subsets, experiments over option grids."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dnn_manifolds.analysis.capacity import CapacityOptions, critical_capacity
from dnn_manifolds.analysis.capacity.balls import _socp, separate_balls
from dnn_manifolds.analysis.experiments import Experiment, expand_grid, run_experiment, variant_label
from dnn_manifolds.analysis.geometry import geometry, manifold_geometry
from dnn_manifolds.analysis.manipulations import (
    SessionReference,
    ball_manifolds,
    preserve_correlations,
    select_objects,
    select_samples,
)
from dnn_manifolds.analysis.theory import ball_capacity
from dnn_manifolds.data import make_dataset
from dnn_manifolds.errors import OptionError


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def _manifolds(rng, n=60, m=7, p=8, spread=0.4):
    centres = 2.0 * rng.standard_normal((n, 1, p)) + 1.0  # a shared offset: a common component
    return centres + spread * rng.standard_normal((n, m, p))


def _orthonormal(rng, n, k):
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


# ----------------------------------------------------------------------------- selections


def test_select_samples_keeps_both_ends_or_the_centre():
    x = np.arange(2 * 9 * 3, dtype=float).reshape(2, 9, 3)
    np.testing.assert_array_equal(select_samples(x, 4), x[:, [0, 4, 8], :])
    np.testing.assert_array_equal(select_samples(x, 0), x[:, [4], :])
    assert select_samples(x, 1) is x
    with pytest.raises(OptionError, match="must divide M − 1 = 8"):
        select_samples(x, 3)
    with pytest.raises(OptionError, match="odd M"):
        select_samples(x[:, :8], 0)


def test_select_objects_takes_the_first_ones():
    x = np.zeros((3, 2, 5))
    assert select_objects(x, 3).shape == (3, 2, 3)
    with pytest.raises(OptionError, match="6 objects asked for, the data have 5"):
        select_objects(x, 6)


# ----------------------------------------------------------------------------- manipulations


def _parts(x, v):
    """Global mean, common components, residual centres, deviations (no missing samples)."""
    g = x.mean(axis=(1, 2))
    x0 = x - g[:, None, None]
    common = np.einsum("nk,kmp->nmp", v, np.einsum("nk,nmp->kmp", v, x0))
    resid = x0 - common
    c = resid.mean(axis=1)
    return g, common, c, resid - c[:, None, :]


def test_preserving_correlations_changes_only_what_it_says(rng):
    x = _manifolds(rng)
    v = _orthonormal(rng, x.shape[0], 2)
    np.testing.assert_allclose(preserve_correlations(x, v), x, atol=1e-12)
    g, common, c, dev = _parts(x, v)
    y = preserve_correlations(x, v, centre_scale=1.5)
    g2, common2, c2, dev2 = _parts(y, v)
    np.testing.assert_allclose(g2, g, atol=1e-12)
    np.testing.assert_allclose(common2, common, atol=1e-12)
    np.testing.assert_allclose(c2, 1.5 * c, atol=1e-12)
    np.testing.assert_allclose(dev2, dev, atol=1e-12)
    z = preserve_correlations(x, v, dimension=2)
    _, common3, c3, dev3 = _parts(z, v)
    np.testing.assert_allclose(c3, c, atol=1e-12)
    for p in range(x.shape[2]):
        s = np.linalg.svd(dev3[:, :, p], compute_uv=False)
        assert s[2] < 1e-10 * s[0]  # rank 2
        assert np.isclose(s[:2], np.linalg.svd(dev[:, :, p], compute_uv=False)[:2]).all()
    w = preserve_correlations(x, v, permute_axes=True, rng=3)
    moved = w - g[:, None, None] - common - c[:, None, :]  # what is left: the deviations, permuted
    for p in range(x.shape[2]):
        rows = {tuple(np.round(r, 9)) for r in dev[:, :, p]}
        assert {tuple(np.round(r, 9)) for r in moved[:, :, p]} == rows
        assert not np.allclose(moved[:, :, p], dev[:, :, p])


def test_manipulations_keep_missing_samples_missing(rng):
    x = _manifolds(rng)
    x[:, 3, 2] = np.nan
    y = preserve_correlations(x, np.zeros((x.shape[0], 0)), centre_scale=0.5)
    assert np.isnan(y[:, 3, 2]).all() and np.isfinite(np.delete(y, 3, axis=1)).all()


# ----------------------------------------------------------------------------- balls


def test_ball_manifolds_have_the_measured_dimension_and_size(rng):
    x = _manifolds(rng, p=4)
    ref = SessionReference(np.zeros((60, 0)), np.full(4, 0.5), np.array([1.4, 2.5, 0.2, 9.0]), np.full(4, 3.0))
    c, axes = ball_manifolds(x, ref, "floor")
    assert [a.shape[1] for a in axes] == [1, 2, 0, 6]  # the last clipped to the rank M − 1
    c2, axes2 = ball_manifolds(x, ref, "ceil")
    assert [a.shape[1] for a in axes2] == [2, 3, 1, 6]
    np.testing.assert_allclose(c, x.mean(axis=1))
    np.testing.assert_allclose(np.linalg.norm(axes[1], axis=0), 1.5)  # R · |c̃| = 0.5 · 3


def test_ball_separability_agrees_with_the_exact_cone_program(rng):
    agree = 0
    for trial in range(12):
        n, p, d = 6, 10, 2
        centres = rng.standard_normal((n, p))
        axes = [0.6 * _orthonormal(rng, n, d) for _ in range(p)]
        y = np.where(rng.random(p) < 0.5, -1.0, 1.0)
        fast = separate_balls(centres, axes, y, max_points=50)
        exact = _socp(centres, axes, y)
        assert fast.separable is not None and exact.separable is not None
        agree += fast.separable == exact.separable
        if fast.separable:  # the separator puts every whole ball on its side
            w, b = fast.w, fast.b
            for i in range(p):
                assert y[i] * (w @ centres[:, i] + b) > np.linalg.norm(axes[i].T @ w)
    assert agree == 12


def test_direct_capacity_of_balls_approaches_the_ball_theory(rng):
    """P balls of radius R = 0.5 and dimension D = 3 with random centres: α_c near α_B."""
    n, p, d, r = 120, 24, 3, 0.5
    centres = rng.standard_normal((n, p)) * math.sqrt(1.0)
    cn = np.linalg.norm(centres - centres.mean(axis=1, keepdims=True), axis=0)
    x = np.empty((n, 8, p))
    for i in range(p):
        u = _orthonormal(rng, n, d)
        s = rng.standard_normal((d, 8))
        x[:, :, i] = centres[:, i : i + 1] + u @ s
    ref = SessionReference(np.zeros((n, 0)), np.full(p, r), np.full(p, float(d)), cn)
    res = critical_capacity(x, rng=2, balls="floor", reference=ref, tails=False, expected_precision=0.1)
    assert res.ball_dimensions.tolist() == [d] * p
    theory = float(ball_capacity(r, d))
    assert res.capacity == pytest.approx(theory, rel=0.35)  # P = 24: strong finite-size effects
    with pytest.raises(OptionError, match="needs the geometry"):
        critical_capacity(x, rng=2, balls="floor")


def test_balls_cannot_be_combined_with_other_manipulations():
    with pytest.raises(OptionError, match="cannot be combined"):
        CapacityOptions(balls="ceil", control="shuffle")


# ----------------------------------------------------------------------------- geometry


def test_geometry_controls_and_subsets(rng):
    x = _manifolds(rng, n=80, p=10, spread=0.5)
    base = manifold_geometry(x, n_t=80, rng=1)
    shuffled = manifold_geometry(x, n_t=80, rng=1, control="shuffle")
    assert shuffled.n_common == base.n_common  # the common subspace of the unshuffled data
    assert shuffled.layer["capacity"] < 0.6 * base.layer["capacity"]
    scaled = manifold_geometry(x, n_t=80, rng=1, centre_scale=2.0)
    assert scaled.layer["radius"] == pytest.approx(base.layer["radius"] / 2, rel=0.05)
    subsets = manifold_geometry(x, n_t=80, rng=1, n_neurons=40, neuron_repeats=4)
    assert subsets.subset_size == 40 and len(subsets.layer_per_subset["capacity"]) == 4
    assert subsets.layer["capacity"] == pytest.approx(np.mean(subsets.layer_per_subset["capacity"]))
    with pytest.raises(OptionError, match="81 asked for"):
        manifold_geometry(x, n_t=20, rng=1, n_neurons=81)


# ----------------------------------------------------------------------------- experiments


def test_grid_expansion_and_labels():
    assert expand_grid({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}
    ]
    assert expand_grid([{"control": "shuffle"}, {"zscore": True}]) == [{"control": "shuffle"}, {"zscore": True}]
    assert variant_label({"centre_scale": 0.5, "clip_dimension": None}) == "centre_scale=0.5,clip_dimension=null"
    assert variant_label({}) == "baseline"
    with pytest.raises(OptionError, match="non-empty list"):
        expand_grid({"a": []})
    with pytest.raises(OptionError, match=r"unknown capacity option\(s\) \['bogus'\] in the grid"):
        Experiment("e", "capacity", grid={"bogus": [1]})
    with pytest.raises(OptionError, match="capacity option 'control'"):
        Experiment("e", "capacity", grid={"control": ["flip"]})


def test_run_experiment_stacks_variants_keyed_by_their_options(rng):
    ds = make_dataset(_manifolds(rng, n=50, p=8)[None].astype(np.float32), sessions=["s"])
    geo = geometry(ds, session="s", seed=1, n_t=60)
    exp = Experiment("scale", "capacity", {"expected_precision": 0.2}, {"centre_scale": [0.5, 1.0, 2.0]})
    assert exp.needs_reference
    with pytest.raises(OptionError, match="reference"):
        run_experiment(ds, exp, session="s", seed=1)
    out = run_experiment(ds, exp, session="s", seed=1, reference=geo)
    assert list(out["variant"].values) == ["centre_scale=0.5", "centre_scale=1.0", "centre_scale=2.0"]
    np.testing.assert_array_equal(out["variant_centre_scale"].values, [0.5, 1.0, 2.0])
    caps = out["capacity"].values
    assert caps[0] <= caps[1] <= caps[2]  # larger centres, farther apart: more capacity
    plain = run_experiment(ds, Experiment("none", "capacity", {"expected_precision": 0.2}, {"tails": [True]}), session="s", seed=1)
    assert float(plain["capacity"].values[0]) == pytest.approx(float(caps[1]))  # f = 1 is the data
    assert '"name": "scale"' in out.attrs["experiment"]
