"""Tests of dnn_manifolds.generation.transforms: warp geometry, range-factor calibration, samplers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dnn_manifolds import cli
from dnn_manifolds.generation.embedded import make_embedded_stimuli
from dnn_manifolds.report.contact_sheet import manifold_contact_sheet
from dnn_manifolds.generation.transforms import (
    TRANSFORMS_1D,
    affine_theta,
    max_source_extent,
    one_dimensional_transforms,
    random_transforms_2d,
    scale_factor,
    transform_magnitude,
    warp_image_reference,
    warp_images,
)

torch.set_num_threads(1)

RNG = np.random.default_rng(7)
THUMB = RNG.integers(0, 256, size=(144, 144, 3), dtype=np.uint8)


def _warp(image, matrices):
    return warp_images(image[None], np.asarray(matrices)).permute(0, 2, 3, 1).numpy()


def test_zero_transform_is_the_central_crop():
    out = _warp(THUMB, np.eye(2, 3)[None])[0]
    np.testing.assert_allclose(out, THUMB[40:104, 40:104], atol=0.01)


def test_centre_sample_of_every_1d_manifold_is_the_identity():
    for name in TRANSFORMS_1D:
        mats, _ = one_dimensional_transforms(name, range_factor=3.0, n_samples=7)
        np.testing.assert_array_equal(mats[3], np.eye(2, 3))


@pytest.mark.parametrize("range_factor", [0.5, 4, 16])
def test_every_1d_family_reaches_the_range_factor_in_corner_displacement(range_factor):
    sf = range_factor / 24
    for name in TRANSFORMS_1D:
        mats, values = one_dimensional_transforms(name, range_factor=range_factor, n_samples=9)
        mag = transform_magnitude(mats)
        assert mag[-1] == pytest.approx(sf, rel=1e-12)
        assert mag[4] == 0
        if "scale" in name:  # the lower end is 1/(1+sf): magnitude sf/(1+sf)
            assert mag[0] == pytest.approx(sf / (1 + sf), rel=1e-12)
            np.testing.assert_allclose(values * values[::-1], 1.0)  # log-symmetric
        else:
            assert mag[0] == pytest.approx(sf, rel=1e-12)


def test_rotation_magnitude_is_the_chord_of_the_corners():
    mats, theta = one_dimensional_transforms("rotation", range_factor=8, n_samples=5)
    np.testing.assert_allclose(transform_magnitude(mats), 2 * math.sqrt(2) * np.abs(np.sin(theta / 2)))


def test_translation_by_the_range_factor_moves_content_by_that_many_pixels():
    # range factor 2 px, 5 samples: x shifts of -2, -1, 0, 1, 2 pixels
    mats, values = one_dimensional_transforms("x-translation", range_factor=2, n_samples=5)
    np.testing.assert_allclose(values * 24, [-2, -1, 0, 1, 2])
    out = _warp(THUMB, mats)
    for k, shift in enumerate([-2, -1, 0, 1, 2]):
        # content moves right by `shift`: output column c shows input column 40 + c - shift
        np.testing.assert_allclose(out[k], THUMB[40:104, 40 - shift:104 - shift], atol=0.01)
    mats, _ = one_dimensional_transforms("y-translation", range_factor=1, n_samples=3)
    np.testing.assert_allclose(_warp(THUMB, mats)[2], THUMB[39:103, 40:104], atol=0.01)  # down 1 px


def test_batched_warp_matches_the_per_pixel_reference():
    rng = np.random.default_rng(3)
    mats = np.tile(np.eye(2, 3), (3, 1, 1)) + rng.normal(0, 0.15, size=(3, 2, 3))
    out = _warp(THUMB, mats)
    for k in range(3):
        np.testing.assert_allclose(out[k], warp_image_reference(THUMB, mats[k]), atol=0.05)


def test_warp_fills_with_zeros_outside_the_stimulus():
    far = np.array([[[1, 0, 2.5], [0, 1, 0]]])  # 60 px right: the left part comes from beyond the border
    out = _warp(THUMB, far)[0]
    ref = warp_image_reference(THUMB, far[0])
    np.testing.assert_allclose(out, ref, atol=0.05)
    assert (out[:, :5] == 0).all() and out[:, -5:].mean() > 50


def test_affine_theta_for_144_to_64_is_four_ninths_of_the_inverse():
    a = np.array([[[1.2, 0.1, 0.3], [-0.2, 0.9, -0.1]]])
    theta = affine_theta(a)
    a_inv = np.linalg.inv(a[0, :, :2])
    np.testing.assert_allclose(theta[0, :, :2], 4 / 9 * a_inv)
    np.testing.assert_allclose(theta[0, :, 2], -(1 / 3) * a_inv @ a[0, :, 2])


def test_paper_range_factors_never_show_the_fill():
    for name in TRANSFORMS_1D:
        mats, _ = one_dimensional_transforms(name, range_factor=16, n_samples=201)
        assert max_source_extent(mats).max() <= 2.23
    mats, _ = one_dimensional_transforms("x-translation", range_factor=16, n_samples=3)
    assert max_source_extent(mats).max() == pytest.approx(2.0)


@pytest.mark.parametrize("name", ["translation", "shear"])
def test_2d_samples_are_a_gaussian_truncated_to_the_disc(name):
    rf = 8
    sf = rf / 24
    mats, coords = random_transforms_2d(name, range_factor=rf, n_samples=4000, rng=1)
    r2 = (coords**2).sum(axis=1)
    assert r2.max() <= sf**2
    np.testing.assert_allclose(transform_magnitude(mats), np.sqrt(r2), rtol=1e-12)
    # E[r²] of N(0, σ² I₂) truncated at a: 2σ² − a² e^{−a²/2σ²} / (1 − e^{−a²/2σ²}); uniform gives a²/2
    sigma = sf / 1.57
    q = math.exp(-(sf**2) / (2 * sigma**2))
    expected = 2 * sigma**2 - sf**2 * q / (1 - q)
    se = r2.std() / math.sqrt(r2.size)
    assert abs(r2.mean() - expected) < 4 * se
    assert abs(sf**2 / 2 - expected) > 10 * se  # the test can tell it from a uniform disc
    free = (mats[:, 0, 2], mats[:, 1, 2]) if name == "translation" else (mats[:, 0, 1], mats[:, 1, 0])
    np.testing.assert_array_equal(np.stack(free, axis=1), coords)


def test_2d_samples_are_reproducible_from_the_seed():
    a = random_transforms_2d("shear", range_factor=4, n_samples=11, rng=5)[0]
    b = random_transforms_2d("shear", range_factor=4, n_samples=11, rng=np.random.default_rng(5))[0]
    c = random_transforms_2d("shear", range_factor=4, n_samples=11, rng=6)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="odd"):
        one_dimensional_transforms("x-shear", range_factor=1, n_samples=4)
    with pytest.raises(ValueError, match="unknown 1-d transform 'z-shear'"):
        one_dimensional_transforms("z-shear", range_factor=1, n_samples=5)
    with pytest.raises(ValueError, match="range_factor must be a positive"):
        scale_factor(0)
    with pytest.raises(ValueError, match="too large for rotation"):
        one_dimensional_transforms("rotation", range_factor=80, n_samples=5)
    with pytest.raises(ValueError, match="choose one of \\['translation', 'shear'\\]"):
        random_transforms_2d("rotation", range_factor=1, n_samples=5)
    with pytest.raises(ValueError, match="got 2 images but 3 transforms"):
        warp_images(np.zeros((2, 144, 144, 3), np.uint8), np.tile(np.eye(2, 3), (3, 1, 1)))


def test_contact_sheet_is_a_png_of_the_manifold(tmp_path):
    import matplotlib.image

    stim = make_embedded_stimuli(tmp_path / "s.h5", seed=0, n_categories=2, n_exemplars=1)
    png = manifold_contact_sheet(tmp_path / "sheet.png", stimuli_path=stim, image_index=1,
                                 transform="rotation", range_factor=8, n_samples=5)
    img = matplotlib.image.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.std() > 0.05
    assert cli.main(["contact-sheet", str(stim), str(tmp_path / "c.png"), "--image", "0",
                     "--transform", "translation", "--range-factor", "4", "--n-samples", "4"]) == 0
    assert (tmp_path / "c.png").stat().st_size > 1000
