"""Contact sheets: one object's manifold drawn as a grid of its warped samples (PNG)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..data.files import atomic_path
from ..errors import UserError
from ..generation.stimuli import StimulusSet
from ..generation.transforms import (
    PIXELS_PER_UNIT,
    TRANSFORMS_1D,
    TRANSFORMS_2D,
    one_dimensional_transforms,
    random_transforms_2d,
    warp_images,
)

__all__ = ["manifold_contact_sheet", "plot_contact_sheet"]


def plot_contact_sheet(
    images: np.ndarray,
    out_path: str | os.PathLike,
    *,
    titles: Sequence[str] | None = None,
    n_cols: int | None = None,
    suptitle: str | None = None,
    dpi: int = 100,
) -> Path:
    """Save a grid of images as a PNG (atomically).

    Parameters
    ----------
    images : ndarray of shape (n, size, size, 3)
        0..255 scale (uint8 or float).
    out_path : path-like
        PNG file.
    titles : sequence of str, optional
        One small title per image.
    n_cols : int, optional
        Columns; default ``ceil(sqrt(n))``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    imgs = np.clip(np.asarray(images, dtype=np.float64), 0, 255) / 255
    n = imgs.shape[0]
    n_cols = n_cols or int(math.ceil(math.sqrt(n)))
    n_rows = int(math.ceil(n / n_cols))
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(1.6 * n_cols, 1.75 * n_rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(imgs[k], interpolation="nearest")
            if titles is not None:
                ax.set_title(titles[k], fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    plt.close(fig)
    return Path(out_path)


def manifold_contact_sheet(
    out_path: str | os.PathLike,
    *,
    stimuli_path: str | os.PathLike,
    image_index: int,
    transform: str,
    range_factor: float,
    n_samples: int = 9,
    seed: int = 0,
) -> Path:
    """Draw one object's manifold (all its warped samples) as a PNG contact sheet.

    Parameters
    ----------
    out_path : path-like
        PNG file.
    stimuli_path : path-like
        Stimulus file (:class:`~dnn_manifolds.generation.stimuli.StimulusSet`).
    image_index : int
        0-based index of the template image.
    transform : str
        A 1-d transform (:data:`TRANSFORMS_1D`) or a 2-d one (:data:`TRANSFORMS_2D`).
    range_factor : float
        Pixels.
    n_samples : int, default 9
        Samples shown (odd for 1-d).
    seed : int, default 0
        Seed of the 2-d draws.
    """
    kind = "1d" if transform in TRANSFORMS_1D else "2d" if transform in TRANSFORMS_2D else None
    if kind is None:
        raise UserError(
            f"unknown transform {transform!r}; choose one of {list(TRANSFORMS_1D + TRANSFORMS_2D)}"
        )
    if kind == "1d":
        mats, values = one_dimensional_transforms(transform, range_factor=range_factor, n_samples=n_samples)
        if "translation" in transform:
            titles = [f"{v * PIXELS_PER_UNIT:+.2f} px" for v in values]
        elif "scale" in transform:
            titles = [f"×{v:.3f}" for v in values]
        elif "shear" in transform:
            titles = [f"shear {v:+.3f}" for v in values]
        else:
            titles = [f"{math.degrees(v):+.1f}°" for v in values]
    else:
        mats, coords = random_transforms_2d(transform, range_factor=range_factor, n_samples=n_samples,
                                            rng=np.random.default_rng(seed))
        titles = [f"({c0:+.3f}, {c1:+.3f})" for c0, c1 in coords]
    with StimulusSet(stimuli_path) as stim:
        image = stim.image(image_index)
        label = stim.labels[image_index]
    warped = warp_images(image[None], mats).permute(0, 2, 3, 1).numpy()
    return plot_contact_sheet(
        warped, out_path, titles=titles,
        suptitle=f"image {image_index} ({label}), {transform}, range factor {range_factor} px",
    )
