r"""Your own images as a stimulus file (``docs/generation.md#generation-image-folders``).

A folder of images (or a CSV of ``path,object``) becomes a stimulus file in the thumbnails'
layout (:func:`~dnn_manifolds.generation.stimuli.write_stimulus_file`), so that templates,
warps, validity checks, point clouds and shards run exactly as for the thumbnails.

Layouts (:func:`list_images`)
-----------------------------
* **one sub-folder per object** (``cats/``, ``dogs/`` …): the images of a sub-folder (also in
  its own sub-folders) are one object's exemplars — point clouds; smooth manifolds draw one
  template per object with the original's rule;
* **a flat folder of template images**: every image is its own object (named by its file
  stem) — smooth manifolds from each image;
* **a CSV file** with a header naming the columns ``path`` and ``object`` (``label`` or
  ``category`` are accepted for ``object``); paths relative to the CSV's folder.

Common image formats are read (PNG, JPEG, BMP, GIF, TIFF, WebP, PPM/PGM); hidden files and
files with other extensions are skipped. Every image must have **one size** (width × height),
there must be **at least two objects**, and every image must be readable; each violation is
one error line naming the file, before any heavy work.

Geometry (:func:`fit_image`)
----------------------------
A stimulus is 144 × 144 px with the object in the central 48 × 48 square; the warped 64-px
view is the object plus an 8-px frame. Each image is

1. made RGB (grayscale replicated; transparent pixels filled with the background colour —
   mid-gray 128 for the non-constant backgrounds);
2. made square: ``crop="center"`` keeps the central square (side = the shorter side),
   ``crop="pad"`` pads the shorter side with the background, keeping the whole image;
3. resized (Lanczos) to the square it fills: ``fit="object"`` (default) the 48-px object
   square — the image *is* the object, as the thumbnails' central square; ``fit="view"`` the
   64-px view (object plus frame); ``fit="stimulus"`` the whole 144-px stimulus (the image
   already has the thumbnails' 3× surround);
4. surrounded up to 144 px by the background: ``"border"`` (default) the per-channel median
   of the resized image's outermost pixels (a uniform surround of the image's own background
   colour), ``"edge"`` its edge pixels repeated, ``"reflect"`` mirrored, or a constant gray
   level (0–255) or ``[R, G, B]``.

The warps then translate, scale, shear and rotate the object within that surround; the
validity check of the thumbnails (the warped view never leaves the 144-px stimulus) applies
unchanged, so the paper's range factors (up to 16 px) are valid.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UserError
from .stimuli import FRAME_SIZE, IMAGE_SIZE, OBJECT_SIZE, write_stimulus_file

IMAGES_KIND = "images"
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm", ".pnm")
FITS = {"object": OBJECT_SIZE, "view": IMAGE_SIZE, "stimulus": FRAME_SIZE}
CROPS = ("center", "pad")
BACKGROUNDS = ("border", "edge", "reflect")
OBJECT_COLUMNS = ("object", "label", "category")

__all__ = ["ImageListing", "check_images", "fit_image", "image_stimuli", "list_images"]


class ImageSetError(UserError):
    """A bad image folder or CSV: the message names the file and the problem."""


@dataclass(frozen=True)
class ImageListing:
    """The images of a folder or CSV and their objects (:func:`list_images`).

    Attributes
    ----------
    source : Path
        The folder or CSV file.
    layout : {"folders", "flat", "csv"}
    files : tuple of Path
        Every image, grouped by object (objects sorted, files sorted within an object).
    labels : tuple of str
        The object of each image.
    skipped : tuple of Path
        Files left out (not images by their extension).
    """

    source: Path
    layout: str
    files: tuple[Path, ...]
    labels: tuple[str, ...]
    skipped: tuple[Path, ...] = ()

    @property
    def objects(self) -> list[str]:
        """The objects (sorted)."""
        return sorted(set(self.labels))

    @property
    def counts(self) -> dict[str, int]:
        """Images per object."""
        out: dict[str, int] = {}
        for lab in self.labels:
            out[lab] = out.get(lab, 0) + 1
        return out


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def list_images(path: str | os.PathLike) -> ImageListing:
    """The images of a folder (one sub-folder per object, or flat) or a CSV (``path,object``).

    Raises
    ------
    ImageSetError
        If there are no images, fewer than two objects, a folder mixes images and object
        sub-folders, two flat images share a name, or the CSV is malformed.
    FileNotFoundError
        If ``path`` (or a file the CSV names) does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such image folder or CSV file")
    if root.is_file():
        listing = _list_csv(root)
    else:
        entries = sorted(p for p in root.iterdir() if not p.name.startswith("."))
        dirs = [p for p in entries if p.is_dir()]
        loose = [p for p in entries if p.is_file() and _is_image(p)]
        if dirs and loose:
            raise ImageSetError(
                f"{root}: mixes images ({loose[0].name}, …) and object sub-folders ({dirs[0].name}, …); "
                "use one sub-folder per object, or a flat folder of template images"
            )
        if dirs:
            files, labels, skipped = [], [], []
            for d in dirs:
                inside = sorted(p for p in d.rglob("*") if p.is_file() and _visible(p, root))
                images = [p for p in inside if _is_image(p)]
                skipped += [p for p in inside if not _is_image(p)]
                if not images:
                    raise ImageSetError(f"{d}: object sub-folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
                files += images
                labels += [d.name] * len(images)
            listing = ImageListing(root, "folders", tuple(files), tuple(labels), tuple(skipped))
        else:
            stems: dict[str, Path] = {}
            for p in loose:
                if p.stem in stems:
                    raise ImageSetError(f"{root}: {stems[p.stem].name} and {p.name} would be the same object {p.stem!r}")
                stems[p.stem] = p
            skipped = [p for p in entries if p.is_file() and not _is_image(p)]
            listing = ImageListing(root, "flat", tuple(loose), tuple(p.stem for p in loose), tuple(skipped))
    if not listing.files:
        raise ImageSetError(f"{root}: no images found ({', '.join(IMAGE_EXTENSIONS)})")
    if len(listing.objects) < 2:
        raise ImageSetError(
            f"{root}: needs at least 2 objects to form dichotomies; found {len(listing.objects)} "
            f"({listing.objects}) in {len(listing.files)} images"
        )
    return listing


def _list_csv(path: Path) -> ImageListing:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError) as err:
        raise ImageSetError(f"{path}: cannot be read as a CSV file ({err})") from err
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise ImageSetError(f"{path}: empty CSV file; expected a header 'path,object' and one row per image")
    header = [c.strip().lower() for c in rows[0]]
    obj_col = next((c for c in OBJECT_COLUMNS if c in header), None)
    if "path" not in header or obj_col is None:
        raise ImageSetError(f"{path}: the header must name the columns 'path' and 'object'; got {rows[0]}")
    ip, io = header.index("path"), header.index(obj_col)
    pairs = []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) <= max(ip, io) or not row[ip].strip() or not row[io].strip():
            raise ImageSetError(f"{path}: line {line}: needs a path and an object; got {row}")
        file = path.parent / row[ip].strip()
        if not file.is_file():
            raise FileNotFoundError(f"{path}: line {line}: no such image {file}")
        pairs.append((row[io].strip(), file))
    pairs.sort(key=lambda pair: (pair[0], str(pair[1])))
    return ImageListing(path, "csv", tuple(f for _, f in pairs), tuple(o for o, _ in pairs))


