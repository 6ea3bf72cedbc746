r"""Manifolds: network responses to object manifolds, generated in shards and collected.

Manifold kinds (``docs/generation.md#generation-kinds``)
-----------------------------------------
* ``"1d"``: each template image warped by one of the seven 1-d transforms
  (:data:`~dnn_manifolds.generation.transforms.TRANSFORMS_1D`), ``n_samples`` (odd) grid points centred
  on the identity, up to ``range_factor`` px of corner displacement.
* ``"2d"``: random translation or shear (:data:`~dnn_manifolds.generation.transforms.TRANSFORMS_2D`),
  ``n_samples`` draws per object; each object's draws come from its own stream
  ``SeedSequence([seed, transform index, object position])`` (the original's v2 choice, not v1's
  shared coordinates, ``docs/differences.md#differences-generation-2d-streams``), so shards do not change them.
* ``"point-cloud"``: P categories × M exemplar images each, no warp (the central 64 × 64
  crop), with the variants (the ``transform`` argument) of :data:`POINT_CLOUD_VARIANTS`:

  - ``"full"``: the category's images (all of them, or a seeded random ``n_samples``);
    categories with fewer images get missing (NaN) samples;
  - ``"top"``: the ``top_fraction`` (or ``n_samples``) of the category's images the network
    scores highest: its logit for the category when the network was trained on these
    categories (a ``democnn`` checkpoint records them), else, for networks whose classes
    are not the stimulus categories (ImageNet classes vs the stimulus labels), the cosine
    similarity of the image's logits to the category's mean logits ("most typical").
    The original's rule is not in its repository (``docs/differences.md#differences-generation-point-clouds``); this is our
    deliberate choice;
  - ``"shuffled"``: the "full" images of the P categories pooled and dealt at random into P
    manifolds of the same sizes (the Fig. 7a control).

Templates (smooth kinds) are :func:`~dnn_manifolds.generation.templates.choose_templates` of
``n_objects`` with ``objects_seed``; point-cloud categories are
:func:`~dnn_manifolds.generation.templates.choose_categories`. Every shard recomputes the same choice, so a
shard only needs the object *positions* (0 … P−1) it handles.

Shards and collect
------------------
:func:`generate_shard` handles (objects × one transform) for one network (or several
checkpoints of one architecture) and writes one netCDF file atomically: one variable
``activation`` (network, object, sample, unit) float32 holding every layer's units, plus the template
indices, labels and transform parameters. Its peak memory is the shard's output plus one
batch of activations. :func:`dnn_manifolds.generation.collect.collect_shards` merges shards into one manifold dataset
(:mod:`dnn_manifolds.data.dataset`) per (network, manifold kind): sessions = network × layer ×
transform titled ``"<layer>/<transform>"`` (``"<network>/<layer>/<transform>"`` when there are
several checkpoints), object ids = template image indices (point clouds: category indices),
object labels = categories, sample coordinates = transform parameters.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..data.files import write_netcdf
from ..data.provenance import provenance_attrs
from ..errors import UserError
from ..validation import ArgumentTypeError
from .networks import N_UNITS, select_layers
from .preprocessing import Preprocessing
from .recording import Network
from .runtime import full_float32, resolve_device, torch_threads
from .stimuli import StimulusSet, resolve_stimuli
from .templates import choose_categories, choose_templates
from .transforms import (
    AFFINE_PARAMETERS,
    TRANSFORMS_1D,
    TRANSFORMS_2D,
    one_dimensional_transforms,
    random_transforms_2d,
    warp_images,
)
from .user_models import is_user_model

MANIFOLD_KINDS = ("1d", "2d", "point-cloud")
POINT_CLOUD_VARIANTS = ("full", "top", "shuffled")
TRANSFORMS = {"1d": TRANSFORMS_1D, "2d": TRANSFORMS_2D, "point-cloud": POINT_CLOUD_VARIANTS}
"""Allowed ``transform`` values per manifold kind, in session order."""

SHARD_FORMAT = "dnn_manifolds.shard/1"


# ============================================================================= planning


def plan_shards(
    *,
    manifold_kind: str,
    n_objects: int,
    objects_per_shard: int,
    transforms: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Split (objects × transforms) into shards.

    Parameters
    ----------
    manifold_kind : {"1d", "2d", "point-cloud"}
    n_objects : int
        P.
    objects_per_shard : int
        Objects per shard (the last shard of each transform may have fewer).
    transforms : sequence of str, optional
        Default: all of the kind.

    Returns
    -------
    list of dict
        ``{"transform": str, "objects": list of int, "name": str}`` with a file-safe
        ``name`` such as ``"x-translation_o000-031"``.
    """
    _check_kind(manifold_kind)
    transforms = list(TRANSFORMS[manifold_kind] if transforms is None else transforms)
    for t in transforms:
        _check_transform(manifold_kind, t)
    n_objects = _positive_int(n_objects, "n_objects")
    per = _positive_int(objects_per_shard, "objects_per_shard")
    out = []
    for t in transforms:
        for start in range(0, n_objects, per):
            objs = list(range(start, min(start + per, n_objects)))
            out.append({"transform": t, "objects": objs,
                        "name": f"{t}_o{objs[0]:03d}-{objs[-1]:03d}"})
    return out


