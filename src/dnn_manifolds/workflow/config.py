"""The workflow's configuration, checked beyond the JSON schema, and what the DAG needs from it.

The Snakemake workflow first validates its config against
``workflow/schemas/config.schema.yaml`` (keys and types; generated from
:mod:`dnn_manifolds.workflow.schema`, where every key's default lives), then calls
:func:`check_config`, which fills in the defaults and checks what needs the package — network and layer names, transform names, odd sample
counts for 1-d manifolds, more categories than objects, analysis options — and raises
:class:`ConfigError` naming the key and the allowed values. Both happen when the workflow is
parsed, before any job starts.

Seeds
-----
Every random draw derives from the one base ``seed`` — except the choice of template images,
which follows the original's ``objects_seed`` rule (``manifolds.<name>.objects_seed``; default:
the original's defaults for P, see :func:`dnn_manifolds.generation.templates.choose_templates`) so that the
same P gives the paper's object set. :func:`derive_seed` maps
``(seed, purpose)`` to an independent 32-bit seed through :class:`numpy.random.SeedSequence`
(no string hashing, so the same on every machine). The purposes are listed in
:data:`SEED_PURPOSES`; each output records the seeds it used.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.capacity.options import CapacityOptions
from ..analysis.geometry.options import GeometryOptions
from ..errors import UserError
from ..generation.layer_catalog import known_layers
from .schema import apply_defaults

SEED_PURPOSES = {
    "stimuli": 1,
    "neurons": 3,
    "init": 4,
    "capacity": 5,
    "geometry": 6,
    "training": 7,
}
"""Integer keys of the derived seeds (appended to the base seed in the SeedSequence)."""

WEIGHT_KEYWORDS = ("untrained", "imagenet", "demo")
DEFAULT_TRANSFORMS = {"point-cloud": ("full",)}


class ConfigError(UserError):
    """A configuration value the workflow cannot run with; the message names the key."""


def derive_seed(seed: int, purpose: str) -> int:
    """Independent seed for one purpose (see :data:`SEED_PURPOSES`), from the base seed."""
    if purpose not in SEED_PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}; known: {sorted(SEED_PURPOSES)}")
    state = np.random.SeedSequence([int(seed), SEED_PURPOSES[purpose]]).generate_state(1)
    return int(state[0] % (2**31 - 1))


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    architecture: str
    weights: str
    weights_path: str | None
    layers: tuple[str, ...]
    layer_index: dict[str, int]


@dataclass(frozen=True)
class ManifoldSpec:
    name: str
    kind: str
    transforms: tuple[str, ...]
    range_factor: float | None
    n_objects: int
    n_samples: int
    objects_per_shard: int
    objects_seed: int | None


@dataclass
class WorkflowConfig:
    """The checked configuration (see :func:`check_config`)."""

    seed: int
    seeds: dict[str, int]
    device: str
    batch_size: int
    stimuli_source: str
    stimuli_path: str
    n_categories: int | None
    n_exemplars: int | None
    download: bool
    demo_epochs: int
    demo_threads: int
    networks: dict[str, NetworkSpec]
    manifolds: dict[str, ManifoldSpec]
    capacity_enabled: bool
    capacity_options: dict[str, Any]
    geometry_enabled: bool
    geometry_options: dict[str, Any]
    only: dict[str, list[str]]
    own_data: dict[str, str]
    own_variable: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def uses_gpu(self) -> bool:
        """Whether generation and training jobs should ask for a GPU: ``device: cuda``, or
        ``auto`` on a machine with an NVIDIA driver (checked without importing torch)."""
        if self.device == "cuda":
            return True
        return self.device == "auto" and _nvidia_gpu_present()

    @property
    def filtered(self) -> bool:
        """True when an ``only`` filter narrows the targets."""
        return any(self.only.get(k) for k in ("networks", "manifolds", "layers", "transforms"))

    @property
    def analyses(self) -> list[str]:
        out = []
        if self.capacity_enabled:
            out.append("capacity")
        if self.geometry_enabled:
            out.append("geometry")
        return out

    def geometry_options_for(self, kind: str) -> dict[str, Any]:
        """Geometry options (every option, as a mapping) for a manifold kind; method ``auto``
        becomes ``point_cloud`` for point clouds and ``smooth`` otherwise (smooth manifolds
        and own data)."""
        opts = dict(self.geometry_options)
        if opts["method"] == "auto":
            opts["method"] = "point_cloud" if kind == "point-cloud" else "smooth"
        return GeometryOptions.from_mapping(opts).to_dict()

    def shards(self, manifold: str) -> list[dict[str, Any]]:
        """The generation shards of one manifold set (objects × transforms)."""
        from ..generation.manifolds import plan_shards

        spec = self.manifolds[manifold]
        return plan_shards(
            manifold_kind=spec.kind,
            n_objects=spec.n_objects,
            objects_per_shard=spec.objects_per_shard,
            transforms=list(spec.transforms),
        )

    def analysis_entries(self, path: Callable[..., str], *, filtered: bool = False) -> list[dict[str, Any]]:
        """One entry per (network, manifold, layer, transform, analysis), in a stable order."""
        only = self.only if filtered else {}
        out = []
        for network, net in self.networks.items():
            if only.get("networks") and network not in only["networks"]:
                continue
            for manifold, man in self.manifolds.items():
                if only.get("manifolds") and manifold not in only["manifolds"]:
                    continue
                for layer in net.layers:
                    if only.get("layers") and layer not in only["layers"]:
                        continue
                    for transform in man.transforms:
                        if only.get("transforms") and transform not in only["transforms"]:
                            continue
                        for analysis in self.analyses:
                            out.append(
                                {
                                    "path": path(network, manifold, layer, transform, analysis),
                                    "network": network,
                                    "kind": man.kind,
                                    "manifold": manifold,
                                    "layer": layer,
                                    "layer_index": net.layer_index[layer],
                                    "transform": transform,
                                    "analysis": analysis,
                                }
                            )
        return out

    def contact_sheet_targets(self) -> list[tuple[str, str]]:
        """(manifold, transform) pairs that get a contact sheet (smooth manifolds only)."""
        return [
            (name, t)
            for name, spec in self.manifolds.items()
            if spec.kind in ("1d", "2d")
            for t in spec.transforms
        ]


def export_source_path(src: str | os.PathLike) -> None:
    """Put the checkout's ``src`` first on ``PYTHONPATH`` for the jobs this process starts.

    The workflow runs the package of its own checkout: every job (also inside ``--sdm conda``
    environments, which hold the dependencies but not the package) imports ``dnn_manifolds``
    from ``src`` next to the Snakefile, so rules and code never disagree.
    """
    src = str(Path(src).resolve())
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *parts])


def _nvidia_gpu_present() -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def _err(key: str, problem: str) -> ConfigError:
    return ConfigError(f"config key '{key}': {problem}")


def check_config(config: Mapping[str, Any], *, base_dir: str | Path = ".") -> WorkflowConfig:
    """Check a schema-valid config; return the :class:`WorkflowConfig` the workflow runs.

    Raises
    ------
    ConfigError
        Naming the key, the bad value and the allowed values.
    """
    from ..generation.manifolds import MANIFOLD_KINDS, TRANSFORMS

    base_dir = Path(base_dir)
    config = apply_defaults(config)
    seed = int(config["seed"])
    seeds = {p: derive_seed(seed, p) for p in SEED_PURPOSES}
    device = str(config["device"])  # "auto" is resolved inside the jobs

    stim = config["stimuli"]
    source = stim["source"]
    n_categories = n_exemplars = None
    if source == "embedded":
        n_categories = int(stim["n_categories"])
        n_exemplars = int(stim["n_exemplars"])
        stimuli_path = f"resources/stimuli/embedded_seed{seeds['stimuli']}_c{n_categories}_e{n_exemplars}.h5"
    else:
        stimuli_path = str(stim["thumbnails_path"])
        if not stim["download"] and not (base_dir / stimuli_path).exists():
            raise _err(
                "stimuli.thumbnails_path",
                f"{stimuli_path} does not exist and stimuli.download is false",
            )

    networks = _check_networks(config["networks"], base_dir)
    manifolds = _check_manifolds(config["manifolds"], n_categories, n_exemplars, MANIFOLD_KINDS, TRANSFORMS)

    demo_epochs = int(config["demo_training"]["epochs"])
    demo_threads = int(config["demo_training"]["threads"])
    if any(n.weights == "demo" for n in networks.values()) and source != "embedded":
        raise _err("networks.<name>.weights", "'demo' needs stimuli.source: embedded (the demo CNN trains on it)")

    cap = config["capacity"]
    try:
        cap_options = CapacityOptions.from_mapping(cap["options"]).to_dict()
    except UserError as err:
        raise _err("capacity.options", str(err)) from err

    geo = config["geometry"]
    geo_options = {"method": geo["method"], "n_t": geo["n_t"], "kappa": geo["kappa"], **geo["options"]}
    _check_geometry_options(geo_options)

    only = {k: list(v) for k, v in config["only"].items()}
    _check_only(only, networks, manifolds)

    own = dict(config["own_data"]["inputs"])
    for name, path in own.items():
        _check_own_input(f"own_data.inputs.{name}", str(path), base_dir)

    return WorkflowConfig(
        seed=seed,
        seeds=seeds,
        device=device,
        batch_size=int(config["batch_size"]),
        stimuli_source=source,
        stimuli_path=stimuli_path,
        n_categories=n_categories,
        n_exemplars=n_exemplars,
        download=bool(stim["download"]),
        demo_epochs=demo_epochs,
        demo_threads=demo_threads,
        networks=networks,
        manifolds=manifolds,
        capacity_enabled=bool(cap["enabled"]),
        capacity_options=cap_options,
        geometry_enabled=bool(geo["enabled"]),
        geometry_options=geo_options,
        only=only,
        own_data=own,
        own_variable=str(config["own_data"]["variable"]),
        raw=dict(config),
    )


def _check_own_input(key: str, path: str, base_dir: Path) -> None:
    """An own-data input must be an existing file of an importable type, outside the
    workflow's outputs (an output must never replace an input)."""
    from ..data.importers import SUFFIXES

    full = base_dir / path
    if not full.exists():
        raise _err(key, f"file {path} does not exist")
    if full.is_dir():
        raise _err(key, f"{path} is a directory; give the data file itself")
    suffix = full.suffix.lower()
    if suffix not in SUFFIXES:
        raise _err(key, f"{path}: unknown file type {suffix!r}; allowed: {list(SUFFIXES)}")
    try:
        inside = full.resolve().relative_to((base_dir / "results").resolve())
    except ValueError:
        return
    raise _err(key, f"{path} lies under results/, where the workflow writes ({inside}); move it elsewhere")