def check_images(listing: ImageListing) -> tuple[int, int]:
    """Check that every image can be opened and that all share one size; return (width, height).

    Reads only the headers (and verifies the files PIL can verify cheaply); a file that is
    damaged further inside is caught when :func:`image_stimuli` decodes it.
    """
    from PIL import Image, UnidentifiedImageError

    sizes: dict[tuple[int, int], Path] = {}
    first = None
    for file in listing.files:
        try:
            with Image.open(file) as img:
                size = img.size
                img.verify()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise ImageSetError(f"{file}: cannot be read as an image ({err})") from err
        if first is None:
            first = size
        sizes.setdefault(size, file)
        if size != first:
            raise ImageSetError(
                f"{listing.source}: images must all have one size; {sizes[first].name} is "
                f"{first[0]}×{first[1]} but {file} is {size[0]}×{size[1]} (resize them to one size first)"
            )
    return first


# ----------------------------------------------------------------------------- geometry


def _check_background(background: Any) -> str | tuple[int, int, int]:
    if isinstance(background, str):
        if background not in BACKGROUNDS:
            raise UserError(f"background must be one of {list(BACKGROUNDS)}, a gray level or [R, G, B]; got {background!r}")
        return background
    values = [background] * 3 if isinstance(background, (int, np.integer)) and not isinstance(background, bool) else background
    if (not isinstance(values, Sequence) or len(values) != 3
            or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and 0 <= v <= 255 for v in values)):
        raise UserError(f"background must be one of {list(BACKGROUNDS)}, a gray level 0–255 or [R, G, B]; got {background!r}")
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def _check_options(fit: str, crop: str, background: Any):
    if fit not in FITS:
        raise UserError(f"fit must be one of {list(FITS)}; got {fit!r}")
    if crop not in CROPS:
        raise UserError(f"crop must be one of {list(CROPS)}; got {crop!r}")
    return _check_background(background)


