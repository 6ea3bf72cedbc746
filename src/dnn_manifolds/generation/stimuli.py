r"""Stimulus files: the ImageNet thumbnails of the original and the embedded set, one reader.

Geometry (``docs/generation#generation-stimuli``)
----------------------------------------------------
Every stimulus is a **144 × 144 × 3 uint8** image (:data:`FRAME_SIZE`) whose central
**48 × 48** square (:data:`OBJECT_SIZE`) holds the object; the rest is real surround (3× the
object size). The warps of :mod:`dnn_manifolds.generation.transforms` turn it into a **64 × 64**
image (:data:`IMAGE_SIZE`): the object plus an 8-px frame of surround.

Two stimulus sources share one file layout and one lazy reader (:class:`StimulusSet`):

* **The real thumbnails** ``imagenet_all_thumbnails_64px.mat`` of the original
  (figshare DOI 10.6084/m9.figshare.11494314), a MATLAB v7.3 (HDF5) file with ``thumbnails``
  (MATLAB 144×144×3×N uint8, which h5py shows reversed as (N, 3, W, H)) and ``labels`` (a
  MATLAB cell array of N category strings: HDF5 object references to uint16 character
  arrays). :func:`dnn_manifolds.generation.download.download_thumbnails` fetches it.
* **The embedded set** (:mod:`dnn_manifolds.generation.embedded`), the offline default,
  written by :func:`write_stimulus_file` in exactly the thumbnails' layout.

Template choice lives in :mod:`dnn_manifolds.generation.templates`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..data.files import atomic_path
from ..errors import UserError

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
    this wrong silently swaps x and y (``docs/generation.md#generation-thumbnails``).

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
            raise UserError(
                f"{self.path}: not a stimulus file: no 'thumbnails' variable "
                f"(found {sorted(self._h5.keys())})"
            )
        if ds.ndim != 4 or ds.shape[1] != 3 or ds.shape[2] != ds.shape[3] or ds.dtype != np.uint8:
            raise UserError(
                f"{self.path}: variable 'thumbnails' must be uint8 of h5py shape (n_images, 3, "
                f"size, size) (MATLAB size×size×3×n_images); got {ds.dtype} {ds.shape}"
            )
        if "labels" not in self._h5:
            raise UserError(f"{self.path}: not a stimulus file: no 'labels' variable")
        n_labels = int(np.prod(self._h5["labels"].shape))
        if n_labels != ds.shape[0]:
            raise UserError(
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
                raise UserError(
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
            raise UserError(f"unknown category {category!r} in {self.path}")
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
            raise UserError(f"image indices must be in 0..{n - 1}; got {idx.min()}..{idx.max()}")
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
    raise UserError(
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
    images: np.ndarray | Iterable[np.ndarray],
    labels: Sequence[str],
    *,
    attrs: dict[str, Any] | None = None,
    extra: dict[str, Sequence[str]] | None = None,
) -> Path:
    """Write images and labels in the thumbnails' MATLAB v7.3 layout, atomically.

    Parameters
    ----------
    path : path-like
        Output file.
    images : ndarray of uint8, shape (n_images, size, size, 3), or an iterable of such images
        Rows are image *y*. An iterable (one (size, size, 3) image per label) is written
        image by image, so that large sets need no memory for all of them.
    labels : sequence of str, length n_images
        Category of each image.
    attrs : dict, optional
        Root attributes (strings and numbers).
    extra : dict of str to sequence of str, optional
        Further string datasets, one entry per image (e.g. the source file of each image);
        the reader ignores them.

    Notes
    -----
    ``thumbnails`` is stored as h5py (n_images, 3, W, H), i.e. MATLAB H×W×3×N, one chunk per
    image; ``labels`` as a MATLAB cell array (object references into ``#refs#`` to uint16
    character arrays), which is how MATLAB v7.3 stores a cell array of strings.
    """
    labels = [str(lab) for lab in labels]
    n = len(labels)
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[3] != 3 or images.shape[1] != images.shape[2]:
            raise UserError(f"images must have shape (n_images, size, size, 3); got {images.shape}")
        if images.dtype != np.uint8:
            raise UserError(f"images must be uint8; got {images.dtype}")
        if n != images.shape[0]:
            raise UserError(f"need one label per image: {n} labels, {images.shape[0]} images")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            ds = None
            count = 0
            for image in images:
                image = np.asarray(image)
                if image.ndim != 3 or image.shape[2] != 3 or image.shape[0] != image.shape[1] or image.dtype != np.uint8:
                    raise UserError(f"images must be uint8 of shape (size, size, 3); got {image.dtype} {image.shape}")
                if count >= n:
                    raise UserError(f"need one label per image: {n} labels, more images")
                if ds is None:
                    size = image.shape[0]
                    ds = f.create_dataset("thumbnails", shape=(n, 3, size, size), dtype=np.uint8,
                                          chunks=(1, 3, size, size), compression="gzip",
                                          compression_opts=1, shuffle=True)
                    ds.attrs["MATLAB_class"] = np.bytes_("uint8")
                elif image.shape[0] != ds.shape[2]:
                    raise UserError(f"images must all have one size; got {image.shape[0]} after {ds.shape[2]}")
                ds[count] = image.transpose(2, 1, 0)
                count += 1
            if count != n or ds is None:
                raise UserError(f"need one label per image: {n} labels, {count} images")
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
            for name, values in (extra or {}).items():
                values = [str(v) for v in values]
                if len(values) != n:
                    raise UserError(f"extra dataset {name!r} needs {n} entries; got {len(values)}")
                f.create_dataset(name, data=np.array(values, dtype=object), dtype=h5py.string_dtype())
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
    return Path(path)


def resolve_stimuli(
    stimuli_path: str | os.PathLike | None = None,
    *,
    thumbnails_path: str | os.PathLike | None = None,
) -> Path:
    """The stimulus file to use: ``thumbnails_path`` (a local copy of the real thumbnails) if
    given, else ``stimuli_path``; one of them is required and must exist."""
    chosen = thumbnails_path if thumbnails_path is not None else stimuli_path
    if chosen is None:
        raise UserError(
            "give stimuli_path (an embedded set from make_embedded_stimuli) or thumbnails_path "
            f"(a local {THUMBNAILS_NAME})"
        )
    chosen = Path(chosen)
    if not chosen.exists():
        raise FileNotFoundError(f"{chosen}: no such stimulus file")
    return chosen
