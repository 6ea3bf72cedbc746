"""Experiments: one analysis run over a grid of option variants of one session.

The paper's controls, manipulations and finite-size sweeps are all the same thing: an analysis
(capacity or geometry) repeated with some options changed — ``control`` over the
randomisations, ``centre_scale`` over 0.5 … 1.5, ``clip_dimension`` over 10 … 50, ``balls``
over floor/ceil, ``n_objects`` over 32 … 128, ``samples_jump`` over 2 … 200, ``n_neurons`` over
128 … 3072 (``docs/capacity.md#capacity-experiments``). An :class:`Experiment` names the analysis,
the options every variant shares and the grid of changed options; :func:`run_experiment` runs
every variant on the same session with the same seed (so variants differ only by what the grid
changes) and stacks them along a ``variant`` dimension, with one coordinate per grid option.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from ..errors import OptionError, UserError
from .options import Options

__all__ = ["ANALYSES", "Experiment", "expand_grid", "run_experiment", "variant_label"]

ANALYSES = ("capacity", "geometry")


def _options_class(analysis: str) -> type[Options]:
    if analysis == "capacity":
        from .capacity.options import CapacityOptions

        return CapacityOptions
    if analysis == "geometry":
        from .geometry.options import GeometryOptions

        return GeometryOptions
    raise UserError(f"analysis must be one of {list(ANALYSES)}; got {analysis!r}")


def expand_grid(grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The variants of a grid: the cartesian product of ``{option: [values]}`` in the grid's
    order (last option fastest), or a list of ``{option: value}`` mappings taken as they are;
    an empty grid is one variant with nothing changed."""
    if not isinstance(grid, Mapping):
        variants = [dict(v) for v in grid]
        if not all(isinstance(v, Mapping) for v in grid) or not variants:
            raise OptionError(f"a grid is a mapping of option lists or a non-empty list of mappings; got {grid!r}")
        return variants
    names = list(grid)
    for name in names:
        values = grid[name]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not len(values):
            raise OptionError(f"grid entry {name!r} must be a non-empty list of values; got {values!r}")
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]


def variant_label(changes: Mapping[str, Any]) -> str:
    """A readable, stable label of a variant: ``option=value`` pairs joined by commas."""
    if not changes:
        return "baseline"
    return ",".join(f"{k}={'null' if v is None else v}" for k, v in changes.items())


@dataclass(frozen=True)
class Experiment:
    """An analysis over a grid of option variants.

    Attributes
    ----------
    name : str
    analysis : {"capacity", "geometry"}
    options : mapping
        Options shared by every variant (on top of the analysis's defaults).
    grid : mapping of str to sequence, or sequence of mappings
        Options changed per variant: their cartesian product, or the variants listed.
    """

    name: str
    analysis: str
    options: Mapping[str, Any] = field(default_factory=dict)
    grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        cls = _options_class(self.analysis)
        unknown = sorted({k for v in self.variants for k in v} - set(cls.names()))
        if unknown:
            raise OptionError(f"experiment {self.name!r}: unknown {self.analysis} option(s) {unknown} in the grid")
        for changes in self.variants:
            cls.from_mapping({**self.options, **changes})  # every variant is valid

    @property
    def variants(self) -> list[dict[str, Any]]:
        """The option changes of each variant."""
        return expand_grid(self.grid)

    def variant_options(self) -> list[Options]:
        """The full, validated options of each variant."""
        cls = _options_class(self.analysis)
        return [cls.from_mapping({**self.options, **changes}) for changes in self.variants]

    @property
    def needs_reference(self) -> bool:
        """Whether a variant needs the session's geometry of the unchanged data (capacity
        manipulations and balls)."""
        if self.analysis != "capacity":
            return False
        return any(o.balls != "none" or o.manipulates for o in self.variant_options())

    @property
    def changed(self) -> list[str]:
        """The options the variants change, in order of appearance."""
        out: list[str] = []
        for v in self.variants:
            out += [k for k in v if k not in out]
        return out

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "analysis": self.analysis, "options": dict(self.options), "variants": self.variants}