def _pad(arr: np.ndarray, before: int, after: int, axes: Sequence[int], background) -> np.ndarray:
    widths = [(0, 0)] * arr.ndim
    for ax in axes:
        widths[ax] = (before, after)
    if background in ("edge", "reflect"):
        return np.pad(arr, widths, mode="edge" if background == "edge" else "symmetric")
    colour = _border_colour(arr) if background == "border" else np.asarray(background, dtype=np.uint8)
    out = np.empty([arr.shape[i] + sum(widths[i]) for i in range(arr.ndim)], dtype=np.uint8)
    out[...] = colour
    out[tuple(slice(w[0], w[0] + n) for w, n in zip(widths, arr.shape))] = arr
    return out


def _border_colour(arr: np.ndarray) -> np.ndarray:
    ring = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    return np.median(ring, axis=0).round().astype(np.uint8)


def fit_image(image, *, fit: str = "object", crop: str = "center", background: Any = "border") -> np.ndarray:
    """One image as a 144 × 144 × 3 uint8 stimulus (see the module docstring).

    Parameters
    ----------
    image : PIL.Image.Image or ndarray of shape (H, W) or (H, W, 3|4)
    fit : {"object", "view", "stimulus"}
    crop : {"center", "pad"}
    background : {"border", "edge", "reflect"}, int or [R, G, B]

    Returns
    -------
    ndarray of uint8, shape (144, 144, 3)
    """
    from PIL import Image

    background = _check_options(fit, crop, background)
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    fill = background if isinstance(background, tuple) else (128, 128, 128)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, fill + (255,))
        image = Image.alpha_composite(canvas, rgba)
    arr = np.asarray(image.convert("RGB"), dtype=np.uint8)
    h, w = arr.shape[:2]
    if h != w:
        if crop == "center":
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            arr = arr[top:top + side, left:left + side]
        else:
            side = max(h, w)
            if h < w:
                arr = _pad(arr, (side - h) // 2, side - h - (side - h) // 2, (0,), background)
            else:
                arr = _pad(arr, (side - w) // 2, side - w - (side - w) // 2, (1,), background)
    target = FITS[fit]
    if arr.shape[0] != target:
        arr = np.asarray(Image.fromarray(arr).resize((target, target), Image.Resampling.LANCZOS), dtype=np.uint8)
    margin = (FRAME_SIZE - target) // 2
    if margin:
        arr = _pad(arr, margin, margin, (0, 1), background)
    return np.ascontiguousarray(arr)


# ----------------------------------------------------------------------------- conversion


def image_stimuli(
    path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    fit: str = "object",
    crop: str = "center",
    background: Any = "border",
    progress: bool = False,
) -> Path:
    """Convert an image folder or CSV into a stimulus file (see the module docstring).

    Parameters
    ----------
    path : path-like
        A folder (one sub-folder per object, or a flat folder of templates) or a CSV file.
    out_path : path-like
        The stimulus file (HDF5, the thumbnails' layout), written atomically. Besides
        ``thumbnails`` and ``labels`` (the objects) it holds ``source_files`` (each image's
        path relative to the folder) and records the options in its attributes.
    fit, crop, background
        See :func:`fit_image`.
    progress : bool, default False
        Show a progress bar.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    ImageSetError
        Bad layout, one object, an unreadable image or mixed sizes (one line naming the file).
    """
    from tqdm.auto import tqdm

    background = _check_options(fit, crop, background)
    listing = list_images(path)
    width, height = check_images(listing)
    base = listing.source if listing.source.is_dir() else listing.source.parent

    def images() -> Iterator[np.ndarray]:
        from PIL import Image

        for file in tqdm(listing.files, unit="image", desc="images", disable=not progress, leave=False):
            try:
                with Image.open(file) as img:
                    img.load()
                    yield fit_image(img, fit=fit, crop=crop, background=background)
            except (OSError, SyntaxError, ValueError) as err:
                if isinstance(err, UserError):
                    raise
                raise ImageSetError(f"{file}: cannot be read as an image ({err})") from err

    attrs = {
        "dnn_manifolds_kind": IMAGES_KIND,
        "source": str(listing.source),
        "layout": listing.layout,
        "fit": fit,
        "crop": crop,
        "background": background if isinstance(background, str) else ",".join(map(str, background)),
        "source_width": int(width),
        "source_height": int(height),
        "n_objects": len(listing.objects),
    }
    rel = [str(f.relative_to(base)) if f.is_relative_to(base) else str(f) for f in listing.files]
    return write_stimulus_file(out_path, images(), listing.labels, attrs=attrs, extra={"source_files": rel})