def parse_objects(spec: str | Sequence[int] | None, n_objects: int) -> list[int]:
    """Object positions from ``None`` (all), a sequence of ints, or a string such as
    ``"0:8"``, ``"3"`` or ``"0,2,5"``. Positions must be in 0 … n_objects−1, no repeats."""
    if spec is None:
        objs = list(range(n_objects))
    elif isinstance(spec, str):
        objs = []
        for part in spec.split(","):
            part = part.strip()
            if ":" in part:
                a, b = part.split(":", 1)
                objs += list(range(int(a or 0), int(b or n_objects)))
            elif part:
                objs.append(int(part))
    else:
        objs = [int(o) for o in spec]
    if not objs:
        raise UserError(f"objects selects no object (n_objects={n_objects}): {spec!r}")
    bad = [o for o in objs if not 0 <= o < n_objects]
    if bad:
        raise UserError(f"objects must be positions in 0..{n_objects - 1}; got {bad}")
    if len(set(objs)) != len(objs):
        raise UserError(f"objects has repeated positions: {spec!r}")
    return objs


def _check_kind(kind: str) -> None:
    if kind not in MANIFOLD_KINDS:
        raise UserError(f"unknown manifold_kind {kind!r}; choose one of {list(MANIFOLD_KINDS)}")


def _check_transform(kind: str, transform: str) -> None:
    if transform not in TRANSFORMS[kind]:
        raise UserError(
            f"unknown transform {transform!r} for manifold_kind {kind!r}; choose one of "
            f"{list(TRANSFORMS[kind])}"
        )


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{name} must be an integer; got {value!r}")
    if int(value) < 1:
        raise UserError(f"{name} must be ≥ 1; got {value}")
    return int(value)


def _weights_list(weights) -> list:
    if weights is None or isinstance(weights, (str, os.PathLike)):
        return [weights]
    weights = list(weights)
    if not weights:
        raise UserError("weights must name at least one weights source")
    return weights


def network_label(network: str, meta: dict[str, Any], weights) -> str:
    """Label of one network instance: ``democnn-epoch003`` for a checkpoint with an epoch,
    ``<network>-<file stem>`` for other files, ``<network>`` for ImageNet weights (and a user
    model as built) and ``<network>-untrained`` for random initialisation."""
    if "epoch" in meta and meta["epoch"] is not None:
        return f"{network}-epoch{int(meta['epoch']):03d}"
    if str(weights) == "untrained":
        return f"{network}-untrained"
    if weights is None or str(weights) in ("imagenet", "builtin"):
        return network
    return f"{network}-{Path(weights).stem}"


# ============================================================================= generation


