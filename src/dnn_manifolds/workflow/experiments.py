"""The configuration's experiments: which sessions each runs on, and its variants.

An experiment (``experiments.<name>`` in a config, ``config/README.md``) repeats one analysis
over a grid of option changes (:class:`dnn_manifolds.analysis.experiments.Experiment`) on a
selection of networks, manifold sets (with their replicates), layers and transforms. The
workflow runs one job per (network, manifold set, layer, transform, experiment), writing
``results/analysis/<network>/<set>/<layer>/<transform>/experiments/<name>.nc`` with every
variant along a ``variant`` dimension. The names ``capacity`` and ``geometry`` are the two
baseline analyses.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..analysis.experiments import Experiment
from ..errors import UserError

__all__ = ["BASELINES", "ExperimentSpec", "check_experiments"]

BASELINES = ("capacity", "geometry")
"""The names of the two baseline analyses (not available as experiment names)."""


@dataclass(frozen=True)
class ExperimentSpec:
    """A checked ``experiments.<name>`` entry."""

    name: str
    analysis: str
    options: dict[str, Any]
    grid: Any  # mapping of option lists, or list of mappings
    networks: tuple[str, ...]
    manifolds: tuple[str, ...]  # manifold sets (base names)
    layers: tuple[str, ...] | None
    transforms: tuple[str, ...] | None
    needs_reference: bool

    def experiment(self, base_options: Mapping[str, Any]) -> Experiment:
        """The library experiment, on top of the config's options of the analysis."""
        return Experiment(self.name, self.analysis, {**base_options, **self.options}, self.grid)

    def applies(self, network: str, manifold_set: str, layer: str, transform: str) -> bool:
        return (
            network in self.networks
            and manifold_set in self.manifolds
            and (self.layers is None or layer in self.layers)
            and (self.transforms is None or transform in self.transforms)
        )


def check_experiments(
    experiments: Mapping[str, Any],
    *,
    networks: Mapping[str, Any],
    manifolds: Mapping[str, Any],
    base_options: Any,
    err: Any,
) -> dict[str, ExperimentSpec]:
    """Check every experiment against the networks and manifold sets of the config.

    ``base_options(analysis, kind)`` gives the config's options of an analysis for a manifold
    kind; ``err(key, problem)`` makes the configuration error. Every variant's options are
    validated here, before any job.
    """
    sets = {name: spec for name, spec in manifolds.items() if spec.replicate == 0}
    out = {}
    for name, spec in experiments.items():
        key = f"experiments.{name}"
        if name in BASELINES:
            raise err(key, f"{name!r} names a baseline analysis; choose another experiment name")
        nets = tuple(spec.get("networks") or networks)
        bad = [n for n in nets if n not in networks]
        if bad:
            raise err(f"{key}.networks", f"{bad} not in this config; networks: {sorted(networks)}")
        patterns = spec.get("manifolds") or ["*"]
        chosen = []
        for pattern in patterns:
            hits = [m for m in sets if fnmatch.fnmatchcase(m, pattern)]
            if not hits:
                raise err(f"{key}.manifolds", f"{pattern!r} matches no manifold set; sets: {sorted(sets)}")
            chosen += [m for m in hits if m not in chosen]
        layers = tuple(spec["layers"]) if spec.get("layers") else None
        if layers is not None:
            known = {layer for n in nets for layer in networks[n].layers}
            bad = [layer for layer in layers if layer not in known]
            if bad:
                raise err(f"{key}.layers", f"{bad} are not analysed layers of {list(nets)}")
        transforms = tuple(spec["transforms"]) if spec.get("transforms") else None
        if transforms is not None:
            known = {t for m in chosen for t in sets[m].transforms}
            bad = [t for t in transforms if t not in known]
            if bad:
                raise err(f"{key}.transforms", f"{bad} are not transforms of {chosen}")
        analysis = spec["analysis"]
        options = dict(spec.get("options") or {})
        grid = spec["grid"]
        grid = {k: list(v) for k, v in grid.items()} if isinstance(grid, Mapping) else [dict(v) for v in grid]
        needs = False
        for kind in sorted({sets[m].kind for m in chosen}):
            try:
                exp = Experiment(name, analysis, {**base_options(analysis, kind), **options}, grid)
            except UserError as error:
                raise err(key, str(error)) from error
            needs |= exp.needs_reference
        out[name] = ExperimentSpec(name, analysis, options, grid, nets, tuple(chosen), layers, transforms, needs)
    return out