def _check_networks(networks: Mapping[str, Any], base_dir: Path) -> dict[str, NetworkSpec]:
    from ..generation.networks import DEMO_NETWORK, available_networks, network_layers

    known = None
    out = {}
    for name, spec in networks.items():
        arch = str(spec["architecture"])
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
        weights = str(spec["weights"])
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
        )
    return out


def _check_manifolds(manifolds, n_categories, n_exemplars, kinds, transforms) -> dict[str, ManifoldSpec]:
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
            raise _err(
                f"{key}.n_objects",
                f"{n_objects} objects but the stimulus set has {n_categories} categories (stimuli.n_categories)",
            )
        if kind == "point-cloud" and n_exemplars is not None and n_samples > n_exemplars:
            raise _err(
                f"{key}.n_samples",
                f"{n_samples} samples per point cloud but each category has {n_exemplars} images (stimuli.n_exemplars)",
            )
        out[name] = ManifoldSpec(
            name=name,
            kind=kind,
            transforms=chosen,
            range_factor=range_factor,
            n_objects=n_objects,
            n_samples=n_samples,
            objects_per_shard=int(spec["objects_per_shard"]),
            objects_seed=spec.get("objects_seed"),
        )
    return out


def _check_geometry_options(options: dict[str, Any]) -> None:
    """Check geometry options with :class:`GeometryOptions` (``auto`` is checked as both
    methods it can become)."""
    methods = ("smooth", "point_cloud") if options["method"] == "auto" else (options["method"],)
    try:
        for method in methods:
            GeometryOptions.from_mapping({**options, "method": method})
    except UserError as err:
        raise _err("geometry", str(err)) from err


def _check_only(only, networks, manifolds) -> None:
    universe = {
        "networks": set(networks),
        "manifolds": set(manifolds),
        "layers": {layer for n in networks.values() for layer in n.layers},
        "transforms": {t for m in manifolds.values() for t in m.transforms},
    }
    for key, values in only.items():
        bad = [v for v in values if v not in universe[key]]
        if bad:
            raise _err(f"only.{key}", f"{bad} not in this config; allowed: {sorted(universe[key])}")
