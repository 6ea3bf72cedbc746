r"""Stimuli: the ImageNet thumbnails of the original, an embedded offline stimulus set, templates.

Geometry (``generation.md`` §1.2)
---------------------------------
Every stimulus is a **144 × 144 × 3 uint8** image (:data:`FRAME_SIZE`) whose central
**48 × 48** square (:data:`OBJECT_SIZE`) holds the object; the rest is real surround (3× the
object size). The warps of :mod:`dnn_manifolds.transforms` turn it into a **64 × 64** image
(:data:`IMAGE_SIZE`): the object plus an 8-px frame of surround.

Two stimulus sources share one file layout and one lazy reader (:class:`StimulusSet`):

* **The real thumbnails** ``imagenet_all_thumbnails_64px.mat`` of the original
  (figshare DOI 10.6084/m9.figshare.11494314), a MATLAB v7.3 (HDF5) file with ``thumbnails``
  (MATLAB 144×144×3×N uint8, which h5py shows reversed as (N, 3, W, H)) and ``labels`` (a
  MATLAB cell array of N category strings: HDF5 object references to uint16 character
  arrays). :func:`download_thumbnails` fetches it (resumable, verified); the paper's figures
  need it.
* **The embedded set** (:func:`make_embedded_stimuli`), the offline default: procedurally drawn
  objects, generated deterministically from a seed in a few seconds with no network. Each
  *category* has its own silhouette (a radial shape with category-specific lobes), texture
  (stripes, checks, rings or spots at a category-specific frequency and orientation) and
  colours; each *exemplar* varies them (shape jitter, pose, size, position, hue, texture
  phase) and sits on its own random background (smooth colour fields with clutter blobs,
  unrelated to the category), so the 144-px surround is real image content as in the
  thumbnails. It is written in exactly the thumbnails' layout, so everything downstream is
  identical. It is a test and demo set: it has category structure that networks can learn,
  but it is not ImageNet, and absolute capacities, radii and dimensions from it say nothing
  about the paper's numbers.

Templates (``generation.md`` §1.3)
----------------------------------
:func:`choose_templates` implements the original's rules (one image per category from a
seeded permutation; image-disjoint "object-set controls" via a blacklist). numpy's generator
cannot reproduce MATLAB's ``randperm``, so only the rules are matched; the chosen image
indices (0-based) are recorded in every output.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from . import __version__
from .fileio import atomic_path

OBJECT_SIZE = 48
"""Side of the object square, pixels."""
FRAME = 8
"""Border of surround around the object in the 64-px image, pixels."""
SURROUND_FACTOR = 3
"""Thumbnail side / object side."""
FRAME_SIZE = OBJECT_SIZE * SURROUND_FACTOR
"""Side of a stimulus (thumbnail), 144 pixels."""
IMAGE_SIZE = OBJECT_SIZE + 2 * FRAME
"""Side of the warped image fed to networks, 64 pixels."""

THUMBNAILS_NAME = "imagenet_all_thumbnails_64px.mat"
"""File name of the original's thumbnails."""
THUMBNAILS_DOI = "10.6084/m9.figshare.11494314"
"""DOI of the figshare item holding the thumbnails."""
FIGSHARE_API_URL = "https://api.figshare.com/v2/articles/11494314"
"""figshare API record of the item; it lists each file's download URL, size and MD5."""

EMBEDDED_KIND = "embedded"
THUMBNAILS_KIND = "thumbnails"


# ============================================================================= reading


