"""The checked specifications of networks and manifold sets in a workflow configuration.

:func:`check_networks` and :func:`check_manifolds` turn the config's ``networks`` and
``manifolds`` entries into :class:`NetworkSpec` and :class:`ManifoldSpec` (replicates expanded
into sets of their own), checking what needs the package — layer names (from a torch-free
catalogue for the paper's networks; a user model is built and run once), transform names, odd
1-d sample counts, objects against categories, image folders — and raising
:class:`ConfigError` naming the key. :mod:`dnn_manifolds.workflow.config` assembles them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..generation.layer_catalog import known_layers

WEIGHT_KEYWORDS = ("untrained", "imagenet", "demo")
USER_WEIGHT_KEYWORDS = ("builtin", "untrained")
DEFAULT_TRANSFORMS = {"point-cloud": ("full",)}


class ConfigError(UserError):
    """A configuration value the workflow cannot run with; the message names the key."""


def _err(key: str, problem: str) -> ConfigError:
    return ConfigError(f"config key '{key}': {problem}")


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    architecture: str
    weights: str
    weights_path: str | None
    layers: tuple[str, ...]
    layer_index: dict[str, int]
    kwargs: dict[str, Any] = field(default_factory=dict)
    weights_prefix: str | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    """Files the network is made from (a model's .py file or TorchScript archive, a user
    model's weights file): inputs of its generation jobs, so that changing them re-runs them."""

    def shard_settings(self) -> dict[str, Any]:
        """The user-model keyword arguments of generate_shard (only those that are set, so the
        named networks' jobs keep their parameters)."""
        out: dict[str, Any] = {}
        if self.kwargs:
            out["model_kwargs"] = dict(self.kwargs)
        if self.weights_prefix:
            out["weights_prefix"] = self.weights_prefix
        if self.preprocessing:
            out["preprocessing"] = dict(self.preprocessing)
        return out


@dataclass(frozen=True)
class ManifoldSpec:
    """A manifold set (or one of its replicates: ``base`` names the set, ``replicate`` ≥ 1)."""

    name: str
    kind: str
    transforms: tuple[str, ...]
    range_factor: float | None
    n_objects: int
    n_samples: int
    objects_per_shard: int
    objects_seed: int | None
    neuron_seed: int | None = None
    networks: tuple[str, ...] | None = None
    base: str = ""
    replicate: int = 0

    @property
    def manifold_set(self) -> str:
        return self.base or self.name

    def key(self) -> dict[str, Any]:
        """The columns that identify this set in tables and outputs."""
        return {
            "manifold": self.name,
            "manifold_set": self.manifold_set,
            "replicate": self.replicate,
            "kind": self.kind,
            "range_factor": None if self.range_factor is None else float(self.range_factor),
            "n_objects": self.n_objects,
            "n_samples": self.n_samples,
        }


def check_images(images: Mapping[str, Any], base_dir: Path):
    """``stimuli.images``: list and check the images (headers only, no torch); return the
    stimulus file path, the conversion options, the input files, the number of objects and
    the most images of one object."""
    import hashlib
    import json

    from ..generation.image_folder import check_images, list_images

    if not images.get("path"):
        raise _err("stimuli.images.path", "is required with stimuli.source: images (a folder or a CSV of path,object)")
    path = str(images["path"])
    options = {"path": path, "fit": images["fit"], "crop": images["crop"], "background": images["background"]}
    try:
        listing = list_images(base_dir / path)
        check_images(listing)
    except (UserError, FileNotFoundError) as err:
        raise _err("stimuli.images.path", str(err)) from err
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()[:12]
    files = [os.path.relpath(f, base_dir) for f in listing.files]
    if listing.layout == "csv":
        files.append(os.path.relpath(listing.source, base_dir))
    counts = listing.counts
    return (f"resources/stimuli/images_{digest}.h5", options, tuple(files), len(counts), max(counts.values()))


def check_networks(networks: Mapping[str, Any], base_dir: Path) -> dict[str, NetworkSpec]:
    from ..generation.networks import DEMO_NETWORK, available_networks, network_layers

    known = None
    out = {}
    for name, spec in networks.items():
        arch = str(spec["architecture"])
        if ":" in arch:  # a model of the user's own: built and run once here (torch)
            out[name] = _check_user_network(name, spec, base_dir)
            continue
        for key in ("kwargs", "weights_prefix"):
            if spec.get(key):
                raise _err(f"networks.{name}.{key}", "is for user models (architecture: an import path, timm:<name> or torchscript:<file>)")
        prep = _check_preprocessing(name, spec)
        catalogue = known_layers(arch)
        if catalogue is None and known is None:  # only architectures outside the catalogue need torch
            known = available_networks()
        if catalogue is None and arch not in known:
            shown = ["alexnet", "vgg16", "resnet50", DEMO_NETWORK]
            raise _err(
                f"networks.{name}.architecture",
                f"unknown network {arch!r}; use one of {shown} or a torchvision classification "
                "model name (dnn-manifolds layers --help)",
            )
        weights = str(spec.get("weights") or "untrained")
        if weights == "builtin":
            raise _err(f"networks.{name}.weights", f"'builtin' is for user models; use one of {list(WEIGHT_KEYWORDS)} or a file")
        if weights not in WEIGHT_KEYWORDS and not (base_dir / weights).exists():
            raise _err(
                f"networks.{name}.weights",
                f"{weights!r} is neither one of {list(WEIGHT_KEYWORDS)} nor an existing file",
            )
        if weights == "demo" and arch != DEMO_NETWORK:
            raise _err(f"networks.{name}.weights", f"'demo' weights exist only for architecture {DEMO_NETWORK!r}")
        all_layers = list(catalogue) if catalogue is not None else [layer.slug for layer in network_layers(arch)]
        wanted = spec["layers"]
        if wanted == "all":
            layers = all_layers
        else:
            unknown = [w for w in wanted if w not in all_layers]
            if unknown:
                raise _err(
                    f"networks.{name}.layers",
                    f"{unknown} not in network {arch!r}; its layers are {all_layers}",
                )
            if len(set(wanted)) != len(wanted):
                raise _err(f"networks.{name}.layers", "lists a layer twice")
            layers = [layer for layer in all_layers if layer in wanted]
        out[name] = NetworkSpec(
            name=name,
            architecture=arch,
            weights=weights,
            weights_path=spec.get("weights_path"),
            layers=tuple(layers),
            layer_index={layer: i for i, layer in enumerate(all_layers)},
            preprocessing=prep,
        )
    return out


def _check_preprocessing(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    from ..generation.preprocessing import Preprocessing

    prep = {k: v for k, v in dict(spec.get("preprocessing") or {}).items() if v is not None}
    try:
        Preprocessing.from_mapping(prep)
    except UserError as err:
        raise _err(f"networks.{name}.preprocessing", str(err)) from err
    return prep


def _check_user_network(name: str, spec: Mapping[str, Any], base_dir: Path) -> NetworkSpec:
    """Build a user model with its weights and preprocessing and run it once on a blank
    image, so that a missing callable, weights that do not fit or an unknown layer stop the
    workflow before any job (``docs/generation.md#generation-user-models``)."""
    from ..generation.networks import WeightsError, resolve_layer_names
    from ..generation.recording import Network
    from ..generation.user_models import ModelError, parse_model_source

    arch = str(spec["architecture"])
    key = f"networks.{name}"
    try:
        source = parse_model_source(arch)
    except UserError as err:
        raise _err(f"{key}.architecture", str(err)) from err
    weights = str(spec.get("weights") or "builtin")
    if weights in ("imagenet", "demo"):
        raise _err(f"{key}.weights", f"{weights!r} is for the named networks; a user model takes {list(USER_WEIGHT_KEYWORDS)} or a weights file")
    if weights not in USER_WEIGHT_KEYWORDS and not (base_dir / weights).exists():
        raise _err(f"{key}.weights", f"{weights!r} is neither one of {list(USER_WEIGHT_KEYWORDS)} nor an existing file")
    if spec.get("weights_path"):
        raise _err(f"{key}.weights_path", "is for torchvision's ImageNet weights; give a user model's weights file as weights")
    prep = _check_preprocessing(name, spec)
    if prep.get("function"):
        from ..generation.user_models import import_callable

        try:
            import_callable(prep["function"], what="preprocessing function", base_dir=base_dir)
        except UserError as err:
            raise _err(f"{key}.preprocessing.function", str(err)) from err
    kwargs = dict(spec.get("kwargs") or {})
    try:
        net = Network(arch, weights=None if weights == "builtin" else weights, model_kwargs=kwargs,
                      weights_prefix=spec.get("weights_prefix"), preprocessing=prep, base_dir=base_dir)
    except (WeightsError, FileNotFoundError) as err:
        raise _err(f"{key}.weights", str(err)) from err
    except ModelError as err:
        raise _err(f"{key}.architecture", str(err)) from err
    except UserError as err:
        raise _err(f"{key}.preprocessing", str(err)) from err
    all_layers = [layer.slug for layer in net.layers]
    wanted = spec["layers"]
    if wanted == "all":
        layers = [layer.slug for layer in net.default_layers]
    else:
        try:
            slugs = resolve_layer_names(net.layers, list(wanted))
        except UserError as err:
            raise _err(f"{key}.layers", f"{err} (dnn-manifolds layers {arch} --layer-set all lists them)") from err
        if len(set(slugs)) != len(slugs):
            raise _err(f"{key}.layers", "lists a layer twice")
        layers = [slug for slug in all_layers if slug in set(slugs)]
    files = [f for f in (source.file, None if weights in USER_WEIGHT_KEYWORDS else weights) if f]
    return NetworkSpec(
        name=name,
        architecture=arch,
        weights=weights,
        weights_path=None,
        layers=tuple(layers),
        layer_index={layer: i for i, layer in enumerate(all_layers)},
        kwargs=kwargs,
        weights_prefix=spec.get("weights_prefix"),
        preprocessing=prep,
        files=tuple(files),
    )


def check_manifolds(manifolds, n_categories, n_exemplars, kinds, transforms, networks, *, images=False) -> dict[str, ManifoldSpec]:
    out = {}
    for name, spec in manifolds.items():
        kind = spec["kind"]
        key = f"manifolds.{name}"
        if kind not in kinds:
            raise _err(f"{key}.kind", f"unknown kind {kind!r}; allowed: {list(kinds)}")
        chosen = tuple(spec.get("transforms") or DEFAULT_TRANSFORMS.get(kind, transforms[kind]))
        bad = [t for t in chosen if t not in transforms[kind]]
        if bad:
            raise _err(f"{key}.transforms", f"{bad} not allowed for kind {kind!r}; allowed: {list(transforms[kind])}")
        if len(set(chosen)) != len(chosen):
            raise _err(f"{key}.transforms", "lists a transform twice")
        if spec.get("n_objects") is None:
            if not images:
                raise _err(f"{key}.n_objects", "is required (the number P of objects)")
            n_objects = int(n_categories)
        else:
            n_objects = int(spec["n_objects"])
        n_samples = int(spec["n_samples"])
        range_factor = spec.get("range_factor")
        if kind in ("1d", "2d"):
            if range_factor is None:
                raise _err(f"{key}.range_factor", f"is required for kind {kind!r} (a positive number of pixels)")
            range_factor = float(range_factor)
            if not (math.isfinite(range_factor) and range_factor > 0):
                raise _err(f"{key}.range_factor", f"must be a positive number; got {range_factor}")
        elif range_factor is not None:
            raise _err(f"{key}.range_factor", "is not used by point clouds; remove it")
        if kind == "1d" and n_samples % 2 == 0:
            raise _err(f"{key}.n_samples", f"must be odd for 1-d manifolds (the identity is the centre sample); got {n_samples}")
        if n_categories is not None and n_objects > n_categories:
            where = "objects in stimuli.images.path" if images else "categories (stimuli.n_categories)"
            raise _err(
                f"{key}.n_objects",
                f"{n_objects} objects but the stimulus set has {n_categories} {where}",
            )
        if kind == "point-cloud" and n_exemplars is not None and n_samples > n_exemplars:
            if images:
                raise _err(
                    f"{key}.n_samples",
                    f"{n_samples} samples per point cloud but the largest object has {n_exemplars} images "
                    "(objects with fewer get missing samples)",
                )
            raise _err(
                f"{key}.n_samples",
                f"{n_samples} samples per point cloud but each category has {n_exemplars} images (stimuli.n_exemplars)",
            )
        nets = spec.get("networks")
        if nets is not None:
            bad = [n for n in nets if n not in networks]
            if bad:
                raise _err(f"{key}.networks", f"{bad} not in this config; networks: {sorted(networks)}")
            nets = tuple(nets)
        base = ManifoldSpec(
            name=name,
            kind=kind,
            transforms=chosen,
            range_factor=range_factor,
            n_objects=n_objects,
            n_samples=n_samples,
            objects_per_shard=int(spec["objects_per_shard"]),
            objects_seed=spec.get("objects_seed"),
            neuron_seed=spec.get("neuron_seed"),
            networks=nets,
        )
        out[name] = base
        seen = {(base.objects_seed, base.neuron_seed): "the set itself"}
        for k, rep in enumerate(spec["replicates"], start=1):
            rep_name = f"{name}_r{k}"
            if rep_name in manifolds:
                raise _err(f"{key}.replicates", f"replicate {rep_name!r} clashes with a manifold set of that name")
            seeds = (rep.get("objects_seed", base.objects_seed), rep.get("neuron_seed", base.neuron_seed))
            if seeds in seen:
                raise _err(f"{key}.replicates", f"replicate {k} has the seeds of {seen[seeds]}: it would repeat it")
            seen[seeds] = f"replicate {k}"
            rep_nets = rep.get("networks")
            if rep_nets is not None:
                bad = [n for n in rep_nets if n not in (nets or networks)]
                if bad:
                    raise _err(f"{key}.replicates", f"replicate {k}: networks {bad} do not record the set")
                rep_nets = tuple(rep_nets)
            out[rep_name] = dataclasses.replace(
                base,
                name=rep_name,
                objects_seed=rep.get("objects_seed", base.objects_seed),
                neuron_seed=rep.get("neuron_seed", base.neuron_seed),
                networks=rep_nets if rep_nets is not None else base.networks,
                base=name,
                replicate=k,
            )
    return out