def generate_shard(
    out_path: str | os.PathLike,
    *,
    stimuli_path: str | os.PathLike | None = None,
    thumbnails_path: str | os.PathLike | None = None,
    network: str,
    weights: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    weights_path: str | os.PathLike | None = None,
    model_kwargs: dict[str, Any] | None = None,
    weights_prefix: str | None = None,
    preprocessing: Preprocessing | dict[str, Any] | None = None,
    layers: Sequence[str] | None = None,
    layer_set: str = "default",
    manifold_kind: str = "1d",
    transform: str,
    n_objects: int,
    objects: str | Sequence[int] | None = None,
    n_samples: int | None = None,
    range_factor: float | None = None,
    seed: int = 0,
    objects_seed: int | None = None,
    neuron_seed: int = 0,
    init_seed: int = 0,
    top_fraction: float = 0.1,
    max_units: int = N_UNITS,
    input_size: int | None = None,
    device: str = "cpu",
    batch_size: int = 64,
    threads: int | None = None,
    progress: bool = False,
) -> Path:
    """Record one shard: some objects × one transform, every requested layer; write netCDF.

    Parameters
    ----------
    out_path : path-like
        Shard file (netCDF-4), written atomically.
    stimuli_path : path-like, optional
        Stimulus file: an embedded set (:func:`~dnn_manifolds.generation.embedded.make_embedded_stimuli`)
        or the real thumbnails (:class:`~dnn_manifolds.generation.stimuli.StimulusSet`).
    thumbnails_path : path-like, optional
        A local copy of ``imagenet_all_thumbnails_64px.mat``; used instead of ``stimuli_path``
        when given (one of the two is required).
    network : str
        ``"alexnet"``, ``"vgg16"``, ``"resnet50"``, ``"democnn"``, a torchvision model name, or
        a model of your own: ``"package.module:factory"``, ``"file.py:factory"``,
        ``"timm:<name>"``, ``"torchscript:<file>"`` (:mod:`dnn_manifolds.generation.user_models`).
    weights : {"imagenet", "untrained", "builtin"}, path-like, or sequence of path-like, optional
        See :func:`dnn_manifolds.generation.networks.load_model`; default "imagenet" for the
        named networks, "builtin" for user models. A sequence of checkpoint files of one
        architecture (e.g. the epochs of :func:`~dnn_manifolds.generation.training.train_demo_cnn`)
        records each of them (the shard's ``network`` dimension).
    weights_path : path-like, optional
        Offline copy of the ImageNet weights (with ``weights="imagenet"``).
    model_kwargs : dict, optional
        User models: keyword arguments of the factory.
    weights_prefix : str, optional
        User models: load the weights file's keys under this prefix.
    preprocessing : Preprocessing or dict, optional
        Input size, mean/std, interpolation or a callable
        (:class:`~dnn_manifolds.generation.preprocessing.Preprocessing`); ``input_size``
        below overrides its input size.
    layers : sequence of str, optional
        Layer slugs (user models: or module / node names) to record
        (:func:`dnn_manifolds.generation.networks.network_layers`); default: the network's
        default list.
    layer_set : {"default", "all"}
        ResNet's 40 or 176 entries.
    manifold_kind : {"1d", "2d", "point-cloud"}
    transform : str
        1-d: one of ``TRANSFORMS_1D``; 2-d: ``"translation"`` or ``"shear"``; point cloud:
        ``"full"``, ``"top"`` or ``"shuffled"``.
    n_objects : int
        P, the number of objects of the whole manifold dataset.
    objects : str or sequence of int, optional
        Positions (0 … P−1) this shard handles (:func:`parse_objects`); default all.
    n_samples : int, optional
        M. Required for smooth manifolds (odd for 1-d). Point clouds: images per category
        (default: all; for "top": the top ``top_fraction``).
    range_factor : float, optional
        Largest corner displacement, pixels (smooth manifolds only; required there).
    seed : int, default 0
        Seed of the 2-d draws and of point-cloud subsets and shuffles.
    objects_seed : int, optional
        Template choice (:func:`~dnn_manifolds.generation.templates.choose_templates`; ``None`` = the
        original's defaults) or point-cloud category choice (``None`` = 0).
    neuron_seed : int, default 0
        Unit subsets (:func:`~dnn_manifolds.generation.networks.select_units`).
    init_seed : int, default 0
        Random initialisation for ``weights="untrained"``.
    top_fraction : float, default 0.1
        Fraction kept by the "top" variant.
    max_units : int, default 4096
        Units recorded per layer.
    input_size : int, optional
        Network input side (default native: 224, democnn 64).
    device : str, default "cpu"
        ``"cuda"`` to warp and run the network on the GPU; ``"auto"``: the GPU when torch sees
        one.
    batch_size : int, default 64
        Images per forward pass.
    threads : int, optional
        torch threads during the call.
    progress : bool, default False
        Show a progress bar over (weights × objects), with an ETA.

    Returns
    -------
    Path
        ``out_path``.
    """
    import torch
    from tqdm.auto import tqdm

    _check_kind(manifold_kind)
    _check_transform(manifold_kind, transform)
    stimuli_path = resolve_stimuli(stimuli_path, thumbnails_path=thumbnails_path)
    n_objects = _positive_int(n_objects, "n_objects")
    positions = parse_objects(objects, n_objects)
    batch_size = _positive_int(batch_size, "batch_size")
    smooth = manifold_kind != "point-cloud"
    if smooth:
        if n_samples is None or range_factor is None:
            raise UserError(f"manifold_kind {manifold_kind!r} needs n_samples and range_factor")
        n_samples = _positive_int(n_samples, "n_samples")
    elif n_samples is not None:
        n_samples = _positive_int(n_samples, "n_samples")
    if not 0 < float(top_fraction) <= 1:
        raise UserError(f"top_fraction must be in (0, 1]; got {top_fraction}")
    default_weights = "builtin" if is_user_model(network) else "imagenet"
    weights_all = [default_weights if w is None else w for w in _weights_list(weights)]
    if transform == "top" and len(weights_all) > 1:
        raise UserError("the 'top' point-cloud variant ranks images per network: give one weights entry")

    device = resolve_device(device)
    with torch_threads(threads), full_float32(device):
        with StimulusSet(stimuli_path) as stim:
            labels = stim.labels
            plan = _plan_samples(stim, labels, manifold_kind=manifold_kind, transform=transform,
                                 n_objects=n_objects, positions=positions, n_samples=n_samples,
                                 range_factor=range_factor, seed=seed, objects_seed=objects_seed)
            nets_meta = []
            acts, arrays = None, {}
            units: dict[str, np.ndarray] = {}
            recorded_layers = None
            bar = tqdm(total=len(weights_all) * len(positions), unit="object", desc=f"{network} {transform}",
                       disable=not progress, leave=False)
            for w_i, w in enumerate(weights_all):
                net = Network(network, weights=w, weights_path=weights_path, init_seed=init_seed,
                              layer_set=layer_set, device=device, input_size=input_size,
                              neuron_seed=neuron_seed, max_units=max_units, model_kwargs=model_kwargs,
                              weights_prefix=weights_prefix, preprocessing=preprocessing)
                chosen = net.default_layers if layers is None else select_layers(net.layers, layers)
                if recorded_layers is None:
                    recorded_layers = chosen
                    for layer in chosen:
                        units[layer.slug] = net.units(layer.slug)
                    acts, arrays = _allocate(len(weights_all), len(positions), plan["n_samples"],
                                             units, chosen)
                else:
                    for layer in chosen:
                        if not np.array_equal(net.units(layer.slug), units[layer.slug]):
                            raise UserError(f"checkpoint {w} has a different shape at layer {layer.slug!r}")
                nets_meta.append({"label": network_label(network, net.meta, w),
                                  "weights": net.meta.get("weights"),
                                  "epoch": net.meta.get("epoch"),
                                  "preprocessing": net.meta.get("preprocessing"),
                                  "shapes": {lay.slug: list(net.layer_shapes()[lay.slug]) for lay in chosen},
                                  "modules": {lay.slug: lay.module for lay in chosen},
                                  "kinds": {lay.slug: lay.kind for lay in chosen},
                                  "layer_positions": {lay.slug: [x.slug for x in net.layers].index(lay.slug)
                                                      for lay in chosen}})
                if transform == "top":
                    plan = _select_top(stim, net, plan, top_fraction=top_fraction,
                                       n_samples=n_samples, batch_size=batch_size)
                    acts, arrays = _allocate(1, len(positions), plan["n_samples"], units, chosen)
                for o_i in range(len(positions)):
                    _record_object(stim, net, chosen, plan, o_i, arrays, w_i, batch_size)
                    bar.update(1)
                del net
            bar.close()
        labels_out = [str(labels[i]) for i in plan["object_image"]] if smooth else list(plan["categories"])
        ds = _shard_dataset(
            acts, units, plan, positions=positions, labels=labels_out, nets_meta=nets_meta,
            layers=recorded_layers)
        ds.attrs.update(provenance_attrs(
            seeds={"seed": seed, "objects_seed": objects_seed, "neuron_seed": neuron_seed,
                   "init_seed": init_seed},
            config=_shard_config(
                stimuli_path=stimuli_path, network=network, weights=weights_all, layers=layers,
                **_model_settings(model_kwargs, weights_prefix, preprocessing),
                layer_set=layer_set, manifold_kind=manifold_kind, n_objects=n_objects,
                n_samples=n_samples, range_factor=range_factor, seed=seed, objects_seed=objects_seed,
                neuron_seed=neuron_seed, init_seed=init_seed, top_fraction=top_fraction,
                max_units=max_units, input_size=input_size),
            shard_format=SHARD_FORMAT,
            transform=transform,
            manifold_kind=manifold_kind,
            networks=json.dumps(nets_meta),
            torch_version=str(torch.__version__),
            stimuli_kind=plan["stimuli_kind"],
        ))
        return write_netcdf(ds, out_path, compress=False)  # shards are intermediate: speed over size