def run_experiment(
    dataset: xr.Dataset,
    experiment: Experiment,
    *,
    session: int | str | Sequence[int | str] | None = None,
    seed: int = 0,
    reference: xr.Dataset | None = None,
    jobs: int = 1,
    progress: bool = False,
) -> xr.Dataset:
    """Run every variant of ``experiment`` on the chosen sessions; stack along ``variant``.

    Parameters
    ----------
    dataset : xarray.Dataset
        A manifold dataset.
    experiment : Experiment
    session, seed, progress
        As for the analysis (the same seed for every variant).
    reference : xarray.Dataset, optional
        The geometry result of the same sessions (needed when ``experiment.needs_reference``).
    jobs : int
        Worker processes (capacity only).

    Returns
    -------
    xarray.Dataset
        The analysis's variables with a leading ``variant`` dimension; coordinates ``variant``
        (labels), ``variant_<option>`` for every option the grid changes and ``variant_status``
        (``"ok"``, or why the variant does not apply to these data — e.g. more neurons asked
        for than the session has — its values are then NaN); attributes ``experiment``
        (JSON), the provenance of the analysis.
    """
    if experiment.needs_reference and reference is None:
        raise OptionError(
            f"experiment {experiment.name!r} changes the manifolds around their common centre "
            "subspace or replaces them by balls: give the sessions' geometry result as the reference"
        )
    if experiment.analysis == "capacity":
        from .capacity.api import capacity as run
        from .capacity.results import FILL_VALUES

        extra: dict[str, Any] = {"jobs": jobs, "reference": reference}
        fill = FILL_VALUES
    else:
        from .geometry.api import geometry as run

        extra, fill = {}, {}
    parts: list[xr.Dataset | None] = []
    status: list[str] = []
    changes = experiment.variants
    for opts in experiment.variant_options():
        try:
            parts.append(run(dataset, opts, session=session, seed=seed, progress=progress, **extra))
            status.append("ok")
        except OptionError as err:  # a variant that does not apply to these data (e.g. n_neurons > N)
            parts.append(None)
            status.append(str(err))
    done = [p for p in parts if p is not None]
    if not done:
        raise OptionError(f"experiment {experiment.name!r}: no variant applies to these data: {status[0]}")
    parts = [p if p is not None else _missing(done[0]) for p in parts]
    attrs = dict(done[0].attrs)
    out = xr.concat(
        parts,
        dim="variant",
        join="outer",
        data_vars="all",
        coords="minimal",
        compat="override",
        fill_value=fill or xr.core.dtypes.NA,
        combine_attrs="drop",
    )
    for name in out.data_vars:
        if not out[name].attrs:
            out[name].attrs = dict(parts[0][name].attrs)
    coords: dict[str, Any] = {
        "variant": ("variant", np.array([variant_label(c) for c in changes], dtype=object)),
        "variant_status": ("variant", np.array(status, dtype=object)),
    }
    for name in experiment.changed:
        values = [c.get(name) for c in changes]
        kind = np.asarray([v for v in values if v is not None]).dtype.kind if any(v is not None for v in values) else "O"
        if kind in "iuf":
            arr = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            arr = np.array(["" if v is None else str(v) for v in values], dtype=object)
        coords[f"variant_{name}"] = ("variant", arr)
    out = out.assign_coords(coords)
    attrs["experiment"] = json.dumps(experiment.describe(), sort_keys=True, default=str)
    attrs["variant_options"] = json.dumps([o.record() for o in experiment.variant_options()], default=str)
    out.attrs = attrs
    return out


def _missing(template: xr.Dataset) -> xr.Dataset:
    """A variant that could not run: the template's variables, numbers NaN (counts 0)."""
    out = template.copy(deep=True)
    for name, var in out.data_vars.items():
        if var.dtype.kind == "f":
            out[name] = var.where(False)
        elif var.dtype.kind in "iu":
            out[name] = var * 0
    return out
