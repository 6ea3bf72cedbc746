"""The workflow's configuration, checked beyond the JSON schema, and what the DAG needs from it.

The Snakemake workflow first validates its config against
``workflow/schemas/config.schema.yaml`` (keys and types; generated from
:mod:`dnn_manifolds.workflow.schema`, where every key's default lives), then calls
:func:`check_config`, which fills in the defaults and checks what needs the package — network and layer names, transform names, odd sample
counts for 1-d manifolds, more categories than objects, analysis options; a user model is
built with its weights and run once, an image folder's images are listed and their headers
read — and raises
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

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.capacity.options import CapacityOptions
from ..analysis.experiments import Experiment
from ..analysis.geometry.options import GeometryOptions
from ..errors import UserError
from .experiments import BASELINES, ExperimentSpec, check_experiments
from .schema import apply_defaults
from .specs import (  # noqa: F401 - re-exported: the checked specifications
    DEFAULT_TRANSFORMS,
    USER_WEIGHT_KEYWORDS,
    WEIGHT_KEYWORDS,
    ConfigError,
    ManifoldSpec,
    NetworkSpec,
    _err,
    check_images,
    check_manifolds,
    check_networks,
)

SEED_PURPOSES = {
    "stimuli": 1,
    "neurons": 3,
    "init": 4,
    "capacity": 5,
    "geometry": 6,
    "training": 7,
}
"""Integer keys of the derived seeds (appended to the base seed in the SeedSequence)."""

def derive_seed(seed: int, purpose: str) -> int:
    """Independent seed for one purpose (see :data:`SEED_PURPOSES`), from the base seed."""
    if purpose not in SEED_PURPOSES:
        raise ValueError(f"unknown seed purpose {purpose!r}; known: {sorted(SEED_PURPOSES)}")
    state = np.random.SeedSequence([int(seed), SEED_PURPOSES[purpose]]).generate_state(1)
    return int(state[0] % (2**31 - 1))


@dataclass
class WorkflowConfig:
    """The checked configuration (see :func:`check_config`)."""

    seed: int
    seeds: dict[str, int]
    device: str
    batch_size: int
    warm_processes: bool
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
    experiments: dict[str, ExperimentSpec]
    only: dict[str, list[str]]
    own_data: dict[str, str]
    own_variable: str
    raw: dict[str, Any] = field(repr=False, default_factory=dict)
    image_options: dict[str, Any] = field(default_factory=dict)
    """``stimuli.source: images``: the arguments of image_stimuli (path, fit, crop, background)."""
    image_files: tuple[str, ...] = ()
    """``stimuli.source: images``: every image (and the CSV), inputs of the conversion job."""
    own_data_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per own-data input: the options of dnn_manifolds.data.inputs.import_any besides the path."""

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
        return any(self.only.get(k) for k in ("networks", "manifolds", "layers", "transforms", "experiments"))

    @property
    def analyses(self) -> list[str]:
        out = []
        if self.capacity_enabled:
            out.append("capacity")
        if self.geometry_enabled:
            out.append("geometry")
        return out

    def own_import_options(self, name: str) -> dict[str, Any]:
        """Keyword arguments of :func:`dnn_manifolds.data.inputs.import_any` for own-data input
        ``name`` (besides its path): its own options, and ``own_data.variable`` for the file
        formats that name their variable (assemblies and features find theirs)."""
        options = dict(self.own_data_options.get(name, {}))
        if not any(k in options for k in ("object_coord", "labels", "labels_column")):
            options.setdefault("variable", self.own_variable)
        return options

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
        cache = self.__dict__.setdefault("_cache_shards", {})
        if manifold not in cache:
            from ..generation.manifolds import plan_shards

            spec = self.manifolds[manifold]
            cache[manifold] = plan_shards(
                manifold_kind=spec.kind,
                n_objects=spec.n_objects,
                objects_per_shard=spec.objects_per_shard,
                transforms=list(spec.transforms),
            )
        return cache[manifold]

    def shard(self, manifold: str, name: str) -> dict[str, Any]:
        """One shard of a manifold set, by name."""
        index = self.__dict__.setdefault("_cache_shard_index", {})
        if manifold not in index:
            index[manifold] = {s["name"]: s for s in self.shards(manifold)}
        if name not in index[manifold]:
            raise KeyError(f"unknown shard {name!r} of manifold set {manifold!r}")
        return index[manifold][name]

    def records(self, network: str, manifold: str) -> bool:
        """Whether ``network`` records manifold set ``manifold``."""
        nets = self.manifolds[manifold].networks
        return nets is None or network in nets

    def analysis_jobs(self, path: Callable[..., str], *, filtered: bool = False) -> list[dict[str, Any]]:
        """One analysis job per (network, layer, transform, experiment), in a stable order.

        A job analyses, for one network, layer and transform, every manifold set (and
        replicate) that the network records with that transform and that the experiment
        applies to — the baseline analyses ``capacity`` and ``geometry`` first — and writes one
        file, ``path(network, layer, transform, experiment)``, with one group per set. Jobs
        fan out over networks, layers, transforms and experiments; the manifold sets of one
        transform share a job (so the DAG stays small at the paper's size). An experiment
        that needs the sessions' geometry names the baseline geometry file as ``reference``.
        With ``filtered``, the ``only`` filter selects jobs (``only.manifolds``: jobs with one
        of those sets; the job still analyses all its sets).
        """
        only = self.only if filtered else {}
        names = [*self.analyses, *self.experiments]
        out = []
        for network, net in self.networks.items():
            if only.get("networks") and network not in only["networks"]:
                continue
            recorded = [m for m in self.manifolds if self.records(network, m)]
            transforms = list(dict.fromkeys(t for m in recorded for t in self.manifolds[m].transforms))
            for layer in net.layers:
                if only.get("layers") and layer not in only["layers"]:
                    continue
                for transform in transforms:
                    if only.get("transforms") and transform not in only["transforms"]:
                        continue
                    sets = [m for m in recorded if transform in self.manifolds[m].transforms]
                    for name in names:
                        if only.get("experiments") and name not in only["experiments"]:
                            continue
                        exp = self.experiments.get(name)
                        chosen = [
                            m
                            for m in sets
                            if exp is None or exp.applies(network, self.manifolds[m].manifold_set, layer, transform)
                        ]
                        if not chosen:
                            continue
                        if only.get("manifolds") and not any(
                            m in only["manifolds"] or self.manifolds[m].manifold_set in only["manifolds"]
                            for m in chosen
                        ):
                            continue
                        reference = None
                        if exp is not None and exp.needs_reference:
                            reference = path(network, layer, transform, "geometry")
                        out.append(
                            {
                                "path": path(network, layer, transform, name),
                                "network": network,
                                "architecture": net.architecture,
                                "weights": net.weights,
                                "layer": layer,
                                "layer_index": net.layer_index[layer],
                                "transform": transform,
                                "experiment": name,
                                "analysis": exp.analysis if exp is not None else name,
                                "manifolds": chosen,
                                "reference": reference,
                            }
                        )
        return out

    def analysis_entries(self, path: Callable[..., str], *, filtered: bool = False) -> list[dict[str, Any]]:
        """One entry per result — a manifold set (a group) of an analysis job's file — with
        every key column of the tidy table (:mod:`dnn_manifolds.report.tables`)."""
        out = []
        for job in self.analysis_jobs(path, filtered=filtered):
            for manifold in job["manifolds"]:
                entry = {k: v for k, v in job.items() if k not in ("manifolds", "reference")}
                out.append({**entry, **self.manifolds[manifold].key(), "group": manifold})
        return out

    def job_sets(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """What an analysis job needs per manifold set: its key, kind and options."""
        cache = self.__dict__.setdefault("_cache_job_sets", {})
        ident = (job["network"], job["layer"], job["transform"], job["experiment"])
        if ident not in cache:
            cache[ident] = self._job_sets(job)
        return cache[ident]

    def _job_sets(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        exp = self.experiments.get(job["experiment"])
        per_kind: dict[str, tuple[dict[str, Any], Any]] = {}
        out = []
        for manifold in job["manifolds"]:
            man = self.manifolds[manifold]
            if man.kind not in per_kind:
                if exp is None:
                    per_kind[man.kind] = (self.options_for(job["analysis"], man.kind), None)
                else:
                    library = self.experiment_for(exp.name, man.kind)
                    per_kind[man.kind] = (dict(library.options), library.variants)
            options, grid = per_kind[man.kind]
            out.append({"key": man.key(), "options": options, "grid": grid})
        return out

    def experiment_for(self, name: str, kind: str) -> Experiment:
        """The library experiment of ``experiments.<name>`` for a manifold kind."""
        cache = self.__dict__.setdefault("_cache_experiments", {})
        if (name, kind) not in cache:
            spec = self.experiments[name]
            cache[(name, kind)] = spec.experiment(self.options_for(spec.analysis, kind))
        return cache[(name, kind)]

    def options_for(self, analysis: str, kind: str) -> dict[str, Any]:
        """The config's options of an analysis for a manifold kind (every option written out)."""
        if analysis == "capacity":
            return dict(self.capacity_options)
        cache = self.__dict__.setdefault("_cache_geometry_options", {})
        if kind not in cache:
            cache[kind] = self.geometry_options_for(kind)
        return dict(cache[kind])

    def contact_sheet_targets(self) -> list[tuple[str, str]]:
        """(manifold, transform) pairs that get a contact sheet (smooth manifolds only)."""
        return [
            (name, t)
            for name, spec in self.manifolds.items()
            if spec.kind in ("1d", "2d") and spec.replicate == 0
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
    image_options: dict[str, Any] = {}
    image_files: tuple[str, ...] = ()
    if source == "images":
        stimuli_path, image_options, image_files, n_categories, n_exemplars = check_images(stim["images"], base_dir)
    elif source == "embedded":
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

    networks = check_networks(config["networks"], base_dir)
    manifolds = check_manifolds(config["manifolds"], n_categories, n_exemplars, MANIFOLD_KINDS, TRANSFORMS,
                                 networks, images=source == "images")

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

    cfg_partial = WorkflowConfig.__new__(WorkflowConfig)  # only what options_for needs
    cfg_partial.capacity_options, cfg_partial.geometry_options = cap_options, geo_options
    experiments = check_experiments(
        config["experiments"],
        networks=networks,
        manifolds=manifolds,
        base_options=cfg_partial.options_for,
        err=_err,
    )
    if not geo["enabled"]:
        for name, exp in experiments.items():
            if exp.needs_reference:
                raise _err(
                    f"experiments.{name}",
                    "needs the baseline geometry of every session (geometry.enabled must be true)",
                )

    only = {k: list(v) for k, v in config["only"].items()}
    _check_only(only, networks, manifolds, experiments)

    own: dict[str, str] = {}
    own_options: dict[str, dict[str, Any]] = {}
    for name, entry in dict(config["own_data"]["inputs"]).items():
        options = dict(entry) if isinstance(entry, Mapping) else {"path": entry}
        path = str(options.pop("path"))
        key = f"own_data.inputs.{name}" + (".path" if isinstance(entry, Mapping) else "")
        features = "labels" in options or "labels_column" in options or "labels_from" in options
        _check_own_input(key, path, base_dir, features=features)
        if options.get("labels") is not None and not (base_dir / options["labels"]).exists():
            raise _err(f"own_data.inputs.{name}.labels", f"file {options['labels']} does not exist")
        if "object_coord" in options and ("labels" in options or "labels_column" in options):
            raise _err(f"own_data.inputs.{name}", "object_coord (an assembly) and labels / labels_column (features) exclude each other")
        if ("session_coord" in options or "average_by" in options) and "object_coord" not in options:
            raise _err(f"own_data.inputs.{name}", "session_coord and average_by need object_coord (an assembly)")
        own[name] = path
        own_options[name] = options

    return WorkflowConfig(
        seed=seed,
        seeds=seeds,
        device=device,
        batch_size=int(config["batch_size"]),
        warm_processes=bool(config["warm_processes"]),
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
        experiments=experiments,
        only=only,
        own_data=own,
        own_variable=str(config["own_data"]["variable"]),
        raw=dict(config),
        image_options=image_options,
        image_files=image_files,
        own_data_options=own_options,
    )


def _check_own_input(key: str, path: str, base_dir: Path, *, features: bool = False) -> None:
    """An own-data input must be an existing file of an importable type (a feature matrix's
    types with ``features``), outside the workflow's outputs (an output must never replace an
    input)."""
    from ..data.importers import SUFFIXES

    if features:
        SUFFIXES = (".npy", ".npz", ".csv", ".tsv", ".txt", ".mat", ".h5", ".hdf5")  # noqa: N806

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


def _check_geometry_options(options: dict[str, Any]) -> None:
    """Check geometry options with :class:`GeometryOptions` (``auto`` is checked as both
    methods it can become)."""
    methods = ("smooth", "point_cloud") if options["method"] == "auto" else (options["method"],)
    try:
        for method in methods:
            GeometryOptions.from_mapping({**options, "method": method})
    except UserError as err:
        raise _err("geometry", str(err)) from err


def _check_only(only, networks, manifolds, experiments) -> None:
    universe = {
        "networks": set(networks),
        "manifolds": set(manifolds),
        "layers": {layer for n in networks.values() for layer in n.layers},
        "transforms": {t for m in manifolds.values() for t in m.transforms},
        "experiments": {*BASELINES, *experiments},
    }
    for key, values in only.items():
        bad = [v for v in values if v not in universe[key]]
        if bad:
            raise _err(f"only.{key}", f"{bad} not in this config; allowed: {sorted(universe[key])}")