def _allocate(n_networks, n_objects, n_samples, units, layers):
    """One float32 array (network, object, sample, unit) for all layers, NaN-filled, and a
    view per layer (its unit columns)."""
    total = sum(units[lay.slug].size for lay in layers)
    acts = np.full((n_networks, n_objects, n_samples, total), np.nan, dtype=np.float32)
    views, offset = {}, 0
    for lay in layers:
        n = units[lay.slug].size
        views[lay.slug] = acts[..., offset:offset + n]
        offset += n
    return acts, views


def _model_settings(model_kwargs, weights_prefix, preprocessing) -> dict[str, Any]:
    """The user-model settings that differ from the defaults (absent ones keep the shard
    configuration of the named networks as it was)."""
    out: dict[str, Any] = {}
    if model_kwargs:
        out["model_kwargs"] = dict(model_kwargs)
    if weights_prefix:
        out["weights_prefix"] = weights_prefix
    prep = Preprocessing.from_mapping(preprocessing)
    if prep != Preprocessing():
        out["preprocessing"] = prep.record()
    return out


def _shard_config(*, stimuli_path, weights, **kw) -> dict[str, Any]:
    """Settings that must agree between the shards of one dataset (paths reduced to names)."""
    return {"stimuli": Path(stimuli_path).name,
            "weights": [str(w) if str(w) in ("imagenet", "untrained", "builtin") else Path(w).name for w in weights],
            **{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in kw.items()}}