class StimulusSet:
    """Lazy reader of a stimulus file (the real thumbnails or an embedded set).

    Parameters
    ----------
    path : path-like
        A MATLAB v7.3 / HDF5 file with ``thumbnails`` (h5py shape (n_images, 3, width,
        height), uint8) and ``labels`` (n_images category strings, as MATLAB cell array of
        char arrays or as an HDF5 string dataset).

    Notes
    -----
    The file is opened on first use and read image by image; labels are read once, on first
    access. h5py shows MATLAB's column-major (H, W, 3, N) array reversed, as (N, 3, W, H);
    :meth:`images` transposes it back to (n, H, W, 3) so that rows are image *y*. Getting
    this wrong silently swaps x and y (``generation.md`` §1.1).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(
                f"{self.path}: no such stimulus file (make one with `dnn-manifolds stimuli "
                f"make` or download the thumbnails with `dnn-manifolds stimuli download`)"
            )
        self._file: h5py.File | None = None
        self._labels: np.ndarray | None = None
        ds = self._h5["thumbnails"] if "thumbnails" in self._h5 else None
        if ds is None:
            raise ValueError(
                f"{self.path}: not a stimulus file: no 'thumbnails' variable "
                f"(found {sorted(self._h5.keys())})"
            )
        if ds.ndim != 4 or ds.shape[1] != 3 or ds.shape[2] != ds.shape[3] or ds.dtype != np.uint8:
            raise ValueError(
                f"{self.path}: variable 'thumbnails' must be uint8 of h5py shape (n_images, 3, "
                f"size, size) (MATLAB size×size×3×n_images); got {ds.dtype} {ds.shape}"
            )
        if "labels" not in self._h5:
            raise ValueError(f"{self.path}: not a stimulus file: no 'labels' variable")
        n_labels = int(np.prod(self._h5["labels"].shape))
        if n_labels != ds.shape[0]:
            raise ValueError(
                f"{self.path}: 'labels' has {n_labels} entries but 'thumbnails' has "
                f"{ds.shape[0]} images"
            )

    # -- file handling
    @property
    def _h5(self) -> h5py.File:
        if self._file is None:
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise ValueError(
                    f"{self.path}: cannot be read as a MATLAB v7.3 / HDF5 stimulus file ({err})"
                ) from err
        return self._file

    def close(self) -> None:
        """Close the underlying HDF5 file (it reopens on the next access)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> StimulusSet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self):  # picklable: reopen in the other process
        return {"path": self.path, "_file": None, "_labels": self._labels}

    # -- metadata
    def __len__(self) -> int:
        return int(self._h5["thumbnails"].shape[0])

    @property
    def n_images(self) -> int:
        """Number of images N."""
        return len(self)

    @property
    def image_size(self) -> int:
        """Side of each image, pixels (144 for the thumbnails)."""
        return int(self._h5["thumbnails"].shape[2])

    @property
    def kind(self) -> str:
        """``"embedded"`` for a set made by :func:`make_embedded_stimuli`, else ``"thumbnails"``."""
        kind = self._h5.attrs.get("dnn_manifolds_kind", THUMBNAILS_KIND)
        return kind.decode() if isinstance(kind, bytes) else str(kind)

    @property
    def attrs(self) -> dict[str, Any]:
        """The file's root attributes (generation parameters of an embedded set)."""
        out = {}
        for key, value in self._h5.attrs.items():
            if isinstance(value, bytes):
                value = value.decode()
            elif isinstance(value, np.generic):
                value = value.item()
            out[str(key)] = value
        return out

    @property
    def labels(self) -> np.ndarray:
        """Category label of every image, ndarray of str of shape (n_images,)."""
        if self._labels is None:
            self._labels = _read_labels(self._h5, self.path)
        return self._labels

    @property
    def categories(self) -> np.ndarray:
        """Sorted unique category labels, ndarray of str of shape (n_categories,)."""
        return np.unique(self.labels)

    def category_images(self, category: str) -> np.ndarray:
        """Indices (0-based, increasing) of the images of one category."""
        idx = np.flatnonzero(self.labels == category)
        if idx.size == 0:
            raise ValueError(f"unknown category {category!r} in {self.path}")
        return idx

    # -- pixels
    def images(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Read images.

        Parameters
        ----------
        indices : sequence of int
            0-based image indices, any order, repeats allowed.

        Returns
        -------
        ndarray of uint8, shape (n, size, size, 3)
            Rows are image *y* (top to bottom), columns image *x*, last axis RGB.
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"image indices must be in 0..{n - 1}; got {idx.min()}..{idx.max()}")
        uniq, inverse = np.unique(idx, return_inverse=True)
        ds = self._h5["thumbnails"]
        raw = np.empty((uniq.size,) + ds.shape[1:], dtype=np.uint8)
        for k, i in enumerate(uniq):  # per image: bounded memory, works for any chunking
            raw[k] = ds[int(i)]
        # h5py (N, 3, W, H) -> (N, H, W, 3)
        return np.ascontiguousarray(raw.transpose(0, 3, 2, 1))[inverse]

    def image(self, index: int) -> np.ndarray:
        """One image, ndarray of uint8 of shape (size, size, 3)."""
        return self.images([index])[0]


