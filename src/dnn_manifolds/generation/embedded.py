r"""The embedded stimulus set: procedurally drawn objects, the offline default.

Generated deterministically from a seed in a few seconds with no network
(``docs/generation#generation-embedded``). Each *category* has its own silhouette (a radial
shape with category-specific lobes), texture (stripes, checks, rings or spots at a
category-specific frequency and orientation) and colours; each *exemplar* varies them (shape
jitter, pose, size, position, hue, texture phase) and sits on its own random background
(smooth colour fields with clutter blobs, unrelated to the category), so the 144-px surround is
real image content as in the thumbnails. It is written in exactly the thumbnails' layout, so
everything downstream is identical. It is a test and demo set: it has category structure that
networks can learn, but it is not ImageNet, and absolute capacities, radii and dimensions from
it say nothing about the paper's numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..validation import check_int as _check_int
from .stimuli import (
    EMBEDDED_KIND,
    FRAME_SIZE,
    OBJECT_SIZE,
    SURROUND_FACTOR,
    write_stimulus_file,
)


def make_embedded_stimuli(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    n_categories: int = 64,
    n_exemplars: int = 20,
) -> Path:
    """Generate the embedded (offline) stimulus set and write it in the thumbnails' layout.

    Parameters
    ----------
    path : path-like
        Output file (HDF5, MATLAB v7.3 layout; read it with :class:`StimulusSet`).
    seed : int, default 0
        Everything is drawn from ``numpy.random.SeedSequence(seed)``: the same seed gives the
        same file content, byte for byte in the image data.
    n_categories : int, default 64
        Number of categories (≥ 2).
    n_exemplars : int, default 20
        Images per category (≥ 1).

    Returns
    -------
    Path
        ``path``. The file has ``n_categories * n_exemplars`` images of 144 × 144 × 3 uint8,
        ordered category by category, labels ``"cat000"``, ``"cat001"``, …

    Notes
    -----
    See the module docstring for what the images are. The object (radius ≈ 0.8 world units,
    i.e. about 38 px across) lies in the central 48 × 48 square; the background fills the
    whole 144 × 144 frame. About 1 s per 1000 images on one core.
    """
    n_categories = _check_int(n_categories, "n_categories", minimum=2)
    n_exemplars = _check_int(n_exemplars, "n_exemplars", minimum=1)
    seed = _check_int(seed, "seed", minimum=0)
    images, labels = embedded_images(seed=seed, n_categories=n_categories, n_exemplars=n_exemplars)
    attrs = {
        "dnn_manifolds_kind": EMBEDDED_KIND,
        "dnn_manifolds_version": __version__,
        "seed": seed,
        "n_categories": n_categories,
        "n_exemplars": n_exemplars,
        "description": (
            "Embedded synthetic stimulus set of dnn_manifolds: procedurally drawn objects "
            "(category-specific shape, texture and colour; exemplar-specific pose, jitter and "
            "background) in the layout of imagenet_all_thumbnails_64px.mat. Not ImageNet."
        ),
    }
    return write_stimulus_file(path, images, labels, attrs=attrs)


def embedded_images(
    *, seed: int = 0, n_categories: int = 64, n_exemplars: int = 20
) -> tuple[np.ndarray, list[str]]:
    """Draw the embedded stimulus set in memory (see :func:`make_embedded_stimuli`).

    Returns
    -------
    images : ndarray of uint8, shape (n_categories * n_exemplars, 144, 144, 3)
    labels : list of str, length n_categories * n_exemplars
    """
    root = np.random.SeedSequence(seed)
    cat_seqs = root.spawn(n_categories)
    size = FRAME_SIZE
    # world coordinates of pixel centres: object spans [-1, 1], frame [-3, 3]; y downwards
    c = (np.arange(size) + 0.5) / (OBJECT_SIZE / 2) - SURROUND_FACTOR
    yy, xx = np.meshgrid(c, c, indexing="ij")
    images = np.empty((n_categories * n_exemplars, size, size, 3), dtype=np.uint8)
    labels: list[str] = []
    for k, seq in enumerate(cat_seqs):
        cat_rng, ex_rng = (np.random.default_rng(s) for s in seq.spawn(2))
        cat = _draw_category(cat_rng, k, n_categories)
        for e in range(n_exemplars):
            images[k * n_exemplars + e] = _draw_exemplar(ex_rng, cat, xx, yy)
            labels.append(f"cat{k:03d}")
    return images, labels


_TEXTURES = ("stripes", "checks", "rings", "spots")


def _draw_category(rng: np.random.Generator, k: int, n_categories: int) -> dict[str, Any]:
    # hues spread evenly (golden-ratio sequence) so categories differ in colour, not by chance only
    hue = (k * 0.6180339887 + rng.uniform(0, 0.05)) % 1.0
    n_lobes = np.arange(2, 7)
    return {
        "hue": hue,
        "hue2": (hue + rng.uniform(0.25, 0.75)) % 1.0,
        "sat": rng.uniform(0.55, 0.95),
        "val": rng.uniform(0.55, 0.95),
        "val2": rng.uniform(0.15, 0.6),
        "lobe_amp": rng.uniform(0.0, 0.22, size=n_lobes.size) * (rng.random(n_lobes.size) < 0.6),
        "lobe_phase": rng.uniform(0, 2 * np.pi, size=n_lobes.size),
        "aspect": rng.uniform(0.7, 1.3),
        "texture": _TEXTURES[int(rng.integers(len(_TEXTURES)))],
        "freq": rng.uniform(1.5, 5.0),
        "orient": rng.uniform(0, np.pi),
        "radius": rng.uniform(0.6, 0.85),
    }


_OBJ_LO, _OBJ_HI = 36, 108  # pixel window that holds every object (world ±1.5)


def _draw_exemplar(rng: np.random.Generator, cat: dict[str, Any], xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    size = xx.shape[0]
    c = xx[0]  # pixel-centre coordinates (world) along one axis
    # --- background: smooth random colour field + clutter blobs, unrelated to the category
    base = _hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.3, 0.9))
    bg = np.empty((size, size, 3), dtype=np.float32)
    bg[:] = base.astype(np.float32)
    for _ in range(4):
        kx, ky = rng.normal(0, 0.6, size=2)
        amp = rng.normal(0, 0.12, size=3).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi)
        # sin(a + b) = sin a cos b + cos a sin b, separable in rows and columns
        a, b = kx * c, ky * c + phase
        wave = np.outer(np.cos(b), np.sin(a)) + np.outer(np.sin(b), np.cos(a))
        bg += wave.astype(np.float32)[..., None] * amp
    for _ in range(int(rng.integers(3, 8))):
        cx, cy = rng.uniform(-3, 3, size=2)
        r = rng.uniform(0.3, 1.0)
        lo_x, hi_x = np.searchsorted(c, [cx - r - 0.1, cx + r + 0.1])
        lo_y, hi_y = np.searchsorted(c, [cy - r - 0.1, cy + r + 0.1])
        if hi_x <= lo_x or hi_y <= lo_y:
            continue
        dist = np.hypot(c[lo_x:hi_x][None, :] - cx, c[lo_y:hi_y][:, None] - cy)
        blob = np.clip((r - dist) * 24 + 0.5, 0, 1).astype(np.float32)[..., None]
        colour = _hsv_to_rgb(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.2, 0.9))
        region = bg[lo_y:hi_y, lo_x:hi_x]
        region *= 1 - blob
        region += colour.astype(np.float32) * blob
    # --- object: category shape/texture/colour with exemplar variation (central window only)
    xw = xx[_OBJ_LO:_OBJ_HI, _OBJ_LO:_OBJ_HI]
    yw = yy[_OBJ_LO:_OBJ_HI, _OBJ_LO:_OBJ_HI]
    rot = rng.normal(0, 0.35)
    scale = cat["radius"] * rng.uniform(0.85, 1.12)
    ox, oy = rng.normal(0, 0.06, size=2)
    aspect = cat["aspect"] * np.exp(rng.normal(0, 0.06))
    u = (xw - ox) * np.cos(rot) + (yw - oy) * np.sin(rot)
    w = -(xw - ox) * np.sin(rot) + (yw - oy) * np.cos(rot)
    u, w = u / np.sqrt(aspect), w * np.sqrt(aspect)
    rho = np.hypot(u, w)
    theta = np.arctan2(w, u)
    amps = cat["lobe_amp"] + rng.normal(0, 0.03, size=cat["lobe_amp"].size)
    phases = cat["lobe_phase"] + rng.normal(0, 0.15, size=cat["lobe_phase"].size)
    boundary = np.ones_like(theta)
    for j, (a, p) in enumerate(zip(amps, phases)):
        boundary += a * np.cos((j + 2) * theta + p)
    boundary *= scale
    mask = np.clip((boundary - rho) * 24 + 0.5, 0, 1)
    freq = cat["freq"] * rng.uniform(0.9, 1.1)
    ori = cat["orient"] + rng.normal(0, 0.1)
    phase = rng.uniform(0, 2 * np.pi)
    tu = u * np.cos(ori) + w * np.sin(ori)
    tw = -u * np.sin(ori) + w * np.cos(ori)
    t = cat["texture"]
    if t == "stripes":
        pattern = np.sin(2 * np.pi * freq * tu + phase)
    elif t == "checks":
        pattern = np.sin(2 * np.pi * freq * tu + phase) * np.sin(2 * np.pi * freq * tw + phase)
    elif t == "rings":
        pattern = np.sin(2 * np.pi * freq * rho + phase)
    else:
        pattern = np.cos(2 * np.pi * freq * tu + phase) + np.cos(2 * np.pi * freq * tw + phase) - 0.8
    pattern = np.clip(pattern * 3, -1, 1) * 0.5 + 0.5  # soft two-tone
    hue_j = rng.normal(0, 0.02)
    c1 = _hsv_to_rgb((cat["hue"] + hue_j) % 1, cat["sat"], cat["val"] * rng.uniform(0.9, 1.1))
    c2 = _hsv_to_rgb((cat["hue2"] + hue_j) % 1, cat["sat"] * 0.8, cat["val2"])
    obj = c1 * pattern[..., None] + c2 * (1 - pattern[..., None])
    shading = 1 - 0.25 * np.clip(rho / np.maximum(boundary, 1e-6), 0, 1) ** 2
    obj = obj * shading[..., None]
    win = bg[_OBJ_LO:_OBJ_HI, _OBJ_LO:_OBJ_HI]
    m = mask[..., None]
    win[:] = win * (1 - m) + obj * m
    noise = rng.standard_normal(size=bg.shape, dtype=np.float32)
    noise *= 3
    bg *= 255
    bg += noise
    bg += 0.5  # round half up on the cast
    np.clip(bg, 0, 255, out=bg)
    return bg.astype(np.uint8)


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float64)