def _plan_samples(stim: StimulusSet, labels: np.ndarray, *, manifold_kind, transform, n_objects,
                  positions, n_samples, range_factor, seed, objects_seed) -> dict[str, Any]:
    """Which image and which transform each (object, sample) of the shard gets."""
    plan: dict[str, Any] = {"kind": manifold_kind, "transform": transform, "stimuli_kind": stim.kind}
    if manifold_kind != "point-cloud":
        templates = choose_templates(labels, n_objects, seed=objects_seed)
        plan["object_image"] = templates[positions]
        plan["object_id"] = templates[positions]
        plan["n_samples"] = n_samples
        mats = np.empty((len(positions), n_samples, 2, 3))
        if manifold_kind == "1d":
            grid, values = one_dimensional_transforms(transform, range_factor=range_factor, n_samples=n_samples)
            mats[:] = grid
            plan["values"] = values
        else:
            t_index = TRANSFORMS_2D.index(transform)
            for o_i, p in enumerate(positions):
                rng = np.random.default_rng(np.random.SeedSequence([int(seed), t_index, int(p)]))
                mats[o_i] = random_transforms_2d(transform, range_factor=range_factor,
                                                 n_samples=n_samples, rng=rng)[0]
        plan["matrices"] = mats
        plan["image_index"] = np.repeat(plan["object_image"][:, None], n_samples, axis=1)
        return plan
    # point clouds
    categories_all = stim.categories
    chosen = choose_categories(categories_all, n_objects, seed=0 if objects_seed is None else objects_seed)
    groups = []
    for p, cat in enumerate(chosen):
        idx = np.flatnonzero(labels == cat)
        if n_samples is not None and transform != "top" and idx.size > n_samples:
            rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0, p]))
            idx = np.sort(rng.choice(idx, size=n_samples, replace=False))
        groups.append(idx)
    if transform == "shuffled":
        pool = np.concatenate(groups)
        perm = np.random.default_rng(np.random.SeedSequence([int(seed), 2])).permutation(pool.size)
        pool = pool[perm]
        sizes = np.cumsum([0] + [g.size for g in groups])
        groups = [pool[sizes[k]:sizes[k + 1]] for k in range(len(groups))]
    m = max(g.size for g in groups) if n_samples is None or transform == "top" else n_samples
    image_index = np.full((len(positions), m), -1, dtype=np.int64)
    for o_i, p in enumerate(positions):
        g = groups[p]
        image_index[o_i, :g.size] = g
    plan["categories"] = chosen[positions]
    plan["object_id"] = np.searchsorted(categories_all, chosen[positions])
    plan["object_image"] = None
    plan["image_index"] = image_index
    plan["n_samples"] = m
    plan["matrices"] = None
    return plan


