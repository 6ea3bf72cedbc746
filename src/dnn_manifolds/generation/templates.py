r"""Template images ("objects") and categories: the original's choice rules.

:func:`choose_templates` implements the original's rules (one image per category from a
seeded permutation; image-disjoint "object-set controls" via a blacklist;
``docs/generation#generation-templates``). numpy's generator cannot reproduce MATLAB's
``randperm``, so only the rules are matched; the chosen image indices (0-based) are recorded in
every output.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import UserError
from ..validation import check_int as _check_int


def default_template_seeds(n_objects: int) -> tuple[int, int]:
    """The original's default ``(random_seed, base_seed)`` for ``n_objects`` templates.

    128 → (1, 1); 32 or 16 → (4, 0); otherwise (0, 0) (``docs/generation.md#generation-templates``).
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
      controls are image-disjoint but **may repeat categories** (``docs/generation.md#generation-templates``);
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
        raise UserError(
            f"n_objects={n_objects} templates need as many categories; the stimuli have only "
            f"{n_categories}"
        )
    if seed == base_seed:
        return _one_per_category(labels, n_objects, seed)
    if seed < base_seed:
        raise UserError(f"seed must be ≥ base_seed ({base_seed}) for control sets; got {seed}")
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
        raise UserError(
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
        raise UserError(
            f"n_objects={n_objects} exceeds the number of categories ({categories.size})"
        )
    perm = np.random.default_rng(_check_int(seed, "seed", minimum=0)).permutation(categories.size)
    return categories[perm[:n_objects]]