def _read_labels(h5: h5py.File, path: Path) -> np.ndarray:
    ds = h5["labels"]
    values = ds[()]
    flat = np.asarray(values).reshape(-1)
    if ds.dtype.kind == "O" and h5py.check_dtype(ref=ds.dtype) is not None:
        out = []
        for ref in flat:
            obj = h5[ref]
            out.append(_decode_matlab_string(obj[()]))
        return np.array(out, dtype=str)
    if ds.dtype.kind in "SUO":
        return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in flat], dtype=str)
    raise ValueError(
        f"{path}: variable 'labels' must be a cell array of strings (object references) or "
        f"strings; got dtype {ds.dtype}"
    )


def _decode_matlab_string(value: Any) -> str:
    arr = np.asarray(value)
    if arr.dtype.kind in "ui":
        return "".join(chr(int(c)) for c in arr.reshape(-1) if c != 0)
    if arr.dtype.kind == "S":
        return b"".join(arr.reshape(-1)).decode()
    return str(arr.reshape(-1)[0])


def open_stimuli(path: str | os.PathLike) -> StimulusSet:
    """Open a stimulus file lazily; see :class:`StimulusSet`."""
    return StimulusSet(path)


def write_stimulus_file(
    path: str | os.PathLike,
    images: np.ndarray,
    labels: Sequence[str],
    *,
    attrs: dict[str, Any] | None = None,
) -> Path:
    """Write images and labels in the thumbnails' MATLAB v7.3 layout, atomically.

    Parameters
    ----------
    path : path-like
        Output file.
    images : ndarray of uint8, shape (n_images, size, size, 3)
        Rows are image *y*.
    labels : sequence of str, length n_images
        Category of each image.
    attrs : dict, optional
        Root attributes (strings and numbers).

    Notes
    -----
    ``thumbnails`` is stored as h5py (n_images, 3, W, H), i.e. MATLAB H×W×3×N, one chunk per
    image; ``labels`` as a MATLAB cell array (object references into ``#refs#`` to uint16
    character arrays), which is how MATLAB v7.3 stores a cell array of strings.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
        raise ValueError(
            f"images must have shape (n_images, size, size, 3); got {images.shape}"
        )
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8; got {images.dtype}")
    labels = [str(lab) for lab in labels]
    if len(labels) != images.shape[0]:
        raise ValueError(f"need one label per image: {len(labels)} labels, {images.shape[0]} images")
    n, size = images.shape[0], images.shape[1]
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            ds = f.create_dataset(
                "thumbnails",
                data=images.transpose(0, 3, 2, 1),
                chunks=(1, 3, size, size),
                compression="gzip",
                compression_opts=1,
                shuffle=True,
            )
            ds.attrs["MATLAB_class"] = np.bytes_("uint8")
            refs_group = f.create_group("#refs#")
            refs = np.empty((n, 1), dtype=h5py.ref_dtype)
            codes: dict[str, Any] = {}
            for i, lab in enumerate(labels):
                if lab not in codes:  # MATLAB writes one per cell; sharing is equivalent on read
                    char = refs_group.create_dataset(
                        f"c{len(codes)}", data=np.array([[ord(c)] for c in lab], dtype=np.uint16)
                    )
                    char.attrs["MATLAB_class"] = np.bytes_("char")
                    codes[lab] = char.ref
                refs[i, 0] = codes[lab]
            lab_ds = f.create_dataset("labels", data=refs, dtype=h5py.ref_dtype)
            lab_ds.attrs["MATLAB_class"] = np.bytes_("cell")
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
    return Path(path)


# ============================================================================= embedded set


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


def _check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}; got {value}")
    return value


# ============================================================================= templates


def default_template_seeds(n_objects: int) -> tuple[int, int]:
    """The original's default ``(random_seed, base_seed)`` for ``n_objects`` templates.

    128 → (1, 1); 32 or 16 → (4, 0); otherwise (0, 0) (``generation.md`` §1.3).
    """
    if n_objects == 128:
        return 1, 1
    if n_objects in (32, 16):
        return 4, 0
    return 0, 0


def choose_templates(
    labels: Sequence[str] | np.ndarray,
    n_objects: int,
    *,
    seed: int | None = None,
    base_seed: int | None = None,
) -> np.ndarray:
    """Choose ``n_objects`` template images ("objects"), the original's rules.

    Parameters
    ----------
    labels : sequence of str, length n_images
        Category of every image (e.g. :attr:`StimulusSet.labels`).
    n_objects : int
        Number P of templates.
    seed : int, optional
        The ``objects_seed``. If omitted, the original's defaults apply
        (:func:`default_template_seeds`); if given, ``base_seed`` defaults to 0 (as in the
        original, also for P = 128).
    base_seed : int, optional
        Seed of the base (one-per-category) draw.

    Returns
    -------
    ndarray of int64, shape (n_objects,)
        0-based image indices, in draw order.

    Notes
    -----
    * ``seed == base_seed``: draw one permutation of all images with
      ``numpy.random.default_rng(seed)`` and keep each image whose category is new, until P
      images: P distinct categories.
    * otherwise (object-set controls): replay the base draw and the control draws for seeds
      ``base_seed+1 … seed-1``, blacklisting every image they chose, then keep the first P
      non-blacklisted images of the permutation drawn with ``seed``. As in the original, the
      controls are image-disjoint but **may repeat categories** (``generation.md`` §7.2);
      this is deliberate, to stay faithful.
    """
    labels = np.asarray(labels).astype(str)
    n_objects = _check_int(n_objects, "n_objects", minimum=1)
    if seed is None:
        seed, default_base = default_template_seeds(n_objects)
        if base_seed is None:
            base_seed = default_base
    seed = _check_int(seed, "seed", minimum=0)
    base_seed = 0 if base_seed is None else _check_int(base_seed, "base_seed", minimum=0)
    n_categories = np.unique(labels).size
    if n_objects > n_categories:
        raise ValueError(
            f"n_objects={n_objects} templates need as many categories; the stimuli have only "
            f"{n_categories}"
        )
    if seed == base_seed:
        return _one_per_category(labels, n_objects, seed)
    if seed < base_seed:
        raise ValueError(f"seed must be ≥ base_seed ({base_seed}) for control sets; got {seed}")
    blacklist = set(_one_per_category(labels, n_objects, base_seed).tolist())
    for s in range(base_seed + 1, seed):
        blacklist.update(_blacklisted(labels.size, n_objects, s, blacklist).tolist())
    return _blacklisted(labels.size, n_objects, seed, blacklist)


def _one_per_category(labels: np.ndarray, n_objects: int, seed: int) -> np.ndarray:
    perm = np.random.default_rng(seed).permutation(labels.size)
    seen: set[str] = set()
    out = []
    for i in perm:
        if labels[i] not in seen:
            seen.add(labels[i])
            out.append(int(i))
            if len(out) == n_objects:
                break
    return np.array(out, dtype=np.int64)


def _blacklisted(n_images: int, n_objects: int, seed: int, blacklist: set[int]) -> np.ndarray:
    perm = np.random.default_rng(seed).permutation(n_images)
    keep = [int(i) for i in perm if int(i) not in blacklist][:n_objects]
    if len(keep) < n_objects:
        raise ValueError(
            f"not enough images left for an object-set control of {n_objects} objects with "
            f"seed {seed}: {n_images} images, {len(blacklist)} used by earlier sets"
        )
    return np.array(keep, dtype=np.int64)


def choose_categories(
    categories: Sequence[str] | np.ndarray, n_objects: int, *, seed: int = 0
) -> np.ndarray:
    """Choose ``n_objects`` distinct categories at random (point-cloud manifolds, Fig. 4).

    Returns
    -------
    ndarray of str, shape (n_objects,)
        The chosen categories in draw order (``numpy.random.default_rng(seed)``).
    """
    categories = np.asarray(categories).astype(str)
    n_objects = _check_int(n_objects, "n_objects", minimum=1)
    if n_objects > categories.size:
        raise ValueError(
            f"n_objects={n_objects} exceeds the number of categories ({categories.size})"
        )
    perm = np.random.default_rng(_check_int(seed, "seed", minimum=0)).permutation(categories.size)
    return categories[perm[:n_objects]]


# ============================================================================= download


def figshare_file_info(
    api_url: str = FIGSHARE_API_URL, name: str = THUMBNAILS_NAME, *, timeout: float = 60
) -> dict[str, Any]:
    """Look a file up in a figshare item's API record.

    Returns
    -------
    dict
        ``url`` (download URL), ``size`` (bytes) and ``md5`` (hex) of the file ``name``.

    Raises
    ------
    OSError
        If the record cannot be fetched (no network: use a local copy via ``thumbnails_path``).
    ValueError
        If the item has no file of that name.
    """
    try:
        with urllib.request.urlopen(api_url, timeout=timeout) as resp:
            record = json.loads(resp.read().decode())
    except (urllib.error.URLError, socket.timeout, http.client.HTTPException) as err:
        raise OSError(
            f"cannot reach the figshare record {api_url} ({err}); without network, download "
            f"{THUMBNAILS_NAME} (DOI {THUMBNAILS_DOI}) elsewhere and pass its path"
        ) from err
    for entry in record.get("files", []):
        if entry.get("name") == name:
            return {
                "url": entry["download_url"],
                "size": int(entry["size"]) if entry.get("size") is not None else None,
                "md5": entry.get("computed_md5") or entry.get("supplied_md5") or None,
            }
    names = [e.get("name") for e in record.get("files", [])]
    raise ValueError(f"figshare item {api_url} has no file {name!r}; files: {names}")


def download_file(
    url: str,
    dest: str | os.PathLike,
    *,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 5,
    timeout: float = 60,
    chunk_size: int = 1 << 20,
    backoff: float = 1.0,
    progress: bool = True,
) -> Path:
    """Download a file with resume, retries, verification and an atomic final rename.

    Parameters
    ----------
    url : str
        Source URL (http or https).
    dest : path-like
        Final file. Bytes go to ``<dest>.part`` first; a ``.part`` left by an interrupted run is
        resumed with an HTTP ``Range`` request. Only after the size and checksums are verified
        is it renamed to ``dest``.
    size : int, optional
        Expected size in bytes (also taken from the server's headers when not given).
    md5, sha256 : str, optional
        Expected hex digests.
    retries : int, default 5
        Attempts after the first one, on network errors and HTTP 5xx, each resuming where the
        previous stopped; waits ``backoff * 2**k`` seconds between attempts.
    timeout : float, default 60
        Socket timeout, seconds.
    chunk_size : int
        Bytes per read.
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ValueError
        On a size or checksum mismatch. The ``.part`` file is deleted (resuming cannot fix
        corrupt bytes), so the next run starts afresh.
    OSError
        If the download keeps failing after all retries (the ``.part`` is kept for resuming),
        or on an HTTP client error (4xx).
    """
    from tqdm.auto import tqdm

    dest = Path(dest)
    if dest.exists():
        _verify(dest, size=size, md5=md5, sha256=sha256, remove=False)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    retries = _check_int(retries, "retries", minimum=0)
    last_error: Exception | None = None
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(backoff * 2 ** (attempt - 1))
        offset = part.stat().st_size if part.exists() else 0
        if size is not None and offset > size:
            part.unlink()
            offset = 0
        if size is not None and offset == size:
            break
        request = urllib.request.Request(url, headers={"User-Agent": f"dnn-manifolds/{__version__}"})
        if offset:
            request.add_header("Range", f"bytes={offset}-")
        try:
            with contextlib.ExitStack() as stack:
                try:
                    resp = stack.enter_context(urllib.request.urlopen(request, timeout=timeout))
                except urllib.error.HTTPError as err:
                    if err.code == 416 and offset:  # nothing left to send: complete or stale
                        total = _content_range_total(err.headers.get("Content-Range"))
                        if total is not None and total == offset:
                            size = size if size is not None else total
                            break
                        part.unlink()
                        raise _Retry(f"server refused to resume at byte {offset}") from err
                    if 400 <= err.code < 500:
                        raise OSError(f"download of {url} failed: HTTP {err.code} {err.reason}") from err
                    raise _Retry(f"HTTP {err.code} {err.reason}") from err
                status = resp.status
                if offset and status == 206:
                    start = _content_range_start(resp.headers.get("Content-Range"))
                    if start != offset:
                        raise _Retry(f"server resumed at byte {start}, not {offset}")
                    total = _content_range_total(resp.headers.get("Content-Range"))
                    mode = "ab"
                else:  # 200: the server sends everything (it ignored or did not get a Range)
                    offset = 0
                    length = resp.headers.get("Content-Length")
                    total = int(length) if length is not None else None
                    mode = "wb"
                if size is None and total is not None:
                    size = total
                elif size is not None and total is not None and total != size:
                    raise ValueError(
                        f"server reports {total} bytes for {url}, expected size={size}"
                    )
                bar = stack.enter_context(
                    tqdm(total=size, initial=offset, unit="B", unit_scale=True,
                         desc=dest.name, disable=not progress, leave=False)
                )
                with open(part, mode) as fh:
                    while True:
                        chunk = resp.read(chunk_size)
                        if not chunk:
                            break
                        fh.write(chunk)
                        bar.update(len(chunk))
                    fh.flush()
                    os.fsync(fh.fileno())
            got = part.stat().st_size
            if size is not None and got < size:
                raise _Retry(f"connection closed after {got} of {size} bytes")
            break
        except (_Retry, urllib.error.URLError, socket.timeout, ConnectionError,
                http.client.HTTPException, TimeoutError) as err:
            last_error = err
            continue
    else:
        raise OSError(
            f"download of {url} failed after {retries + 1} attempts ({last_error}); "
            f"{part.name} is kept and the next run resumes it"
        )
    _verify(part, size=size, md5=md5, sha256=sha256, remove=True)
    os.replace(part, dest)
    return dest


class _Retry(Exception):
    """A transient failure: try again, resuming."""


def _content_range_start(value: str | None) -> int | None:
    # "bytes 100-199/200"
    if not value or not value.startswith("bytes "):
        return None
    rng = value[6:].split("/")[0]
    return int(rng.split("-")[0]) if rng != "*" else None


def _content_range_total(value: str | None) -> int | None:
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1]
    return int(total) if total.isdigit() else None


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file (read in 1 MiB blocks)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, *, size, md5, sha256, remove: bool) -> None:
    problems = []
    got_size = path.stat().st_size
    if size is not None and got_size != size:
        problems.append(f"size {got_size} bytes, expected {size}")
    for algo, expected in (("md5", md5), ("sha256", sha256)):
        if expected and not problems:
            got = file_digest(path, algo)
            if got.lower() != expected.lower():
                problems.append(f"{algo} {got}, expected {expected}")
    if problems:
        if remove:
            path.unlink()
        raise ValueError(
            f"{path.name}: verification failed: {'; '.join(problems)}"
            + ("; the partial download was removed, run again to download afresh" if remove
               else "; delete the file and download again")
        )


def download_thumbnails(
    dest: str | os.PathLike,
    *,
    api_url: str = FIGSHARE_API_URL,
    url: str | None = None,
    size: int | None = None,
    md5: str | None = None,
    sha256: str | None = None,
    retries: int = 5,
    timeout: float = 60,
    progress: bool = True,
) -> Path:
    """Download ``imagenet_all_thumbnails_64px.mat`` from figshare (resumable, verified).

    Parameters
    ----------
    dest : path-like
        Output file, or an existing directory (the file name is then :data:`THUMBNAILS_NAME`).
    api_url : str
        figshare API record of DOI 10.6084/m9.figshare.11494314; it gives the file's download
        URL, size and MD5, which are then verified. Ignored when ``url`` is given.
    url, size, md5, sha256 : optional
        Download this URL directly, checking the given size/digests.
    retries, timeout, progress
        See :func:`download_file`.

    Returns
    -------
    Path
        The verified thumbnails file. Then pass it as ``stimuli_path`` (or
        ``thumbnails_path``) to the generation functions.
    """
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / THUMBNAILS_NAME
    if url is None:
        info = figshare_file_info(api_url, THUMBNAILS_NAME, timeout=timeout)
        url = info["url"]
        size = size if size is not None else info["size"]
        md5 = md5 or info["md5"]
    return download_file(url, dest, size=size, md5=md5, sha256=sha256, retries=retries,
                         timeout=timeout, progress=progress)


def resolve_stimuli(
    stimuli_path: str | os.PathLike | None = None,
    *,
    thumbnails_path: str | os.PathLike | None = None,
) -> Path:
    """The stimulus file to use: ``thumbnails_path`` (a local copy of the real thumbnails) if
    given, else ``stimuli_path``; one of them is required and must exist."""
    chosen = thumbnails_path if thumbnails_path is not None else stimuli_path
    if chosen is None:
        raise ValueError(
            "give stimuli_path (an embedded set from make_embedded_stimuli) or thumbnails_path "
            f"(a local {THUMBNAILS_NAME})"
        )
    chosen = Path(chosen)
    if not chosen.exists():
        raise FileNotFoundError(f"{chosen}: no such stimulus file")
    return chosen


# ============================================================================= CLI


def register_cli(subparsers) -> None:
    """Add ``dnn-manifolds stimuli {make,download,info}``."""
    p = subparsers.add_parser("stimuli", help="make the embedded stimulus set or download the thumbnails")
    sub = p.add_subparsers(dest="stimuli_command", metavar="ACTION", required=True)
    mk = sub.add_parser("make", help="generate the embedded (offline) stimulus set")
    mk.add_argument("out", help="output file (.h5)")
    mk.add_argument("--seed", type=int, default=0)
    mk.add_argument("--n-categories", type=int, default=64)
    mk.add_argument("--n-exemplars", type=int, default=20)
    mk.set_defaults(func=_cli_make)
    dl = sub.add_parser("download", help=f"download {THUMBNAILS_NAME} from figshare (resumable)")
    dl.add_argument("out", help="output file or directory")
    dl.add_argument("--url", default=None, help="download this URL instead of asking figshare")
    dl.add_argument("--md5", default=None)
    dl.add_argument("--sha256", default=None)
    dl.add_argument("--size", type=int, default=None)
    dl.add_argument("--retries", type=int, default=5)
    dl.set_defaults(func=_cli_download)
    info = sub.add_parser("info", help="summarise a stimulus file")
    info.add_argument("path")
    info.set_defaults(func=_cli_info)


def _cli_make(args) -> int:
    path = make_embedded_stimuli(args.out, seed=args.seed, n_categories=args.n_categories,
                                 n_exemplars=args.n_exemplars)
    print(path)
    return 0


def _cli_download(args) -> int:
    print(download_thumbnails(args.out, url=args.url, md5=args.md5, sha256=args.sha256,
                              size=args.size, retries=args.retries))
    return 0


def _cli_info(args) -> int:
    with StimulusSet(args.path) as s:
        info = {"path": str(s.path), "kind": s.kind, "n_images": s.n_images,
                "image_size": s.image_size, "n_categories": int(s.categories.size),
                "attrs": {k: v for k, v in s.attrs.items()}}
    print(json.dumps(info, indent=2, default=str))
    return 0