def _select_top(stim, net: Network, plan, *, top_fraction, n_samples, batch_size):
    """Keep each category's top-scoring images (see the module docstring)."""
    logits_layer = net.score_layer  # the logits (a user model's output)
    classes = net.meta.get("categories")
    new = np.full_like(plan["image_index"], -1)
    keep_max = 0
    for o_i, cat in enumerate(plan["categories"]):
        idx = plan["image_index"][o_i]
        idx = idx[idx >= 0]
        logits = np.concatenate([
            net.record(_central_crops(stim, idx[s:s + batch_size], net.device), [logits_layer])[logits_layer.slug]
            for s in range(0, idx.size, batch_size)])
        if classes is not None and str(cat) in classes and logits.shape[1] == len(classes):
            score = logits[:, classes.index(str(cat))]
        else:
            centre = logits.mean(axis=0)
            score = logits @ centre / (np.linalg.norm(logits, axis=1) * np.linalg.norm(centre) + 1e-12)
        k = min(n_samples, idx.size) if n_samples is not None else max(1, math.ceil(top_fraction * idx.size))
        top = np.sort(idx[np.argsort(-score, kind="stable")[:k]])
        new[o_i, :k] = top
        keep_max = max(keep_max, k)
    plan = dict(plan)
    plan["image_index"] = new[:, :keep_max]
    plan["n_samples"] = keep_max
    return plan


def _central_crops(stim: StimulusSet, indices: np.ndarray, device):
    imgs = stim.images(indices)
    ident = np.tile(np.eye(2, 3), (len(indices), 1, 1))
    return warp_images(imgs, ident, device=device)


def _record_object(stim, net: Network, layers, plan, o_i: int, arrays, w_i: int, batch_size: int) -> None:
    import torch

    if plan["matrices"] is not None:  # smooth: one template, many warps
        image = torch.from_numpy(stim.image(int(plan["object_image"][o_i]))).permute(2, 0, 1)[None]
        image = image.to(net.device)
        mats = plan["matrices"][o_i]
        for s in range(0, mats.shape[0], batch_size):
            warped = warp_images(image, mats[s:s + batch_size], device=net.device)
            out = net.record(warped, layers)
            for layer in layers:
                arrays[layer.slug][w_i, o_i, s:s + batch_size] = out[layer.slug]
    else:  # point cloud: many images, no warp
        idx = plan["image_index"][o_i]
        valid = np.flatnonzero(idx >= 0)
        for s in range(0, valid.size, batch_size):
            cols = valid[s:s + batch_size]
            out = net.record(_central_crops(stim, idx[cols], net.device), layers)
            for layer in layers:
                arrays[layer.slug][w_i, o_i, cols] = out[layer.slug]


def _shard_dataset(acts, units, plan, *, positions, labels, nets_meta, layers) -> xr.Dataset:
    """All layers in one variable ``activation`` (network, object, sample, unit); each unit has
    its ``unit_layer`` (position in ``layer``) and ``unit_index`` (index into the flattened
    layer). One variable keeps the netCDF bookkeeping per file small."""
    coords: dict[str, Any] = {
        "network": ("network", np.array([m["label"] for m in nets_meta], dtype=object)),
        "layer": ("layer", np.array([lay.slug for lay in layers], dtype=object)),
        "object": ("object", np.asarray(positions, dtype=np.int64)),
        "object_id": ("object", np.asarray(plan["object_id"], dtype=np.int64)),
        "object_label": ("object", np.array(labels, dtype=object)),
        "sample": ("sample", np.arange(plan["n_samples"])),
        "image_index": (("object", "sample"), plan["image_index"].astype(np.int64)),
        "unit_layer": ("unit", np.concatenate([np.full(units[lay.slug].size, k, dtype=np.int32)
                                               for k, lay in enumerate(layers)])),
        "unit_index": ("unit", np.concatenate([units[lay.slug] for lay in layers])),
    }
    if plan["matrices"] is not None:
        coords["affine"] = (("object", "sample", "param"),
                            plan["matrices"].reshape(len(positions), plan["n_samples"], 6))
        coords["param"] = ("param", np.array(AFFINE_PARAMETERS, dtype=object))
    if "values" in plan:
        coords["transform_value"] = ("sample", plan["values"])
    ds = xr.Dataset(
        {"activation": (("network", "object", "sample", "unit"), acts,
                        {"long_name": "responses of the recorded units of every layer", "units": "1"})},
        coords=coords)
    ds.attrs["layers"] = json.dumps([lay.slug for lay in layers])
    return ds
